package rollout

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kube-release/kube-release/internal/kube/typed"
	"github.com/kube-release/kube-release/internal/object"
)

// ReplaceStuckPods deletes the pods of a StatefulSet that are not ready and
// belong to a revision other than its update revision, so the controller
// re-creates them from the current template.
//
// A StatefulSet never replaces a broken pod by itself: with the default
// OrderedReady policy its controller waits for every pod to be Running and
// Ready before it updates the next one, so after a bad template is reverted
// the pod stuck at the bad revision stays stuck ("forced rollback" in the
// StatefulSet documentation). Ready pods are left alone: the controller
// rolls them itself. Other kinds need nothing and return at once.
func ReplaceStuckPods(ctx context.Context, client typed.Interface, w object.Ref) ([]string, error) {
	if w.Kind != KindStatefulSet {
		return nil, nil
	}
	sets := client.AppsV1().StatefulSets(w.Namespace)
	var sts *appsv1.StatefulSet
	// The update revision is only meaningful once the controller has seen
	// the current template, which takes it a few milliseconds: poll often.
	err := wait.PollUntilContextTimeout(ctx, 25*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		sts, err = sets.Get(ctx, w.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return updateRevisionObserved(sts), nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: wait for the controller to observe generation: %w", w, err)
	}
	selector, err := metav1.LabelSelectorAsSelector(sts.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("%s: selector: %w", w, err)
	}
	pods, err := client.CoreV1().Pods(w.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		return nil, fmt.Errorf("%s: pods: %w", w, err)
	}
	var deleted []string
	for i := range pods.Items {
		pod := &pods.Items[i]
		if !metav1.IsControlledBy(pod, sts) || pod.DeletionTimestamp != nil ||
			pod.Labels[appsv1.StatefulSetRevisionLabel] == sts.Status.UpdateRevision || podReady(pod) {
			continue
		}
		err := client.CoreV1().Pods(w.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &pod.UID},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return deleted, fmt.Errorf("%s: delete stuck pod %s: %w", w, pod.Name, err)
		}
		deleted = append(deleted, pod.Name)
	}
	return deleted, nil
}
