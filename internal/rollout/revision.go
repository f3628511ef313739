package rollout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kube-release/kube-release/internal/kube"
	"github.com/kube-release/kube-release/internal/kube/typed"
	"github.com/kube-release/kube-release/internal/object"
)

// RevisionAnnotation is where the deployment controller numbers a
// Deployment's rollouts (and each of its ReplicaSets).
const RevisionAnnotation = "deployment.kubernetes.io/revision"

// ErrNoRevision means the workload's controller has not (yet) recorded a
// revision for its current template.
var ErrNoRevision = errors.New("no revision recorded for the current template")

// Revision returns the rollout revision of a workload's current template,
// as release history records it and Undo takes it back: for a Deployment
// its revision annotation, for a StatefulSet or DaemonSet the revision
// number of the ControllerRevision of its current template. Read it once
// the workload is ready (the Waiter's Result carries it): before its
// controller has acted on a change, the previous revision is current.
//
// It costs one request for a Deployment and two for the others.
func Revision(ctx context.Context, client typed.Interface, w object.Ref) (string, error) {
	if err := validate(w); err != nil {
		return "", err
	}
	if w.Kind == KindJob {
		return "", fmt.Errorf("%s: revision: %w", w, ErrUnsupportedKind)
	}
	obj, err := Get(ctx, client, w)
	if err != nil {
		return "", fmt.Errorf("%s: revision: %w", w, err)
	}
	rev, err := revisionOf(ctx, client, obj)
	if err != nil {
		return "", fmt.Errorf("%s: revision: %w", w, err)
	}
	return rev, nil
}

// ObservedRevision waits until the workload's controller has observed its
// latest generation and returns the revision of its current template. After
// an Undo the controller gives the restored template a new number, and this
// is it, known long before the rollout is done: a history that records it
// at once lets a rollback that is interrupted while waiting be run again.
// It polls, since the controller usually answers within a second.
func ObservedRevision(ctx context.Context, client typed.Interface, w object.Ref) (string, error) {
	if err := validate(w); err != nil {
		return "", err
	}
	var rev string
	err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		obj, err := Get(ctx, client, w)
		if err != nil {
			return false, permanent(err)
		}
		m, ok := obj.(metav1.Object)
		if !ok || observedGeneration(obj) < m.GetGeneration() {
			return false, nil
		}
		rev, err = revisionOf(ctx, client, obj)
		if errors.Is(err, ErrNoRevision) {
			return false, nil
		}
		return err == nil, permanent(err)
	})
	if err != nil {
		return "", fmt.Errorf("%s: revision: %w", w, err)
	}
	return rev, nil
}

// permanent is err unless a retry may get past it (kube.Transient).
func permanent(err error) error {
	if _, ok := kube.Transient(err); ok {
		return nil
	}
	return err
}

// observedGeneration is status.observedGeneration of an apps/v1 workload.
func observedGeneration(obj runtime.Object) int64 {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return o.Status.ObservedGeneration
	case *appsv1.StatefulSet:
		return o.Status.ObservedGeneration
	case *appsv1.DaemonSet:
		return o.Status.ObservedGeneration
	}
	return 0
}

// revisionOf reads the revision of the template in obj; "" for a Job.
func revisionOf(ctx context.Context, client typed.Interface, obj runtime.Object) (string, error) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		rev := o.Annotations[RevisionAnnotation]
		if rev == "" {
			return "", ErrNoRevision
		}
		return rev, nil
	case *appsv1.StatefulSet:
		if !updateRevisionObserved(o) {
			return "", ErrNoRevision
		}
		cr, err := client.AppsV1().ControllerRevisions(o.Namespace).Get(ctx, o.Status.UpdateRevision, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		return strconv.FormatInt(cr.Revision, 10), nil
	case *appsv1.DaemonSet:
		cr, err := currentDaemonSetRevision(ctx, client, o)
		if err != nil {
			return "", err
		}
		return strconv.FormatInt(cr.Revision, 10), nil
	case *batchv1.Job:
		return "", nil
	}
	return "", fmt.Errorf("%T: %w", obj, ErrUnsupportedKind)
}

// currentDaemonSetRevision finds the ControllerRevision of a DaemonSet's
// current template. A DaemonSet's status does not name it, so this does
// what the DaemonSet controller and kubectl do (Match in
// k8s.io/kubernetes/pkg/controller/daemon/update.go, daemonSetMatch in
// k8s.io/kubectl/pkg/polymorphichelpers/rollback.go): list the revisions
// it owns and pick the one whose stored patch equals the patch of the
// current template.
func currentDaemonSetRevision(ctx context.Context, client typed.Interface, ds *appsv1.DaemonSet) (*appsv1.ControllerRevision, error) {
	history, err := ownedRevisions(ctx, client, ds, ds.Spec.Selector)
	if err != nil {
		return nil, err
	}
	patch, err := templatePatch(ds)
	if err != nil {
		return nil, err
	}
	for _, cr := range history {
		if bytes.Equal(cr.Data.Raw, patch) {
			return cr, nil
		}
	}
	return nil, ErrNoRevision
}

// templatePatch is the DaemonSet and StatefulSet controllers' record of a
// template, a strategic merge patch replacing spec.template (getPatch in
// k8s.io/kubernetes/pkg/controller/daemon/update.go and
// pkg/controller/statefulset/stateful_set_utils.go): the same code, so
// the bytes match what the controllers stored.
func templatePatch(obj any) ([]byte, error) {
	dsBytes, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	if err := json.Unmarshal(dsBytes, &raw); err != nil {
		return nil, err
	}
	spec, _ := raw["spec"].(map[string]any)
	template, _ := spec["template"].(map[string]any)
	if template == nil {
		return nil, errors.New("no pod template")
	}
	template["$patch"] = "replace"
	return json.Marshal(map[string]any{"spec": map[string]any{"template": template}})
}

// ownedRevisions lists the ControllerRevisions that owner controls, oldest
// revision first.
func ownedRevisions(ctx context.Context, client typed.Interface, owner metav1.Object, selector *metav1.LabelSelector) ([]*appsv1.ControllerRevision, error) {
	sel, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		return nil, fmt.Errorf("selector: %w", err)
	}
	list, err := client.AppsV1().ControllerRevisions(owner.GetNamespace()).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, err
	}
	var out []*appsv1.ControllerRevision
	for i := range list.Items {
		if metav1.IsControlledBy(&list.Items[i], owner) {
			out = append(out, &list.Items[i])
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Revision < out[j].Revision })
	return out, nil
}

// OwnedReplicaSets lists the ReplicaSets a Deployment controls, in no
// particular order.
func OwnedReplicaSets(ctx context.Context, client typed.Interface, d *appsv1.Deployment) ([]*appsv1.ReplicaSet, error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("selector: %w", err)
	}
	list, err := client.AppsV1().ReplicaSets(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, err
	}
	var out []*appsv1.ReplicaSet
	for i := range list.Items {
		if metav1.IsControlledBy(&list.Items[i], d) {
			out = append(out, &list.Items[i])
		}
	}
	return out, nil
}

// newReplicaSet finds the ReplicaSet of a Deployment's current template,
// as the deployment controller does (FindNewReplicaSet in
// k8s.io/kubernetes/pkg/controller/deployment/util): the oldest one whose
// template equals the Deployment's, ignoring the pod-template-hash label.
// Nil when the controller has not created it yet.
func newReplicaSet(rss []*appsv1.ReplicaSet, d *appsv1.Deployment) *appsv1.ReplicaSet {
	sort.Slice(rss, func(i, j int) bool {
		if rss[i].CreationTimestamp.Equal(&rss[j].CreationTimestamp) {
			return rss[i].Name < rss[j].Name
		}
		return rss[i].CreationTimestamp.Before(&rss[j].CreationTimestamp)
	})
	for _, rs := range rss {
		if equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			return rs
		}
	}
	return nil
}

func equalIgnoreHash(a, b *corev1.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	delete(a.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	delete(b.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	return apiequality.Semantic.DeepEqual(a, b)
}

// updateRevisionObserved reports whether a StatefulSet's
// status.updateRevision names the ControllerRevision of its current
// template: only once the controller has seen that template.
func updateRevisionObserved(sts *appsv1.StatefulSet) bool {
	return sts.Status.UpdateRevision != "" && sts.Status.ObservedGeneration >= sts.Generation
}
