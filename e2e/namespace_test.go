package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"

	"github.com/kube-release/kube-release/internal/release"
	"github.com/kube-release/kube-release/internal/testcluster"
)

// absentNamespace names a namespace that does not exist, and deletes it
// when the test ends if a run created it.
func absentNamespace(t *testing.T, cs kubernetes.Interface) string {
	t.Helper()
	name := "absent-" + rand.String(8)
	t.Cleanup(func() {
		cs.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

func assertNamespaceAbsent(t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	if _, err := cs.CoreV1().Namespaces().Get(context.Background(), name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s exists after the run (err %v)", name, err)
	}
}

// writeTree writes files (path relative to a new directory: content) and
// returns the directory.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for path, content := range files {
		full := filepath.Join(dir, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func namespaceManifest(name string) string {
	return "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + name + "\n  labels: {team: web}\n"
}

// A kustomize overlay that creates its own Namespace deploys into a
// cluster without it: the Namespace is applied before the lock and the
// history are looked for in it, by the field manager of every apply. The
// second deploy finds it and goes as any other.
func TestNamespaceFromOverlay(t *testing.T) {
	c := testcluster.Shared(t)
	cs := c.Clientset(t)
	ns := absentNamespace(t, cs)
	dir := writeTree(t, map[string]string{
		"base/kustomization.yaml":    "resources:\n- deployment.yaml\n- configmap.yaml\n",
		"base/deployment.yaml":       deploymentManifest(testcluster.GoodImage, ""),
		"base/configmap.yaml":        configMapManifest,
		"overlay/kustomization.yaml": "namespace: " + ns + "\nresources:\n- namespace.yaml\n- ../base\n",
		"overlay/namespace.yaml":     namespaceManifest(ns),
	})
	env := adminEnv(c, ns, map[string]string{"PLUGIN_STEP": "rolling", "PLUGIN_MANIFESTS": filepath.Join(dir, "overlay")})

	r := kubeRelease(t, env)
	if r.code != 0 {
		t.Fatalf("first deploy: exit %d:\n%s", r.code, r.out)
	}
	for _, want := range []string{
		"Namespace " + ns + " does not exist: creating it from the manifests",
		"Namespace/" + ns + " created",
		"Release 1 of web Succeeded",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("first deploy: output lacks %q:\n%s", want, r.out)
		}
	}
	if strings.Count(r.out, "Rendered 3 objects") != 1 {
		t.Errorf("first deploy: want the manifests rendered (and listed) once:\n%s", r.out)
	}
	got, err := cs.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Labels["team"] != "web" {
		t.Errorf("namespace labels %v: not the manifests' Namespace", got.Labels)
	}
	managers := map[string]metav1.ManagedFieldsOperationType{}
	for _, m := range got.ManagedFields {
		managers[m.Manager] = m.Operation
	}
	if managers["kube-release"] != metav1.ManagedFieldsOperationApply {
		t.Errorf("namespace managers %v, want kube-release applying it", managers)
	}
	assertUnlocked(t, cs, ns, "web")

	r = kubeRelease(t, env)
	if r.code != 0 {
		t.Fatalf("second deploy: exit %d:\n%s", r.code, r.out)
	}
	if strings.Contains(r.out, "does not exist") {
		t.Errorf("second deploy: namespace created again:\n%s", r.out)
	}
	h := legacyHistory(t, cs, ns, "web")
	if len(h) != 2 || h.Latest().Number != 2 || h.Latest().Status != release.Succeeded {
		t.Errorf("history after two deploys: %+v", h)
	}
	assertUnlocked(t, cs, ns, "web")
}

// Without a Namespace in the manifests, a missing namespace fails the
// deploy with what to do, and nothing is written; create_namespace creates
// it. A rollback there has nothing to roll back, and says why.
func TestNamespaceMissing(t *testing.T) {
	c := testcluster.Shared(t)
	cs := c.Clientset(t)
	app := writeFile(t, "app.yaml", deploymentManifest(testcluster.GoodImage, ""))

	t.Run("rolling", func(t *testing.T) {
		ns := absentNamespace(t, cs)
		r := kubeRelease(t, adminEnv(c, ns, map[string]string{"PLUGIN_STEP": "rolling", "PLUGIN_MANIFESTS": app}))
		want := "error: rolling: namespace " + ns + " does not exist and the manifests do not hold it: add a Namespace named " + ns +
			" to the manifests, set create_namespace: true, or create the namespace before deploying\n"
		if r.code != 1 || !strings.HasSuffix(r.out, want) {
			t.Errorf("exit %d, want 1 ending with %q:\n%s", r.code, want, r.out)
		}
		assertNamespaceAbsent(t, cs, ns)
	})

	t.Run("rolling with create_namespace", func(t *testing.T) {
		ns := absentNamespace(t, cs)
		r := kubeRelease(t, adminEnv(c, ns, map[string]string{"PLUGIN_STEP": "rolling", "PLUGIN_MANIFESTS": app, "PLUGIN_CREATE_NAMESPACE": "true"}))
		if r.code != 0 {
			t.Fatalf("exit %d:\n%s", r.code, r.out)
		}
		if want := "Namespace " + ns + " does not exist: creating it (create_namespace)"; !strings.Contains(r.out, want) {
			t.Errorf("output lacks %q:\n%s", want, r.out)
		}
		if h := legacyHistory(t, cs, ns, "web"); h.Latest() == nil || h.Latest().Status != release.Succeeded {
			t.Errorf("history: %+v", h)
		}
		assertUnlocked(t, cs, ns, "web")

		// It exists now: create_namespace has nothing more to do.
		r = kubeRelease(t, adminEnv(c, ns, map[string]string{"PLUGIN_STEP": "rolling", "PLUGIN_MANIFESTS": app, "PLUGIN_CREATE_NAMESPACE": "true"}))
		if r.code != 0 || strings.Contains(r.out, "does not exist") {
			t.Errorf("second deploy: exit %d:\n%s", r.code, r.out)
		}
	})

	t.Run("apply with a release and the Namespace", func(t *testing.T) {
		ns := absentNamespace(t, cs)
		manifests := writeTree(t, map[string]string{"ns.yaml": namespaceManifest(ns), "app.yaml": configMapManifest})
		r := kubeRelease(t, adminEnv(c, ns, map[string]string{"PLUGIN_STEP": "apply", "PLUGIN_MANIFESTS": manifests}))
		if r.code != 0 || !strings.Contains(r.out, "ConfigMap/"+ns+"/settings created") {
			t.Fatalf("exit %d:\n%s", r.code, r.out)
		}
		assertUnlocked(t, cs, ns, "web")
	})

	t.Run("apply without a release but with create_namespace", func(t *testing.T) {
		ns := absentNamespace(t, cs)
		r := kubeRelease(t, adminEnv(c, ns, map[string]string{
			"PLUGIN_STEP": "apply", "PLUGIN_RELEASE": "", "PLUGIN_MANIFESTS": writeFile(t, "cm.yaml", configMapManifest), "PLUGIN_CREATE_NAMESPACE": "true",
		}))
		if r.code != 0 || !strings.Contains(r.out, "ConfigMap/"+ns+"/settings created") {
			t.Fatalf("exit %d:\n%s", r.code, r.out)
		}
	})

	t.Run("rollback", func(t *testing.T) {
		ns := absentNamespace(t, cs)
		r := kubeRelease(t, adminEnv(c, ns, map[string]string{"PLUGIN_STEP": "rollback"}))
		want := "error: rollback: namespace " + ns + " does not exist, so release web has no history there: check the namespace setting\n"
		if r.code != 1 || !strings.HasSuffix(r.out, want) {
			t.Errorf("exit %d, want 1 ending with %q:\n%s", r.code, want, r.out)
		}
		assertNamespaceAbsent(t, cs, ns)
	})
}

// Manifests that hold the Namespace but do not render create nothing, not
// even the namespace.
func TestNamespaceNotCreatedByFailedRender(t *testing.T) {
	c := testcluster.Shared(t)
	cs := c.Clientset(t)
	ns := absentNamespace(t, cs)
	manifests := writeTree(t, map[string]string{
		"ns.yaml":  namespaceManifest(ns),
		"app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  tag: {{ .Values.image.tag }}\n",
	})
	for _, step := range []string{"rolling", "apply"} {
		r := kubeRelease(t, adminEnv(c, ns, map[string]string{"PLUGIN_STEP": step, "PLUGIN_MANIFESTS": manifests, "PLUGIN_CREATE_NAMESPACE": "true"}))
		if r.code != 1 || !strings.Contains(r.out, "app.yaml: line 6: template: ") {
			t.Errorf("%s: exit %d, want 1 with the template error:\n%s", step, r.code, r.out)
		}
		assertNamespaceAbsent(t, cs, ns)
	}
}
