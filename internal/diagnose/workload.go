package diagnose

import (
	"context"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kube-release/kube-release/internal/object"
	"github.com/kube-release/kube-release/internal/rollout"
)

// workload collects the evidence about one workload.
func (c *collector) workload(ctx context.Context, w object.Ref) WorkloadReport {
	wr := WorkloadReport{Workload: w}
	// The objects whose events count, by "Kind/name"; the UID, where
	// known, tells a namesake that was deleted and created again apart.
	objects := involved{w.Kind + "/" + w.Name: ""}

	var (
		selector *metav1.LabelSelector
		owners   map[types.UID]bool // the pods' controllers; nil: unknown
	)
	obj, err := rollout.Get(ctx, c.client, w)
	if c.read(err) != nil {
		wr.Unread = append(wr.Unread, "workload: "+short(err))
	} else {
		m := obj.(metav1.Object)
		objects[w.Kind+"/"+w.Name] = m.GetUID()
		owners = map[types.UID]bool{m.GetUID(): true}
		selector = selectorOf(obj)
		if d, ok := obj.(*appsv1.Deployment); ok {
			// A ReplicaSet's events tell why pods were not even created
			// (quota, admission), and its pods are the Deployment's.
			rss, err := rollout.OwnedReplicaSets(ctx, c.client, d)
			if c.read(err) != nil {
				wr.Unread = append(wr.Unread, "replica sets: "+short(err))
				owners = nil
			}
			for _, rs := range rss {
				objects["ReplicaSet/"+rs.Name] = rs.UID
				owners[rs.UID] = true
			}
		}
	}

	var pods []*corev1.Pod
	if selector != nil {
		all, err := c.pods(ctx, w.Namespace, selector)
		if c.read(err) != nil {
			wr.Unread = append(wr.Unread, "pods: "+short(err))
		}
		for _, pod := range all {
			if owners != nil && !ownedBy(pod, owners) {
				continue // another workload's pod that the selector matches too
			}
			objects["Pod/"+pod.Name] = pod.UID
			if pod.DeletionTimestamp == nil {
				// A pod on its way out explains nothing, but its
				// events may.
				pods = append(pods, pod)
			}
		}
	}

	list := c.namespaceEvents(ctx, w.Namespace)
	if list.err != nil {
		wr.Unread = append(wr.Unread, "events: "+short(list.err))
	}
	wr.Events, wr.MoreEvents = summarizeEvents(list.items, objects, c.now.Add(-c.opts.Since), c.opts.MaxEvents)

	wr.Pods = len(pods)
	var notReady []*corev1.Pod
	for _, pod := range pods {
		if !rollout.PodDone(pod) {
			notReady = append(notReady, pod)
		}
	}
	wr.NotReady = len(notReady)
	// The newest pods first: they run the revision that failed.
	sort.Slice(notReady, func(i, j int) bool {
		a, b := notReady[i], notReady[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return b.CreationTimestamp.Before(&a.CreationTimestamp)
		}
		return a.Name < b.Name
	})
	for i, pod := range notReady {
		if i == c.opts.MaxPods {
			break
		}
		wr.NotReadyPods = append(wr.NotReadyPods, c.pod(ctx, pod))
	}
	return wr
}

func (c *collector) pods(ctx context.Context, namespace string, selector *metav1.LabelSelector) ([]*corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		return nil, err
	}
	list, err := c.client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, err
	}
	out := make([]*corev1.Pod, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, &list.Items[i])
	}
	return out, nil
}

// selectorOf returns the pod selector of a workload object.
func selectorOf(obj any) *metav1.LabelSelector {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return o.Spec.Selector
	case *appsv1.StatefulSet:
		return o.Spec.Selector
	case *appsv1.DaemonSet:
		return o.Spec.Selector
	case *batchv1.Job:
		return o.Spec.Selector
	}
	return nil
}

func ownedBy(pod *corev1.Pod, owners map[types.UID]bool) bool {
	ref := metav1.GetControllerOf(pod)
	return ref != nil && owners[ref.UID]
}
