package steps

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kube-release/kube-release/internal/release"
	"github.com/kube-release/kube-release/internal/rollout"
)

const sampleV1, sampleV2 = "../testdata/sample/v1", "../testdata/sample/v2"

// The sample app's first and second deploys: versioned config, rewritten
// references, the history in Harness's format, and the log lines users
// know from Harness.
func TestRollingDeploysAndVersions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()

	res, err := f.rolling(RollingConfig{Manifests: []string{sampleV1}})
	if err != nil {
		t.Fatal(err)
	}
	f.assertLog(
		"Release Name: [sample]",
		"Kind ", "Name ", "Versioned",
		"Current release number is: 1",
		"No previous successful release found.",
		"Release 1 of sample Succeeded",
	)
	if got := output(res, "release_number"); got != "1" {
		t.Errorf("release_number = %q, want 1", got)
	}
	if got := output(res, "status"); got != "Succeeded" {
		t.Errorf("status = %q, want Succeeded", got)
	}
	if got := output(res, "workloads"); got != "DaemonSet/log-agent,StatefulSet/cache,Deployment/web" {
		t.Errorf("workloads = %q", got)
	}

	for _, name := range []string{"web-config-1", "web-files-1"} {
		if _, err := f.configMap(name); err != nil {
			t.Errorf("configmap %s: %v", name, err)
		}
	}
	if _, err := f.secret("web-secret-1"); err != nil {
		t.Errorf("secret web-secret-1: %v", err)
	}
	if _, err := f.secret("registry-auth"); err != nil {
		t.Errorf("skip-versioning secret keeps its name: %v", err)
	}

	web, err := f.env.Clients.Typed.AppsV1().Deployments(f.namespace).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	assertReferences(t, web, "1")
	if got := web.Spec.Template.Labels["harness.io/release-name"]; got != "sample" {
		t.Errorf("pod template label harness.io/release-name = %q", got)
	}

	h := f.history("sample")
	if len(h) != 1 || h[0].Number != 1 || h[0].Status != release.Succeeded {
		t.Fatalf("history = %+v", h)
	}
	assertWorkloadRevisions(t, h[0], "1")

	// The history ConfigMap is in Harness's shape: compressed, base64, and
	// the YAML says version v1.
	cm, err := f.configMap("sample")
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["isReleaseHistoryCompressed"] != "true" {
		t.Errorf("isReleaseHistoryCompressed = %q", cm.Data["isReleaseHistoryCompressed"])
	}
	if _, err := base64.StdEncoding.DecodeString(cm.Data["releaseHistory"]); err != nil {
		t.Errorf("releaseHistory is not base64: %v", err)
	}

	// Second deploy: release 2, its own config, release 1's still there.
	res, err = f.rolling(RollingConfig{Manifests: []string{sampleV2}})
	if err != nil {
		t.Fatal(err)
	}
	f.assertLog("Current release number is: 2", "Previous Successful Release is 1")
	if got := output(res, "previous_release_number"); got != "1" {
		t.Errorf("previous_release_number = %q", got)
	}
	for _, name := range []string{"web-config-1", "web-config-2"} {
		if _, err := f.configMap(name); err != nil {
			t.Errorf("configmap %s: %v", name, err)
		}
	}
	web, err = f.env.Clients.Typed.AppsV1().Deployments(f.namespace).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	assertReferences(t, web, "2")
	h = f.history("sample")
	if len(h) != 2 || h[0].Number != 2 || h[0].Status != release.Succeeded {
		t.Fatalf("history = %+v", h)
	}
	assertWorkloadRevisions(t, h[0], "2")

	// Third deploy: cleanup drops release 1 and deletes its versioned config.
	if _, err := f.rolling(RollingConfig{Manifests: []string{sampleV1}}); err != nil {
		t.Fatal(err)
	}
	f.assertLog("Cleaned up releases 1")
	if _, err := f.configMap("web-config-1"); !apierrors.IsNotFound(err) {
		t.Errorf("web-config-1 after cleanup: %v, want not found", err)
	}
	if _, err := f.configMap("web-config-2"); err != nil {
		t.Errorf("web-config-2 (last success) must stay: %v", err)
	}
	if h := f.history("sample"); len(h) != 2 || h[0].Number != 3 || h[1].Number != 2 {
		t.Errorf("history numbers after cleanup = %v, want [3 2]", numbers(h))
	}
}

func numbers(h release.History) []int {
	var n []int
	for _, r := range h {
		n = append(n, r.Number)
	}
	return n
}

func assertWorkloadRevisions(t *testing.T, r *release.Release, want string) {
	t.Helper()
	if len(r.Workloads) != 3 {
		t.Fatalf("release %d workloads = %+v, want 3", r.Number, r.Workloads)
	}
	for _, w := range r.Workloads {
		if w.Revision != want {
			t.Errorf("release %d: %s %s revision %q, want %q", r.Number, w.ID.Kind, w.ID.Name, w.Revision, want)
		}
	}
}

// assertReferences checks every kind of reference in the sample web
// Deployment points at the config of release n.
func assertReferences(t *testing.T, d *appsv1.Deployment, n string) {
	t.Helper()
	spec := d.Spec.Template.Spec
	web := spec.Containers[0]
	want := map[string]string{
		"env configMapKeyRef":        web.Env[0].ValueFrom.ConfigMapKeyRef.Name,
		"env secretKeyRef":           web.Env[1].ValueFrom.SecretKeyRef.Name,
		"envFrom secretRef":          web.EnvFrom[0].SecretRef.Name,
		"initContainer configMapRef": spec.InitContainers[0].EnvFrom[0].ConfigMapRef.Name,
		"volume configMap":           spec.Volumes[0].ConfigMap.Name,
		"projected configMap":        spec.Volumes[1].Projected.Sources[0].ConfigMap.Name,
		"projected secret":           spec.Volumes[1].Projected.Sources[1].Secret.Name,
	}
	expect := map[string]string{
		"env configMapKeyRef":        "web-config-" + n,
		"env secretKeyRef":           "web-secret-" + n,
		"envFrom secretRef":          "web-secret-" + n,
		"initContainer configMapRef": "web-config-" + n,
		"volume configMap":           "web-files-" + n,
		"projected configMap":        "web-config-" + n,
		"projected secret":           "web-secret-" + n,
	}
	for k, got := range want {
		if got != expect[k] {
			t.Errorf("%s = %q, want %q", k, got, expect[k])
		}
	}
	if got := spec.ImagePullSecrets[0].Name; got != "registry-auth" {
		t.Errorf("imagePullSecrets = %q, want registry-auth (skip-versioning)", got)
	}
}

// A release whose image never becomes ready fails fast, well before the
// timeout, is recorded Failed with its reason, and the next deploy cleans
// it up.
func TestRollingFailsFastAndNextDeployCleansUp(t *testing.T) {
	f := newFixture(t)
	if _, err := f.rolling(RollingConfig{Manifests: []string{sampleV1}}); err != nil {
		t.Fatal(err)
	}
	broken := variant(t, sampleV2, "registry.local/web:2.0.0", "registry.local/web:does-not-exist")

	start := time.Now()
	res, err := f.rolling(RollingConfig{Manifests: []string{broken}, Timeout: 2 * time.Minute})
	if err == nil {
		t.Fatal("deploy of a missing image succeeded")
	}
	if took := time.Since(start); took > time.Minute {
		t.Errorf("failing deploy took %s; fail_fast should end it in seconds", took)
	}
	if !errors.Is(err, rollout.ErrFailFast) || !strings.Contains(err.Error(), "ImagePullBackOff") {
		t.Errorf("error = %v, want fail_fast with ImagePullBackOff", err)
	}
	if got := output(res, "status"); got != "Failed" {
		t.Errorf("status output = %q, want Failed", got)
	}
	h := f.history("sample")
	if h[0].Number != 2 || h[0].Status != release.Failed || h[0].Metadata.FailureReason != "fail_fast" {
		t.Errorf("release 2 = %d %s %q, want Failed fail_fast", h[0].Number, h[0].Status, h[0].Metadata.FailureReason)
	}
	f.assertLog("Release 2 recorded as Failed (fail_fast)")

	// The next deploy is release 3; cleanup drops the failed release 2 and
	// its versioned config, and keeps release 1 (the last success).
	if _, err := f.rolling(RollingConfig{Manifests: []string{sampleV2}}); err != nil {
		t.Fatal(err)
	}
	f.assertLog("Current release number is: 3", "Previous Successful Release is 1", "Cleaned up releases 2")
	if _, err := f.configMap("web-config-2"); !apierrors.IsNotFound(err) {
		t.Errorf("web-config-2 of the failed release: %v, want not found", err)
	}
	if h := f.history("sample"); len(numbers(h)) != 2 || h[0].Number != 3 || h[1].Number != 1 {
		t.Errorf("history = %v, want [3 1]", numbers(h))
	}
}

func TestRollingSkipResourceVersioning(t *testing.T) {
	f := newFixture(t)
	res, err := f.rolling(RollingConfig{Manifests: []string{sampleV1}, SkipResourceVersioning: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.configMap("web-config"); err != nil {
		t.Errorf("web-config keeps its name: %v", err)
	}
	if _, err := f.configMap("web-config-1"); !apierrors.IsNotFound(err) {
		t.Errorf("web-config-1 exists with versioning off: %v", err)
	}
	h := f.history("sample")
	for _, r := range h[0].Resources {
		if r.Versioned {
			t.Errorf("%s %s recorded versioned", r.Kind, r.Name)
		}
	}
	if output(res, "status") != "Succeeded" {
		t.Errorf("status = %s", output(res, "status"))
	}
}

// One manifest set with the unusual cases: a direct-apply Deployment
// (applied, not waited for or recorded as managed), an object that names
// another namespace, a cluster-scoped object, and a CRD with a custom
// resource of it.
func TestRollingMixedScopes(t *testing.T) {
	f := newFixture(t)
	other := f.cluster.Namespace(t)
	suffix := strings.TrimPrefix(f.namespace, "testrollingmixedscopes-")
	crdGroup := "kr" + suffix + ".example.com"
	dir := writeManifests(t, map[string]string{
		"app.yaml": `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: managed
spec:
  replicas: 1
  selector: {matchLabels: {app: managed}}
  template:
    metadata: {labels: {app: managed}}
    spec: {containers: [{name: app, image: registry.local/app:1}]}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: direct
  annotations:
    harness.io/direct-apply: "TRUE"
spec:
  replicas: 1
  selector: {matchLabels: {app: direct}}
  template:
    metadata: {labels: {app: direct}}
    spec: {containers: [{name: app, image: registry.local/app:does-not-exist}]}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: elsewhere
  namespace: ` + other + `
data: {a: b}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: ` + f.namespace + `-reader
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get]
`,
		"crd.yaml": `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.` + crdGroup + `
spec:
  group: ` + crdGroup + `
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
---
apiVersion: ` + crdGroup + `/v1
kind: Widget
metadata:
  name: gizmo
spec:
  size: 3
`,
	})
	t.Cleanup(func() {
		cs := f.cluster.Clientset(t)
		cs.RbacV1().ClusterRoles().Delete(context.Background(), f.namespace+"-reader", metav1.DeleteOptions{})
	})

	res, err := f.rolling(RollingConfig{Manifests: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	if got := output(res, "workloads"); got != "Deployment/managed" {
		t.Errorf("workloads = %q, want only the managed Deployment", got)
	}
	cs := f.cluster.Clientset(t)
	ctx := context.Background()
	if _, err := cs.CoreV1().ConfigMaps(other).Get(ctx, "elsewhere-1", metav1.GetOptions{}); err != nil {
		t.Errorf("configmap in the other namespace: %v", err)
	}
	role, err := cs.RbacV1().ClusterRoles().Get(ctx, f.namespace+"-reader", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("cluster role: %v", err)
	}
	if role.Namespace != "" {
		t.Errorf("cluster-scoped object got namespace %q", role.Namespace)
	}
	direct, err := cs.AppsV1().Deployments(f.namespace).Get(ctx, "direct", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("direct-apply deployment was not applied: %v", err)
	}
	if _, ok := direct.Spec.Template.Labels["harness.io/release-name"]; ok {
		t.Error("direct-apply workload got the release label")
	}
	h := f.history("sample")
	if len(h[0].Workloads) != 1 || h[0].Workloads[0].ID.Name != "managed" {
		t.Errorf("managed workloads = %+v", h[0].Workloads)
	}
	kinds := map[string]bool{}
	for _, r := range h[0].Resources {
		kinds[r.Kind] = true
	}
	for _, k := range []string{"CustomResourceDefinition", "Widget", "ClusterRole", "ConfigMap", "Deployment"} {
		if !kinds[k] {
			t.Errorf("release resources lack %s: %+v", k, h[0].Resources)
		}
	}
}

// Bad manifests fail before anything is written: no objects, no history.
func TestRollingBadManifestWritesNothing(t *testing.T) {
	f := newFixture(t)
	dir := writeManifests(t, map[string]string{
		"app.yaml": `
apiVersion: v1
kind: ConfigMap
metadata:
  name: fine
data: {a: b}
---
apiVersion: v1
kind: ConfigMap
metadata: {}
`,
	})
	_, err := f.rolling(RollingConfig{Manifests: []string{dir}})
	if err == nil || !strings.Contains(err.Error(), "app.yaml: document 2: missing metadata.name") {
		t.Fatalf("error = %v, want it to name the file, document and field", err)
	}
	if _, err := f.configMap("fine-1"); !apierrors.IsNotFound(err) {
		t.Errorf("configmap written despite the bad manifest: %v", err)
	}
	if _, err := f.configMap("sample"); !apierrors.IsNotFound(err) {
		t.Errorf("history written despite the bad manifest: %v", err)
	}

	// A manifest the API server rejects fails in the dry run, also before
	// any write.
	invalid := writeManifests(t, map[string]string{"svc.yaml": `
apiVersion: v1
kind: ConfigMap
metadata: {name: fine}
data: {a: b}
---
apiVersion: v1
kind: Service
metadata: {name: bad}
spec:
  ports: [{port: 99999}]
`})
	res, err := f.rolling(RollingConfig{Manifests: []string{invalid}})
	if err == nil || !strings.Contains(err.Error(), "dry run") || !strings.Contains(err.Error(), "Service") {
		t.Fatalf("error = %v, want a dry-run error naming the Service", err)
	}
	// The step still reports how it ended; no release number, since no
	// release was recorded.
	for key, want := range map[string]string{OutputRelease: "sample", OutputStatus: "Failed", OutputReleaseNumber: "", OutputPreviousReleaseNumber: ""} {
		if got := output(res, key); got != want {
			t.Errorf("after the failed dry run, %s = %q, want %q", key, got, want)
		}
	}
	if !strings.Contains(res.Summary, "Failed") || !strings.Contains(res.Summary, "dry run") {
		t.Errorf("summary lacks the failure:\n%s", res.Summary)
	}
	if _, err := f.configMap("fine-1"); !apierrors.IsNotFound(err) {
		t.Errorf("configmap written despite the failed dry run: %v", err)
	}
	if _, err := f.configMap("sample"); !apierrors.IsNotFound(err) {
		t.Errorf("history written despite the failed dry run: %v", err)
	}
}
