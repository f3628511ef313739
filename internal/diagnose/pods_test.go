package diagnose

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/kube-release/kube-release/internal/object"
	"github.com/kube-release/kube-release/internal/rollout"

	"github.com/kube-release/kube-release/internal/kube/typed/typedtest"
)

func TestLogRequests(t *testing.T) {
	terminated := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	waiting := corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
	tests := []struct {
		name              string
		status            corev1.ContainerStatus
		current, previous bool
	}{
		{"never started", corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}}, false, false},
		{"crash loop: only the instance that ran", corev1.ContainerStatus{State: waiting, LastTerminationState: terminated, RestartCount: 3}, false, true},
		{"running, never restarted", corev1.ContainerStatus{State: running}, true, false},
		{"running after a restart", corev1.ContainerStatus{State: running, LastTerminationState: terminated, RestartCount: 1}, true, true},
		{"failed", corev1.ContainerStatus{State: terminated}, true, false},
		{"no state", corev1.ContainerStatus{}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			current, previous := logRequests(tt.status)
			if current != tt.current || previous != tt.previous {
				t.Errorf("logRequests = %v, %v; want %v, %v", current, previous, tt.current, tt.previous)
			}
		})
	}
}

func TestLogLines(t *testing.T) {
	long := strings.Repeat("é", maxLogLine) // two bytes each: the cut must not split one
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", nil},
		{"only a newline", "\n", nil},
		{"lines", "a\nb\n", []string{"a", "b"}},
		{"control characters", "\x1b[31mred\x1b[0m\tok\r\n", []string{"[31mred[0m\tok"}},
		{"long line", long, []string{strings.Repeat("é", maxLogLine/2) + "…"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := logLines(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("logLines(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestLogErrors(t *testing.T) {
	unknown := errors.New(`an error on the server ("unknown") has prevented the request from succeeding`)
	tests := []struct {
		name      string
		body      string
		err       error
		short     string
		container bool
	}{{
		name:  "kubelet not reachable",
		body:  `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Get \"https://127.0.0.1:10250/containerLogs/ns/p/app?tailLines=10\": dial tcp 127.0.0.1:10250: connect: connection refused","code":500}`,
		err:   unknown,
		short: "dial tcp 127.0.0.1:10250: connect: connection refused",
	}, {
		name:      "the container's log is gone",
		body:      `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"previous terminated container \"app\" in pod \"p\" not found","reason":"BadRequest","code":400}`,
		err:       unknown,
		short:     `previous terminated container "app" in pod "p" not found`,
		container: true,
	}, {
		name:      "the pod is gone",
		err:       apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, "p"),
		short:     `pods "p" not found`,
		container: true,
	}, {
		name:  "no permission",
		err:   apierrors.NewForbidden(schema.GroupResource{Resource: "pods/log"}, "p", errors.New("no RBAC")),
		short: `pods/log "p" is forbidden: no RBAC`,
	}, {
		name:  "transport error",
		body:  "not json",
		err:   &url.Error{Op: "Get", URL: "https://api/x", Err: errors.New("connection reset by peer")},
		short: "connection reset by peer",
	}, {
		name:  "timeout",
		err:   fmt.Errorf("wrapped: %w", context.DeadlineExceeded),
		short: "timed out",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := logError([]byte(tt.body), tt.err)
			if got := short(err); got != tt.short {
				t.Errorf("short = %q, want %q", got, tt.short)
			}
			if got := containerLevel(err); got != tt.container {
				t.Errorf("containerLevel = %v, want %v", got, tt.container)
			}
		})
	}
}

// The fake clientset serves "fake logs" for every log request: enough to
// check which logs are asked for and how a partial failure shows, which
// the local control plane (no logs) cannot.
func fakeWorkload() (object.Ref, []runtime.Object) {
	labels := map[string]string{"app": "web"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "d1"},
		Spec:       appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}},
	}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{
		Name: "web-7d9f", Namespace: "shop", UID: "r1", Labels: labels,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "d1", Controller: ptr.To(true)}},
	}}
	owned := []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-7d9f", UID: "r1", Controller: ptr.To(true)}}
	restarted := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-7d9f-a", Namespace: "shop", UID: "p1", Labels: labels, OwnerReferences: owned},
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}},
			ContainerStatuses: []corev1.ContainerStatus{{
				Name: "app", RestartCount: 2,
				State:                corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}},
			}, {
				Name: "proxy", Ready: true,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
			}},
		},
	}
	ready := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-7d9f-b", Namespace: "shop", UID: "p2", Labels: labels, OwnerReferences: owned},
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		},
	}
	// Selected by web's selector, but another controller's.
	stranger := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-canary", Namespace: "shop", UID: "p3", Labels: labels}}
	events := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "web-7d9f-a.1", Namespace: "shop"},
		Type:           corev1.EventTypeWarning,
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-7d9f-a", UID: "p1"},
		Reason:         "Unhealthy",
		Message:        "Readiness probe failed: HTTP probe failed with statuscode: 503",
		Count:          4,
		LastTimestamp:  metav1.Now(),
	}
	return object.Ref{Kind: rollout.KindDeployment, Namespace: "shop", Name: "web"},
		[]runtime.Object{d, rs, restarted, ready, stranger, events}
}

func TestCollectLogsServed(t *testing.T) {
	w, objects := fakeWorkload()
	client := fake.NewClientset(objects...)
	r, err := Collect(context.Background(), typedtest.Wrap(client), []object.Ref{w, w}, Options{LogLines: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Workloads) != 1 {
		t.Fatalf("%d workload reports, want 1 (duplicates removed)", len(r.Workloads))
	}
	wr := r.Workloads[0]
	if wr.Pods != 2 || wr.NotReady != 1 || len(wr.NotReadyPods) != 1 || len(wr.Events) != 1 || len(wr.Unread) != 0 {
		t.Fatalf("report %+v: want 2 pods, 1 not ready, 1 event, nothing unread", wr)
	}
	app, proxy := wr.NotReadyPods[0].Containers[0], wr.NotReadyPods[0].Containers[1]
	wantLogs := []Log{{Lines: []string{"fake logs"}}, {Previous: true, Lines: []string{"fake logs"}}}
	if !reflect.DeepEqual(app.Logs, wantLogs) || len(proxy.Logs) != 0 || r.LogsUnavailable != "" {
		t.Errorf("logs of app %+v, of proxy %+v, unavailable %q; want app's current and previous", app.Logs, proxy.Logs, r.LogsUnavailable)
	}
	var asked []corev1.PodLogOptions
	for _, a := range client.Actions() {
		if a.GetSubresource() == "log" {
			asked = append(asked, *a.(k8stesting.GenericAction).GetValue().(*corev1.PodLogOptions))
		}
	}
	want := []corev1.PodLogOptions{
		{Container: "app", TailLines: ptr.To[int64](5), LimitBytes: ptr.To[int64](logLimitBytes)},
		{Container: "app", TailLines: ptr.To[int64](5), LimitBytes: ptr.To[int64](logLimitBytes), Previous: true},
	}
	if !reflect.DeepEqual(asked, want) {
		t.Errorf("log requests %+v, want %+v", asked, want)
	}
}

func TestCollectPartial(t *testing.T) {
	w, objects := fakeWorkload()
	client := fake.NewClientset(objects...)
	client.PrependReactor("list", "events", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "events"}, "", errors.New("no RBAC"))
	})
	missing := object.Ref{Kind: rollout.KindStatefulSet, Namespace: "shop", Name: "db"}
	r, err := Collect(context.Background(), typedtest.Wrap(client), []object.Ref{w, missing}, Options{LogLines: -1})
	if err != nil {
		t.Fatal(err)
	}
	web, db := r.Workloads[0], r.Workloads[1]
	if web.NotReady != 1 || !reflect.DeepEqual(web.Unread, []string{`events: events is forbidden: no RBAC`}) {
		t.Errorf("web: %+v: want its pods, and the events unread", web)
	}
	if len(web.NotReadyPods[0].Containers[0].Logs) != 0 {
		t.Errorf("logs read with LogLines < 0")
	}
	wantUnread := []string{`workload: statefulsets.apps "db" not found`, `events: events is forbidden: no RBAC`}
	if !reflect.DeepEqual(db.Unread, wantUnread) {
		t.Errorf("db unread %q, want %q", db.Unread, wantUnread)
	}
	listed := 0
	for _, a := range client.Actions() {
		if a.Matches("list", "events") {
			listed++
		}
	}
	if listed != 1 {
		t.Errorf("%d event lists for one namespace, want 1", listed)
	}
}

func TestCollectNothingReadable(t *testing.T) {
	// Nothing listens on port 1.
	client, err := kubernetes.NewForConfig(&rest.Config{Host: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	w := object.Ref{Kind: rollout.KindDeployment, Namespace: "shop", Name: "web"}
	r, err := Collect(context.Background(), typedtest.Wrap(client), []object.Ref{w}, Options{})
	if err == nil || r != nil || !strings.Contains(err.Error(), "nothing could be read") {
		t.Errorf("Collect = %v, %v; want no report and an error", r, err)
	}
	if lines := r.Lines(); lines != nil {
		t.Errorf("nil report lines %q", lines)
	}

	r, err = Collect(context.Background(), typedtest.Wrap(client), nil, Options{})
	if err != nil || r == nil || len(r.Workloads) != 0 {
		t.Errorf("no workloads: Collect = %+v, %v; want an empty report", r, err)
	}
}
