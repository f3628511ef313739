// Package diagnose collects the evidence of a failed rollout, printed
// before rolling back: the recent warning events of each workload, of its
// ReplicaSets and of its pods; the phase, conditions and container states
// of every pod that is not ready; and the last log lines of its failing
// containers where the cluster serves them.
//
// Collecting is best effort. The rollback that follows matters more than a
// complete picture, so a request that fails is noted in the report and the
// rest is still read; only when nothing at all could be read is there an
// error.
//
// It reads no Secret and no container environment: events, statuses and
// logs are all it shows.
package diagnose

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kube-release/kube-release/internal/kube/typed"
	"github.com/kube-release/kube-release/internal/object"
	"github.com/kube-release/kube-release/internal/rollout"
)

// Defaults of Options.
const (
	DefaultSince     = 15 * time.Minute
	DefaultMaxEvents = 10
	DefaultMaxPods   = 5
	DefaultLogLines  = 10
)

// Options bound what Collect reads and reports. The zero value uses the
// defaults.
type Options struct {
	// Since: only events seen within this window count (default 15m).
	Since time.Duration
	// MaxEvents bounds the warning events of one workload, after
	// merging repeats (default 10).
	MaxEvents int
	// MaxPods bounds the not-ready pods described per workload
	// (default 5); the report counts the others.
	MaxPods int
	// LogLines is how many of the last log lines of a failing container
	// to show (default 10); negative: read no logs.
	LogLines int64
}

func (o Options) withDefaults() Options {
	if o.Since <= 0 {
		o.Since = DefaultSince
	}
	if o.MaxEvents <= 0 {
		o.MaxEvents = DefaultMaxEvents
	}
	if o.MaxPods <= 0 {
		o.MaxPods = DefaultMaxPods
	}
	if o.LogLines == 0 {
		o.LogLines = DefaultLogLines
	}
	return o
}

// Report is the evidence of a failed rollout, per workload.
type Report struct {
	// At is when the evidence was collected; event ages count from it.
	At time.Time
	// Since is the event window the report covers.
	Since time.Duration
	// Workloads come in the order given to Collect, duplicates removed.
	Workloads []WorkloadReport
	// LogsUnavailable says why the cluster serves no container logs
	// (e.g. the kubelets cannot be reached); after the first such
	// failure no more logs are asked for. Empty when logs were served
	// or none were asked for.
	LogsUnavailable string
}

// WorkloadReport is the evidence about one workload.
type WorkloadReport struct {
	Workload object.Ref
	// Pods is the number of pods the workload has (terminating ones
	// left out); NotReady how many of them are neither ready nor done.
	Pods, NotReady int
	// Events are the warning events of the workload, its ReplicaSets and
	// its pods, repeats merged, newest first; MoreEvents counts those
	// left out beyond Options.MaxEvents.
	Events     []Event
	MoreEvents int
	// NotReadyPods describes the newest pods that are not ready, at most
	// Options.MaxPods of them.
	NotReadyPods []Pod
	// Unread lists what could not be read, e.g. "pods: <error>": the
	// evidence is incomplete.
	Unread []string
}

// Event is a warning event, or several that say the same about objects of
// one kind (e.g. the same FailedScheduling of every pod of a ReplicaSet).
type Event struct {
	// Objects are the objects it is about, "Pod/web-7d9f-abcde", the one
	// seen last first.
	Objects []string
	Reason  string
	Message string
	// Count is how often it happened in all; Last is the latest time.
	Count int32
	Last  time.Time
}

// Pod describes a pod that is not ready.
type Pod struct {
	Name  string
	Phase string
	Node  string // empty while not scheduled
	// Reason and Message explain a pod-level failure, e.g. Evicted.
	Reason, Message string
	// Conditions are those whose status is not True.
	Conditions []Condition
	// Containers are the init containers, then the others, in spec order.
	Containers []Container
}

// Condition is a pod condition that is not True.
type Condition struct {
	Type, Status, Reason, Message string
}

// Container is the state of one container of a pod that is not ready.
type Container struct {
	Name     string
	Init     bool
	Ready    bool
	Restarts int32
	// State is now; LastState is how the previous instance ended (zero
	// when it has not restarted).
	State     State
	LastState State
	// Logs are the tails of the failing container's logs: the current
	// instance's, then the previous one's.
	Logs []Log
}

// State is a container state.
type State struct {
	// State is "waiting", "running" or "terminated"; "" when unknown.
	State   string
	Reason  string
	Message string
	// ExitCode is set for "terminated" only.
	ExitCode int32
}

// The values of State.State.
const (
	Waiting    = "waiting"
	Running    = "running"
	Terminated = "terminated"
)

// Log is the tail of one container instance's log.
type Log struct {
	// Previous: of the instance before the last restart.
	Previous bool
	Lines    []string
	// Err says why this log could not be read when it is particular to
	// the container (e.g. the previous instance was removed).
	Err string
}

const (
	// logTimeout bounds one log request: the API server proxies it to
	// the node, and a node that drops packets would hold it for long.
	logTimeout = 10 * time.Second
	// logLimitBytes bounds the size of one log tail; a single huge line
	// must not flood the CI log.
	logLimitBytes = 64 << 10
	// maxLogLine caps one log line as printed.
	maxLogLine = 500
)

// Collect reads the evidence of why workloads did not become ready. It
// makes one Warning event list per namespace, and per workload one get,
// one ReplicaSet list (Deployments), one pod list, and one or two log
// requests per failing container of the pods it describes.
//
// What cannot be read is noted in the report (WorkloadReport.Unread,
// Report.LogsUnavailable). The error is non-nil only when nothing at all
// could be read; the report is nil then.
func Collect(ctx context.Context, client typed.Interface, workloads []object.Ref, opts Options) (*Report, error) {
	c := &collector{client: client, opts: opts.withDefaults(), now: time.Now(), events: map[string]*namespaceEvents{}}
	r := &Report{At: c.now, Since: c.opts.Since}
	seen := map[object.Ref]bool{}
	var unique []object.Ref
	for _, w := range workloads {
		if !seen[w] {
			seen[w] = true
			unique = append(unique, w)
		}
	}
	// The workloads are read side by side: on a remote cluster the
	// evidence costs the round trips of one workload, not of all.
	r.Workloads = make([]WorkloadReport, len(unique))
	var wg sync.WaitGroup
	for i, w := range unique {
		wg.Go(func() { r.Workloads[i] = c.workload(ctx, w) })
	}
	wg.Wait()
	r.LogsUnavailable = c.logsUnavailable
	if c.reads == 0 && c.firstErr != nil {
		return nil, fmt.Errorf("failure evidence: nothing could be read: %w", c.firstErr)
	}
	return r, nil
}

// collector holds what one Collect has learnt so far. Its workloads are
// read concurrently: mu guards the fields below it.
type collector struct {
	client typed.Interface
	opts   Options
	now    time.Time

	mu sync.Mutex
	// events caches the one Warning event list of each namespace.
	events map[string]*namespaceEvents
	// logsUnavailable is set on the first log request that fails for a
	// reason that is not the container's: the others would fail alike.
	logsUnavailable string
	reads           int
	firstErr        error
}

// namespaceEvents is a namespace's event list, read once however many
// workloads ask for it at the same time.
type namespaceEvents struct {
	once sync.Once
	list eventList
}

type eventList struct {
	items []corev1.Event
	err   error
}

// read counts the outcome of one request.
func (c *collector) read(err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		c.reads++
	} else if c.firstErr == nil {
		c.firstErr = err
	}
	return err
}

// short makes an error fit on a line: client-go puts the request URL in
// front of a transport error, which says nothing the subject does not.
func short(err error) string {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	msg := rollout.OneLine(err.Error())
	// The API server reports a failed request to a kubelet the same way:
	// `Get "https://10.0.0.5:10250/containerLogs/...": dial tcp ...`.
	if strings.HasPrefix(msg, "Get \"") {
		if i := strings.Index(msg, "\": "); i >= 0 {
			msg = msg[i+3:]
		}
	}
	return msg
}

// containerLevel reports whether a failed log request is about that one
// container (its log is gone, it never ran, the pod was deleted) rather
// than about reaching logs at all.
func containerLevel(err error) bool {
	return apierrors.IsBadRequest(err) || apierrors.IsNotFound(err)
}
