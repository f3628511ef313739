package rollout

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/utils/ptr"

	"github.com/kube-release/kube-release/internal/object"
	"github.com/kube-release/kube-release/internal/testcluster"
)

// Every kind reaches steady state, and a fast rollout costs only the
// watches plus the two revision reads of the StatefulSet and DaemonSet.
func TestWaitReady(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	workloads := create(t, c.Typed(t), ns,
		testcluster.Deployment("web", testcluster.GoodImage, 3),
		testcluster.StatefulSet("db", testcluster.GoodImage, 2),
		testcluster.DaemonSet("agent", testcluster.GoodImage),
		testcluster.Job("migrate", testcluster.GoodImage),
	)

	cs, counter := countingClient(t, c)
	progress := &progressLog{t: t}
	// Pod checks start late here so that the request count does not
	// depend on how fast this shared machine is today.
	waiter := NewWaiter(cs, Options{Timeout: 30 * time.Second, PodCheckDelay: time.Minute, ProgressInterval: time.Minute, OnProgress: progress.record})
	results, err := waiter.Wait(context.Background(), workloads)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	want := map[string]string{"web": "1", "db": "1", "agent": "1", "migrate": ""}
	for _, r := range results {
		if !r.Ready || r.Err != nil || r.Revision != want[r.Workload.Name] {
			t.Errorf("%s: ready %v, revision %q (want %q), message %q, err %v", r.Workload, r.Ready, r.Revision, want[r.Workload.Name], r.Message, r.Err)
		}
	}
	if got := results[2].Message; got != "2 of 2 updated, 2 ready, 2 available" {
		t.Errorf("DaemonSet message = %q, want one pod per fake node", got)
	}
	if got := results[3].Message; got != "1 of 1 succeeded, 0 active, 0 failed" {
		t.Errorf("Job message = %q", got)
	}

	counts := counter.snapshot()
	t.Logf("API requests: %v", counts)
	wantCounts := map[string]int{
		"WATCH deployments": 1, "WATCH statefulsets": 1, "WATCH daemonsets": 1, "WATCH jobs": 1,
		"GET controllerrevisions/<name>": 1, // the StatefulSet's revision
		"GET controllerrevisions":        1, // the DaemonSet's revision
	}
	if !maps.Equal(counts, wantCounts) {
		t.Errorf("API requests = %v, want %v", counts, wantCounts)
	}
}

func TestWaitJobFails(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	cs := c.Typed(t)
	workloads := create(t, cs, ns, testcluster.Job("migrate", testcluster.Exit1Image))

	results, err := NewWaiter(cs, Options{Timeout: 30 * time.Second}).Wait(context.Background(), workloads)
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("wait: %v, want ErrFailed", err)
	}
	t.Logf("error: %v", err)
	msg := err.Error()
	for _, want := range []string{"Job/" + ns + "/migrate: failed: BackoffLimitExceeded", "exit code 1"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if results[0].Ready || results[0].Err == nil {
		t.Errorf("result = %+v, want failed", results[0])
	}
}

func TestWaitFailFast(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	cs := c.Typed(t)
	workloads := create(t, cs, ns, testcluster.Deployment("web", testcluster.MissingImage, 2), testcluster.Deployment("ok", testcluster.GoodImage, 1))

	start := time.Now()
	results, err := NewWaiter(cs, Options{Timeout: 30 * time.Second, FailFast: true, FailFastAfter: 2 * time.Second}).
		Wait(context.Background(), workloads)
	elapsed := time.Since(start)
	if !errors.Is(err, ErrFailFast) {
		t.Fatalf("wait: %v, want ErrFailFast", err)
	}
	t.Logf("error after %s: %v", elapsed, err)
	msg := err.Error()
	prefix := "Deployment/" + ns + "/web: pod web-"
	for _, want := range []string{prefix, ": container app ImagePullBackOff for ", `Back-off pulling image "` + testcluster.MissingImage + `"`, "; giving up (fail_fast)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if elapsed > 20*time.Second {
		t.Errorf("fail fast took %s", elapsed)
	}
	if results[0].Ready || !errors.Is(results[0].Err, ErrFailFast) {
		t.Errorf("web: %+v", results[0])
	}
}

func TestWaitProgressDeadline(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	cs := c.Typed(t)
	d := testcluster.Deployment("web", testcluster.MissingImage, 1)
	d.Spec.ProgressDeadlineSeconds = ptr.To[int32](5)
	workloads := create(t, cs, ns, d)

	start := time.Now()
	_, err := NewWaiter(cs, Options{Timeout: time.Minute}).Wait(context.Background(), workloads)
	elapsed := time.Since(start)
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("wait: %v, want ErrFailed", err)
	}
	t.Logf("error after %s: %v", elapsed, err)
	msg := err.Error()
	for _, want := range []string{"Deployment/" + ns + "/web: failed: progress deadline exceeded: ReplicaSet", "ImagePullBackOff"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if elapsed > 30*time.Second {
		t.Errorf("progress deadline noticed after %s", elapsed)
	}
}

// A Deployment that ran out its progress deadline and is rolled back to
// its previous ReplicaSet keeps the old ProgressDeadlineExceeded condition
// until the rollback completes (no count rises, so the controller does not
// touch it). That is not a failure of the rollback: the wait goes on to
// steady state. With one replica and with three, where the old ReplicaSet
// keeps all its pods and the rollback only scales the broken one down.
func TestWaitAfterUndoFromProgressDeadline(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	for _, replicas := range []int32{1, 3} {
		t.Run(fmt.Sprintf("replicas %d", replicas), func(t *testing.T) {
			t.Parallel()
			ns := c.Namespace(t)
			cs := c.Typed(t)
			ctx := context.Background()
			d := testcluster.Deployment("web", testcluster.GoodImage, replicas)
			d.Spec.ProgressDeadlineSeconds = ptr.To[int32](5)
			w := create(t, cs, ns, d)
			waiter := NewWaiter(cs, Options{Timeout: 2 * time.Minute})
			if _, err := waiter.Wait(ctx, w); err != nil {
				t.Fatal(err)
			}
			setImage(t, cs, w[0], testcluster.MissingImage)
			if _, err := waiter.Wait(ctx, w); !errors.Is(err, ErrFailed) {
				t.Fatalf("wait for the broken rollout: %v, want ErrFailed", err)
			}
			if _, err := Undo(ctx, cs, w[0], 1); err != nil {
				t.Fatal(err)
			}
			results, err := waiter.Wait(ctx, w)
			if err != nil {
				t.Fatalf("wait after the undo: %v", err)
			}
			if results[0].Revision != "3" {
				t.Errorf("revision after the undo = %q, want 3", results[0].Revision)
			}
			// And a wait on the rolled-back Deployment, now steady, is done.
			if _, err := waiter.Wait(ctx, w); err != nil {
				t.Errorf("wait again: %v", err)
			}
		})
	}
}

func TestWaitTimeout(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	cs := c.Typed(t)
	workloads := create(t, cs, ns, testcluster.Deployment("web", testcluster.MissingImage, 1), testcluster.Deployment("ok", testcluster.GoodImage, 1))

	start := time.Now()
	results, err := NewWaiter(cs, Options{Timeout: 4 * time.Second, PodCheckDelay: time.Second}).Wait(context.Background(), workloads)
	elapsed := time.Since(start)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("wait: %v, want ErrTimeout", err)
	}
	t.Logf("error after %s: %v", elapsed, err)
	want := "Deployment/" + ns + "/web: timed out after 4s: 1 of 1 updated, 0 ready, 0 available; pod web-"
	if msg := err.Error(); !strings.HasPrefix(msg, want) || !strings.Contains(msg, "ImagePullBackOff") {
		t.Errorf("error %q\nwant it to start with %q and name ImagePullBackOff", msg, want)
	}
	if !results[1].Ready || results[1].Revision != "1" {
		t.Errorf("ok: %+v", results[1])
	}
	if elapsed > 15*time.Second {
		t.Errorf("a 4s timeout took %s", elapsed)
	}
}

// Progress names the counts and why pods are not ready, for pods that
// cannot pull their image, crash, or cannot be scheduled.
func TestWaitProgress(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	cs := c.Typed(t)
	unschedulable := testcluster.Deployment("nowhere", testcluster.GoodImage, 1)
	unschedulable.Spec.Template.Spec.NodeSelector = map[string]string{"no-such-node": "true"}
	workloads := create(t, cs, ns, testcluster.Deployment("web", testcluster.MissingImage, 2), testcluster.Deployment("crash", testcluster.CrashImage, 1), unschedulable)

	progress := &progressLog{t: t}
	_, err := NewWaiter(cs, Options{Timeout: 6 * time.Second, ProgressInterval: 2 * time.Second, PodCheckDelay: time.Second, OnProgress: progress.record}).
		Wait(context.Background(), workloads)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("wait: %v, want ErrTimeout", err)
	}
	lines := progress.lines()
	for _, want := range []string{
		"Deployment/" + ns + "/web: 2 of 2 updated, 0 ready, 0 available",
		"Deployment/" + ns + "/web: pod web-",
		`: container app waiting: ImagePullBackOff: Back-off pulling image "` + testcluster.MissingImage + `"`,
		"Deployment/" + ns + "/crash: pod crash-",
		": container app waiting: CrashLoopBackOff: back-off 40s restarting failed container=app (last exit code 1: Error, 3 restarts)",
		"Deployment/" + ns + "/nowhere: pod nowhere-",
		": not scheduled: Unschedulable: 0/2 nodes are available",
	} {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, want) }) {
			t.Errorf("no progress line has %q", want)
		}
	}
	// The ticks report even when nothing changed: at least 2 in 6 s.
	if n := len(progress.reports); n < 2 {
		t.Errorf("%d progress reports, want at least 2", n)
	}
}

func TestWaitNotFound(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	w := object.Ref{Kind: KindDeployment, Namespace: ns, Name: "missing"}
	_, err := NewWaiter(c.Typed(t), Options{Timeout: 20 * time.Second, PodCheckDelay: time.Second}).Wait(context.Background(), []object.Ref{w})
	if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), w.String()+": failed: not found") {
		t.Fatalf("wait: %v, want %s not found", err, w)
	}
}

func TestWaitRejectsUnknownKind(t *testing.T) {
	w := NewWaiter(nil, Options{})
	_, err := w.Wait(context.Background(), []object.Ref{{Kind: "Pod", Namespace: "ns", Name: "p"}})
	if !errors.Is(err, ErrUnsupportedKind) || !strings.HasPrefix(err.Error(), "Pod/ns/p: ") {
		t.Fatalf("wait: %v, want ErrUnsupportedKind", err)
	}
}

// The API server goes away for a few seconds in the middle of a wait; the
// watch comes back and the wait still sees the rollout finish. Not
// parallel: every test of this package shares the API server.
func TestWaitSurvivesAPIServerRestart(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	cs := c.Typed(t)
	workloads := create(t, cs, ns, testcluster.Deployment("web", testcluster.MissingImage, 1))

	// The outage starts once the waiter has seen the controller act on the
	// first version (its pod is stuck), so the fix below is revision 2.
	reported := make(chan struct{})
	var once bool
	progress := &progressLog{t: t}
	waiter := NewWaiter(c.Typed(t), Options{Timeout: 90 * time.Second, ProgressInterval: 2 * time.Second, OnProgress: func(p Progress) {
		progress.record(p)
		if !once && strings.Contains(p.String(), "ImagePullBackOff") {
			once = true
			close(reported)
		}
	}})
	type outcome struct {
		results []Result
		err     error
	}
	done := make(chan outcome, 1)
	go func() {
		results, err := waiter.Wait(context.Background(), workloads)
		done <- outcome{results, err}
	}()

	select {
	case <-reported:
	case o := <-done:
		t.Fatalf("wait ended early: %v", o.err)
	case <-time.After(30 * time.Second):
		t.Fatal("no ImagePullBackOff reported within 30s")
	}
	if err := c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	// Stopping takes a while (graceful shutdown): the outage is already
	// several seconds long when StopAPIServer returns.
	t.Log("API server stopped")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	t.Log("API server back")
	// Only now can the rollout finish: the waiter must have come back.
	setImage(t, cs, workloads[0], testcluster.GoodImage)

	select {
	case o := <-done:
		if o.err != nil {
			t.Fatalf("wait: %v", o.err)
		}
		if r := o.results[0]; !r.Ready || r.Revision != "2" {
			t.Errorf("result %+v, want ready at revision 2", r)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("wait did not finish within 60s of the API server's return")
	}
}

// With several failures and no fail fast, the error names each one.
func TestWaitCombinesFailures(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	cs := c.Typed(t)
	workloads := create(t, cs, ns, testcluster.Job("one", testcluster.Exit1Image), testcluster.Job("two", testcluster.Exit1Image), testcluster.Deployment("ok", testcluster.GoodImage, 1))

	results, err := NewWaiter(cs, Options{Timeout: 30 * time.Second}).Wait(context.Background(), workloads)
	if err == nil {
		t.Fatal("wait succeeded")
	}
	t.Logf("error: %v", err)
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "Job/"+ns+"/one: failed: ") || !strings.HasPrefix(lines[1], "Job/"+ns+"/two: failed: ") {
		t.Errorf("error lines %q, want one per failed Job", lines)
	}
	if !results[2].Ready {
		t.Errorf("ok: %+v", results[2])
	}
}
