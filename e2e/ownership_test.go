package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kube-release/kube-release/internal/testcluster"
)

// ownedApp is a release's manifests: a Deployment named name using the
// ConfigMap config and the Secret creds, a ConfigMap extra (when extra is
// set) and the Service svc, each name as given.
func ownedApp(name, config, creds, svc, extra, version string) string {
	s := fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: %[2]s}
data: {version: %[5]s}
---
apiVersion: v1
kind: Secret
metadata: {name: %[3]s}
stringData: {token: %[1]s-token}
---
apiVersion: v1
kind: Service
metadata: {name: %[4]s}
spec: {selector: {app: %[1]s}, ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      containers:
      - name: app
        image: registry.local/app:1
        envFrom: [{configMapRef: {name: %[2]s}}, {secretRef: {name: %[3]s}}]
`, name, config, creds, svc, version)
	if extra != "" {
		s += fmt.Sprintf("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s}\ndata: {version: %s}\n", extra, version)
	}
	return s
}

// reporterApp is a release whose Deployment reads another release's
// ConfigMap by its live name.
func reporterApp(configMap string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata: {name: reporter}
spec:
  replicas: 1
  selector: {matchLabels: {app: reporter}}
  template:
    metadata: {labels: {app: reporter}}
    spec:
      containers:
      - name: app
        image: registry.local/app:1
        envFrom: [{configMapRef: {name: ` + configMap + `}}]
`
}

// Several releases in one namespace whose manifests use the same names:
// a release never takes over another's objects unless told to, and its
// cleanup and pruning never delete what another release owns or uses.
func TestReleasesNeverTouchEachOther(t *testing.T) {
	c := testcluster.Shared(t)
	for _, declarative := range []bool{false, true} {
		t.Run(fmt.Sprintf("declarative=%t", declarative), func(t *testing.T) {
			t.Parallel()
			cs, ns := c.Clientset(t), c.Namespace(t)
			ctx := context.Background()
			// live is how a ConfigMap or Secret of release number n is named.
			live := func(name string, n int) string {
				if declarative {
					return name
				}
				return fmt.Sprintf("%s-%d", name, n)
			}
			deploy := func(release, manifests string, extra map[string]string) run {
				t.Helper()
				env := adminEnv(c, ns, map[string]string{
					"PLUGIN_STEP": "rolling", "PLUGIN_RELEASE": release, "PLUGIN_TIMEOUT": "2m",
					"PLUGIN_MANIFESTS": writeFile(t, release+".yaml", manifests),
				})
				if declarative {
					env["PLUGIN_ENABLE_DECLARATIVE_ROLLBACK"] = "true"
					env["PLUGIN_PRUNING"] = "true"
				}
				for k, v := range extra {
					env[k] = v
				}
				return kubeRelease(t, env)
			}
			mustDeploy := func(release, manifests string, extra map[string]string) string {
				t.Helper()
				r := deploy(release, manifests, extra)
				if r.code != 0 {
					t.Fatalf("deploy of %s: exit %d\n%s", release, r.code, r.out)
				}
				return r.out
			}
			versions := func() map[string]string {
				t.Helper()
				out := map[string]string{}
				cms, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
				if err != nil {
					t.Fatal(err)
				}
				for _, cm := range cms.Items {
					out["ConfigMap/"+cm.Name] = cm.ResourceVersion
				}
				secrets, err := cs.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range secrets.Items {
					out["Secret/"+s.Name] = s.ResourceVersion
				}
				svcs, err := cs.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range svcs.Items {
					out["Service/"+s.Name] = s.ResourceVersion
				}
				return out
			}

			mustDeploy("api", ownedApp("api", "config", "creds", "shared", "extra", "api-1"), nil)
			before := versions()

			// worker declares the same ConfigMap, Secret and Service names.
			r := deploy("worker", ownedApp("worker", "config", "creds", "shared", "", "worker-1"), nil)
			if r.code != 1 {
				t.Fatalf("worker over api's names: exit %d, want 1\n%s", r.code, r.out)
			}
			for _, want := range []string{
				"release " + ns + "/worker would take over 3 objects of other releases (nothing was changed)",
				"ConfigMap/" + ns + "/" + live("config", 1) + " belongs to release " + ns + "/api",
				"Secret/" + ns + "/" + live("creds", 1) + " belongs to release " + ns + "/api",
				"Service/" + ns + "/shared belongs to release " + ns + "/api",
				"take_ownership: true",
			} {
				if !strings.Contains(r.out, want) {
					t.Errorf("the refusal lacks %q:\n%s", want, r.out)
				}
			}
			if after := versions(); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("the refused deploy changed something:\nbefore %v\nafter  %v", before, after)
			}
			if _, err := cs.AppsV1().Deployments(ns).Get(ctx, "worker", metav1.GetOptions{}); err == nil {
				t.Error("the refused deploy created its Deployment")
			}

			// With names of its own, worker deploys beside api.
			mustDeploy("worker", ownedApp("worker", "worker-config", "worker-creds", "worker", "", "worker-1"), nil)
			// A third release reads api's extra ConfigMap by its live name.
			mustDeploy("reporter", reporterApp(live("extra", 1)), nil)

			// api drops extra from its manifests and deploys twice more:
			// legacy cleanup would delete release 1's versioned config,
			// declarative pruning the ConfigMap it no longer has; extra is
			// used by reporter, so it stays.
			out := mustDeploy("api", ownedApp("api", "config", "creds", "shared", "", "api-2"), nil)
			out += mustDeploy("api", ownedApp("api", "config", "creds", "shared", "", "api-3"), nil)
			if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, live("extra", 1), metav1.GetOptions{}); err != nil {
				t.Errorf("api's cleanup deleted the ConfigMap reporter uses: %v\n%s", err, out)
			}
			if want := "ConfigMap/" + ns + "/" + live("extra", 1) + " not deleted: it is used by Deployment/reporter of release " + ns + "/reporter"; !strings.Contains(out, want) {
				t.Errorf("api's deploys do not say why extra stays (%q):\n%s", want, out)
			}
			if !declarative {
				// What no one else uses is cleaned up as before.
				if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "config-1", metav1.GetOptions{}); err == nil {
					t.Error("api's cleanup kept config-1, which nothing uses")
				}
			}
			// worker's objects are untouched by all of api's deploys.
			if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, live("worker-config", 1), metav1.GetOptions{}); err != nil {
				t.Errorf("worker's ConfigMap: %v", err)
			}
			if _, err := cs.CoreV1().Secrets(ns).Get(ctx, live("worker-creds", 1), metav1.GetOptions{}); err != nil {
				t.Errorf("worker's Secret: %v", err)
			}

			// take_ownership moves the shared Service to worker, with a
			// warning; then api may no longer deploy it.
			out = mustDeploy("worker", ownedApp("worker", "worker-config", "worker-creds", "shared", "", "worker-2"), map[string]string{"PLUGIN_TAKE_OWNERSHIP": "true"})
			if want := "take_ownership: release " + ns + "/worker takes over Service/" + ns + "/shared belongs to release " + ns + "/api"; !strings.Contains(out, want) {
				t.Errorf("take_ownership does not warn (%q):\n%s", want, out)
			}
			svc, err := cs.CoreV1().Services(ns).Get(ctx, "shared", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := svc.Annotations["kube-release.io/release-name"]; got != "worker" {
				t.Errorf("the shared Service belongs to %q after take_ownership, want worker", got)
			}
			if r := deploy("api", ownedApp("api", "config", "creds", "shared", "", "api-4"), nil); r.code != 1 || !strings.Contains(r.out, "Service/"+ns+"/shared belongs to release "+ns+"/worker") {
				t.Errorf("api over the Service worker took: exit %d\n%s", r.code, r.out)
			}
		})
	}
}
