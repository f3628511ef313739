package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kube-release/kube-release/internal/kube/typed/typedtest"
	"github.com/kube-release/kube-release/internal/release"
	"github.com/kube-release/kube-release/internal/testcluster"
)

// The failure matrix: every way a deploy fails, in both history modes and
// in several shapes, must end with the cluster back on a good release.
// Each cell deploys good releases, deploys one that fails, then checks
// that (a) rollback exits 0 with the workloads and their config back on
// the target, (b) a second rollback exits 0 and changes nothing, and (c)
// the next deploy succeeds.

// failure is how the failing deploy of a cell fails.
type failure string

const (
	failFast      failure = "fail_fast image pull"
	deadline      failure = "progress deadline"
	stepTimeout   failure = "step timeout"
	termMidWait   failure = "SIGTERM mid-wait"
	termMidApply  failure = "SIGTERM mid-apply"
	invalidLater  failure = "invalid object in a later stage"
	apiRestart    failure = "API server restarted mid-apply"
	brokenImage           = "registry.local/app:does-not-exist"
	paddingConfig         = 60 // ConfigMaps that make an apply last long enough to interrupt
)

// shape is what the manifests hold.
type shape string

const (
	oneReplica   shape = "replicas 1"
	threeReplica shape = "replicas 3"
	statefulSet  shape = "StatefulSet"
	several      shape = "several workloads"
)

type cell struct {
	declarative bool
	failure     failure
	shape       shape
	// good is how many good releases precede the failing one; rollbackTo
	// is the one to return to (0: the last successful, by default).
	good       int
	rollbackTo int
	// interruptRollback sends SIGTERM to the first rollback right after
	// its undo or re-apply; the rollback is then run again.
	interruptRollback bool
}

func (c cell) name() string {
	mode := "legacy"
	if c.declarative {
		mode = "declarative"
	}
	name := fmt.Sprintf("%s/%s/%s", mode, c.failure, c.shape)
	if c.rollbackTo != 0 {
		name += fmt.Sprintf("/rollback_to %d", c.rollbackTo)
	}
	if c.interruptRollback {
		name += "/rollback interrupted"
	}
	return name
}

// workloadsOf are the workloads of a shape, each with its replica count.
func workloadsOf(s shape) []struct {
	kind, name string
	replicas   int
} {
	type w = struct {
		kind, name string
		replicas   int
	}
	switch s {
	case oneReplica:
		return []w{{"Deployment", "web", 1}}
	case threeReplica:
		return []w{{"Deployment", "web", 3}}
	case statefulSet:
		return []w{{"StatefulSet", "db", 2}}
	}
	return []w{{"Deployment", "web", 2}, {"Deployment", "api", 1}, {"StatefulSet", "db", 1}}
}

// appManifests are release version v of a shape: a ConfigMap "config"
// holding the version, used by every workload, at image app:v (or the
// broken image), plus padding ConfigMaps when asked for.
func appManifests(s shape, v int, image string, progressDeadline bool, padding int, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config}\ndata: {version: v%d}\n", v)
	for i := range padding {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: pad-%d}\ndata: {version: v%d}\n", i, v)
	}
	for _, w := range workloadsOf(s) {
		fmt.Fprintf(&b, "---\napiVersion: apps/v1\nkind: %s\nmetadata: {name: %s}\nspec:\n  replicas: %d\n", w.kind, w.name, w.replicas)
		if w.kind == "StatefulSet" {
			fmt.Fprintf(&b, "  serviceName: %s\n  podManagementPolicy: Parallel\n", w.name)
		} else if progressDeadline {
			b.WriteString("  progressDeadlineSeconds: 8\n")
		}
		fmt.Fprintf(&b, `  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      containers:
      - name: app
        image: %[2]s
        envFrom: [{configMapRef: {name: config}}]
`, w.name, image)
	}
	return b.String() + extra
}

func goodImage(v int) string { return "registry.local/app:" + strconv.Itoa(v) }

// invalidDeployment passes reading and rendering but not the API server's
// validation; with skip_dry_run it fails the workloads stage after the
// ConfigMaps were applied.
const invalidDeployment = `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: invalid}
spec:
  replicas: -1
  selector: {matchLabels: {app: invalid}}
  template:
    metadata: {labels: {app: invalid}}
    spec: {containers: [{name: app, image: registry.local/app:1}]}
`

func failureMatrix() []cell {
	return []cell{
		{failure: failFast, shape: threeReplica, good: 1},
		{failure: deadline, shape: oneReplica, good: 1},
		{failure: deadline, shape: oneReplica, good: 1, interruptRollback: true},
		{failure: deadline, shape: threeReplica, good: 2},
		{failure: stepTimeout, shape: statefulSet, good: 1},
		{failure: termMidWait, shape: several, good: 1},
		{failure: termMidApply, shape: threeReplica, good: 1},
		{failure: invalidLater, shape: oneReplica, good: 1},
		{declarative: true, failure: failFast, shape: several, good: 1},
		{declarative: true, failure: deadline, shape: oneReplica, good: 1},
		{declarative: true, failure: deadline, shape: threeReplica, good: 2, rollbackTo: 1},
		{declarative: true, failure: stepTimeout, shape: oneReplica, good: 1},
		{declarative: true, failure: termMidWait, shape: statefulSet, good: 1, interruptRollback: true},
		{declarative: true, failure: termMidApply, shape: several, good: 1},
		{declarative: true, failure: invalidLater, shape: threeReplica, good: 1},
	}
}

func TestFailureMatrix(t *testing.T) {
	c := testcluster.Shared(t)
	for _, tc := range failureMatrix() {
		t.Run(tc.name(), func(t *testing.T) {
			t.Parallel()
			runCell(t, c, c.Namespace(t), tc)
		})
	}
}

// The API server restarted in the middle of an apply, in a cluster of its
// own: the shared one must not go down under other tests.
func TestFailureMatrixAPIServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane of its own")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, cs := ownCluster(ctx, t)
	for i, tc := range []cell{
		{failure: apiRestart, shape: several, good: 1},
		{declarative: true, failure: apiRestart, shape: oneReplica, good: 1},
	} {
		t.Run(tc.name(), func(t *testing.T) {
			ns := fmt.Sprintf("restart-%d", i)
			ownNamespace(ctx, t, cs, ns)
			runCell(t, c, ns, tc)
		})
	}
}

// cellRun is one cell's cluster, namespace and files.
type cellRun struct {
	cell
	c  *testcluster.Cluster
	cs kubernetes.Interface
	ns string
}

func (r *cellRun) env(step, manifests string, extra map[string]string) map[string]string {
	return stepEnv(r.c, r.ns, r.declarative, step, manifests, extra)
}

// stepEnv is the environment of a step of release web in ns, as the
// admin, with a timeout that a loaded machine does not run out of.
func stepEnv(c *testcluster.Cluster, ns string, declarative bool, step, manifests string, extra map[string]string) map[string]string {
	env := adminEnv(c, ns, map[string]string{"PLUGIN_STEP": step, "PLUGIN_TIMEOUT": "3m"})
	if manifests != "" {
		env["PLUGIN_MANIFESTS"] = manifests
	}
	if declarative {
		env["PLUGIN_ENABLE_DECLARATIVE_ROLLBACK"] = "true"
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// deployGood deploys good version v and checks it succeeded.
func (r *cellRun) deployGood(t *testing.T, v int) {
	t.Helper()
	path := writeFile(t, fmt.Sprintf("v%d.yaml", v), appManifests(r.shape, v, goodImage(v), r.failure == deadline, r.padding(), ""))
	if res := kubeRelease(t, r.env("rolling", path, nil)); res.code != 0 {
		t.Fatalf("deploy of good version %d: exit %d\n%s", v, res.code, res.out)
	}
	if latest := r.history(t).Latest(); latest == nil || latest.Status != release.Succeeded {
		t.Fatalf("deploy of good version %d: history says %+v", v, latest)
	}
}

func (r *cellRun) padding() int {
	if r.failure == termMidApply || r.failure == apiRestart {
		return paddingConfig
	}
	return 0
}

// history reads the history the cell's mode writes.
func (r *cellRun) history(t *testing.T) release.History {
	t.Helper()
	var store release.Store = release.NewConfigMapStore(typedtest.Wrap(r.cs), r.ns, "web")
	if r.declarative {
		store = release.NewSecretStore(typedtest.Wrap(r.cs), r.ns, "web")
	}
	h, err := store.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func runCell(t *testing.T, c *testcluster.Cluster, ns string, tc cell) {
	r := &cellRun{cell: tc, c: c, cs: c.Clientset(t), ns: ns}
	for v := 1; v <= tc.good; v++ {
		r.deployGood(t, v)
	}
	failed := tc.good + 1
	r.deployFailing(t, failed)
	if latest := r.history(t).Latest(); latest == nil || latest.Number != failed || latest.Status != release.Failed {
		t.Fatalf("after the failing deploy the newest release is %+v, want %d Failed", latest, failed)
	}
	assertUnlocked(t, r.cs, ns, "web")

	target := tc.good
	rollbackEnv := map[string]string{}
	if tc.rollbackTo != 0 {
		target = tc.rollbackTo
		rollbackEnv["PLUGIN_ROLLBACK_TO"] = strconv.Itoa(tc.rollbackTo)
	}
	if tc.interruptRollback {
		run := start(t, r.env("rollback", "", rollbackEnv), "Waiting for")
		run.cmd.Process.Signal(syscall.SIGTERM)
		code := run.wait(t, 2*time.Minute)
		t.Logf("interrupted rollback exited %d", code)
		assertUnlocked(t, r.cs, ns, "web")
	}

	// (a) The rollback returns every workload and its config to the target.
	res := kubeRelease(t, r.env("rollback", "", rollbackEnv))
	if res.code != 0 {
		t.Fatalf("rollback: exit %d\n%s", res.code, res.out)
	}
	t.Logf("rollback:\n%s", res.out)
	r.assertOn(t, target)
	if latest := r.history(t).Latest(); latest.Status != release.Failed {
		t.Errorf("after the rollback release %d is %s, want Failed", latest.Number, latest.Status)
	}

	// (b) A second rollback succeeds and changes nothing.
	before := r.generations(t)
	if res := kubeRelease(t, r.env("rollback", "", rollbackEnv)); res.code != 0 {
		t.Fatalf("second rollback: exit %d\n%s", res.code, res.out)
	}
	if after := r.generations(t); after != before {
		t.Errorf("the second rollback changed the workloads:\nbefore %s\nafter  %s", before, after)
	}
	r.assertOn(t, target)

	// (c) The next deploy succeeds.
	next := failed + 1
	r.deployGood(t, next)
	r.assertOn(t, next)
}

// deployFailing runs the deploy of version v that fails as the cell says.
func (r *cellRun) deployFailing(t *testing.T, v int) {
	t.Helper()
	image, extraEnv, extraYAML := brokenImage, map[string]string{}, ""
	switch r.failure {
	case failFast:
		extraEnv["PLUGIN_FAIL_FAST_AFTER"] = "2s"
	case deadline:
		extraEnv["PLUGIN_FAIL_FAST"] = "false"
	case stepTimeout:
		extraEnv["PLUGIN_FAIL_FAST"] = "false"
		extraEnv["PLUGIN_TIMEOUT"] = "20s"
	case invalidLater:
		image, extraYAML = goodImage(v), invalidDeployment
		extraEnv["PLUGIN_SKIP_DRY_RUN"] = "true"
	case termMidWait, termMidApply, apiRestart:
		extraEnv["PLUGIN_FAIL_FAST_AFTER"] = "2s"
	}
	path := writeFile(t, fmt.Sprintf("v%d.yaml", v), appManifests(r.shape, v, image, r.failure == deadline, r.padding(), extraYAML))
	env := r.env("rolling", path, extraEnv)

	var code int
	var out string
	switch r.failure {
	case termMidWait:
		run := start(t, env, "Waiting for")
		run.cmd.Process.Signal(syscall.SIGTERM)
		code, out = run.wait(t, 2*time.Minute), run.output()
	case termMidApply, apiRestart:
		// Interrupt once the first object of this release is written.
		written := r.watchData(t, "version", fmt.Sprintf("v%d", v))
		run := start(t, env, "Current release number is")
		waitFor(t, written, "ConfigMap of the new release")
		if r.failure == termMidApply {
			run.cmd.Process.Signal(syscall.SIGTERM)
		} else {
			if err := r.c.StopAPIServer(); err != nil {
				t.Fatal(err)
			}
			if err := r.c.StartAPIServer(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		code, out = run.wait(t, 3*time.Minute), run.output()
	default:
		res := kubeRelease(t, env)
		code, out = res.code, res.out
	}
	if code == 0 {
		t.Fatalf("the failing deploy exited 0\n%s", out)
	}
	t.Logf("the failing deploy exited %d: %s", code, lineWith(out, "error"))
}

// watchData returns a channel closed once a ConfigMap of the namespace
// is written with data[key] == value.
func (r *cellRun) watchData(t *testing.T, key, value string) <-chan struct{} {
	t.Helper()
	list, err := r.cs.CoreV1().ConfigMaps(r.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := r.cs.CoreV1().ConfigMaps(r.ns).Watch(context.Background(), metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	seen := make(chan struct{})
	go func() {
		for ev := range w.ResultChan() {
			if cm, ok := ev.Object.(*corev1.ConfigMap); ok && cm.Data[key] == value {
				close(seen)
				return
			}
		}
	}()
	return seen
}

// waitFor waits for seen, for at most 2 minutes.
func waitFor(t *testing.T, seen <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-seen:
	case <-time.After(2 * time.Minute):
		t.Fatalf("no %s within 2 minutes", what)
	}
}

// assertOn checks that every workload runs version v: its image, and the
// config it reads (legacy: the ConfigMap versioned for release v, which
// must exist; declarative: the one ConfigMap, holding v's data).
func (r *cellRun) assertOn(t *testing.T, v int) {
	t.Helper()
	ctx := context.Background()
	wantConfig := "config"
	if !r.declarative {
		wantConfig = fmt.Sprintf("config-%d", v)
	}
	cm, err := r.cs.CoreV1().ConfigMaps(r.ns).Get(ctx, wantConfig, metav1.GetOptions{})
	if err != nil {
		t.Errorf("config of version %d: %v", v, err)
	} else if got := cm.Data["version"]; got != fmt.Sprintf("v%d", v) {
		t.Errorf("ConfigMap %s holds %s, want v%d", wantConfig, got, v)
	}
	for _, w := range workloadsOf(r.shape) {
		var tmpl corev1.PodTemplateSpec
		var ready bool
		var status any
		switch w.kind {
		case "Deployment":
			d, err := r.cs.AppsV1().Deployments(r.ns).Get(ctx, w.name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			tmpl, status = d.Spec.Template, d.Status
			ready = d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == int32(w.replicas) &&
				d.Status.AvailableReplicas == int32(w.replicas) && d.Status.Replicas == int32(w.replicas)
		case "StatefulSet":
			s, err := r.cs.AppsV1().StatefulSets(r.ns).Get(ctx, w.name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			tmpl, status = s.Spec.Template, s.Status
			ready = s.Status.ObservedGeneration >= s.Generation && s.Status.UpdateRevision == s.Status.CurrentRevision &&
				s.Status.ReadyReplicas == int32(w.replicas)
		}
		c := tmpl.Spec.Containers[0]
		if c.Image != goodImage(v) {
			t.Errorf("%s %s runs %s, want %s", w.kind, w.name, c.Image, goodImage(v))
		}
		if len(c.EnvFrom) != 1 || c.EnvFrom[0].ConfigMapRef == nil || c.EnvFrom[0].ConfigMapRef.Name != wantConfig {
			t.Errorf("%s %s reads config %+v, want %s", w.kind, w.name, c.EnvFrom, wantConfig)
		}
		if !ready {
			t.Errorf("%s %s is not in steady state after the step: %+v", w.kind, w.name, status)
		}
	}
}

// generations fingerprints what a rollback could change: each workload's
// generation and the config's resourceVersion.
func (r *cellRun) generations(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	var parts []string
	for _, w := range workloadsOf(r.shape) {
		var meta metav1.Object
		var err error
		switch w.kind {
		case "Deployment":
			var d *appsv1.Deployment
			d, err = r.cs.AppsV1().Deployments(r.ns).Get(ctx, w.name, metav1.GetOptions{})
			meta = d
		case "StatefulSet":
			var s *appsv1.StatefulSet
			s, err = r.cs.AppsV1().StatefulSets(r.ns).Get(ctx, w.name, metav1.GetOptions{})
			meta = s
		}
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, fmt.Sprintf("%s/%s=%d", w.kind, w.name, meta.GetGeneration()))
	}
	cms, err := r.cs.CoreV1().ConfigMaps(r.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range cms.Items {
		if strings.HasPrefix(cm.Name, "config") {
			parts = append(parts, "ConfigMap/"+cm.Name+"="+cm.ResourceVersion)
		}
	}
	return strings.Join(parts, " ")
}

// A real app no one here wrote (testdata/microservices-demo, a kustomize
// directory of 11 Deployments) deploys, then deploys with every image
// broken, fails, and is rolled back to the images it had; the next deploy
// succeeds. In both history modes.
func TestMicroservicesDemoBrokenThenRolledBack(t *testing.T) {
	c := testcluster.Shared(t)
	repos := []string{"adservice", "cartservice", "checkoutservice", "currencyservice", "emailservice", "frontend",
		"paymentservice", "productcatalogservice", "recommendationservice", "redis", "shippingservice"}
	var broken []string
	for _, repo := range repos {
		broken = append(broken, repo+"="+brokenImage)
	}
	for _, declarative := range []bool{false, true} {
		t.Run(fmt.Sprintf("declarative=%t", declarative), func(t *testing.T) {
			t.Parallel()
			ns := c.Namespace(t)
			cs := c.Clientset(t)
			env := func(step string, extra map[string]string) map[string]string {
				e := adminEnv(c, ns, map[string]string{
					"PLUGIN_STEP": step, "PLUGIN_RELEASE": "boutique", "PLUGIN_TIMEOUT": "5m",
					"PLUGIN_MANIFESTS":                   "../testdata/microservices-demo",
					"PLUGIN_ENABLE_DECLARATIVE_ROLLBACK": strconv.FormatBool(declarative),
				})
				for k, v := range extra {
					e[k] = v
				}
				return e
			}
			images := func() map[string]string {
				t.Helper()
				list, err := cs.AppsV1().Deployments(ns).List(context.Background(), metav1.ListOptions{})
				if err != nil {
					t.Fatal(err)
				}
				out := map[string]string{}
				for _, d := range list.Items {
					out[d.Name] = d.Spec.Template.Spec.Containers[0].Image
				}
				return out
			}
			mustRun := func(what string, e map[string]string) {
				t.Helper()
				if r := kubeRelease(t, e); r.code != 0 {
					t.Fatalf("%s: exit %d\n%s", what, r.code, r.out)
				}
			}

			mustRun("first deploy", env("rolling", nil))
			good := images()
			if len(good) != 11 {
				t.Fatalf("%d Deployments after the first deploy, want 11: %v", len(good), good)
			}
			r := kubeRelease(t, env("rolling", map[string]string{"PLUGIN_IMAGES": strings.Join(broken, ","), "PLUGIN_FAIL_FAST_AFTER": "2s"}))
			if r.code != 1 {
				t.Fatalf("deploy with every image broken: exit %d, want 1\n%s", r.code, r.out)
			}
			for name, image := range images() {
				if image != brokenImage {
					t.Errorf("Deployment %s runs %s during the broken release", name, image)
				}
			}
			mustRun("rollback", env("rollback", nil))
			if got := images(); fmt.Sprint(got) != fmt.Sprint(good) {
				t.Errorf("after the rollback the images are\n%v\nwant\n%v", got, good)
			}
			mustRun("second rollback", env("rollback", nil))
			mustRun("next deploy", env("rolling", nil))
			if got := images(); fmt.Sprint(got) != fmt.Sprint(good) {
				t.Errorf("after the next deploy the images are\n%v\nwant\n%v", got, good)
			}
		})
	}
}
