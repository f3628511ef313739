package rollout

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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kube-release/kube-release/internal/kube/typed"
	"github.com/kube-release/kube-release/internal/object"
	"github.com/kube-release/kube-release/internal/testcluster"
)

// Tests in this package run against a real local control plane (see
// internal/testcluster): the fake clientset never advances status, so a
// wait test on it would prove nothing.
func TestMain(m *testing.M) { os.Exit(testcluster.Run(m)) }

// create creates objects (typed apps/v1 or batch/v1) in ns and returns
// them as workloads.
func create(t *testing.T, cs typed.Interface, ns string, objs ...any) []object.Ref {
	t.Helper()
	ctx := context.Background()
	var out []object.Ref
	for _, obj := range objs {
		var err error
		var w object.Ref
		switch o := obj.(type) {
		case *appsv1.Deployment:
			_, err = cs.AppsV1().Deployments(ns).Create(ctx, o, metav1.CreateOptions{})
			w = object.Ref{Kind: KindDeployment, Namespace: ns, Name: o.Name}
		case *appsv1.StatefulSet:
			_, err = cs.AppsV1().StatefulSets(ns).Create(ctx, o, metav1.CreateOptions{})
			w = object.Ref{Kind: KindStatefulSet, Namespace: ns, Name: o.Name}
		case *appsv1.DaemonSet:
			_, err = cs.AppsV1().DaemonSets(ns).Create(ctx, o, metav1.CreateOptions{})
			w = object.Ref{Kind: KindDaemonSet, Namespace: ns, Name: o.Name}
		case *batchv1.Job:
			_, err = cs.BatchV1().Jobs(ns).Create(ctx, o, metav1.CreateOptions{})
			w = object.Ref{Kind: KindJob, Namespace: ns, Name: o.Name}
		default:
			t.Fatalf("create: unexpected %T", obj)
		}
		if err != nil {
			t.Fatalf("create %s: %v", w, err)
		}
		out = append(out, w)
	}
	return out
}

// setImage changes the image of a workload's container "app", as a new
// release would.
func setImage(t *testing.T, cs typed.Interface, w object.Ref, image string) {
	t.Helper()
	patch := []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"` + image + `"}]}}}}`)
	ctx := context.Background()
	var err error
	switch w.Kind {
	case KindDeployment:
		_, err = cs.AppsV1().Deployments(w.Namespace).Patch(ctx, w.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	case KindStatefulSet:
		_, err = cs.AppsV1().StatefulSets(w.Namespace).Patch(ctx, w.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	case KindDaemonSet:
		_, err = cs.AppsV1().DaemonSets(w.Namespace).Patch(ctx, w.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	}
	if err != nil {
		t.Fatalf("%s: set image: %v", w, err)
	}
}

// imageOf returns the image of a workload's first container.
func imageOf(t *testing.T, cs typed.Interface, w object.Ref) string {
	t.Helper()
	obj, err := Get(context.Background(), cs, w)
	if err != nil {
		t.Fatal(err)
	}
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return o.Spec.Template.Spec.Containers[0].Image
	case *appsv1.StatefulSet:
		return o.Spec.Template.Spec.Containers[0].Image
	case *appsv1.DaemonSet:
		return o.Spec.Template.Spec.Containers[0].Image
	}
	t.Fatalf("%s: no image", w)
	return ""
}

// progressLog collects progress reports for assertions and the test log.
type progressLog struct {
	t       *testing.T
	mu      sync.Mutex
	reports []Progress
}

func (p *progressLog) record(pr Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reports = append(p.reports, pr)
	p.t.Logf("progress after %s:\n%s", pr.Elapsed.Round(100*time.Millisecond), pr)
}

func (p *progressLog) lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var lines []string
	for _, r := range p.reports {
		lines = append(lines, r.Lines()...)
	}
	return lines
}

// requestCounter counts the API requests of a client, by kind of request.
type requestCounter struct {
	mu     sync.Mutex
	counts map[string]int
	next   http.RoundTripper
}

func (c *requestCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.counts[requestKey(req)]++
	c.mu.Unlock()
	return c.next.RoundTrip(req)
}

// requestKey names a request by verb and resource: "WATCH deployments",
// "GET pods" (a list), "GET controllerrevisions/<name>".
func requestKey(req *http.Request) string {
	verb := req.Method
	if req.URL.Query().Get("watch") == "true" {
		verb = "WATCH"
	}
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	for i, p := range parts {
		if p == "namespaces" && i+2 < len(parts) {
			resource := parts[i+2]
			if i+3 < len(parts) {
				resource += "/<name>"
			}
			return verb + " " + resource
		}
	}
	return verb + " " + req.URL.Path
}

func (c *requestCounter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

func (c *requestCounter) total() int {
	n := 0
	for _, v := range c.snapshot() {
		n += v
	}
	return n
}

// countingClient returns a client whose requests are counted.
func countingClient(t *testing.T, c *testcluster.Cluster) (typed.Interface, *requestCounter) {
	t.Helper()
	counter := &requestCounter{counts: map[string]int{}}
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
