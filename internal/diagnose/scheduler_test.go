package diagnose

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kube-release/kube-release/internal/rollout"
	"github.com/kube-release/kube-release/internal/testcluster"
)

func TestSchedulerMessage(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. not found",
			"0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims."},
		{"0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. not found ",
			"0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims."},
		// What PostFilter plugins say about the pod stays.
		{"0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
			"0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."},
		{`0/2 nodes are available: persistentvolumeclaim "data" not found.`, `0/2 nodes are available: persistentvolumeclaim "data" not found.`},
		// Not the scheduler's message.
		{"secret \"x\" not found", "secret \"x\" not found"},
		{"", ""},
	} {
		if got := rollout.SchedulerMessage(tc.in); got != tc.want {
			t.Errorf("rollout.SchedulerMessage(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// A pod whose PersistentVolumeClaim stays unbound: kube-scheduler's
// message ends in a "not found" about its own state, which the evidence
// leaves out, in the event and in the pod's condition alike.
func TestCollectUnboundClaim(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	cs := c.Typed(t)
	ctx := context.Background()
	none := "none" // no such StorageClass: the claim is never bound
	if _, err := c.Clientset(t).CoreV1().PersistentVolumeClaims(ns).Create(ctx, &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: &none,
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	d := testcluster.Deployment("db", testcluster.GoodImage, 1)
	d.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}
	w := createDeployment(t, cs, ns, d)
	poll(t, "FailedScheduling event", func(ctx context.Context) (bool, error) {
		list, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "reason=FailedScheduling"})
		return err == nil && len(list.Items) > 0, err
	})

	r := collect(t, cs, w)
	const because = "pod has unbound immediate PersistentVolumeClaims."
	var event, condition int
	for _, line := range r.Lines() {
		if strings.Contains(line, "not found") {
			t.Errorf("line with a stray \"not found\": %s", line)
		}
		if strings.Contains(line, "warning FailedScheduling on Pod/") && strings.Contains(line, because+" (") {
			event++
		}
		if strings.Contains(line, "condition PodScheduled=False: Unschedulable: ") && strings.HasSuffix(line, because) {
			condition++
		}
	}
	if event != 1 || condition != 1 {
		t.Errorf("%d event lines and %d condition lines ending in %q, want 1 each:\n%s", event, condition, because, strings.Join(r.Lines(), "\n"))
	}
	if md := r.Markdown(); strings.Contains(md, "not found") {
		t.Errorf("markdown with a stray \"not found\":\n%s", md)
	}
}
