package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"

	"github.com/kube-release/kube-release/internal/lock"
	"github.com/kube-release/kube-release/internal/testcluster"
)

// rbacFile holds the documented least privileges; rbacNamespace is the
// namespace it is written for, which the README tells users to replace.
const (
	rbacFile      = "../deploy/rbac.yaml"
	rbacNamespace = "prod"
)

// rbacObjects are the objects of deploy/rbac.yaml.
type rbacObjects struct {
	serviceAccount *corev1.ServiceAccount
	role           *rbacv1.Role
	binding        *rbacv1.RoleBinding
}

// readRBAC parses deploy/rbac.yaml: exactly a ServiceAccount, a Role and a
// RoleBinding of that Role to that ServiceAccount, all in rbacNamespace, so
// that the documented sed puts all of them in the user's namespace.
func readRBAC(t *testing.T) rbacObjects {
	t.Helper()
	data, err := os.ReadFile(rbacFile)
	if err != nil {
		t.Fatal(err)
	}
	var objs rbacObjects
	dec := k8syaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var u unstructured.Unstructured
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", rbacFile, err)
		}
		if u.Object == nil {
			continue
		}
		if ns := u.GetNamespace(); ns != rbacNamespace {
			t.Errorf("%s: %s %s is in namespace %q, want %q", rbacFile, u.GetKind(), u.GetName(), ns, rbacNamespace)
		}
		var into any
		switch u.GetKind() {
		case "ServiceAccount":
			objs.serviceAccount = &corev1.ServiceAccount{}
			into = objs.serviceAccount
		case "Role":
			objs.role = &rbacv1.Role{}
			into = objs.role
		case "RoleBinding":
			objs.binding = &rbacv1.RoleBinding{}
			into = objs.binding
		default:
			t.Fatalf("%s: unexpected %s %s: the file documents a namespaced deploy", rbacFile, u.GetKind(), u.GetName())
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, into, true); err != nil {
			t.Fatalf("%s: %s %s: %v", rbacFile, u.GetKind(), u.GetName(), err)
		}
	}
	if objs.serviceAccount == nil || objs.role == nil || objs.binding == nil {
		t.Fatalf("%s: want a ServiceAccount, a Role and a RoleBinding", rbacFile)
	}
	b := objs.binding
	if b.RoleRef.Kind != "Role" || b.RoleRef.Name != objs.role.Name || len(b.Subjects) != 1 ||
		b.Subjects[0].Kind != rbacv1.ServiceAccountKind || b.Subjects[0].Name != objs.serviceAccount.Name ||
		b.Subjects[0].Namespace != rbacNamespace {
		t.Fatalf("%s: the RoleBinding must bind Role %s to ServiceAccount %s/%s: %+v",
			rbacFile, objs.role.Name, rbacNamespace, objs.serviceAccount.Name, b)
	}
	return objs
}

// install creates the objects in namespace, as the documented sed and
// kubectl apply do, and waits until the authorizer knows the binding.
// It returns a token of the ServiceAccount.
func (o rbacObjects) install(t *testing.T, c *testcluster.Cluster, namespace string) string {
	t.Helper()
	ctx := context.Background()
	cs := c.Clientset(t)
	sa, role, binding := o.serviceAccount.DeepCopy(), o.role.DeepCopy(), o.binding.DeepCopy()
	sa.Namespace, role.Namespace, binding.Namespace = namespace, namespace, namespace
	binding.Subjects[0].Namespace = namespace
	if _, err := cs.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().Roles(namespace).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().RoleBindings(namespace).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	token := serviceAccountToken(t, cs, namespace, sa.Name)

	// The authorizer reads RBAC objects from a cache: a step started at
	// once could be refused for a moment.
	self, err := kubernetes.NewForConfig(c.RESTConfigFor(token))
	if err != nil {
		t.Fatal(err)
	}
	rule := role.Rules[0]
	review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: namespace, Verb: rule.Verbs[0], Group: rule.APIGroups[0], Resource: rule.Resources[0],
		},
	}}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		res, err := self.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
		return err == nil && res.Status.Allowed, nil
	})
	if err != nil {
		t.Fatalf("the RoleBinding does not take effect: %v", err)
	}
	return token
}

// serviceAccountToken mints a token as a CI system's administrator would,
// with the TokenRequest API.
func serviceAccountToken(t *testing.T, cs kubernetes.Interface, namespace, name string) string {
	t.Helper()
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: new(int64(3600))}}
	res, err := cs.CoreV1().ServiceAccounts(namespace).CreateToken(context.Background(), name, req, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s/%s: %v", namespace, name, err)
	}
	return res.Status.Token
}

// rbacWorkspace holds testdata/sample (v1 with an extra Deployment, worker,
// that v2 drops, so declarative pruning has something to delete), a Job for
// apply, and the app of a first deploy that fails, of several kinds, for
// rollback to delete.
func rbacWorkspace(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("../testdata/sample")); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"v1/worker.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
spec:
  replicas: 1
  selector:
    matchLabels: {app: worker}
  template:
    metadata:
      labels: {app: worker}
    spec:
      containers:
      - name: worker
        image: registry.local/worker:1.0
`,
		"job.yaml": `apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: registry.local/web-migrate:2.0.0
`,
		"first.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: first-config
data:
  color: red
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: first
spec:
  replicas: 1
  selector:
    matchLabels: {app: first}
  template:
    metadata:
      labels: {app: first}
    spec:
      containers:
      - name: first
        image: registry.local/first:does-not-exist
        envFrom:
        - configMapRef: {name: first-config}
---
apiVersion: v1
kind: Service
metadata:
  name: first
spec:
  selector: {app: first}
  ports:
  - port: 80
---
apiVersion: batch/v1
kind: Job
metadata:
  name: first-migrate
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: registry.local/first-migrate:1.0
`,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// refused is how a refused request (403, or 401) reads in a step's output.
var refused = regexp.MustCompile(`(?i)forbidden|unauthorized`)

// Every step, run as a CI runs it (server, token and CA) with a token of
// the ServiceAccount of deploy/rbac.yaml, works with exactly its Role, in
// both history formats: no request is refused. The failing deploy fails
// where it should, on its pods, and the rollback after it (and the evidence
// it collects) works too.
func TestRBAC(t *testing.T) {
	c := testcluster.Shared(t)
	objs := readRBAC(t)
	dir := rbacWorkspace(t)
	modes := []struct {
		name        string
		declarative bool
	}{{"legacy", false}, {"declarative", true}}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			ns := c.Namespace(t)
			token := objs.install(t, c, ns)
			admin := c.Clientset(t)
			env := func(kv ...string) map[string]string {
				m := map[string]string{
					"PLUGIN_SERVER":                     c.Server,
					"PLUGIN_TOKEN":                      token,
					"PLUGIN_CERTIFICATE_AUTHORITY_DATA": base64.StdEncoding.EncodeToString(c.CAData),
					"PLUGIN_NAMESPACE":                  ns,
					"PLUGIN_RELEASE":                    "web",
					"PLUGIN_TIMEOUT":                    "3m",
				}
				if mode.declarative {
					m["PLUGIN_ENABLE_DECLARATIVE_ROLLBACK"] = "true"
					m["PLUGIN_PRUNING"] = "true"
				}
				for i := 0; i+1 < len(kv); i += 2 {
					m[kv[i]] = kv[i+1]
				}
				return m
			}
			steps := []struct {
				name string
				env  map[string]string
				code int
				want []string
				// check looks at the cluster afterwards, as the admin.
				check func(t *testing.T)
			}{
				{name: "rolling v1", env: env("PLUGIN_STEP", "rolling", "PLUGIN_MANIFESTS", "v1"),
					want: []string{"Release 1 of web Succeeded"}},
				{name: "rolling v2", env: env("PLUGIN_STEP", "rolling", "PLUGIN_MANIFESTS", "v2", "PLUGIN_DIFF", "true"),
					want: []string{"Release 2 of web Succeeded"},
					check: func(t *testing.T) {
						_, err := admin.AppsV1().Deployments(ns).Get(context.Background(), "worker", metav1.GetOptions{})
						if gone := apierrors.IsNotFound(err); gone != mode.declarative {
							t.Errorf("Deployment worker of v1 only: deleted %t, want %t (pruning): %v", gone, mode.declarative, err)
						}
					}},
				// The cache's crash loop also makes the rollback read its
				// container's log and replace its stuck pod.
				{name: "failing rolling", env: env("PLUGIN_STEP", "rolling", "PLUGIN_MANIFESTS", "v2",
					"PLUGIN_FAIL_FAST_AFTER", "3s",
					"PLUGIN_IMAGES", "registry.local/web=registry.local/web:does-not-exist,registry.local/cache=registry.local/cache:crashloop"),
					code: 1,
					want: []string{"giving up (fail_fast)", "Release 3 recorded as Failed (fail_fast)"}},
				{name: "rollback", env: env("PLUGIN_STEP", "rollback"),
					want: []string{"Rolled back release 3 of web to release 2"},
					check: func(t *testing.T) {
						ctx := context.Background()
						d, err := admin.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
						if err != nil {
							t.Fatal(err)
						}
						s, err := admin.AppsV1().StatefulSets(ns).Get(ctx, "cache", metav1.GetOptions{})
						if err != nil {
							t.Fatal(err)
						}
						if got := d.Spec.Template.Spec.Containers[0].Image; got != "registry.local/web:2.0.0" {
							t.Errorf("Deployment web runs %s after the rollback, want release 2's registry.local/web:2.0.0", got)
						}
						if got := s.Spec.Template.Spec.Containers[0].Image; got != "registry.local/cache:7.4" {
							t.Errorf("StatefulSet cache runs %s after the rollback, want release 2's registry.local/cache:7.4", got)
						}
					}},
				{name: "apply", env: env("PLUGIN_STEP", "apply", "PLUGIN_MANIFESTS", "job.yaml", "PLUGIN_DIFF", "true"),
					want: []string{"Job/" + ns + "/migrate complete"}},
				// The Job exists by now: diff reads it.
				{name: "diff", env: env("PLUGIN_STEP", "diff", "PLUGIN_MANIFESTS", "v1,job.yaml"),
					want: []string{"Diff: "}},
				{name: "history", env: env("PLUGIN_STEP", "history", "PLUGIN_OUTPUT", "json")},
				// A first release that fails has nothing to return to:
				// on_first_failure: delete removes what it created.
				{name: "failing first rolling", env: env("PLUGIN_STEP", "rolling", "PLUGIN_RELEASE", "first",
					"PLUGIN_MANIFESTS", "first.yaml", "PLUGIN_FAIL_FAST_AFTER", "3s"),
					code: 1, want: []string{"giving up (fail_fast)"}},
				{name: "rollback of the first release", env: env("PLUGIN_STEP", "rollback", "PLUGIN_RELEASE", "first",
					"PLUGIN_ON_FIRST_FAILURE", "delete"),
					want: []string{"Deployment/" + ns + "/first deleted", "Service/" + ns + "/first deleted",
						"Job/" + ns + "/first-migrate deleted"},
					check: func(t *testing.T) {
						_, err := admin.AppsV1().Deployments(ns).Get(context.Background(), "first", metav1.GetOptions{})
						if !apierrors.IsNotFound(err) {
							t.Errorf("Deployment first after on_first_failure: delete: %v, want not found", err)
						}
					}},
			}
			// A lease left by a killed run, long expired: the first rolling
			// takes it over with an update, the verb that renews a lease
			// too (steps this short end before the first renewal).
			ago := metav1.NewMicroTime(time.Now().Add(-time.Hour))
			stale := &coordinationv1.Lease{
				ObjectMeta: metav1.ObjectMeta{Name: lock.Name("web")},
				Spec: coordinationv1.LeaseSpec{
					HolderIdentity: new("a killed run"), LeaseDurationSeconds: new(int32(120)),
					AcquireTime: &ago, RenewTime: &ago,
				},
			}
			if _, err := admin.CoordinationV1().Leases(ns).Create(context.Background(), stale, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}

			for _, step := range steps {
				r := runStep(t, dir, step.env)
				out := r.stdout + r.stderr
				if r.code != step.code {
					t.Fatalf("%s: exit %d, want %d\n%s", step.name, r.code, step.code, out)
				}
				if m := refused.FindString(out); m != "" {
					t.Errorf("%s: a request was refused (%q): the Role lacks a permission\n%s", step.name, m, out)
				}
				if strings.Contains(out, token) {
					t.Errorf("%s: the token appears in the output", step.name)
				}
				for _, w := range step.want {
					if !strings.Contains(out, w) {
						t.Errorf("%s: output lacks %q\n%s", step.name, w, out)
					}
				}
				if step.check != nil {
					step.check(t)
				}
				if step.env["PLUGIN_STEP"] == "history" {
					checkRBACHistory(t, r.stdout)
				}
			}
		})
	}
}

// checkRBACHistory reads the history step's JSON: the failed release 3 is
// the newest, and release 2, which the rollback returned to, succeeded.
func checkRBACHistory(t *testing.T, stdout string) {
	t.Helper()
	var doc struct {
		Releases []struct {
			Number int    `json:"number"`
			Status string `json:"status"`
		} `json:"releases"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("history: %v\n%s", err, stdout)
	}
	var two string
	for _, r := range doc.Releases {
		if r.Number == 2 {
			two = r.Status
		}
	}
	if len(doc.Releases) == 0 || doc.Releases[0].Number != 3 || doc.Releases[0].Status != "Failed" || two != "Succeeded" {
		t.Errorf("history: want release 3 Failed newest and release 2 Succeeded:\n%s", stdout)
	}
}

// Without the Role, every step fails at its first request with exit code
// 1 and the API server's refusal, which names the verb and the resource,
// and writes nothing.
func TestRBACWithoutRole(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	admin := c.Clientset(t)
	ctx := context.Background()
	const name = "no-role"
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := admin.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	token := serviceAccountToken(t, admin, ns, name)
	dir := rbacWorkspace(t)
	env := func(kv ...string) map[string]string {
		m := map[string]string{
			"PLUGIN_SERVER":                     c.Server,
			"PLUGIN_TOKEN":                      token,
			"PLUGIN_CERTIFICATE_AUTHORITY_DATA": base64.StdEncoding.EncodeToString(c.CAData),
			"PLUGIN_NAMESPACE":                  ns,
			"PLUGIN_RELEASE":                    "web",
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	refusal := regexp.MustCompile(`(?m)^error: .* is forbidden: User "system:serviceaccount:` + ns + `:` + name +
		`" cannot (get|list|watch|create|update|patch|delete) resource "[a-z/]+" in API group "[a-z0-9.]*" in the namespace "` + ns + `"`)
	for _, step := range []struct {
		name string
		env  map[string]string
	}{
		{"rolling", env("PLUGIN_STEP", "rolling", "PLUGIN_MANIFESTS", "v1")},
		{"rolling declarative", env("PLUGIN_STEP", "rolling", "PLUGIN_MANIFESTS", "v1", "PLUGIN_ENABLE_DECLARATIVE_ROLLBACK", "true")},
		{"rollback", env("PLUGIN_STEP", "rollback")},
		{"apply", env("PLUGIN_STEP", "apply", "PLUGIN_MANIFESTS", "job.yaml", "PLUGIN_RELEASE", "")},
		{"diff", env("PLUGIN_STEP", "diff", "PLUGIN_MANIFESTS", "v1")},
		{"history", env("PLUGIN_STEP", "history")},
	} {
		r := runStep(t, dir, step.env)
		out := r.stdout + r.stderr
		if r.code != 1 || !refusal.MatchString(out) {
			t.Errorf("%s: exit %d, want 1 with the API server's refusal naming the resource:\n%s", step.name, r.code, out)
		}
	}

	// Nothing written: the namespace holds only what the cluster put there,
	// the CA bundle every namespace gets.
	dyn := c.Dynamic(t)
	for _, gvr := range []schema.GroupVersionResource{
		{Version: "v1", Resource: "configmaps"},
		{Version: "v1", Resource: "secrets"},
		{Version: "v1", Resource: "services"},
		{Version: "v1", Resource: "pods"},
		{Group: "apps", Version: "v1", Resource: "deployments"},
		{Group: "apps", Version: "v1", Resource: "statefulsets"},
		{Group: "apps", Version: "v1", Resource: "daemonsets"},
		{Group: "batch", Version: "v1", Resource: "jobs"},
		{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"},
	} {
		list, err := dyn.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range list.Items {
			if gvr.Resource == "configmaps" && item.GetName() == "kube-root-ca.crt" {
				continue
			}
			t.Errorf("%s %s written without the Role", gvr.Resource, item.GetName())
		}
	}
}
