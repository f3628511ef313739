package rollout

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kube-release/kube-release/internal/kube/typed"
	"github.com/kube-release/kube-release/internal/object"
)

// Defaults of Options.
const (
	DefaultProgressInterval = 10 * time.Second
	DefaultFailFastAfter    = 60 * time.Second
	DefaultPodCheckDelay    = 3 * time.Second
)

const (
	// podCheckGap limits the pod lists a stream of status changes causes.
	podCheckGap = 5 * time.Second
	// podCheckTimeout bounds one pod diagnosis, so an API server that
	// hangs cannot stall the wait loop past it.
	podCheckTimeout = 10 * time.Second
	// revisionTimeout bounds reading the revisions after the wait, which
	// uses the caller's context, not the wait's timeout: a rollout that
	// finished just in time must still get its revision recorded.
	revisionTimeout = 30 * time.Second
)

// Errors a wait returns, wrapped with the workload and the details; test
// with errors.Is.
var (
	// ErrFailed: the workload reached a state it will not recover from by
	// itself (progress deadline exceeded, Job failed, deleted, not found).
	ErrFailed = errors.New("failed")
	// ErrFailFast: a pod of the new revision stayed in a failing state
	// (ImagePullBackOff, CrashLoopBackOff, ...) for Options.FailFastAfter.
	ErrFailFast = errors.New("giving up (fail_fast)")
	// ErrTimeout: Options.Timeout passed first.
	ErrTimeout = errors.New("timed out")
	// ErrStopped: the wait stopped early because another workload failed
	// (with Options.FailFast).
	ErrStopped = errors.New("not finished when the wait stopped for another workload's failure")
)

// Options configure a Waiter. The zero value waits without a timeout of its
// own (the context still ends it), reports progress every 10 s and never
// fails fast.
type Options struct {
	// Timeout bounds the whole wait; 0 leaves it to the context.
	Timeout time.Duration
	// ProgressInterval is how often OnProgress hears about unfinished
	// workloads even when nothing changed (default 10 s).
	ProgressInterval time.Duration
	// OnProgress receives the unfinished workloads on every meaningful
	// change and every ProgressInterval. It runs on the waiting goroutine:
	// keep it quick (log and return).
	OnProgress func(Progress)
	// FailFast stops the wait once a pod of a workload's new revision has
	// been in ImagePullBackOff, ErrImagePull, CrashLoopBackOff,
	// InvalidImageName or CreateContainerConfigError for FailFastAfter
	// (default 60 s), and stops waiting for every workload as soon as one
	// has failed. Without it, a failed workload ends only its own wait,
	// the others are waited for to the end, and the errors are combined.
	FailFast      bool
	FailFastAfter time.Duration
	// PodCheckDelay is how long a workload must be unfinished before its
	// pods are looked at (default 3 s), so that a fast rollout costs no
	// more than its watches.
	PodCheckDelay time.Duration
}

// Waiter waits for workloads to reach steady state. It holds no state
// between waits and may be used by several goroutines.
type Waiter struct {
	client typed.Interface
	opts   Options
}

// NewWaiter returns a Waiter that uses client, with opts' zero fields set
// to their defaults.
func NewWaiter(client typed.Interface, opts Options) *Waiter {
	if opts.ProgressInterval <= 0 {
		opts.ProgressInterval = DefaultProgressInterval
	}
	if opts.FailFastAfter <= 0 {
		opts.FailFastAfter = DefaultFailFastAfter
	}
	if opts.PodCheckDelay <= 0 {
		opts.PodCheckDelay = DefaultPodCheckDelay
	}
	return &Waiter{client: client, opts: opts}
}

// Result is the outcome of the wait for one workload.
type Result struct {
	Workload object.Ref
	// Ready is true once the workload reached steady state: for a
	// Deployment, StatefulSet or DaemonSet all replicas updated, ready and
	// available; for a Job, Complete.
	Ready bool
	// Message is the last status line, e.g. "3 of 3 updated, 3 ready, 3
	// available", or for a failed workload why it failed.
	Message string
	// Revision is the rollout revision of the ready workload's template
	// (see Revision); "" for a Job and a workload that is not ready.
	Revision string
	// Err says why the workload is not ready (or why its revision could
	// not be read); nil otherwise. The error of Wait joins them all.
	Err error
}

// Progress is a report on the workloads that are not finished yet.
type Progress struct {
	// Elapsed is the time since the wait started.
	Elapsed time.Duration
	// Total is the number of workloads waited for.
	Total int
	// Workloads are the unfinished ones, in the order given to Wait.
	Workloads []WorkloadProgress
}

// WorkloadProgress is where one unfinished workload stands.
type WorkloadProgress struct {
	Workload object.Ref
	// Status counts replicas (or a Job's pods), e.g. "1 of 3 updated,
	// 0 ready, 0 available".
	Status string
	// Pods say why pods of the new revision are not ready, e.g. `pod
	// web-7d9f-abc: container app waiting: ImagePullBackOff: Back-off
	// pulling image "x"`. Empty until the pods were first looked at.
	Pods []string
}

// Lines returns the workload's status line, then one line per pod issue,
// each starting with the workload.
func (p WorkloadProgress) Lines() []string {
	subject := p.Workload.String() + ": "
	lines := []string{subject + p.Status}
	for _, pod := range p.Pods {
		lines = append(lines, subject+pod)
	}
	return lines
}

// Lines returns the lines of every unfinished workload.
func (p Progress) Lines() []string {
	var lines []string
	for _, w := range p.Workloads {
		lines = append(lines, w.Lines()...)
	}
	return lines
}

// String returns Lines joined by newlines.
func (p Progress) String() string {
	return strings.Join(p.Lines(), "\n")
}

// Wait waits until every workload has reached steady state or failed, the
// timeout has passed, or ctx ends. The results come in the order of
// workloads (duplicates removed); the error joins one error per workload
// that is not ready, each starting with the workload.
func (w *Waiter) Wait(ctx context.Context, workloads []object.Ref) ([]Result, error) {
	var trackers []*tracker
	seen := map[object.Ref]bool{}
	var errs []error
	for _, wl := range workloads {
		if err := validate(wl); err != nil {
			errs = append(errs, err)
			continue
		}
		if !seen[wl] {
			seen[wl] = true
			trackers = append(trackers, &tracker{w: wl, line: "no status seen yet"})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(trackers) == 0 {
		return nil, nil
	}

	l := &loop{Waiter: w, start: time.Now(), trackers: trackers}
	l.ctx = ctx
	if w.opts.Timeout > 0 {
		var cancel context.CancelFunc
		l.ctx, cancel = context.WithTimeoutCause(ctx, w.opts.Timeout, ErrTimeout)
		defer cancel()
	}

	// One watch per workload, each stopped as soon as its workload is done.
	// The stopWatch defers run before this wg.Wait (defers run last in,
	// first out), so Wait returns only after every watch has stopped.
	updates := make(chan update)
	var wg sync.WaitGroup
	defer wg.Wait()
	for i, t := range trackers {
		var watchCtx context.Context
		watchCtx, t.stopWatch = context.WithCancel(l.ctx)
		defer t.stopWatch()
		open, name := watchFuncOf(t.w, w.client), t.w.Name
		wg.Go(func() { watchWorkload(watchCtx, open, name, i, updates) })
		t.checkAt = l.start.Add(w.opts.PodCheckDelay)
	}
	l.run(updates)

	results := l.results(ctx)
	var failures []error
	for _, r := range results {
		if r.Err != nil {
			failures = append(failures, r.Err)
		}
	}
	return results, errors.Join(failures...)
}

// tracker is the wait's knowledge of one workload.
type tracker struct {
	w         object.Ref
	stopWatch context.CancelFunc

	obj  runtime.Object // the latest version seen; nil before the first
	eval evaluation
	line string // the status line of the latest version
	done bool   // ready or failed: no more waiting
	err  error  // why it failed

	pods    []string  // pod lines of the last pod check
	podsAt  time.Time // when the pods were last checked; zero: never
	checkAt time.Time // when to check the pods next; zero: at the next tick

	// The selector of the new revision's pods, and the generation it was
	// found for: finding it costs a request for a Deployment or DaemonSet.
	podSel    labels.Selector
	podSelGen int64

	stuck map[stuckKey]*stuckContainer
}

// stuckKey identifies a container across pod checks.
type stuckKey struct {
	pod       types.UID
	container string
}

// stuckContainer is a container in a fail-fast state, since when the
// waiter first saw it so: a waiting state carries no timestamp.
type stuckContainer struct {
	since     time.Time
	pod       string
	container string // "container app"
	reason    string
	message   string
}

// loop is the state of one Wait call, owned by its goroutine.
type loop struct {
	*Waiter
	ctx        context.Context
	start      time.Time
	trackers   []*tracker
	lastReport string
}

func (l *loop) run(updates <-chan update) {
	ticker := time.NewTicker(l.opts.ProgressInterval)
	defer ticker.Stop()
	timer := time.NewTimer(l.opts.PodCheckDelay)
	defer timer.Stop()
	for !l.finished() {
		select {
		case <-l.ctx.Done():
			return
		case u := <-updates:
			changed := map[*tracker]bool{}
			l.apply(u, changed)
			// Take in whatever else is already waiting, so that a burst of
			// events makes one report, not one per event.
		drain:
			for {
				select {
				case u := <-updates:
					l.apply(u, changed)
				default:
					break drain
				}
			}
			now := time.Now()
			for t := range changed {
				if !t.done && !t.podsAt.IsZero() && now.Sub(t.podsAt) >= podCheckGap {
					l.checkPods(t, now)
				}
			}
			l.report(false)
		case <-ticker.C:
			now := time.Now()
			for _, t := range l.trackers {
				if !t.done {
					l.checkPods(t, now)
				}
			}
			l.report(true)
		case <-timer.C:
			now := time.Now()
			for _, t := range l.trackers {
				if !t.done && !t.checkAt.IsZero() && !now.Before(t.checkAt) {
					l.checkPods(t, now)
				}
			}
			l.report(false)
		}
		timer.Reset(l.nextCheck())
	}
}

// finished reports whether the wait is over: every workload is done, or one
// failed and FailFast says to stop there.
func (l *loop) finished() bool {
	all := true
	for _, t := range l.trackers {
		if t.done && t.err != nil && l.opts.FailFast {
			return true
		}
		all = all && t.done
	}
	return all
}

// nextCheck returns how long until the earliest scheduled pod check.
func (l *loop) nextCheck() time.Duration {
	var next time.Time
	for _, t := range l.trackers {
		if !t.done && !t.checkAt.IsZero() && (next.IsZero() || t.checkAt.Before(next)) {
			next = t.checkAt
		}
	}
	if next.IsZero() {
		return l.opts.ProgressInterval // the ticker covers it; any long wait will do
	}
	return max(time.Until(next), time.Millisecond)
}

// apply takes in one watch update.
func (l *loop) apply(u update, changed map[*tracker]bool) {
	t := l.trackers[u.index]
	if t.done {
		return
	}
	switch {
	case u.err != nil:
		l.fail(t, fmt.Errorf("%s: watch: %w", t.w, u.err))
	case u.deleted:
		l.fail(t, fmt.Errorf("%s: %w: deleted while waiting", t.w, ErrFailed))
	default:
		l.observe(t, u.obj)
	}
	changed[t] = true
}

// observe evaluates a new version of a workload.
func (l *loop) observe(t *tracker, obj runtime.Object) {
	ev, err := evaluate(obj)
	if err != nil {
		l.fail(t, fmt.Errorf("%s: %w", t.w, err))
		return
	}
	if ev.phase == failed && ev.deadlineRS != "" && l.staleDeadline(t, obj.(*appsv1.Deployment), ev.deadlineRS) {
		ev = evaluation{phase: inProgress, line: ev.line + staleDeadlineNote}
	}
	t.obj, t.eval, t.line = obj, ev, ev.line
	switch ev.phase {
	case ready:
		t.done = true
		t.stopWatch()
	case failed:
		// Say what the pods are doing, if it has not been looked at yet:
		// a progress deadline is much clearer with ImagePullBackOff next
		// to it. One more request, on the failure path only.
		if t.podsAt.IsZero() {
			l.checkPods(t, time.Now())
		}
		if !t.done {
			l.fail(t, fmt.Errorf("%s: %w: %s%s", t.w, ErrFailed, strings.TrimSuffix(ev.failure, "."), podSuffix(t.pods)))
		}
	}
}

// staleDeadline reports whether a Deployment's progress deadline names a
// ReplicaSet other than the one of its current template: the deadline of
// the rollout it was taken away from, which the controller keeps until the
// new one completes (see deadlinePredatesChange). It costs a request, on
// the failure path only; when the ReplicaSets cannot be read the failure
// stands, as kstatus has it.
func (l *loop) staleDeadline(t *tracker, d *appsv1.Deployment, named string) bool {
	ctx, cancel := context.WithTimeout(l.ctx, podCheckTimeout)
	defer cancel()
	rss, err := OwnedReplicaSets(ctx, l.client, d)
	if err != nil {
		return false
	}
	rs := newReplicaSet(rss, d)
	return rs == nil || rs.Name != named
}

func (l *loop) fail(t *tracker, err error) {
	t.done, t.err = true, err
	t.stopWatch()
}

// checkPods looks at the pods of a workload's new revision: for the
// progress report and for fail-fast.
func (l *loop) checkPods(t *tracker, now time.Time) {
	t.podsAt, t.checkAt = now, time.Time{}
	ctx, cancel := context.WithTimeout(l.ctx, podCheckTimeout)
	defer cancel()

	if t.obj == nil {
		// The watch has sent nothing: a watch says nothing about an
		// object that does not exist, so ask.
		obj, err := Get(ctx, l.client, t.w)
		switch {
		case apierrors.IsNotFound(err):
			l.fail(t, fmt.Errorf("%s: %w: not found", t.w, ErrFailed))
		case err == nil:
			l.observe(t, obj)
		}
		return
	}

	pods, err := l.newRevisionPods(ctx, t)
	if err != nil {
		if l.ctx.Err() == nil {
			// Best effort: the next tick tries again. Without the URL
			// that client-go puts first, "connection refused" shows.
			var uerr *url.Error
			if errors.As(err, &uerr) {
				err = uerr.Err
			}
			t.pods = []string{"pods unknown: " + err.Error()}
		}
		return
	}
	t.pods = podLines(pods)
	if l.opts.FailFast {
		l.failFast(t, pods, now)
	}
}

// newRevisionPods lists the pods of the workload's newest revision; none
// while the controller has not created that revision yet.
func (l *loop) newRevisionPods(ctx context.Context, t *tracker) ([]corev1.Pod, error) {
	gen := objectGeneration(t.obj)
	if t.podSel == nil || t.podSelGen != gen {
		sel, err := podSelector(ctx, l.client, t.obj)
		if err != nil || sel == nil {
			return nil, err
		}
		t.podSel, t.podSelGen = sel, gen
	}
	list, err := l.client.CoreV1().Pods(t.w.Namespace).List(ctx, metav1.ListOptions{LabelSelector: t.podSel.String()})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

func objectGeneration(obj runtime.Object) int64 {
	if m, ok := obj.(metav1.Object); ok {
		return m.GetGeneration()
	}
	return 0
}

// podSelector returns the selector of the pods of a workload's newest
// revision, or nil when its controller has not made that revision yet:
//   - Deployment: the selector plus pod-template-hash of the ReplicaSet of
//     the current template (one request to find it);
//   - StatefulSet: plus controller-revision-hash = status.updateRevision;
//   - DaemonSet: plus controller-revision-hash of the ControllerRevision of
//     the current template (one request to find it);
//   - Job: its selector (which holds batch.kubernetes.io/controller-uid).
func podSelector(ctx context.Context, client typed.Interface, obj runtime.Object) (labels.Selector, error) {
	var (
		selector *metav1.LabelSelector
		key      string
		value    string
	)
	switch o := obj.(type) {
	case *appsv1.Deployment:
		rss, err := OwnedReplicaSets(ctx, client, o)
		if err != nil {
			return nil, err
		}
		rs := newReplicaSet(rss, o)
		if rs == nil {
			return nil, nil
		}
		selector, key, value = o.Spec.Selector, appsv1.DefaultDeploymentUniqueLabelKey, rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
	case *appsv1.StatefulSet:
		if !updateRevisionObserved(o) {
			return nil, nil
		}
		selector, key, value = o.Spec.Selector, appsv1.StatefulSetRevisionLabel, o.Status.UpdateRevision
	case *appsv1.DaemonSet:
		cr, err := currentDaemonSetRevision(ctx, client, o)
		if errors.Is(err, ErrNoRevision) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		selector, key, value = o.Spec.Selector, appsv1.DefaultDaemonSetUniqueLabelKey, cr.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]
	case *batchv1.Job:
		selector = o.Spec.Selector
	default:
		return nil, fmt.Errorf("%T: %w", obj, ErrUnsupportedKind)
	}
	sel, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		return nil, fmt.Errorf("selector: %w", err)
	}
	if key != "" {
		if value == "" {
			return nil, nil
		}
		req, err := labels.NewRequirement(key, selection.Equals, []string{value})
		if err != nil {
			return nil, fmt.Errorf("selector: %w", err)
		}
		sel = sel.Add(*req)
	}
	return sel, nil
}

// failFast tracks the containers in a fail-fast state and fails the
// workload once one has been so for FailFastAfter. Otherwise it schedules
// the next pod check for when the oldest would reach that age, so the
// verdict does not wait for a progress tick.
func (l *loop) failFast(t *tracker, pods []corev1.Pod, now time.Time) {
	next := map[stuckKey]*stuckContainer{}
	for i := range pods {
		pod := &pods[i]
		if pod.DeletionTimestamp != nil {
			continue
		}
		track := func(what string, cs corev1.ContainerStatus) {
			key := stuckKey{pod.UID, what + " " + cs.Name}
			prev := t.stuck[key]
			if w := cs.State.Waiting; w != nil && failFastReasons[w.Reason] {
				s := prev
				if s == nil {
					s = &stuckContainer{since: now, pod: pod.Name, container: key.container}
				}
				s.reason, s.message = w.Reason, w.Message
				if lt := cs.LastTerminationState.Terminated; lt != nil && w.Reason == "CrashLoopBackOff" {
					s.message = fmt.Sprintf("%s (last exit code %d)", w.Message, lt.ExitCode)
				}
				next[key] = s
				return
			}
			if prev != nil && prev.reason == "CrashLoopBackOff" && !cs.Ready {
				// Between two back-offs a crash-looping container runs
				// briefly or has just exited: the loop, and its clock,
				// go on.
				next[key] = prev
			}
		}
		for _, cs := range pod.Status.InitContainerStatuses {
			track("init container", cs)
		}
		for _, cs := range pod.Status.ContainerStatuses {
			track("container", cs)
		}
	}
	t.stuck = next

	var oldest *stuckContainer
	for _, s := range next {
		if oldest == nil || s.since.Before(oldest.since) || s.since.Equal(oldest.since) && s.pod+s.container < oldest.pod+oldest.container {
			oldest = s
		}
	}
	if oldest == nil {
		return
	}
	if age := now.Sub(oldest.since); age >= l.opts.FailFastAfter {
		l.fail(t, fmt.Errorf("%s: pod %s: %s %s for %s%s; %w", t.w, oldest.pod, oldest.container, oldest.reason,
			seconds(age), prefixed(": ", OneLine(oldest.message)), ErrFailFast))
		return
	}
	t.checkAt = oldest.since.Add(l.opts.FailFastAfter)
}

// seconds formats a duration as whole seconds, "60s" rather than "1m0s".
func seconds(d time.Duration) string {
	return fmt.Sprintf("%ds", int64(d.Round(time.Second)/time.Second))
}

// report calls OnProgress when the unfinished workloads' lines changed, or
// on a tick.
func (l *loop) report(tick bool) {
	if l.opts.OnProgress == nil {
		return
	}
	p := l.progress()
	if len(p.Workloads) == 0 {
		return
	}
	key := p.String()
	if !tick && key == l.lastReport {
		return
	}
	l.lastReport = key
	l.opts.OnProgress(p)
}

func (l *loop) progress() Progress {
	p := Progress{Elapsed: time.Since(l.start), Total: len(l.trackers)}
	for _, t := range l.trackers {
		if !t.done {
			p.Workloads = append(p.Workloads, WorkloadProgress{Workload: t.w, Status: t.line, Pods: t.pods})
		}
	}
	return p
}

// results builds the result of every workload: the error of an unfinished
// one says why the wait ended, and a ready one gets its revision.
func (l *loop) results(parent context.Context) []Result {
	var stopped *tracker
	for _, t := range l.trackers {
		if t.done && t.err != nil {
			stopped = t
			break
		}
	}
	revCtx, cancel := context.WithTimeout(parent, revisionTimeout)
	defer cancel()
	results := make([]Result, len(l.trackers))
	// The revisions are read at once: each costs a request for a
	// StatefulSet or DaemonSet, and the deploy waits for the last.
	var wg sync.WaitGroup
	for i, t := range l.trackers {
		r := &results[i]
		*r = Result{Workload: t.w, Message: t.line, Err: t.err}
		switch {
		case t.done && t.err == nil:
			r.Ready = true
			wg.Go(func() {
				err := retry(revCtx, func(ctx context.Context) error {
					var err error
					r.Revision, err = revisionOf(ctx, l.client, t.obj)
					return err
				})
				if err != nil {
					r.Err = fmt.Errorf("%s: ready, but its revision is unknown: %w", t.w, err)
				}
			})
		case t.done:
			// The error without its subject: the Result names the workload.
			r.Message = strings.TrimPrefix(t.err.Error(), t.w.String()+": ")
		default:
			status := t.line + podSuffix(t.pods)
			switch cause := context.Cause(l.ctx); {
			case errors.Is(cause, ErrTimeout):
				r.Err = fmt.Errorf("%s: %w after %s: %s", t.w, ErrTimeout, l.opts.Timeout, status)
			case cause != nil:
				r.Err = fmt.Errorf("%s: wait ended: %w; last status: %s", t.w, cause, status)
			case stopped != nil:
				r.Err = fmt.Errorf("%s: %w (%s); last status: %s", t.w, ErrStopped, stopped.w, status)
			default:
				r.Err = fmt.Errorf("%s: not finished; last status: %s", t.w, status)
			}
		}
	}
	wg.Wait()
	return results
}

// podSuffix appends pod lines to a status: "; pod a: ...; pod b: ...".
func podSuffix(pods []string) string {
	if len(pods) == 0 {
		return ""
	}
	return "; " + strings.Join(pods, "; ")
}
