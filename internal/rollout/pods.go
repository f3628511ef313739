package rollout

import (
	"cmp"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// failFastReasons are the container waiting reasons that do not go away on
// their own: a pod in one of them for long enough means the rollout will
// not finish, so waiting out the timeout only delays the pipeline.
var failFastReasons = map[string]bool{
	"ImagePullBackOff":           true,
	"ErrImagePull":               true,
	"CrashLoopBackOff":           true,
	"InvalidImageName":           true,
	"CreateContainerConfigError": true,
}

// ContainerIssue is one container that keeps its pod from being ready.
type ContainerIssue struct {
	Name    string // the container's name
	Init    bool   // an init container
	Reason  string // the waiting or terminated reason, e.g. ImagePullBackOff
	Message string
	Text    string // what the progress line says after "pod <name>: "
}

// podIssues explains why a pod is not ready, most specific first: the
// containers' waiting and failed states, then the pod's conditions
// (Unschedulable, ContainersNotReady), then its phase. A ready or finished
// pod has none.
func podIssues(pod *corev1.Pod) []string {
	if PodDone(pod) {
		return nil
	}
	var lines []string
	for _, ci := range ContainerIssues(pod) {
		lines = append(lines, ci.Text)
	}
	if len(lines) > 0 {
		return lines
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return []string{joinReason("not scheduled", c.Reason, SchedulerMessage(c.Message))}
		}
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status != corev1.ConditionTrue {
			return []string{joinReason("not ready", c.Reason, c.Message)}
		}
	}
	if pod.Status.Phase == "" {
		return []string{"not yet seen by a node"}
	}
	return []string{"not ready: phase " + string(pod.Status.Phase)}
}

// PodDone reports whether a pod needs no explanation: it is ready, or it
// has succeeded (a Job's pod).
func PodDone(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded ||
		pod.Status.Phase == corev1.PodRunning && podReady(pod)
}

// podReady reports whether a pod's Ready condition is true.
func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// ContainerIssues lists the containers of a pod that are waiting with a
// reason, have failed, or run without being ready; init containers first,
// as they block the others.
func ContainerIssues(pod *corev1.Pod) []ContainerIssue {
	var out []ContainerIssue
	for _, cs := range pod.Status.InitContainerStatuses {
		if ci, ok := containerIssueOf("init container", cs, true); ok {
			out = append(out, ci)
		}
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if ci, ok := containerIssueOf("container", cs, false); ok {
			out = append(out, ci)
		}
	}
	return out
}

func containerIssueOf(what string, cs corev1.ContainerStatus, init bool) (ContainerIssue, bool) {
	ci := ContainerIssue{Name: cs.Name, Init: init}
	container := what + " " + cs.Name
	switch {
	case cs.State.Waiting != nil:
		w := cs.State.Waiting
		if w.Reason == "" {
			return ci, false
		}
		ci.Reason, ci.Message = w.Reason, w.Message
		ci.Text = joinReason(container+" waiting", w.Reason, w.Message)
		if t := cs.LastTerminationState.Terminated; t != nil && (w.Reason == "CrashLoopBackOff" || t.ExitCode != 0) {
			ci.Text += fmt.Sprintf(" (last exit code %d%s, %s)", t.ExitCode, prefixed(": ", t.Reason), restarts(cs.RestartCount))
		}
	case cs.State.Terminated != nil:
		t := cs.State.Terminated
		if t.ExitCode == 0 {
			// A finished init container is how it should be; a finished
			// regular one is only seen in a pod that is about to complete.
			return ci, false
		}
		ci.Reason, ci.Message = t.Reason, t.Message
		ci.Text = fmt.Sprintf("%s terminated: %s (exit code %d)", container, cmp.Or(t.Reason, "Error"), t.ExitCode)
		if t.Message != "" {
			ci.Text += ": " + t.Message
		}
	case cs.State.Running != nil:
		if cs.Ready {
			return ci, false
		}
		if init {
			if cs.Started != nil && *cs.Started {
				return ci, false // a started sidecar; readiness shows on the pod
			}
			// A classic init container runs to completion before the
			// pod's containers start: "running" is the whole story.
			ci.Text = container + " running"
			return ci, true
		}
		ci.Text = container + " running but not ready"
		if cs.RestartCount > 0 {
			ci.Text += " (" + restarts(cs.RestartCount) + ")"
		}
	default:
		return ci, false
	}
	return ci, true
}

func restarts(n int32) string {
	if n == 1 {
		return "1 restart"
	}
	return fmt.Sprintf("%d restarts", n)
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

// maxPodLines caps the pod lines of one workload in a progress report: a
// hundred pods stuck the same way say nothing more than five do.
const maxPodLines = 5

// podLines renders the issues of a workload's pods, sorted by pod name, one
// line per issue, at most maxPodLines plus a line counting the rest.
func podLines(pods []corev1.Pod) []string {
	sorted := make([]*corev1.Pod, 0, len(pods))
	for i := range pods {
		sorted = append(sorted, &pods[i])
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var lines []string
	hidden := 0
	for _, pod := range sorted {
		if pod.DeletionTimestamp != nil {
			continue // an old pod on its way out explains nothing
		}
		for _, issue := range podIssues(pod) {
			if len(lines) == maxPodLines {
				hidden++
				continue
			}
			lines = append(lines, "pod "+pod.Name+": "+issue)
		}
	}
	if hidden > 0 {
		lines = append(lines, fmt.Sprintf("... and %d more like these", hidden))
	}
	return lines
}

// OneLine flattens a multi-line message (some controllers write them) so a
// progress line stays one line.
func OneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// SchedulerMessage is what kube-scheduler says about a pod it cannot place
// (a FailedScheduling event, the PodScheduled condition), without a stray
// "not found". The scheduler writes "0/N nodes are available: <why>." and
// then what its PostFilter plugins said. When a PreFilter has already
// failed the pod (VolumeBinding for unbound immediate
// PersistentVolumeClaims, say), the DynamicResources plugin's PostFilter
// finds none of the state its own PreFilter would have left and says only
// "not found", about that state, not about the pod (kube-scheduler 1.34):
// "...unbound immediate PersistentVolumeClaims. not found".
func SchedulerMessage(msg string) string {
	if !strings.HasPrefix(msg, "0/") || !strings.Contains(msg, " nodes are available: ") {
		return msg
	}
	if trimmed, ok := strings.CutSuffix(strings.TrimRight(msg, " "), ". not found"); ok {
		return trimmed + "."
	}
	return msg
}
