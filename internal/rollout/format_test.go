package rollout

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kube-release/kube-release/internal/object"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

func waiting(name, reason, message string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}}}
}

func TestPodIssues(t *testing.T) {
	now := metav1.Now()
	tests := []struct {
		name string
		pod  corev1.Pod
		want []string
	}{{
		name: "ready pod",
		pod: corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue},
		}}},
	}, {
		name: "succeeded job pod",
		pod:  corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodSucceeded}},
	}, {
		name: "image pull back-off",
		pod: corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{
			waiting("app", "ImagePullBackOff", `Back-off pulling image "x"`),
		}}},
		want: []string{`container app waiting: ImagePullBackOff: Back-off pulling image "x"`},
	}, {
		name: "crash loop with last exit code",
		pod: corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
			Name:                 "app",
			RestartCount:         3,
			State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 40s restarting failed container=app"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}},
		}}}},
		want: []string{"container app waiting: CrashLoopBackOff: back-off 40s restarting failed container=app (last exit code 1: Error, 3 restarts)"},
	}, {
		name: "unschedulable",
		pod: corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable",
			Message: "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.",
		}}}},
		want: []string{"not scheduled: Unschedulable: 0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."},
	}, {
		name: "init container first, then the blocked container",
		pod: corev1.Pod{Status: corev1.PodStatus{
			Phase:                 corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{waiting("setup", "CreateContainerConfigError", `secret "db" not found`)},
			ContainerStatuses:     []corev1.ContainerStatus{waiting("app", "PodInitializing", "")},
		}},
		want: []string{
			`init container setup waiting: CreateContainerConfigError: secret "db" not found`,
			"container app waiting: PodInitializing",
		},
	}, {
		name: "failed container of a job",
		pod: corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{
			Name:  "app",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}},
		}}}},
		want: []string{"container app terminated: Error (exit code 1)"},
	}, {
		name: "running, readiness probe failing",
		pod: corev1.Pod{Status: corev1.PodStatus{
			Phase: corev1.PodRunning,
			Conditions: []corev1.PodCondition{{
				Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady", Message: "containers with unready status: [app]",
			}},
			ContainerStatuses: []corev1.ContainerStatus{{
				Name: "app", RestartCount: 1, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
			}},
		}},
		want: []string{"container app running but not ready (1 restart)"},
	}, {
		name: "pending, nothing known yet",
		pod:  corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending}},
		want: []string{"not ready: phase Pending"},
	}, {
		name: "not ready condition without container details",
		pod: corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{
			Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ReadinessGatesNotReady", Message: "corresponding condition of pod readiness gate \"x\" does not exist.",
		}}}},
		want: []string{`not ready: ReadinessGatesNotReady: corresponding condition of pod readiness gate "x" does not exist.`},
	}, {
		name: "multi-line message stays one line",
		pod: corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{
			waiting("app", "ErrImagePull", "rpc error:\n  not found"),
		}}},
		want: []string{"container app waiting: ErrImagePull: rpc error: not found"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := podIssues(&tt.pod); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("podIssues:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestPodLines(t *testing.T) {
	stuck := func(name string) corev1.Pod {
		return corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{
				waiting("app", "ImagePullBackOff", "back-off"),
			}},
		}
	}
	terminating := stuck("web-0")
	terminating.DeletionTimestamp = ptr.To(metav1.Now())
	pods := []corev1.Pod{stuck("web-7"), stuck("web-2"), terminating, stuck("web-5"), stuck("web-1"), stuck("web-3"), stuck("web-4"), stuck("web-6")}
	want := []string{
		"pod web-1: container app waiting: ImagePullBackOff: back-off",
		"pod web-2: container app waiting: ImagePullBackOff: back-off",
		"pod web-3: container app waiting: ImagePullBackOff: back-off",
		"pod web-4: container app waiting: ImagePullBackOff: back-off",
		"pod web-5: container app waiting: ImagePullBackOff: back-off",
		"... and 2 more like these",
	}
	if got := podLines(pods); !reflect.DeepEqual(got, want) {
		t.Errorf("podLines:\n got %q\nwant %q", got, want)
	}
}

func TestEvaluate(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "web", Namespace: "ns", Generation: 2}
	tests := []struct {
		name        string
		obj         runtime.Object
		wantPhase   phase
		wantLine    string
		wantFailure string
	}{{
		name: "deployment rolling",
		obj: &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](3)},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 4, UpdatedReplicas: 1, ReadyReplicas: 3, AvailableReplicas: 3}},
		wantPhase: inProgress,
		wantLine:  "1 of 3 updated, 3 ready, 3 available",
	}, {
		name: "deployment not yet observed",
		obj: &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](3)},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3}},
		wantPhase: inProgress,
		wantLine:  "3 of 3 updated, 3 ready, 3 available (waiting for the controller to observe generation 2)",
	}, {
		name: "deployment done",
		obj: &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2)},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2,
				Conditions: []appsv1.DeploymentCondition{
					{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue},
					{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"},
				}}},
		wantPhase: ready,
		wantLine:  "2 of 2 updated, 2 ready, 2 available",
	}, {
		name: "deployment old pods terminating",
		obj: &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2)},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 3, UpdatedReplicas: 2, ReadyReplicas: 3, AvailableReplicas: 3}},
		wantPhase: inProgress,
		wantLine:  "2 of 2 updated, 3 ready, 3 available (Pending termination: 1)",
	}, {
		name: "deployment progress deadline exceeded",
		obj: &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), ProgressDeadlineSeconds: ptr.To[int32](5)},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 1, UpdatedReplicas: 1,
				Conditions: []appsv1.DeploymentCondition{{
					Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded",
					Message: `ReplicaSet "web-7d9f" has timed out progressing.`,
				}}}},
		wantPhase:   failed,
		wantLine:    "1 of 1 updated, 0 ready, 0 available",
		wantFailure: `progress deadline exceeded: ReplicaSet "web-7d9f" has timed out progressing.`,
	}, {
		name: "deployment progress deadline older than its latest change",
		obj: &appsv1.Deployment{ObjectMeta: withManagedFields(meta,
			metav1.ManagedFieldsEntry{Manager: "kube-release", Operation: metav1.ManagedFieldsOperationUpdate, Time: ptr.To(metav1.Unix(1000, 0))},
			metav1.ManagedFieldsEntry{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, Subresource: "status", Time: ptr.To(metav1.Unix(1200, 0))}),
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), ProgressDeadlineSeconds: ptr.To[int32](5)},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
				Conditions: []appsv1.DeploymentCondition{{
					Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded",
					LastUpdateTime: metav1.Unix(900, 0), LastTransitionTime: metav1.Unix(900, 0),
					Message: `ReplicaSet "web-bad" has timed out progressing.`,
				}}}},
		wantPhase: inProgress,
		wantLine:  "1 of 1 updated, 1 ready, 1 available" + staleDeadlineNote,
	}, {
		name: "deployment progress deadline newer than its latest change",
		obj: &appsv1.Deployment{ObjectMeta: withManagedFields(meta,
			metav1.ManagedFieldsEntry{Manager: "kube-release", Operation: metav1.ManagedFieldsOperationApply, Time: ptr.To(metav1.Unix(1000, 0))}),
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), ProgressDeadlineSeconds: ptr.To[int32](5)},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 1, UpdatedReplicas: 1,
				Conditions: []appsv1.DeploymentCondition{{
					Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded",
					LastUpdateTime: metav1.Unix(1005, 0), LastTransitionTime: metav1.Unix(1005, 0),
					Message: `ReplicaSet "web-7d9f" has timed out progressing.`,
				}}}},
		wantPhase:   failed,
		wantLine:    "1 of 1 updated, 0 ready, 0 available",
		wantFailure: `progress deadline exceeded: ReplicaSet "web-7d9f" has timed out progressing.`,
	}, {
		name: "statefulset revision not yet current",
		obj: &appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](2)},
			Status: appsv1.StatefulSetStatus{ObservedGeneration: 2, Replicas: 2, ReadyReplicas: 2, CurrentReplicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2,
				CurrentRevision: "web-1", UpdateRevision: "web-2"}},
		wantPhase: inProgress,
		wantLine:  "2 of 2 updated, 2 ready, 2 available (Waiting for updated revision to match current)",
	}, {
		name:      "statefulset with replicas 0 before its controller saw it",
		obj:       &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Generation: 1}, Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](0)}},
		wantPhase: inProgress,
		wantLine:  "0 of 0 updated, 0 ready, 0 available (waiting for the controller to observe generation 1)",
	}, {
		name: "daemonset done",
		obj: &appsv1.DaemonSet{ObjectMeta: meta, Status: appsv1.DaemonSetStatus{ObservedGeneration: 2,
			DesiredNumberScheduled: 2, CurrentNumberScheduled: 2, UpdatedNumberScheduled: 2, NumberReady: 2, NumberAvailable: 2}},
		wantPhase: ready,
		wantLine:  "2 of 2 updated, 2 ready, 2 available",
	}, {
		name: "daemonset rolling",
		obj: &appsv1.DaemonSet{ObjectMeta: meta, Status: appsv1.DaemonSetStatus{ObservedGeneration: 2,
			DesiredNumberScheduled: 2, CurrentNumberScheduled: 2, UpdatedNumberScheduled: 1, NumberReady: 1, NumberAvailable: 1}},
		wantPhase: inProgress,
		wantLine:  "1 of 2 updated, 1 ready, 1 available",
	}, {
		name:      "job running is not done",
		obj:       &batchv1.Job{ObjectMeta: meta, Status: batchv1.JobStatus{StartTime: ptr.To(metav1.Now()), Active: 1}},
		wantPhase: inProgress,
		wantLine:  "0 of 1 succeeded, 1 active, 0 failed",
	}, {
		name: "job complete",
		obj: &batchv1.Job{ObjectMeta: meta, Spec: batchv1.JobSpec{Completions: ptr.To[int32](2)}, Status: batchv1.JobStatus{Succeeded: 2,
			Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}}},
		wantPhase: ready,
		wantLine:  "2 of 2 succeeded, 0 active, 0 failed",
	}, {
		name: "job failed",
		obj: &batchv1.Job{ObjectMeta: meta, Status: batchv1.JobStatus{Failed: 1, Conditions: []batchv1.JobCondition{{
			Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit",
		}}}},
		wantPhase:   failed,
		wantLine:    "0 of 1 succeeded, 0 active, 1 failed",
		wantFailure: "BackoffLimitExceeded: Job has reached the specified backoff limit",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := evaluate(tt.obj)
			if err != nil {
				t.Fatal(err)
			}
			if ev.phase != tt.wantPhase || ev.line != tt.wantLine || ev.failure != tt.wantFailure {
				t.Errorf("evaluate = {%v %q %q}, want {%v %q %q}", ev.phase, ev.line, ev.failure, tt.wantPhase, tt.wantLine, tt.wantFailure)
			}
		})
	}
}

func withManagedFields(meta metav1.ObjectMeta, entries ...metav1.ManagedFieldsEntry) metav1.ObjectMeta {
	meta.ManagedFields = entries
	return meta
}

func TestDeadlineReplicaSet(t *testing.T) {
	for msg, want := range map[string]string{
		`ReplicaSet "web-7d9f" has timed out progressing.`: "web-7d9f",
		`Deployment "web" has timed out progressing.`:      "",
		"": "",
	} {
		if got := deadlineReplicaSet(msg); got != want {
			t.Errorf("deadlineReplicaSet(%q) = %q, want %q", msg, got, want)
		}
	}
}

func TestProgressLines(t *testing.T) {
	p := Progress{Elapsed: 12 * time.Second, Total: 2, Workloads: []WorkloadProgress{{
		Workload: object.Ref{Kind: "Deployment", Namespace: "ns", Name: "web"},
		Status:   "1 of 3 updated, 0 ready, 0 available",
		Pods:     []string{`pod web-7d9f-abc: container app waiting: ImagePullBackOff: Back-off pulling image "x"`},
	}, {
		Workload: object.Ref{Kind: "Job", Namespace: "ns", Name: "migrate"},
		Status:   "0 of 1 succeeded, 1 active, 0 failed",
	}}}
	want := strings.Join([]string{
		"Deployment/ns/web: 1 of 3 updated, 0 ready, 0 available",
		`Deployment/ns/web: pod web-7d9f-abc: container app waiting: ImagePullBackOff: Back-off pulling image "x"`,
		"Job/ns/migrate: 0 of 1 succeeded, 1 active, 0 failed",
	}, "\n")
	if got := p.String(); got != want {
		t.Errorf("Progress.String:\n got %s\nwant %s", got, want)
	}
}

func TestSeconds(t *testing.T) {
	for d, want := range map[time.Duration]string{60 * time.Second: "60s", 2400 * time.Millisecond: "2s", 90 * time.Second: "90s"} {
		if got := seconds(d); got != want {
			t.Errorf("seconds(%v) = %q, want %q", d, got, want)
		}
	}
}
