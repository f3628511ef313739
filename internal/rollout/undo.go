package rollout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kube-release/kube-release/internal/kube/typed"
	"github.com/kube-release/kube-release/internal/object"
)

// ErrRevisionNotFound means the workload has no revision with the number
// asked for: its ReplicaSet or ControllerRevision was cleaned up (see
// revisionHistoryLimit) or never existed.
var ErrRevisionNotFound = errors.New("revision not found")

// The messages of `kubectl rollout undo`, which Undo returns too.
const (
	rolledBack      = "rolled back"
	rollbackSkipped = "skipped rollback"
)

// Undo rolls a Deployment, StatefulSet or DaemonSet back to the pod template
// of a revision, as `kubectl rollout undo --to-revision=<revision>` does
// (the Rollbackers of k8s.io/kubectl/pkg/polymorphichelpers, whose steps
// and patches this repeats, so that a rollback by either tool leaves the
// same object):
//   - Deployment: the template of the ReplicaSet annotated with that
//     revision, without its pod-template-hash label, replaces the
//     Deployment's, and the ReplicaSet's annotations its annotations (a
//     JSON patch); a paused Deployment is refused;
//   - StatefulSet, DaemonSet: the ControllerRevision with that revision
//     holds a strategic merge patch replacing the template, which is
//     applied.
//
// The controller then rolls out the old template as a new revision (the
// number after the highest). When the template already matches, nothing
// is changed. The message is kubectl's: "rolled back" or "skipped rollback
// (current template already matches revision <n>)". Wait for the workload
// afterwards to see the rollback through.
//
// revision must be at least 1: kubectl reads 0 as "the previous revision",
// which a release history never means.
func Undo(ctx context.Context, client typed.Interface, w object.Ref, revision int64) (string, error) {
	if err := validate(w); err != nil {
		return "", err
	}
	if w.Kind == KindJob {
		return "", fmt.Errorf("%s: undo: %w", w, ErrUnsupportedKind)
	}
	if revision < 1 {
		return "", fmt.Errorf("%s: undo: invalid revision %d", w, revision)
	}
	msg, err := undo(ctx, client, w, revision)
	if err != nil {
		return "", fmt.Errorf("%s: undo to revision %d: %w", w, revision, err)
	}
	return msg, nil
}

func undo(ctx context.Context, client typed.Interface, w object.Ref, revision int64) (string, error) {
	obj, err := Get(ctx, client, w)
	if err != nil {
		return "", err
	}
	switch o := obj.(type) {
	case *appsv1.Deployment:
		rss, err := OwnedReplicaSets(ctx, client, o)
		if err != nil {
			return "", fmt.Errorf("replica sets: %w", err)
		}
		var target *appsv1.ReplicaSet
		var revs []int64
		for _, rs := range rss {
			n, err := strconv.ParseInt(rs.Annotations[RevisionAnnotation], 10, 64)
			if err != nil {
				continue
			}
			revs = append(revs, n)
			if n == revision {
				target = rs
			}
		}
		if target == nil {
			// A rollback to an existing ReplicaSet renumbers it, and the
			// controller keeps its former numbers in revision-history:
			// an undo that was interrupted, or one that already ran,
			// still finds the template it returned to.
			target = renumbered(rss, revision)
		}
		if target == nil {
			return "", notFound(revs)
		}
		if o.Spec.Paused {
			return "", errors.New("the Deployment is paused: resume it first (kubectl rollout resume) and try again")
		}
		if equalIgnoreHash(&target.Spec.Template, &o.Spec.Template) {
			return skippedMessage(revision), nil
		}
		patch, err := deploymentPatch(o, target)
		if err != nil {
			return "", err
		}
		if _, err := client.AppsV1().Deployments(o.Namespace).Patch(ctx, o.Name, types.JSONPatchType, patch, metav1.PatchOptions{}); err != nil {
			return "", err
		}
		return rolledBack, nil

	case *appsv1.StatefulSet:
		return undoFromHistory(ctx, client, o, o.Spec.Selector, revision, func(patch []byte) error {
			_, err := client.AppsV1().StatefulSets(o.Namespace).Patch(ctx, o.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			return err
		})
	case *appsv1.DaemonSet:
		return undoFromHistory(ctx, client, o, o.Spec.Selector, revision, func(patch []byte) error {
			_, err := client.AppsV1().DaemonSets(o.Namespace).Patch(ctx, o.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			return err
		})
	}
	return "", fmt.Errorf("%T: %w", obj, ErrUnsupportedKind)
}

// undoFromHistory rolls a StatefulSet or DaemonSet back: its
// ControllerRevision of that revision holds the patch to apply.
func undoFromHistory(ctx context.Context, client typed.Interface, owner metav1.Object, selector *metav1.LabelSelector, revision int64, apply func(patch []byte) error) (string, error) {
	history, err := ownedRevisions(ctx, client, owner, selector)
	if err != nil {
		return "", fmt.Errorf("controller revisions: %w", err)
	}
	i := slices.IndexFunc(history, func(cr *appsv1.ControllerRevision) bool { return cr.Revision == revision })
	if i < 0 {
		revs := make([]int64, len(history))
		for j, cr := range history {
			revs[j] = cr.Revision
		}
		return "", notFound(revs)
	}
	current, err := templatePatch(owner)
	if err != nil {
		return "", err
	}
	if bytes.Equal(current, history[i].Data.Raw) {
		return skippedMessage(revision), nil
	}
	if err := apply(history[i].Data.Raw); err != nil {
		return "", err
	}
	return rolledBack, nil
}

// RevisionHistoryAnnotation lists the former revision numbers of a
// ReplicaSet that a rollout to its template again made current.
const RevisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"

// renumbered returns the ReplicaSet that once had revision, or nil.
func renumbered(rss []*appsv1.ReplicaSet, revision int64) *appsv1.ReplicaSet {
	want := strconv.FormatInt(revision, 10)
	for _, rs := range rss {
		if slices.Contains(strings.Split(rs.Annotations[RevisionHistoryAnnotation], ","), want) {
			return rs
		}
	}
	return nil
}

func skippedMessage(revision int64) string {
	return fmt.Sprintf("%s (current template already matches revision %d)", rollbackSkipped, revision)
}

func notFound(revs []int64) error {
	slices.Sort(revs)
	return fmt.Errorf("%w (existing revisions: %s)", ErrRevisionNotFound, formatRevisions(revs))
}

// deploymentAnnotationsKept are the Deployment's own annotations a
// rollback keeps; the others come from the ReplicaSet of the revision
// (annotationsToSkip in kubectl's rollback.go).
var deploymentAnnotationsKept = []string{
	corev1.LastAppliedConfigAnnotation,
	RevisionAnnotation,
	RevisionHistoryAnnotation,
	"deployment.kubernetes.io/desired-replicas",
	"deployment.kubernetes.io/max-replicas",
	appsv1.DeprecatedRollbackTo,
}

// deploymentPatch is kubectl's: a JSON patch that replaces the template
// with the ReplicaSet's, minus its pod-template-hash label, and the
// annotations with the ReplicaSet's, keeping the Deployment's own
// bookkeeping ones.
func deploymentPatch(d *appsv1.Deployment, rs *appsv1.ReplicaSet) ([]byte, error) {
	template := rs.Spec.Template.DeepCopy()
	delete(template.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	annotations := map[string]string{}
	for _, k := range deploymentAnnotationsKept {
		if v, ok := d.Annotations[k]; ok {
			annotations[k] = v
		}
	}
	for k, v := range rs.Annotations {
		if !slices.Contains(deploymentAnnotationsKept, k) {
			annotations[k] = v
		}
	}
	return json.Marshal([]any{
		map[string]any{"op": "replace", "path": "/spec/template", "value": template},
		map[string]any{"op": "replace", "path": "/metadata/annotations", "value": annotations},
	})
}

func formatRevisions(revs []int64) string {
	if len(revs) == 0 {
		return "none"
	}
	s := make([]string, len(revs))
	for i, r := range revs {
		s[i] = strconv.FormatInt(r, 10)
	}
	return strings.Join(s, ", ")
}
