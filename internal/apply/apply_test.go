package apply

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kube-release/kube-release/internal/kube"
	"github.com/kube-release/kube-release/internal/object"
	"github.com/kube-release/kube-release/internal/testcluster"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

func TestMain(m *testing.M) { os.Exit(testcluster.Run(m)) }

// manifests decodes multi-document YAML after replacing NS with namespace.
func manifests(t *testing.T, namespace, docs string) []*unstructured.Unstructured {
	t.Helper()
	dec := yaml.NewYAMLOrJSONDecoder(strings.NewReader(strings.ReplaceAll(docs, "NS", namespace)), 4096)
	var out []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		err := dec.Decode(&u.Object)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("manifests: %v", err)
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
}

func newApplier(t *testing.T, cfg *rest.Config, conf Config) *Applier {
	t.Helper()
	clients, err := kube.NewClients(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(clients, conf)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func actions(res *Result) map[string]Action {
	out := map[string]Action{}
	for _, c := range res.Changes {
		out[c.Ref.String()] = c.Action
	}
	return out
}

func skipped(res *Result) []string {
	var out []string
	for _, s := range res.Skipped {
		out = append(out, s.Ref.String())
	}
	slices.Sort(out)
	return out
}

// exists tells whether an object is on the cluster.
func exists(t *testing.T, d dynamic.Interface, gvr schema.GroupVersionResource, namespace, name string) bool {
	t.Helper()
	_, err := d.Resource(gvr).Namespace(namespace).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false
	}
	if err != nil {
		t.Fatalf("get %s %s/%s: %v", gvr.Resource, namespace, name, err)
	}
	return true
}

var (
	gvrNamespaces   = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	gvrConfigMaps   = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	gvrSecrets      = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	gvrServices     = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	gvrDeployments  = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	gvrCRDs         = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	gvrClusterRoles = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}
)

// The Namespace has a label on purpose: server-side apply of an object
// whose applied configuration owns no field (a bare Namespace) leaves it
// without managedFields, so the next apply records a "before-first-apply"
// manager and writes once more; that apply is reported configured, truly.
const mixedSet = `
apiVersion: v1
kind: Namespace
metadata: {name: NS, labels: {team: web}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config, namespace: NS}
data: {greeting: hello}
---
apiVersion: v1
kind: Secret
metadata: {name: web-secret, namespace: NS}
stringData: {password: not-so-secret}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: NS}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: NS}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: registry.local/web:1
        envFrom: [{configMapRef: {name: web-config}}]
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.GROUP}
spec:
  group: GROUP
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
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
apiVersion: GROUP/v1
kind: Widget
metadata: {name: gizmo, namespace: NS}
spec: {size: 3}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: CLUSTERROLE}
rules:
- apiGroups: [GROUP]
  resources: [widgets]
  verbs: [get, list]
`

// A set that creates its own Namespace, a CRD and a custom resource of it:
// the dry run skips what it cannot check and writes nothing; the apply
// creates everything in order; re-applying reports unchanged; a change
// reports configured and a new object created.
func TestApplyMixedSet(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	d := c.Dynamic(t)
	ctx := context.Background()
	suffix := rand.String(6)
	ns, group, role := "mixed-"+suffix, "t"+suffix+".example.com", "kube-release-test-"+suffix
	t.Cleanup(func() {
		bg := context.Background()
		d.Resource(gvrNamespaces).Delete(bg, ns, metav1.DeleteOptions{})
		d.Resource(gvrCRDs).Delete(bg, "widgets."+group, metav1.DeleteOptions{})
		d.Resource(gvrClusterRoles).Delete(bg, role, metav1.DeleteOptions{})
	})
	docs := strings.NewReplacer("GROUP", group, "CLUSTERROLE", role).Replace(mixedSet)
	objs := manifests(t, ns, docs)

	var waitedFor []string
	var a *Applier
	rec := &recorder{}
	a = newApplier(t, recordingConfig(c, rec), Config{
		// The hook wraps the default wait, to see that it is called.
		WaitForCRDs: func(ctx context.Context, crds []*unstructured.Unstructured) error {
			for _, crd := range crds {
				waitedFor = append(waitedFor, crd.GetName())
				if err := WaitEstablished(ctx, a.clients.Dynamic, crd); err != nil {
					return err
				}
			}
			return nil
		},
	})

	dry, err := a.Apply(ctx, objs, Options{DryRun: true})
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	wantSkipped := []string{
		"ConfigMap/" + ns + "/web-config", "Deployment/" + ns + "/web", "Secret/" + ns + "/web-secret",
		"Service/" + ns + "/web", "Widget/" + ns + "/gizmo",
	}
	if got := skipped(dry); !slices.Equal(got, wantSkipped) {
		t.Errorf("dry run skipped %v, want %v", got, wantSkipped)
	}
	for _, s := range dry.Skipped {
		t.Logf("%s", s)
	}
	wantDry := map[string]Action{
		"Namespace/" + ns: Created, "CustomResourceDefinition/widgets." + group: Created, "ClusterRole/" + role: Created,
	}
	if got := actions(dry); !mapsEqual(got, wantDry) {
		t.Errorf("dry run changes %v, want %v", got, wantDry)
	}
	if exists(t, d, gvrNamespaces, "", ns) || exists(t, d, gvrCRDs, "", "widgets."+group) || exists(t, d, gvrClusterRoles, "", role) {
		t.Fatal("the dry run wrote to the cluster")
	}

	rec.take()
	res, err := a.Apply(ctx, objs, Options{Baseline: dry})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	// One PATCH per object; the CRD adds its wait and a rediscovery.
	requests := rec.take()
	t.Logf("first apply: %d requests: %v", len(requests), requests)
	if n := countPrefix(requests, http.MethodPatch+" "); n != len(objs) {
		t.Errorf("first apply: %d PATCH requests for %d objects", n, len(objs))
	}
	if len(res.Changes) != len(objs) || len(res.Skipped) != 0 {
		t.Fatalf("apply: %d changes, %d skipped for %d objects:\n%s", len(res.Changes), len(res.Skipped), len(objs), res)
	}
	for _, ch := range res.Changes {
		if ch.Action != Created {
			t.Errorf("%s, want created", ch)
		}
		if ch.Object.GetUID() == "" || ch.Object.GetResourceVersion() == "" {
			t.Errorf("%s: response without uid or resourceVersion", ch.Ref)
		}
	}
	if want := []string{"widgets." + group}; !slices.Equal(waitedFor, want) {
		t.Errorf("waited for CRDs %v, want %v", waitedFor, want)
	}
	t.Logf("first apply:\n%s", res)

	// Let the deployment controller finish its own writes, which would
	// otherwise move the resourceVersion between the dry run and the apply.
	settle(t, d, ns, "web")

	again := func(objs []*unstructured.Unstructured) *Result {
		t.Helper()
		dry, err := a.Apply(ctx, objs, Options{DryRun: true})
		if err != nil {
			t.Fatalf("dry run: %v", err)
		}
		if len(dry.Skipped) != 0 {
			t.Errorf("dry run of existing objects skipped %v", skipped(dry))
		}
		res, err := a.Apply(ctx, objs, Options{Baseline: dry})
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
		return res
	}
	res = again(objs)
	for _, ch := range res.Changes {
		if ch.Action != Unchanged {
			t.Errorf("re-apply: %s, want unchanged", ch)
		}
	}

	// Without a dry run before, existing objects cannot be told apart.
	res, err = a.Apply(ctx, objs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range res.Changes {
		if ch.Action != Configured {
			t.Errorf("re-apply without baseline: %s, want configured", ch)
		}
	}

	changed := manifests(t, ns, strings.NewReplacer("GROUP", group, "CLUSTERROLE", role, "hello", "bonjour").Replace(mixedSet))
	changed = append(changed, manifests(t, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra, namespace: NS}\n")...)
	res = again(changed)
	want := map[string]Action{}
	for _, o := range changed {
		want[object.Of(o).String()] = Unchanged
	}
	want["ConfigMap/"+ns+"/web-config"] = Configured
	want["ConfigMap/"+ns+"/extra"] = Created
	if got := actions(res); !mapsEqual(got, want) {
		t.Errorf("apply of a change:\n got  %v\n want %v", got, want)
	}

	// A CRD upgrade that adds a version: the dry run cannot check a custom
	// resource of the new version, the apply can once the CRD is applied.
	upgraded := manifests(t, ns, strings.NewReplacer("apiVersion: GROUP/v1", "apiVersion: "+group+"/v2", "GROUP", group, "CLUSTERROLE", role).Replace(mixedSet))
	for _, o := range upgraded {
		if o.GetKind() == kindCRD {
			versions, _, _ := unstructured.NestedSlice(o.Object, "spec", "versions")
			v2 := runtimeCopy(versions[0])
			v2["name"], v2["storage"] = "v2", false
			unstructured.SetNestedSlice(o.Object, append(versions, v2), "spec", "versions")
		}
	}
	dry, err = a.Apply(ctx, upgraded, Options{DryRun: true})
	if err != nil {
		t.Fatalf("dry run of a CRD upgrade: %v", err)
	}
	if got, want := skipped(dry), []string{"Widget/" + ns + "/gizmo"}; !slices.Equal(got, want) {
		t.Errorf("dry run of a CRD upgrade skipped %v, want %v", got, want)
	}
	res, err = a.Apply(ctx, upgraded, Options{Baseline: dry})
	if err != nil {
		t.Fatalf("apply of a CRD upgrade: %v", err)
	}
	t.Logf("CRD upgrade:\n%s", res)
	got := actions(res)
	if got["CustomResourceDefinition/widgets."+group] != Configured || got["Widget/"+ns+"/gizmo"] == Created {
		t.Errorf("apply of a CRD upgrade: %v", got)
	}
}

func runtimeCopy(v any) map[string]any {
	return runtime.DeepCopyJSONValue(v).(map[string]any)
}

func countPrefix(requests []string, prefix string) int {
	n := 0
	for _, r := range requests {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

func mapsEqual(a, b map[string]Action) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// settle waits until a Deployment is available and its controller has
// caught up, so nothing but the test writes to it.
func settle(t *testing.T, d dynamic.Interface, ns, name string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		u, err := d.Resource(gvrDeployments).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		observed, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
		available, _, _ := unstructured.NestedInt64(u.Object, "status", "availableReplicas")
		updated, _, _ := unstructured.NestedInt64(u.Object, "status", "updatedReplicas")
		return observed == u.GetGeneration() && available == 1 && updated == 1, nil
	})
	if err != nil {
		t.Fatalf("deployment %s/%s: %v", ns, name, err)
	}
	// The controller's last status write can trail the condition we saw.
	time.Sleep(time.Second)
}

const invalidSet = `
apiVersion: v1
kind: ConfigMap
metadata: {name: fine, namespace: NS}
data: {a: b}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: bad-replicas, namespace: NS}
spec:
  replicas: -1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: registry.local/web:1}]
---
apiVersion: v1
kind: Service
metadata: {name: bad-port, namespace: NS}
spec:
  selector: {app: web}
  ports: [{port: 70000}]
---
apiVersion: v1
kind: Service
metadata: {name: bad-type, namespace: NS}
spec:
  type: Sideways
  ports: [{port: 80}]
`

// The dry run reports every invalid object at once, each by name, and
// writes nothing, not even the valid objects.
func TestDryRunReportsEveryErrorAndWritesNothing(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	d := c.Dynamic(t)
	a := newApplier(t, c.Config(), Config{})

	res, err := a.Apply(context.Background(), manifests(t, ns, invalidSet), Options{DryRun: true})
	if err == nil {
		t.Fatal("dry run of invalid objects succeeded")
	}
	t.Logf("dry run error:\n%v", err)
	for _, want := range []string{
		"Deployment " + ns + "/bad-replicas: ", "spec.replicas: Invalid value: -1",
		"Service " + ns + "/bad-port: ", "spec.ports[0].port: Invalid value: 70000",
		"Service " + ns + "/bad-type: ", "spec.type: Unsupported value: \"Sideways\"",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("dry run error lacks %q", want)
		}
	}
	var objErr *ObjectError
	if !errors.As(err, &objErr) || !apierrors.IsInvalid(objErr) {
		t.Errorf("dry run error %T: want *ObjectError wrapping an Invalid API error", err)
	}
	if got := actions(res); got["ConfigMap/"+ns+"/fine"] != Created {
		t.Errorf("dry run changes %v: want the valid ConfigMap as created", got)
	}
	for _, o := range []struct {
		gvr  schema.GroupVersionResource
		name string
	}{{gvrConfigMaps, "fine"}, {gvrDeployments, "bad-replicas"}, {gvrServices, "bad-port"}, {gvrServices, "bad-type"}} {
		if exists(t, d, o.gvr, ns, o.name) {
			t.Errorf("%s %s exists after a dry run", o.gvr.Resource, o.name)
		}
	}
}

// A real apply stops after the first stage that fails, and reports every
// failure of that stage.
func TestApplyStopsAtFailingStage(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	d := c.Dynamic(t)
	a := newApplier(t, c.Config(), Config{})
	objs := manifests(t, ns, invalidSet+`
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: good, namespace: NS}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: registry.local/web:1}]
`)
	res, err := a.Apply(context.Background(), objs, Options{})
	if err == nil {
		t.Fatal("apply of invalid objects succeeded")
	}
	msg := err.Error()
	if !strings.Contains(msg, "Service "+ns+"/bad-port: ") || !strings.Contains(msg, "Service "+ns+"/bad-type: ") {
		t.Errorf("error lacks a failure of the Services stage:\n%s", msg)
	}
	if strings.Contains(msg, "bad-replicas") {
		t.Errorf("error reports a later stage:\n%s", msg)
	}
	if got, want := actions(res), map[string]Action{"ConfigMap/" + ns + "/fine": Created}; !mapsEqual(got, want) {
		t.Errorf("changes %v, want %v", got, want)
	}
	if !exists(t, d, gvrConfigMaps, ns, "fine") {
		t.Error("the ConfigMap of the stage before the failure was not applied")
	}
	if exists(t, d, gvrDeployments, ns, "good") {
		t.Error("a Deployment of a later stage was applied")
	}
}

// Server-side apply echoes a value of the wrong type, and validation
// echoes label values; neither may carry a Secret's data into an error.
func TestSecretErrorsHideData(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	a := newApplier(t, c.Config(), Config{})
	token := base64.StdEncoding.EncodeToString([]byte("s3cr3t value"))
	objs := manifests(t, ns, `
apiVersion: v1
kind: Secret
metadata: {name: numeric, namespace: NS}
stringData: {pin: 987654321}
---
apiVersion: v1
kind: Secret
metadata: {name: labelled, namespace: NS, labels: {copy: "s3cr3t value"}}
data: {token: `+token+`}
`)
	for _, dryRun := range []bool{true, false} {
		start := time.Now()
		_, err := a.Apply(context.Background(), objs, Options{DryRun: dryRun})
		if err == nil {
			t.Fatalf("dry run %v: apply succeeded", dryRun)
		}
		msg := err.Error()
		t.Logf("dry run %v: %s", dryRun, msg)
		for _, leak := range []string{"987654321", "s3cr3t value", token} {
			if strings.Contains(msg, leak) {
				t.Errorf("dry run %v: error echoes secret data %q:\n%s", dryRun, leak, msg)
			}
		}
		for _, want := range []string{"Secret " + ns + "/numeric: ", "Secret " + ns + "/labelled: ", redacted} {
			if !strings.Contains(msg, want) {
				t.Errorf("dry run %v: error lacks %q:\n%s", dryRun, want, msg)
			}
		}
		// The 500 server-side apply answers for a malformed object is
		// permanent: no retries.
		if elapsed := time.Since(start); elapsed > 3*time.Second {
			t.Errorf("dry run %v: took %s, as if retried", dryRun, elapsed)
		}
	}
}

// Fields another manager owns are taken over, not refused as conflicts.
func TestApplyForcesConflicts(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	d := c.Dynamic(t)
	ctx := context.Background()
	theirs := manifests(t, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared, namespace: NS}\ndata: {key: theirs}\n")[0]
	if _, err := d.Resource(gvrConfigMaps).Namespace(ns).Apply(ctx, "shared", theirs, metav1.ApplyOptions{FieldManager: "someone-else"}); err != nil {
		t.Fatal(err)
	}
	a := newApplier(t, c.Config(), Config{})
	ours := manifests(t, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared, namespace: NS}\ndata: {key: ours}\n")
	res, err := a.Apply(ctx, ours, Options{})
	if err != nil {
		t.Fatalf("apply over another manager's field: %v", err)
	}
	ch := res.Changes[0]
	if ch.Action != Configured {
		t.Errorf("%s, want configured", ch)
	}
	if v, _, _ := unstructured.NestedString(ch.Object.Object, "data", "key"); v != "ours" {
		t.Errorf("data.key = %q, want ours", v)
	}
	for _, mf := range ch.Object.GetManagedFields() {
		owns := strings.Contains(string(mf.FieldsV1.Raw), `"f:key"`)
		if owns != (mf.Manager == FieldManager) {
			t.Errorf("manager %s owns data.key: %v", mf.Manager, owns)
		}
	}
}

// recorder counts and records the requests of one client.
type recorder struct {
	mu       sync.Mutex
	requests []string
	// fault, when set, may answer a request instead of the server.
	fault func(r *http.Request) (*http.Response, error)
	next  http.RoundTripper
}

func (rec *recorder) RoundTrip(r *http.Request) (*http.Response, error) {
	rec.mu.Lock()
	rec.requests = append(rec.requests, r.Method+" "+r.URL.Path)
	fault := rec.fault
	rec.mu.Unlock()
	if fault != nil {
		if resp, err := fault(r); resp != nil || err != nil {
			return resp, err
		}
	}
	return rec.next.RoundTrip(r)
}

func (rec *recorder) take() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := rec.requests
	rec.requests = nil
	return out
}

func recordingConfig(c *testcluster.Cluster, rec *recorder) *rest.Config {
	cfg := c.Config()
	cfg.WrapTransport = func(next http.RoundTripper) http.RoundTripper {
		rec.next = next
		return rec
	}
	return cfg
}

const workloadSet = `
apiVersion: v1
kind: ConfigMap
metadata: {name: one, namespace: NS}
data: {a: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: two, namespace: NS}
data: {a: "2"}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: NS}
stringData: {password: pw}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: NS}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: web, namespace: NS}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: web, namespace: NS}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: web}
subjects: [{kind: ServiceAccount, name: web, namespace: NS}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: NS}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: NS}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: web
      containers: [{name: web, image: registry.local/web:1}]
`

func isDiscovery(req string) bool {
	method, path, _ := strings.Cut(req, " ")
	return method == http.MethodGet && (path == "/api" || path == "/apis" ||
		strings.HasPrefix(path, "/api/") && strings.Count(path, "/") == 2 ||
		strings.HasPrefix(path, "/apis/") && strings.Count(path, "/") <= 3)
}

// A real apply costs one PATCH per object and nothing else: the common
// built-in kinds need no discovery, and other kinds one discovery pass,
// shared by every later apply.
func TestApplyRequestCount(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	rec := &recorder{}
	a := newApplier(t, recordingConfig(c, rec), Config{})
	objs := manifests(t, ns, workloadSet)

	check := func(name string, objs []*unstructured.Unstructured, wantDiscovery bool) {
		t.Helper()
		if _, err := a.Apply(context.Background(), objs, Options{}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var patches, discovery []string
		var other []string
		for _, req := range rec.take() {
			switch {
			case strings.HasPrefix(req, http.MethodPatch+" "):
				patches = append(patches, req)
			case isDiscovery(req):
				discovery = append(discovery, req)
			default:
				other = append(other, req)
			}
		}
		t.Logf("%s: %d PATCH, discovery %v", name, len(patches), discovery)
		if len(patches) != len(objs) {
			t.Errorf("%s: %d PATCH requests for %d objects: %v", name, len(patches), len(objs), patches)
		}
		if slices.Sort(patches); len(slices.Compact(patches)) != len(objs) {
			t.Errorf("%s: an object was patched twice: %v", name, patches)
		}
		if len(other) > 0 {
			t.Errorf("%s: requests besides apply and discovery: %v", name, other)
		}
		if (len(discovery) > 0) != wantDiscovery {
			t.Errorf("%s: discovery %v, want some: %v", name, discovery, wantDiscovery)
		}
	}
	check("first apply", objs, false)
	check("second apply", objs, false)
	withHPA := append(objs, manifests(t, ns, `
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: NS}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 3
`)...)
	check("an apply with a kind that is not built in", withHPA, true)
	check("the same again", withHPA, false)
}

// Transient failures are retried, honouring Retry-After; a 403 is not.
func TestApplyRetries(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	var mu sync.Mutex
	attempts := map[string]int{}
	rec := &recorder{}
	rec.fault = func(r *http.Request) (*http.Response, error) {
		if r.Method != http.MethodPatch {
			return nil, nil
		}
		name := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		mu.Lock()
		attempts[name]++
		n := attempts[name]
		mu.Unlock()
		switch {
		case name == "flaky" && n == 1:
			return statusResponse(r, http.StatusTooManyRequests, "TooManyRequests", "too many requests, please try again later", 1), nil
		case name == "flaky" && n == 2:
			return statusResponse(r, http.StatusInternalServerError, "InternalError", "Internal error occurred: etcdserver: leader changed", 0), nil
		case name == "flaky" && n == 3:
			return nil, &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
		case name == "denied":
			return statusResponse(r, http.StatusForbidden, "Forbidden", `configmaps "denied" is forbidden: User "ci" cannot patch resource "configmaps"`, 0), nil
		}
		return nil, nil
	}
	a := newApplier(t, recordingConfig(c, rec), Config{Retry: kube.Backoff{Initial: 10 * time.Millisecond}})
	ctx := context.Background()

	start := time.Now()
	res, err := a.Apply(ctx, manifests(t, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flaky, namespace: NS}\n"), Options{})
	if err != nil {
		t.Fatalf("apply through transient failures: %v", err)
	}
	if res.Changes[0].Action != Created {
		t.Errorf("%s, want created", res.Changes[0])
	}
	if attempts["flaky"] != 4 {
		t.Errorf("flaky: %d attempts, want 4", attempts["flaky"])
	}
	if elapsed := time.Since(start); elapsed < time.Second {
		t.Errorf("took %s: Retry-After: 1 not honoured", elapsed)
	}

	_, err = a.Apply(ctx, manifests(t, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: denied, namespace: NS}\n"), Options{})
	if want := "ConfigMap " + ns + `/denied: configmaps "denied" is forbidden`; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %v, want it to start with %q", err, want)
	}
	if !apierrors.IsForbidden(err) {
		t.Errorf("error %T is not Forbidden", err)
	}
	if attempts["denied"] != 1 {
		t.Errorf("denied: %d attempts, want 1", attempts["denied"])
	}
}

func statusResponse(r *http.Request, code int, reason, msg string, retryAfter int) *http.Response {
	details := ""
	header := http.Header{"Content-Type": {"application/json"}}
	if retryAfter > 0 {
		details = fmt.Sprintf(`,"details":{"retryAfterSeconds":%d}`, retryAfter)
		header.Set("Retry-After", fmt.Sprint(retryAfter))
	}
	body := fmt.Sprintf(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":%q,"reason":%q,"code":%d%s}`, msg, reason, code, details)
	return &http.Response{
		StatusCode: code, Status: http.StatusText(code), Header: header, Request: r,
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
	}
}

// Delete goes in the reverse of the apply order, counts what is already
// gone as deleted before, and resolves kinds recorded without a group.
func TestDelete(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	d := c.Dynamic(t)
	ctx := context.Background()
	rec := &recorder{}
	a := newApplier(t, recordingConfig(c, rec), Config{})
	objs := manifests(t, ns, workloadSet)
	if _, err := a.Apply(ctx, objs, Options{}); err != nil {
		t.Fatal(err)
	}
	rec.take()

	var refs []object.Ref
	for _, o := range Order(objs) {
		for _, obj := range o {
			ref := object.Of(obj)
			if ref.Kind == "Deployment" {
				ref.Group = "" // as a release history records it
			}
			refs = append(refs, ref)
		}
	}
	refs = append(refs,
		object.Ref{Kind: "ConfigMap", Namespace: ns, Name: "never-existed"},
		object.Ref{Group: "nowhere.example.com", Kind: "Gadget", Namespace: ns, Name: "unserved"},
	)
	deleted, err := a.Delete(ctx, refs, DeleteOptions{})
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
	var got []string
	for _, ch := range deleted {
		got = append(got, ch.String())
	}
	want := []string{
		"Deployment/" + ns + "/web deleted", "Service/" + ns + "/web deleted",
		"RoleBinding/" + ns + "/web deleted", "Role/" + ns + "/web deleted",
		"ServiceAccount/" + ns + "/web deleted",
		"ConfigMap/" + ns + "/one deleted", "ConfigMap/" + ns + "/two deleted",
		"Secret/" + ns + "/creds deleted",
	}
	if !slices.Equal(got, want) {
		t.Errorf("deleted:\n got  %v\n want %v", got, want)
	}
	// The requests went out stage by stage, in reverse.
	var order []string
	for _, req := range rec.take() {
		if method, path, _ := strings.Cut(req, " "); method == http.MethodDelete {
			parts := strings.Split(path, "/")
			order = append(order, parts[len(parts)-2])
		}
	}
	wantOrder := []string{"deployments", "services", "rolebindings", "roles", "serviceaccounts", "configmaps", "configmaps", "configmaps", "secrets"}
	if !slices.Equal(order, wantOrder) {
		t.Errorf("DELETE requests %v, want %v", order, wantOrder)
	}
	for _, o := range []struct {
		gvr  schema.GroupVersionResource
		name string
	}{{gvrDeployments, "web"}, {gvrServices, "web"}, {gvrConfigMaps, "one"}, {gvrSecrets, "creds"}} {
		if exists(t, d, o.gvr, ns, o.name) {
			t.Errorf("%s %s still exists", o.gvr.Resource, o.name)
		}
	}
}

// The default wait returns once the API server establishes a new CRD, and
// fails at once when its names clash with another CRD's.
func TestWaitEstablished(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	d := c.Dynamic(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	group := "w" + rand.String(6) + ".example.com"
	crd := func(plural, kind string) *unstructured.Unstructured {
		objs := manifests(t, "", strings.NewReplacer("widgets", plural, "Widget", kind, "GROUP", group).Replace(`
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.GROUP}
spec:
  group: GROUP
  scope: Namespaced
  names: {kind: Widget, plural: widgets}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`))
		created, err := d.Resource(gvrCRDs).Create(ctx, objs[0], metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Resource(gvrCRDs).Delete(context.Background(), created.GetName(), metav1.DeleteOptions{}) })
		return created
	}
	first := crd("widgets", "Widget")
	if err := WaitEstablished(ctx, d, first); err != nil {
		t.Fatalf("wait for a new CRD: %v", err)
	}
	clash := crd("gadgets", "Widget")
	start := time.Now()
	err := WaitEstablished(ctx, d, clash)
	if err == nil || !strings.Contains(err.Error(), "names not accepted") {
		t.Errorf("wait for a CRD whose kind is taken: %v, want names not accepted", err)
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("took %s to notice the clash", time.Since(start))
	}
}

// Objects of one stage go out in parallel, no more at once than configured.
func TestApplyConcurrency(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	var mu sync.Mutex
	inFlight, most := 0, 0
	rec := &recorder{}
	rec.fault = func(r *http.Request) (*http.Response, error) {
		if r.Method != http.MethodPatch {
			return nil, nil
		}
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
		return nil, nil
	}
	a := newApplier(t, recordingConfig(c, rec), Config{Concurrency: 3})
	var docs []string
	for i := range 9 {
		docs = append(docs, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c%d, namespace: NS}\n", i))
	}
	start := time.Now()
	if _, err := a.Apply(context.Background(), manifests(t, ns, strings.Join(docs, "---\n")), Options{}); err != nil {
		t.Fatal(err)
	}
	if most != 3 {
		t.Errorf("at most %d requests in flight, want 3", most)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("took %s: not parallel", elapsed)
	}
}

// A dry run persists nothing, so after the Namespaces and CRDs it checks
// every other stage at once: four stages cost one round of requests, and
// the result still lists them in stage order.
func TestDryRunChecksStagesAtOnce(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	const delay = 300 * time.Millisecond
	rec := &recorder{}
	rec.fault = func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodPatch {
			time.Sleep(delay)
		}
		return nil, nil
	}
	a := newApplier(t, recordingConfig(c, rec), Config{})
	objs := manifests(t, ns, `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: NS}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: NS}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web, namespace: NS}
---
apiVersion: v1
kind: Secret
metadata: {name: web, namespace: NS}
`)
	start := time.Now()
	res, err := a.Apply(context.Background(), objs, Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed > 3*delay {
		t.Errorf("dry run took %s: stages checked one after the other", elapsed)
	}
	var got []string
	for _, ch := range res.Changes {
		got = append(got, ch.Ref.Kind+" "+string(ch.Action))
	}
	want := []string{"Secret created", "ConfigMap created", "ServiceAccount created", "Service created"}
	if !slices.Equal(got, want) {
		t.Errorf("changes %v, want %v", got, want)
	}
}

// A ConfigMap the dry run found existing is applied with the
// resourceVersion it had then. A write that passed the client's fence
// before the run froze, and reaches the server after another writer
// changed the object, meets a conflict; its retry asks the fence again,
// which now refuses, so the other writer's data stays.
func TestApplyGuardsConfigAgainstStaleWrites(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	ctx := context.Background()
	clients, err := kube.NewClients(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(clients, Config{})
	if err != nil {
		t.Fatal(err)
	}
	cms := dynamicResource(c.Dynamic(t), "configmaps", ns)
	if _, err := a.Apply(ctx, manifests(t, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config, namespace: NS}\ndata: {run: a0}\n"), Options{}); err != nil {
		t.Fatal(err)
	}
	objs := manifests(t, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config, namespace: NS}\ndata: {run: a}\n")
	baseline, err := a.Apply(ctx, objs, Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}

	var checks int
	clients.Fence.Set(func() error {
		checks++
		if checks == 1 {
			// This write passed the fence; while it "was frozen",
			// another run took over and wrote the object.
			other := manifests(t, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config, namespace: NS}\ndata: {run: b}\n")[0]
			if _, err := cms.Apply(ctx, "config", other, metav1.ApplyOptions{FieldManager: "other-run", Force: true}); err != nil {
				t.Errorf("the other run's write: %v", err)
			}
			return nil
		}
		return errors.New("deploy lock lost")
	})
	_, err = a.Apply(ctx, objs, Options{Baseline: baseline})
	if !errors.Is(err, kube.ErrFenced) {
		t.Errorf("apply: %v, want the fence's refusal", err)
	}
	live, err := cms.Get(ctx, "config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _, _ := unstructured.NestedString(live.Object, "data", "run"); got != "b" {
		t.Errorf("the ConfigMap holds run %q, want the other run's b", got)
	}

	// With the fence open, a change by another writer since the dry run is
	// no reason to fail: the apply goes through.
	clients.Fence.Set(nil)
	baseline, err = a.Apply(ctx, objs, Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	other := manifests(t, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config, namespace: NS}\ndata: {run: c}\n")[0]
	if _, err := cms.Apply(ctx, "config", other, metav1.ApplyOptions{FieldManager: "other-run", Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Apply(ctx, objs, Options{Baseline: baseline}); err != nil {
		t.Fatalf("apply after another writer's change: %v", err)
	}
	live, err = cms.Get(ctx, "config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _, _ := unstructured.NestedString(live.Object, "data", "run"); got != "a" {
		t.Errorf("the ConfigMap holds run %q, want a", got)
	}
}

func dynamicResource(d dynamic.Interface, resource, ns string) dynamic.ResourceInterface {
	return d.Resource(schema.GroupVersionResource{Version: "v1", Resource: resource}).Namespace(ns)
}

// Spare keeps what another release owns or uses, and lets the rest, gone
// objects included, through to Delete.
func TestSpare(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	ctx := context.Background()
	a := newApplier(t, c.Config(), Config{})
	objs := manifests(t, ns, `apiVersion: v1
kind: ConfigMap
metadata: {name: mine, namespace: NS, annotations: {kube-release.io/release-name: api, kube-release.io/release-namespace: NS}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: theirs, namespace: NS, annotations: {kube-release.io/release-name: worker, kube-release.io/release-namespace: NS}}
---
apiVersion: v1
kind: Secret
metadata: {name: used, namespace: NS, annotations: {kube-release.io/release-name: api, kube-release.io/release-namespace: NS}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: NS, annotations: {kube-release.io/release-name: reporter, kube-release.io/release-namespace: NS}}
spec:
  schedule: "0 0 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: app, image: registry.local/app:1}]
          volumes: [{name: creds, secret: {secretName: used}}]
`)
	if _, err := a.Apply(ctx, objs, Options{}); err != nil {
		t.Fatal(err)
	}
	refs := []object.Ref{
		{Kind: "ConfigMap", Namespace: ns, Name: "mine"},
		{Kind: "ConfigMap", Namespace: ns, Name: "theirs"},
		{Kind: "Secret", Namespace: ns, Name: "used"},
		{Kind: "ConfigMap", Namespace: ns, Name: "gone"},
	}
	del, spared, err := a.Spare(ctx, refs, Owner{Namespace: ns, Name: "api"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(del), fmt.Sprint([]object.Ref{refs[0], refs[3]}); got != want {
		t.Errorf("to delete: %s, want %s", got, want)
	}
	want := []string{
		"ConfigMap/" + ns + "/theirs kept: it belongs to release " + ns + "/worker",
		"Secret/" + ns + "/used kept: it is used by CronJob/report of release " + ns + "/reporter",
	}
	var got []string
	for _, s := range spared {
		got = append(got, s.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("spared:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
