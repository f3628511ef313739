package diagnose

import (
	"context"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/kube-release/kube-release/internal/kube/typed"
	"github.com/kube-release/kube-release/internal/object"
	"github.com/kube-release/kube-release/internal/rollout"
	"github.com/kube-release/kube-release/internal/testcluster"
)

// Tests of Collect run against a real local control plane (see
// internal/testcluster), where kwok fails pods on purpose by image name:
// the fake clientset has no scheduler, no controllers and no kubelet to
// produce the evidence.
func TestMain(m *testing.M) { os.Exit(testcluster.Run(m)) }

func createDeployment(t *testing.T, cs typed.Interface, ns string, d *appsv1.Deployment) object.Ref {
	t.Helper()
	if _, err := cs.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create deployment %s/%s: %v", ns, d.Name, err)
	}
	return object.Ref{Kind: rollout.KindDeployment, Namespace: ns, Name: d.Name}
}

// poll checks cond until it holds, failing the test after a generous
// bound: the scheduler, the controllers and kwok each take their time on
// a busy machine.
func poll(t *testing.T, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var lastErr error
	for {
		ok, err := cond(ctx)
		if ok {
			return
		}
		if err != nil {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not reached in time (last error: %v)", what, lastErr)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// podsWhere reports whether n pods labelled app=name satisfy ok.
func podsWhere(cs typed.Interface, ns, name string, n int, ok func(*corev1.Pod) bool) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
		if err != nil {
			return false, err
		}
		matched := 0
		for i := range list.Items {
			if ok(&list.Items[i]) {
				matched++
			}
		}
		return matched == n, nil
	}
}

func waitingIn(reason string) func(*corev1.Pod) bool {
	return func(pod *corev1.Pod) bool {
		for _, cs := range pod.Status.ContainerStatuses {
			if cs.State.Waiting != nil && cs.State.Waiting.Reason == reason {
				return true
			}
		}
		return false
	}
}

// requestCounter counts the API requests of a client by what they ask
// for, to hold Collect to its request budget.
type requestCounter struct {
	next http.RoundTripper
	mu   sync.Mutex
	n    map[string]int
}

func (c *requestCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	path := req.URL.Path
	what := "other"
	for _, suffix := range []string{"/log", "/events", "/pods", "/replicasets"} {
		if strings.HasSuffix(path, suffix) {
			what = strings.TrimPrefix(suffix, "/")
		}
	}
	c.mu.Lock()
	c.n[what]++
	c.mu.Unlock()
	return c.next.RoundTrip(req)
}

func (c *requestCounter) count(what string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[what]
}

func countingClient(t *testing.T, c *testcluster.Cluster) (typed.Interface, *requestCounter) {
	t.Helper()
	counter := &requestCounter{n: map[string]int{}}
	cfg := c.Config()
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		counter.next = rt
		return counter
	})
	cs, err := typed.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs, counter
}

func collect(t *testing.T, cs typed.Interface, workloads ...object.Ref) *Report {
	t.Helper()
	r, err := Collect(context.Background(), cs, workloads, Options{})
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if len(r.Workloads) != len(workloads) {
		t.Fatalf("Collect: %d workload reports, want %d", len(r.Workloads), len(workloads))
	}
	t.Logf("report:\n%s\n\n%s", strings.Join(r.Lines(), "\n"), r.Markdown())
	return r
}

func onePod(t *testing.T, w WorkloadReport) Pod {
	t.Helper()
	if len(w.NotReadyPods) == 0 {
		t.Fatalf("%s: no not-ready pod in the report", w.Workload)
	}
	return w.NotReadyPods[0]
}

func hasLine(lines []string, substr string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

func TestCollectImagePullBackOff(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	cs := c.Typed(t)
	w := createDeployment(t, cs, ns, testcluster.Deployment("web", testcluster.MissingImage, 1))
	poll(t, "pod in ImagePullBackOff", podsWhere(cs, ns, "web", 1, waitingIn("ImagePullBackOff")))

	client, requests := countingClient(t, c)
	r := collect(t, client, w)
	wr := r.Workloads[0]
	if wr.Pods != 1 || wr.NotReady != 1 {
		t.Errorf("pods %d, not ready %d; want 1, 1", wr.Pods, wr.NotReady)
	}
	pod := onePod(t, wr)
	if !strings.HasPrefix(pod.Name, "web-") || pod.Node == "" {
		t.Errorf("pod %q on node %q: want a pod of web, on a node", pod.Name, pod.Node)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("containers: %+v", pod.Containers)
	}
	want := State{State: Waiting, Reason: "ImagePullBackOff", Message: `Back-off pulling image "` + testcluster.MissingImage + `"`}
	if got := pod.Containers[0].State; got != want {
		t.Errorf("container state %+v, want %+v", got, want)
	}
	// A container that never started has no log to ask for.
	if n := requests.count("log"); n != 0 || r.LogsUnavailable != "" || len(pod.Containers[0].Logs) != 0 {
		t.Errorf("%d log requests, logs unavailable %q, logs %+v: want none", n, r.LogsUnavailable, pod.Containers[0].Logs)
	}
	line := "Deployment/" + ns + "/web: pod " + pod.Name + `: container app: waiting: ImagePullBackOff: Back-off pulling image "` + testcluster.MissingImage + `"`
	if hasLine(r.Lines(), line) != 1 {
		t.Errorf("no line %q", line)
	}
}

func TestCollectCrashLoop(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	cs := c.Typed(t)
	crash := createDeployment(t, cs, ns, testcluster.Deployment("crash", testcluster.CrashImage, 2))
	good := createDeployment(t, cs, ns, testcluster.Deployment("good", testcluster.GoodImage, 1))
	poll(t, "pods in CrashLoopBackOff", podsWhere(cs, ns, "crash", 2, waitingIn("CrashLoopBackOff")))
	poll(t, "good pod ready", podsWhere(cs, ns, "good", 1, rollout.PodDone))

	client, requests := countingClient(t, c)
	r := collect(t, client, crash, good)

	wr := r.Workloads[0]
	if wr.Pods != 2 || wr.NotReady != 2 || len(wr.NotReadyPods) != 2 {
		t.Errorf("pods %d, not ready %d, described %d; want 2 each", wr.Pods, wr.NotReady, len(wr.NotReadyPods))
	}
	ct := onePod(t, wr).Containers[0]
	if ct.State.State != Waiting || ct.State.Reason != "CrashLoopBackOff" {
		t.Errorf("state %+v, want waiting in CrashLoopBackOff", ct.State)
	}
	if ct.LastState.State != Terminated || ct.LastState.ExitCode != 1 || ct.Restarts != 3 {
		t.Errorf("last state %+v after %d restarts, want terminated with exit code 1 after 3", ct.LastState, ct.Restarts)
	}
	if got := r.Workloads[1]; got.Pods != 1 || got.NotReady != 0 || len(got.Events) != 0 {
		t.Errorf("good: %+v, want 1 ready pod and no events", got)
	}

	// The local kubelet stand-in serves no logs: said once, asked once.
	lines := r.Lines()
	if !strings.Contains(r.LogsUnavailable, "connection refused") {
		t.Errorf("logs unavailable %q, want connection refused", r.LogsUnavailable)
	}
	if n := hasLine(lines, "container logs are not available from this cluster: "); n != 1 {
		t.Errorf("%d lines say logs are not available, want 1", n)
	}
	if n := hasLine(lines, ": container app: waiting: CrashLoopBackOff: back-off 40s restarting failed container=app; 3 restarts; last terminated: Error (exit code 1)"); n != 2 {
		t.Errorf("%d crash-loop lines, want one per pod", n)
	}
	for what, want := range map[string]int{"log": 1, "events": 1, "pods": 2, "replicasets": 2} {
		if got := requests.count(what); got != want {
			t.Errorf("%d %s requests, want %d", got, what, want)
		}
	}
}

func TestCollectUnschedulable(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	cs := c.Typed(t)
	d := testcluster.Deployment("nowhere", testcluster.GoodImage, 1)
	d.Spec.Template.Spec.NodeSelector = map[string]string{"kube-release.test/no-such-node": "true"}
	w := createDeployment(t, cs, ns, d)
	poll(t, "pod unschedulable", podsWhere(cs, ns, "nowhere", 1, func(pod *corev1.Pod) bool {
		for _, cond := range pod.Status.Conditions {
			if cond.Type == corev1.PodScheduled && cond.Reason == corev1.PodReasonUnschedulable {
				return true
			}
		}
		return false
	}))
	poll(t, "FailedScheduling event", func(ctx context.Context) (bool, error) {
		list, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "reason=FailedScheduling"})
		return err == nil && len(list.Items) > 0, err
	})

	r := collect(t, cs, w)
	wr := r.Workloads[0]
	pod := onePod(t, wr)
	var scheduled *Condition
	for i := range pod.Conditions {
		if pod.Conditions[i].Type == string(corev1.PodScheduled) {
			scheduled = &pod.Conditions[i]
		}
	}
	const because = "didn't match Pod's node affinity/selector"
	if scheduled == nil || scheduled.Status != "False" || scheduled.Reason != "Unschedulable" || !strings.Contains(scheduled.Message, because) {
		t.Errorf("conditions %+v: want PodScheduled False, Unschedulable, saying %q", pod.Conditions, because)
	}
	if pod.Node != "" || pod.Phase != string(corev1.PodPending) {
		t.Errorf("pod %s on node %q, want Pending on none", pod.Phase, pod.Node)
	}
	var found bool
	for _, e := range wr.Events {
		if e.Reason == "FailedScheduling" && strings.Contains(e.Message, because) && len(e.Objects) > 0 && e.Objects[0] == "Pod/"+pod.Name && e.Count >= 1 && !e.Last.IsZero() {
			found = true
		}
	}
	if !found {
		t.Errorf("events %+v: want FailedScheduling of Pod/%s", wr.Events, pod.Name)
	}
	if n := hasLine(r.Lines(), ": warning FailedScheduling on Pod/"+pod.Name+": "); n != 1 {
		t.Errorf("%d FailedScheduling lines, want 1", n)
	}
	if !strings.Contains(r.Markdown(), "| FailedScheduling |") {
		t.Error("markdown: no FailedScheduling row")
	}
}

func TestCollectFailedJob(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	cs := c.Typed(t)
	labels := map[string]string{"app": "migrate"}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "migrate"},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To[int32](0),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "app", Image: testcluster.Exit1Image}},
				},
			},
		},
	}
	if _, err := cs.BatchV1().Jobs(ns).Create(context.Background(), job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "job failed", func(ctx context.Context) (bool, error) {
		j, err := cs.BatchV1().Jobs(ns).Get(ctx, "migrate", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, cond := range j.Status.Conditions {
			if cond.Type == batchv1.JobFailed && cond.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})

	r := collect(t, cs, object.Ref{Kind: rollout.KindJob, Namespace: ns, Name: "migrate"})
	wr := r.Workloads[0]
	pod := onePod(t, wr)
	want := State{State: Terminated, Reason: "Error", ExitCode: 1}
	if pod.Phase != string(corev1.PodFailed) || len(pod.Containers) != 1 || pod.Containers[0].State != want {
		t.Errorf("pod %+v: want Failed with container terminated %+v", pod, want)
	}
	if r.LogsUnavailable == "" {
		t.Error("a failed container's log was asked for and served on the local control plane")
	}
	var found bool
	for _, e := range wr.Events {
		found = found || e.Reason == "BackoffLimitExceeded" && e.Objects[0] == "Job/migrate"
	}
	if !found {
		t.Errorf("events %+v: want the Job's BackoffLimitExceeded", wr.Events)
	}
}
