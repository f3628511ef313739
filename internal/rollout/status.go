package rollout

import (
	"fmt"
	"regexp"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// phase is where a workload stands in the wait.
type phase int

const (
	inProgress phase = iota
	ready
	failed
)

// evaluation is the state of one workload computed from its object alone.
type evaluation struct {
	phase phase
	// line is the progress line without the subject, e.g.
	// "1 of 3 updated, 0 ready, 0 available".
	line string
	// failure says why a failed workload failed, lower-case.
	failure string
	// deadlineRS is, for a Deployment failed on its progress deadline, the
	// ReplicaSet the condition names: the failure is real only if that is
	// still the Deployment's current ReplicaSet (see staleDeadline).
	deadlineRS string
}

// countReasons are the kstatus reasons that only restate the counts already
// in the progress line; any other reason is worth appending to it.
var countReasons = map[string]bool{
	"LessReplicas":  true,
	"LessUpdated":   true,
	"LessAvailable": true,
	"LessReady":     true,
	"LessCurrent":   true,
}

// evaluate computes the state of a workload from its typed object: kstatus
// decides, after two checks of our own that kstatus leaves out (see below).
func evaluate(obj runtime.Object) (evaluation, error) {
	var (
		counts   string
		meta     *metav1.ObjectMeta
		observed int64
		gvk      = appsv1.SchemeGroupVersion.WithKind(KindDeployment)
	)
	switch o := obj.(type) {
	case *appsv1.Deployment:
		counts = replicaCounts(o.Status.UpdatedReplicas, replicas(o.Spec.Replicas), o.Status.ReadyReplicas, o.Status.AvailableReplicas)
		meta, observed = &o.ObjectMeta, o.Status.ObservedGeneration
		if o.Spec.Paused {
			// Nothing rolls out until someone resumes it; say so, or the
			// wait looks stuck for no reason until its timeout.
			counts += " (paused)"
		}
	case *appsv1.StatefulSet:
		counts = replicaCounts(o.Status.UpdatedReplicas, replicas(o.Spec.Replicas), o.Status.ReadyReplicas, o.Status.AvailableReplicas)
		meta, observed = &o.ObjectMeta, o.Status.ObservedGeneration
		gvk.Kind = KindStatefulSet
	case *appsv1.DaemonSet:
		counts = replicaCounts(o.Status.UpdatedNumberScheduled, o.Status.DesiredNumberScheduled, o.Status.NumberReady, o.Status.NumberAvailable)
		meta, observed = &o.ObjectMeta, o.Status.ObservedGeneration
		gvk.Kind = KindDaemonSet
	case *batchv1.Job:
		return evaluateJob(o)
	default:
		return evaluation{}, fmt.Errorf("%T: %w", obj, ErrUnsupportedKind)
	}

	// kstatus skips the generation check when status.observedGeneration is
	// absent, which it is until the controller first acts on a new object;
	// a StatefulSet with replicas 0 would then count as done before its
	// controller ever saw it. All apps/v1 controllers set the field, so
	// absent (0) is simply "not observed yet".
	if observed < meta.Generation {
		return evaluation{phase: inProgress, line: fmt.Sprintf("%s (waiting for the controller to observe generation %d)", counts, meta.Generation)}, nil
	}

	// kstatus counts a DaemonSet with the OnDelete strategy as in progress
	// until every pod is replaced, which only a person deleting pods does;
	// treat it like kstatus treats an OnDelete StatefulSet: done once seen.
	if ds, ok := obj.(*appsv1.DaemonSet); ok && ds.Spec.UpdateStrategy.Type == appsv1.OnDeleteDaemonSetStrategyType {
		return evaluation{phase: ready, line: counts + " (OnDelete update strategy)"}, nil
	}

	res, err := compute(obj, gvk)
	if err != nil {
		return evaluation{}, err
	}
	switch res.Status {
	case status.CurrentStatus:
		return evaluation{phase: ready, line: counts}, nil
	case status.FailedStatus:
		ev := evaluation{phase: failed, line: counts, failure: failureOf(res)}
		if d, ok := obj.(*appsv1.Deployment); ok {
			if cond := progressDeadline(d); cond != nil {
				if deadlinePredatesChange(d, cond) {
					return evaluation{phase: inProgress, line: counts + staleDeadlineNote}, nil
				}
				ev.deadlineRS = deadlineReplicaSet(cond.Message)
			}
		}
		return ev, nil
	}
	// InProgress, and also Terminating and Unknown: a workload being deleted
	// ends the wait through its Deleted watch event, not here.
	line := counts
	if reason := reasonOf(res); !countReasons[reason] && res.Message != "" {
		line += " (" + res.Message + ")"
	}
	return evaluation{phase: inProgress, line: line}, nil
}

// evaluateJob maps a Job: kstatus calls a Job Current as soon as it has
// started, but a deploy step must wait until it is Complete. Failed (or
// FailureTarget, which newer API servers set before the pods are gone and
// Failed follows) is a failure.
func evaluateJob(job *batchv1.Job) (evaluation, error) {
	completions := int32(1)
	if job.Spec.Completions != nil {
		completions = *job.Spec.Completions
	}
	line := fmt.Sprintf("%d of %d succeeded, %d active, %d failed", job.Status.Succeeded, completions, job.Status.Active, job.Status.Failed)
	if job.Spec.Suspend != nil && *job.Spec.Suspend {
		line += " (suspended)"
	}
	res, err := compute(job, batchv1.SchemeGroupVersion.WithKind(KindJob))
	if err != nil {
		return evaluation{}, err
	}
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return evaluation{phase: ready, line: line}, nil
		case batchv1.JobFailed, batchv1.JobFailureTarget:
			return evaluation{phase: failed, line: line, failure: jobFailure(c.Reason, c.Message)}, nil
		}
	}
	if res.Status == status.FailedStatus {
		return evaluation{phase: failed, line: line, failure: failureOf(res)}, nil
	}
	return evaluation{phase: inProgress, line: line}, nil
}

// staleDeadlineNote ends the progress line of a Deployment whose
// ProgressDeadlineExceeded condition belongs to an earlier rollout.
const staleDeadlineNote = " (the progress deadline reported is an earlier rollout's; waiting for the controller)"

// progressDeadline returns a Deployment's Progressing condition when it says
// ProgressDeadlineExceeded.
func progressDeadline(d *appsv1.Deployment) *appsv1.DeploymentCondition {
	for i, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded" {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

// deadlinePredatesChange reports whether a Deployment's progress deadline
// condition is older than the latest write to its spec. The deployment
// controller changes a condition only when its reason changes, so after a
// rollback to an existing ReplicaSet (or any change that raises no count at
// once) a timed-out Deployment keeps the old ProgressDeadlineExceeded, with
// an up-to-date observedGeneration, until the new rollout completes:
// kstatus, and kubectl rollout status, call that a failure. Both times come
// from the API server's clock (managedFields record when each manager last
// wrote), so the runner's clock plays no part.
func deadlinePredatesChange(d *appsv1.Deployment, cond *appsv1.DeploymentCondition) bool {
	at := cond.LastUpdateTime
	if at.IsZero() {
		at = cond.LastTransitionTime
	}
	if at.IsZero() {
		return false
	}
	for _, mf := range d.ManagedFields {
		// Status writes (the controller's own) are not changes of the
		// Deployment; every other write is.
		if mf.Subresource == "" && mf.Time != nil && at.Before(mf.Time) {
			return true
		}
	}
	return false
}

// deadlineReplicaSet returns the ReplicaSet a progress deadline message
// names ("ReplicaSet "web-7d9f" has timed out progressing."), or "".
func deadlineReplicaSet(message string) string {
	m := deadlineMessage.FindStringSubmatch(message)
	if m == nil {
		return ""
	}
	return m[1]
}

var deadlineMessage = regexp.MustCompile(`^ReplicaSet "([^"]+)" has timed out progressing`)

// jobFailure says why a Job failed: "BackoffLimitExceeded: Job has reached
// the specified backoff limit".
func jobFailure(reason, message string) string {
	if reason == "" {
		return joinReason("job failed", "", message)
	}
	return joinReason(reason, "", message)
}

// compute runs kstatus on the typed object. kstatus reads unstructured
// objects and picks its rules by group and kind, which typed objects from a
// watch do not carry, so both are set here.
func compute(obj runtime.Object, gvk schema.GroupVersionKind) (*status.Result, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk)
	res, err := status.Compute(u)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	return res, nil
}

// failureOf says why kstatus found a workload failed, e.g. "progress
// deadline exceeded: ReplicaSet "web-7d9f" has timed out progressing."
func failureOf(res *status.Result) string {
	for _, c := range res.Conditions {
		if c.Type == status.ConditionStalled {
			if c.Reason == "ProgressDeadlineExceeded" {
				return joinReason("progress deadline exceeded", "", c.Message)
			}
			return joinReason("stalled", c.Reason, c.Message)
		}
	}
	return joinReason("failed", "", res.Message)
}

func reasonOf(res *status.Result) string {
	for _, c := range res.Conditions {
		if c.Type == status.ConditionReconciling || c.Type == status.ConditionStalled {
			return c.Reason
		}
	}
	return ""
}

// joinReason formats "what: reason: message", leaving out empty parts.
func joinReason(what, reason, message string) string {
	s := what
	for _, part := range []string{reason, OneLine(message)} {
		if part != "" {
			s += ": " + part
		}
	}
	return s
}

func replicaCounts(updated, desired, ready, available int32) string {
	return fmt.Sprintf("%d of %d updated, %d ready, %d available", updated, desired, ready, available)
}

// replicas is spec.replicas with the API's default of 1.
func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}
