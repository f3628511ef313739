package diagnose

import (
	"context"
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kube-release/kube-release/internal/rollout"
)

// pod describes a pod that is not ready and reads the logs of its failing
// containers.
func (c *collector) pod(ctx context.Context, pod *corev1.Pod) Pod {
	p := Pod{
		Name:    pod.Name,
		Phase:   string(pod.Status.Phase),
		Node:    pod.Spec.NodeName,
		Reason:  pod.Status.Reason,
		Message: pod.Status.Message,
	}
	for _, cond := range pod.Status.Conditions {
		if cond.Status != corev1.ConditionTrue {
			message := cond.Message
			if cond.Type == corev1.PodScheduled {
				message = rollout.SchedulerMessage(message)
			}
			p.Conditions = append(p.Conditions, Condition{
				Type: string(cond.Type), Status: string(cond.Status), Reason: cond.Reason, Message: message,
			})
		}
	}
	// Failing is what rollout's progress lines call an issue, so the
	// evidence covers the containers the wait complained about.
	type ref struct {
		init bool
		name string
	}
	failing := map[ref]bool{}
	for _, ci := range rollout.ContainerIssues(pod) {
		failing[ref{ci.Init, ci.Name}] = true
	}
	add := func(cs corev1.ContainerStatus, init bool) {
		ct := container(cs, init)
		if failing[ref{init, cs.Name}] {
			ct.Logs = c.logs(ctx, pod, cs)
		}
		p.Containers = append(p.Containers, ct)
	}
	for _, cs := range pod.Status.InitContainerStatuses {
		add(cs, true)
	}
	for _, cs := range pod.Status.ContainerStatuses {
		add(cs, false)
	}
	return p
}

func container(cs corev1.ContainerStatus, init bool) Container {
	return Container{
		Name:      cs.Name,
		Init:      init,
		Ready:     cs.Ready,
		Restarts:  cs.RestartCount,
		State:     stateOf(cs.State),
		LastState: stateOf(cs.LastTerminationState),
	}
}

func stateOf(s corev1.ContainerState) State {
	switch {
	case s.Waiting != nil:
		return State{State: Waiting, Reason: s.Waiting.Reason, Message: s.Waiting.Message}
	case s.Running != nil:
		return State{State: Running}
	case s.Terminated != nil:
		t := s.Terminated
		return State{State: Terminated, Reason: t.Reason, Message: t.Message, ExitCode: t.ExitCode}
	}
	return State{}
}

// logRequests says which logs of a failing container exist: the current
// instance's once it has started, and the previous one's after a restart.
// A container waiting to start the first time (ImagePullBackOff,
// CreateContainerConfigError) has none; a crash-looping one waits between
// runs, and its current log would be the previous instance's again.
func logRequests(cs corev1.ContainerStatus) (current, previous bool) {
	restarted := cs.LastTerminationState.Terminated != nil
	if cs.State.Running != nil || cs.State.Terminated != nil {
		return true, restarted
	}
	return false, restarted
}

// logs reads the log tails of a failing container, unless logs are off or
// the cluster has already shown it cannot serve them.
func (c *collector) logs(ctx context.Context, pod *corev1.Pod, cs corev1.ContainerStatus) []Log {
	var which []bool // Log.Previous of each log to read
	current, previous := logRequests(cs)
	if current {
		which = append(which, false)
	}
	if previous {
		which = append(which, true)
	}
	var out []Log
	for _, prev := range which {
		if c.opts.LogLines < 0 || c.logsGone() || ctx.Err() != nil {
			break
		}
		lines, err := c.logTail(ctx, pod, cs.Name, prev)
		if err != nil {
			if ctx.Err() != nil {
				break // the caller gave up, the cluster did not
			}
			if !containerLevel(err) {
				c.logsFailed(short(err))
				break
			}
			out = append(out, Log{Previous: prev, Err: short(err)})
			continue
		}
		out = append(out, Log{Previous: prev, Lines: lines})
	}
	return out
}

func (c *collector) logTail(ctx context.Context, pod *corev1.Pod, container string, previous bool) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, logTimeout)
	defer cancel()
	tail, limit := c.opts.LogLines, int64(logLimitBytes)
	data, err := c.client.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{
		Container:  container,
		TailLines:  &tail,
		LimitBytes: &limit,
		Previous:   previous,
	}).DoRaw(ctx)
	// Not counted as a read: logs are an extra, and a cluster that
	// serves none still has its events and pods read.
	if err != nil {
		return nil, logError(data, err)
	}
	return logLines(string(data)), nil
}

// logError recovers the API server's error from the body of a failed log
// request: client-go does not decode it there and reports only `an error
// on the server ("unknown")`, where the body says what failed, e.g. that
// the kubelet refused the connection.
func logError(body []byte, err error) error {
	var status metav1.Status
	if json.Unmarshal(body, &status) == nil && status.Kind == "Status" && status.Message != "" {
		return &apierrors.StatusError{ErrStatus: status}
	}
	return err
}

// logLines splits a log tail into printable lines, each capped at
// maxLogLine, without control characters other than tabs: terminal
// escapes and carriage returns would garble the CI log they are printed
// into.
func logLines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	for i, line := range lines {
		line = strings.Map(func(r rune) rune {
			if r != '\t' && unicode.IsControl(r) || r == utf8.RuneError {
				return -1
			}
			return r
		}, line)
		if len(line) > maxLogLine {
			cut := maxLogLine
			for cut > 0 && !utf8.RuneStart(line[cut]) {
				cut--
			}
			line = line[:cut] + "…"
		}
		lines[i] = line
	}
	return lines
}

// logsGone reports whether a log request already failed for a reason
// every other would fail for too.
func (c *collector) logsGone() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.logsUnavailable != ""
}

// logsFailed records the first such failure.
func (c *collector) logsFailed(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.logsUnavailable == "" {
		c.logsUnavailable = reason
	}
}
