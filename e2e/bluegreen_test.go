package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/kube-release/kube-release/internal/kube/typed/typedtest"
	"github.com/kube-release/kube-release/internal/release"
	"github.com/kube-release/kube-release/internal/testcluster"
)

// bgApp is the manifests of a blue/green app at version v: one Deployment
// (or StatefulSet) with an HPA and a ConfigMap it reads, and one unmarked
// Service, from which the stage Service is made.
func bgApp(kind string, v int, image string) string {
	if image == "" {
		image = fmt.Sprintf("registry.local/web:%d", v)
	}
	serviceName := ""
	if kind == "StatefulSet" {
		serviceName = "\n  serviceName: web"
	}
	return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: web-config}
data: {version: "%d"}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: %s
metadata: {name: web}
spec:
  replicas: 2%s
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: %s
        envFrom: [{configMapRef: {name: web-config}}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: %s, name: web}
  minReplicas: 2
  maxReplicas: 4
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}}]
`, v, kind, serviceName, image, kind)
}

// bgRun is a blue/green release of one namespace.
type bgRun struct {
	c           *testcluster.Cluster
	cs          kubernetes.Interface
	ns          string
	declarative bool
	kind        string
}

func newBGRun(t *testing.T, declarative bool) *bgRun {
	c := testcluster.Shared(t)
	return &bgRun{c: c, cs: c.Clientset(t), ns: c.Namespace(t), declarative: declarative, kind: "Deployment"}
}

func (r *bgRun) env(step, manifests string, extra map[string]string) map[string]string {
	return stepEnv(r.c, r.ns, r.declarative, step, manifests, extra)
}

// step runs a step and checks its exit code; it returns the log and the
// dotenv outputs.
func (r *bgRun) step(t *testing.T, step string, v int, image string, wantCode int) (string, string) {
	t.Helper()
	manifests := ""
	if step == "bluegreen" {
		manifests = writeFile(t, fmt.Sprintf("v%d.yaml", v), bgApp(r.kind, v, image))
	}
	outputs := writeFile(t, step+".env", "")
	res := kubeRelease(t, r.env(step, manifests, map[string]string{"DRONE_OUTPUT": outputs, "PLUGIN_FAIL_FAST_AFTER": "3s"}))
	if res.code != wantCode {
		t.Fatalf("%s (version %d): exit %d, want %d\n%s", step, v, res.code, wantCode, res.out)
	}
	return res.out, readOutput(t, outputs)
}

// selectors returns the colour each of the two Services selects.
func (r *bgRun) selectors(t *testing.T) (primary, stage string) {
	t.Helper()
	return r.colorOf(t, "web"), r.colorOf(t, "web-stage")
}

func (r *bgRun) colorOf(t *testing.T, service string) string {
	t.Helper()
	svc, err := r.cs.CoreV1().Services(r.ns).Get(context.Background(), service, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.Selector["app"] != "web" {
		t.Errorf("service %s lost its own selector keys: %v", service, svc.Spec.Selector)
	}
	return svc.Spec.Selector["harness.io/color"]
}

func (r *bgRun) wantColors(t *testing.T, primary, stage string) {
	t.Helper()
	if p, s := r.selectors(t); p != primary || s != stage {
		t.Fatalf("primary Service selects %q, stage %q; want %q and %q", p, s, primary, stage)
	}
}

// image is the image the coloured workload runs.
func (r *bgRun) image(t *testing.T, color string) string {
	t.Helper()
	ctx := context.Background()
	if r.kind == "StatefulSet" {
		s, err := r.cs.AppsV1().StatefulSets(r.ns).Get(ctx, "web-"+color, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s.Spec.Template.Spec.Containers[0].Image
	}
	d, err := r.cs.AppsV1().Deployments(r.ns).Get(ctx, "web-"+color, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d.Spec.Template.Spec.Containers[0].Image
}

// history is the history the run's mode writes.
func (r *bgRun) history(t *testing.T) release.History {
	t.Helper()
	if !r.declarative {
		return legacyHistory(t, r.cs, r.ns, "web")
	}
	h, err := release.NewSecretStore(typedtest.Wrap(r.cs), r.ns, "web").List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (r *bgRun) wantRelease(t *testing.T, n int, status release.Status, color release.Color, env release.Environment) {
	t.Helper()
	rel := r.history(t).Get(n)
	if rel == nil || rel.Status != status || rel.Color != color || rel.Environment != env {
		t.Fatalf("release %d is %+v; want %s, %s, %s", n, rel, status, color, env)
	}
}

// waitEndpoints waits until the primary Service has a ready endpoint, and
// checks every ready endpoint is a pod of colour.
func (r *bgRun) waitEndpoints(t *testing.T, color string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := readyEndpoints(ctx, r.cs, r.ns, "web")
		if err != nil || len(pods) == 0 {
			return false, err
		}
		for _, p := range pods {
			if !strings.HasPrefix(p, "web-"+color+"-") {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("primary Service has no ready endpoints of colour %s: %v", color, err)
	}
}

// readyEndpoints are the pods the EndpointSlices of a Service name ready.
func readyEndpoints(ctx context.Context, cs kubernetes.Interface, ns, service string) ([]string, error) {
	slices, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + service})
	if err != nil {
		return nil, err
	}
	var pods []string
	for _, s := range slices.Items {
		pods = append(pods, readyPods(&s)...)
	}
	return pods, nil
}

func readyPods(s *discoveryv1.EndpointSlice) []string {
	var pods []string
	for _, e := range s.Endpoints {
		if e.Conditions.Ready != nil && *e.Conditions.Ready && e.TargetRef != nil {
			pods = append(pods, e.TargetRef.Name)
		}
	}
	return pods
}

// watchServed records every pod the primary Service's EndpointSlices name
// ready from now until stop is called, which returns them.
func watchServed(t *testing.T, cs kubernetes.Interface, ns string) (stop func() []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	list, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
	if err != nil {
		t.Fatal(err)
	}
	w, err := cs.DiscoveryV1().EndpointSlices(ns).Watch(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web", ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var served []string
	for _, s := range list.Items {
		served = append(served, readyPods(&s)...)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			if s, ok := ev.Object.(*discoveryv1.EndpointSlice); ok {
				mu.Lock()
				served = append(served, readyPods(s)...)
				mu.Unlock()
			}
		}
	}()
	return func() []string {
		w.Stop()
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return served
	}
}

func wantOutputs(t *testing.T, step, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w+"\n") {
			t.Errorf("%s: outputs lack %q:\n%s", step, w, got)
		}
	}
}

// The whole life of a blue/green release, in both history modes: a first
// deploy to blue that serves nothing until the swap, a second to green
// while blue keeps serving, a swap, a rollback that swaps back, a third
// deploy that replaces green, and a stage scale down.
func TestBlueGreenLifecycle(t *testing.T) {
	for _, declarative := range []bool{false, true} {
		t.Run(map[bool]string{false: "legacy", true: "declarative"}[declarative], func(t *testing.T) {
			r := newBGRun(t, declarative)
			log, out := r.step(t, "bluegreen", 1, "", 0)
			wantOutputs(t, "bluegreen 1", out, "release_number=1", "primary_service=web", "stage_service=web-stage", "primary_color=green", "stage_color=blue")
			for _, line := range []string{"Primary Service is web", "Created Stage service [web-stage] using Spec from Primary Service [web]",
				"Primary Service [web] not found in cluster.", "Primary Service is at color: green", "Stage Service is at color: blue",
				"Cleaning up non primary releases", "Current release number is: 1", "Workload to deploy is: Deployment/web-blue"} {
				if !strings.Contains(log, line) {
					t.Errorf("bluegreen 1: log lacks %q", line)
				}
			}
			r.wantColors(t, "green", "blue")
			r.wantRelease(t, 1, release.Succeeded, release.Blue, release.StageEnvironment)
			hpa, err := r.cs.AutoscalingV2().HorizontalPodAutoscalers(r.ns).Get(context.Background(), "web-blue", metav1.GetOptions{})
			if err != nil || hpa.Spec.ScaleTargetRef.Name != "web-blue" {
				t.Fatalf("HPA of blue: %v %+v", err, hpa)
			}

			_, out = r.step(t, "swap", 0, "", 0)
			wantOutputs(t, "swap 1", out, "release_number=1", "primary_color=blue", "stage_color=green")
			r.wantColors(t, "blue", "green")
			r.waitEndpoints(t, "blue")
			r.wantRelease(t, 1, release.Succeeded, release.Blue, release.PrimaryEnvironment)
			// A CI retry of the swap changes nothing.
			r.step(t, "swap", 0, "", 0)
			r.wantColors(t, "blue", "green")

			stop := watchServed(t, r.cs, r.ns)
			_, out = r.step(t, "bluegreen", 2, "", 0)
			for _, pod := range stop() {
				if !strings.HasPrefix(pod, "web-blue-") {
					t.Errorf("during the green deploy the primary Service served %s", pod)
				}
			}
			wantOutputs(t, "bluegreen 2", out, "release_number=2", "primary_color=blue", "stage_color=green")
			r.wantColors(t, "blue", "green")
			if got := r.image(t, "green"); got != "registry.local/web:2" {
				t.Errorf("green runs %s", got)
			}

			r.step(t, "swap", 0, "", 0)
			r.wantColors(t, "green", "blue")
			r.waitEndpoints(t, "green")

			_, out = r.step(t, "rollback", 0, "", 0)
			wantOutputs(t, "rollback", out, "release_number=1", "rolled_back_release_number=2", "primary_color=blue")
			r.wantColors(t, "blue", "green")
			r.waitEndpoints(t, "blue")
			r.wantRelease(t, 2, release.Failed, release.Green, release.StageEnvironment)
			r.wantRelease(t, 1, release.Succeeded, release.Blue, release.PrimaryEnvironment)
			// The swap after a rollback has nothing to do: blue is the
			// newest success.
			r.step(t, "swap", 0, "", 0)
			r.wantColors(t, "blue", "green")

			_, out = r.step(t, "bluegreen", 3, "", 0)
			wantOutputs(t, "bluegreen 3", out, "release_number=3", "stage_color=green")
			if got := r.image(t, "green"); got != "registry.local/web:3" {
				t.Errorf("green runs %s", got)
			}
			if h := r.history(t); h.Get(2) != nil {
				t.Errorf("release 2, of the stage colour, is still in the history: %v", h)
			}
			r.step(t, "swap", 0, "", 0)
			r.wantColors(t, "green", "blue")

			_, out = r.step(t, "stage_scale_down", 0, "", 0)
			wantOutputs(t, "stage_scale_down", out, "release_number=1", "primary_color=green")
			d, err := r.cs.AppsV1().Deployments(r.ns).Get(context.Background(), "web-blue", metav1.GetOptions{})
			if err != nil || *d.Spec.Replicas != 0 {
				t.Errorf("blue after the scale down: %v, %d replicas", err, *d.Spec.Replicas)
			}
			if _, err := r.cs.AutoscalingV2().HorizontalPodAutoscalers(r.ns).Get(context.Background(), "web-blue", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("HPA of blue after the scale down: %v", err)
			}
			r.waitEndpoints(t, "green")
			assertUnlocked(t, r.cs, r.ns, "web")
		})
	}
}

// A stage deploy that never gets ready fails; the primary colour keeps
// serving, the rollback changes no selector and exits 0, and the next good
// deploy goes to the same colour.
func TestBlueGreenBrokenStage(t *testing.T) {
	r := newBGRun(t, false)
	r.step(t, "bluegreen", 1, "", 0)
	r.step(t, "swap", 0, "", 0)
	r.waitEndpoints(t, "blue")

	_, out := r.step(t, "bluegreen", 2, brokenImage, 1)
	wantOutputs(t, "broken deploy", out, "release_number=2", "status=Failed", "stage_color=green")
	r.wantColors(t, "blue", "green")
	r.waitEndpoints(t, "blue")
	// A swap now would route users to a release that failed: it has
	// nothing to do.
	r.step(t, "swap", 0, "", 0)
	r.wantColors(t, "blue", "green")

	log, _ := r.step(t, "rollback", 0, "", 0)
	if !strings.Contains(log, "no Service selector was changed") {
		t.Errorf("rollback does not say it changed no traffic:\n%s", log)
	}
	r.wantColors(t, "blue", "green")
	r.wantRelease(t, 2, release.Failed, release.Green, release.StageEnvironment)

	_, out = r.step(t, "bluegreen", 3, "", 0)
	wantOutputs(t, "next deploy", out, "release_number=3", "stage_color=green", "status=Succeeded")
	r.step(t, "swap", 0, "", 0)
	r.waitEndpoints(t, "green")
}

// A swap killed after its first Service write, and one that finds both
// Services on one colour however it got there, end with exactly one
// Service per colour when run again.
func TestBlueGreenSwapInterrupted(t *testing.T) {
	r := newBGRun(t, false)
	r.step(t, "bluegreen", 1, "", 0)
	r.step(t, "swap", 0, "", 0)
	r.step(t, "bluegreen", 2, "", 0)

	// Kill the swap as soon as the primary Service changes.
	ctx := context.Background()
	svc, err := r.cs.CoreV1().Services(r.ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := r.cs.CoreV1().Services(r.ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=web", ResourceVersion: svc.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// The killed run holds its lock until it expires: short here, and
	// the retry waits for it, as a CI retry given lock_wait does.
	s := start(t, r.env("swap", "", map[string]string{"PLUGIN_LOCK_TTL": "5s"}), "Swapping Service Selectors..")
watch:
	for {
		select {
		case ev := <-w.ResultChan():
			if svc, ok := ev.Object.(*corev1.Service); ok && svc.Spec.Selector["harness.io/color"] == "green" {
				s.cmd.Process.Signal(syscall.SIGKILL)
				break watch
			}
		case <-s.done:
			t.Fatalf("the swap ended (%d) before it changed the primary Service:\n%s", s.code, s.output())
		}
	}
	s.wait(t, time.Minute)

	res := kubeRelease(t, r.env("swap", "", map[string]string{"PLUGIN_LOCK_WAIT": "1m"}))
	if res.code != 0 {
		t.Fatalf("swap after the killed one: exit %d\n%s", res.code, res.out)
	}
	r.wantColors(t, "green", "blue")
	r.waitEndpoints(t, "green")

	// Both on one colour, as a swap cut off between its writes leaves
	// them: the stage Service made to select the primary's colour.
	patch := []byte(`{"spec":{"selector":{"harness.io/color":"green"}}}`)
	if _, err := r.cs.CoreV1().Services(r.ns).Patch(ctx, "web-stage", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	log, _ := r.step(t, "swap", 0, "", 0)
	r.wantColors(t, "green", "blue")
	if !strings.Contains(log, "as a swap stopped between its two writes leaves them") {
		t.Errorf("swap does not say it found a swap cut off:\n%s", log)
	}
	r.step(t, "swap", 0, "", 0)
	r.wantColors(t, "green", "blue")
}

// A swap with a Service missing, or towards a colour whose pods are not
// ready, changes nothing and says why; a scale down never touches the
// serving colour.
func TestBlueGreenRefusals(t *testing.T) {
	r := newBGRun(t, false)
	r.step(t, "bluegreen", 1, "", 0)
	// Blue's pods are ready, but it has no pod left once scaled to 0.
	if _, err := r.cs.AppsV1().Deployments(r.ns).Patch(context.Background(), "web-blue", types.MergePatchType, []byte(`{"spec":{"replicas":0}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	// (Its HPA leaves a workload at 0 replicas alone.)
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := r.cs.CoreV1().Pods(r.ns).List(ctx, metav1.ListOptions{LabelSelector: "harness.io/color=blue"})
		return err == nil && len(pods.Items) == 0, err
	})
	if err != nil {
		t.Fatal(err)
	}
	log, _ := r.step(t, "swap", 0, "", 1)
	if !strings.Contains(log, "would select no ready pod") {
		t.Errorf("swap to a colour without pods:\n%s", log)
	}
	r.wantColors(t, "green", "blue")

	if err := r.cs.CoreV1().Services(r.ns).Delete(context.Background(), "web-stage", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	log, _ = r.step(t, "swap", 0, "", 1)
	if !strings.Contains(log, "web-stage") {
		t.Errorf("swap with the stage Service missing:\n%s", log)
	}
	if p := r.colorOf(t, "web"); p != "green" {
		t.Errorf("primary Service selects %s after a refused swap", p)
	}
}

// A StatefulSet-only app deploys to a coloured StatefulSet and swaps.
func TestBlueGreenStatefulSet(t *testing.T) {
	r := newBGRun(t, true)
	r.kind = "StatefulSet"
	r.step(t, "bluegreen", 1, "", 0)
	r.step(t, "swap", 0, "", 0)
	r.wantColors(t, "blue", "green")
	r.waitEndpoints(t, "blue")
	if got := r.image(t, "blue"); got != "registry.local/web:1" {
		t.Errorf("blue runs %s", got)
	}
}

// Bad blue/green manifests fail before anything is written.
func TestBlueGreenBadManifests(t *testing.T) {
	r := newBGRun(t, false)
	for name, tc := range map[string]struct{ manifests, want string }{
		"no Service": {strings.SplitN(bgApp("Deployment", 1, ""), "---\napiVersion: v1\nkind: Service", 2)[0], "Service is required for BlueGreen deployments"},
		"two workloads": {bgApp("Deployment", 1, "") + "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: other}\nspec:\n  selector: {matchLabels: {app: other}}\n  template:\n    metadata: {labels: {app: other}}\n    spec: {containers: [{name: o, image: registry.local/o:1}]}\n",
			"More than one workloads found in the manifests"},
	} {
		t.Run(name, func(t *testing.T) {
			path := writeFile(t, "bad.yaml", tc.manifests)
			res := kubeRelease(t, r.env("bluegreen", path, nil))
			if res.code == 0 || !strings.Contains(res.out, tc.want) {
				t.Fatalf("exit %d, want an error with %q:\n%s", res.code, tc.want, res.out)
			}
			if h := legacyHistory(t, r.cs, r.ns, "web"); len(h) != 0 {
				t.Errorf("history written: %v", h)
			}
			assertUnlocked(t, r.cs, r.ns, "web")
		})
	}
}

// harnessBGState is a namespace as Harness's Blue/Green leaves it after
// two stage deploys and one swap: green (release 2) serves through web,
// blue (release 3) waits behind web-stage, which Harness made from web and
// did not annotate. Nothing of it is written by kube-release.
func (r *bgRun) harnessBGState(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for _, c := range []struct {
		color string
		n     int
	}{{"green", 2}, {"blue", 3}} {
		labels := map[string]string{"app": "web", "harness.io/color": c.color}
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web-config-%d", c.n)}, Data: map[string]string{"version": fmt.Sprint(c.n)}}
		if _, err := r.cs.CoreV1().ConfigMaps(r.ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		d := deploymentOf("web-"+c.color, labels, fmt.Sprintf("registry.local/web:%d", c.n))
		if _, err := r.cs.AppsV1().Deployments(r.ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for name, color := range map[string]string{"web": "green", "web-stage": "blue"} {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web", "harness.io/color": color},
			Ports:    []corev1.ServicePort{{Port: 80}},
		}}
		if _, err := r.cs.CoreV1().Services(r.ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if r.declarative {
		for _, c := range []struct {
			n          int
			color, env string
		}{{2, "green", "primary"}, {3, "blue", "stage"}} {
			manifests := fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: %s\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web-stage\n  namespace: %s\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-%s\n  namespace: %s\n", r.ns, r.ns, c.color, r.ns)
			s := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("harness.release.web.%d", c.n), Labels: map[string]string{
					"owner": "harness", "release": "web", "release-number": fmt.Sprint(c.n), "status": "Succeeded",
					"color": c.color, "harness.io/bg-environment": c.env,
				}},
				Type: "harness.io/release/v2",
				Data: map[string][]byte{"release": gzipped(t, manifests)},
			}
			if _, err := r.cs.CoreV1().Secrets(r.ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	var history strings.Builder
	history.WriteString("releases: \n")
	for _, c := range []struct {
		n          int
		color, env string
	}{{3, "blue", "stage"}, {2, "green", "primary"}} {
		fmt.Fprintf(&history, `- bgEnvironment: %[3]s
  customWorkloads: []
  managedWorkload: 
    name: web-%[2]s
    kind: Deployment
    namespace: %[4]s
  managedWorkloadRevision: '1'
  managedWorkloads: []
  number: %[1]d
  resources: 
  - name: web-config-%[1]d
    kind: ConfigMap
    namespace: %[4]s
    versioned: true
  - name: web
    kind: Service
    namespace: %[4]s
  - name: web-%[2]s
    kind: Deployment
    namespace: %[4]s
  - name: web-stage
    kind: Service
    namespace: %[4]s
  resourcesWithSpec: []
  status: Succeeded
`, c.n, c.color, c.env, r.ns)
	}
	history.WriteString("version: v1\n")
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Data: map[string]string{"releaseHistory": history.String()}}
	if _, err := r.cs.CoreV1().ConfigMaps(r.ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// deploymentOf is a Deployment as Harness applies a coloured one: the
// release label on its pods, not in its selector.
func deploymentOf(name string, labels map[string]string, image string) *appsv1.Deployment {
	one := int32(1)
	pods := map[string]string{"harness.io/release-name": "web"}
	for k, v := range labels {
		pods[k] = v
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: pods},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}},
			},
		},
	}
}

// A Blue/Green release Harness deployed, in either history format, is
// swapped, deployed to and rolled back by kube-release.
func TestBlueGreenContinuesHarnessHistory(t *testing.T) {
	for _, declarative := range []bool{false, true} {
		t.Run(map[bool]string{false: "legacy", true: "declarative"}[declarative], func(t *testing.T) {
			r := newBGRun(t, declarative)
			r.harnessBGState(t)
			r.waitEndpoints(t, "green")

			_, out := r.step(t, "swap", 0, "", 0)
			wantOutputs(t, "swap", out, "release_number=3", "primary_color=blue", "stage_color=green")
			r.wantColors(t, "blue", "green")
			r.waitEndpoints(t, "blue")
			r.wantRelease(t, 3, release.Succeeded, release.Blue, release.PrimaryEnvironment)
			r.wantRelease(t, 2, release.Succeeded, release.Green, release.StageEnvironment)

			_, out = r.step(t, "bluegreen", 4, "", 0)
			wantOutputs(t, "bluegreen 4", out, "release_number=4", "primary_color=blue", "stage_color=green", "previous_release_number=3")
			if got := r.image(t, "green"); got != "registry.local/web:4" {
				t.Errorf("green runs %s", got)
			}
			r.wantRelease(t, 4, release.Succeeded, release.Green, release.StageEnvironment)
			if h := r.history(t); h.Get(2) != nil {
				t.Errorf("release 2, of the stage colour, is still in the history")
			}
			r.step(t, "swap", 0, "", 0)
			r.wantColors(t, "green", "blue")
			r.waitEndpoints(t, "green")

			_, out = r.step(t, "rollback", 0, "", 0)
			wantOutputs(t, "rollback", out, "release_number=3", "rolled_back_release_number=4", "primary_color=blue")
			r.wantColors(t, "blue", "green")
			r.waitEndpoints(t, "blue")
			r.wantRelease(t, 3, release.Succeeded, release.Blue, release.PrimaryEnvironment)
		})
	}
}
