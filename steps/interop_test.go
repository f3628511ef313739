package steps

import (
	"bytes"
	"compress/gzip"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/kube-release/kube-release/internal/release"
)

// applyWeb sets web's image as a delegate's apply would, making a new
// Deployment revision.
func (f *fixture) applyWeb(image string) {
	f.t.Helper()
	ctx := context.Background()
	deployments := f.env.Clients.Typed.AppsV1().Deployments(f.namespace)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}},
			},
		},
	}
	// The controller writes the Deployment's status all the time: read it
	// again on a conflict.
	var existing *appsv1.Deployment
	err := retry.RetryOnConflict(retry.DefaultRetry, func() (err error) {
		existing, err = deployments.Get(ctx, "web", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			existing, err = deployments.Create(ctx, d, metav1.CreateOptions{})
			return err
		}
		if err != nil {
			return err
		}
		existing.Spec = d.Spec
		existing, err = deployments.Update(ctx, existing, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	// Wait until the controller has made this revision's ReplicaSet, or two
	// quick updates would share one revision number.
	generation := existing.Generation
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := deployments.Get(ctx, "web", metav1.GetOptions{})
		return err == nil && d.Status.ObservedGeneration >= generation, err
	})
	if err != nil {
		f.t.Fatalf("deployment web generation %d: %v", generation, err)
	}
}

// A legacy history exactly as an older Harness delegate writes it (plain
// YamlBeans YAML, one managedWorkload per release, quoted revisions) is
// rolled back by kube-release, and kube-release's next deploy continues its
// numbering without losing Harness's releases.
func TestInteropHarnessLegacyHistory(t *testing.T) {
	f := newFixture(t)
	ns := f.namespace
	f.applyWeb("registry.local/web:1")
	f.applyWeb("registry.local/web:2")
	f.applyWeb("registry.local/web:does-not-exist")

	entry := func(number int, status, revision string) string {
		return strings.NewReplacer("NS", ns, "N", itoa(number), "STATUS", status, "REV", revision).Replace(
			"- managedWorkload: \n" +
				"    name: web\n" +
				"    kind: Deployment\n" +
				"    namespace: NS\n" +
				"  managedWorkloadRevision: 'REV'\n" +
				"  number: N\n" +
				"  resources: \n" +
				"  - name: web\n" +
				"    kind: Deployment\n" +
				"    namespace: NS\n" +
				"  status: STATUS\n")
	}
	history := "releases: \n" + entry(3, "Failed", "3") + entry(2, "Succeeded", "2") + entry(1, "Succeeded", "1") + "version: v1\n"
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app"}, Data: map[string]string{"releaseHistory": history}}
	if _, err := f.env.Clients.Typed.CoreV1().ConfigMaps(ns).Create(context.Background(), cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	if _, err := f.rollback(RollbackConfig{Release: "app"}); err != nil {
		t.Fatal(err)
	}
	f.assertLog("Previous eligible Release is 2 with status Succeeded.")
	if img := f.deployment("web").Spec.Template.Spec.Containers[0].Image; img != "registry.local/web:2" {
		t.Errorf("image after rollback = %s, want release 2's", img)
	}

	manifests := writeManifests(t, map[string]string{"web.yaml": `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: registry.local/web:4}]}
`})
	if _, err := f.rolling(RollingConfig{Release: "app", Manifests: []string{manifests}}); err != nil {
		t.Fatal(err)
	}
	f.assertLog("Current release number is: 4", "Previous Successful Release is 2")
	h := f.history("app")
	if got := numbers(h); len(got) != 2 || got[0] != 4 || got[1] != 2 {
		t.Errorf("history = %v, want [4 2] (3 failed and 1 older than the last success are cleaned up)", got)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// A declarative release Secret exactly as Harness writes it is the target
// of kube-release's rollback of a failed kube-release deploy.
func TestInteropHarnessDeclarativeHistory(t *testing.T) {
	f := newFixture(t)
	ns := f.namespace
	manifests := strings.ReplaceAll(`---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  namespace: NS
data:
  GREETING: from harness
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: NS
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: registry.local/web:harness
`, "NS", ns)
	var gz bytes.Buffer
	w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	w.Write([]byte(manifests))
	w.Close()
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: "harness.release.app.1",
			Labels: map[string]string{
				"harness.io/pruning-enabled": "false", "owner": "harness", "release": "app",
				"release-number": "1", "status": "Succeeded",
			},
		},
		Type: "harness.io/release/v2",
		Data: map[string][]byte{"release": gz.Bytes()},
	}
	if _, err := f.env.Clients.Typed.CoreV1().Secrets(ns).Create(context.Background(), secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.applyWeb("registry.local/web:harness")

	broken := writeManifests(t, map[string]string{"app.yaml": strings.NewReplacer("registry.local/web:harness", "registry.local/web:does-not-exist", "from harness", "from kube-release").Replace(manifests)})
	if _, err := f.rolling(RollingConfig{Release: "app", Manifests: []string{broken}, Declarative: true}); err == nil {
		t.Fatal("broken deployed")
	}
	f.assertLog("Current release number is: 2", "Previous Successful Release is 1")

	if _, err := f.rollback(RollbackConfig{Release: "app"}); err != nil {
		t.Fatal(err)
	}
	if img := f.deployment("web").Spec.Template.Spec.Containers[0].Image; img != "registry.local/web:harness" {
		t.Errorf("image after rollback = %s", img)
	}
	if cm, err := f.configMap("web-config"); err != nil || cm.Data["GREETING"] != "from harness" {
		t.Errorf("config after rollback = %v, %v", cm, err)
	}
	h := f.declarativeHistory("app")
	if len(h) != 2 || h[0].Status != release.Failed || h[1].Status != release.Succeeded {
		t.Errorf("history = %v", numbers(h))
	}
}
