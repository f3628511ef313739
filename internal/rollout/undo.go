package rollout

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/polymorphichelpers"
)

// ErrRevisionNotFound means the workload has no revision with the number
// asked for: its ReplicaSet or ControllerRevision was cleaned up (see
// revisionHistoryLimit) or never existed.
var ErrRevisionNotFound = errors.New("revision not found")

// Undo rolls a Deployment, StatefulSet or DaemonSet back to the pod template
// of a revision, exactly as `kubectl rollout undo --to-revision=<revision>`
// does, by calling kubectl's own Rollbacker (k8s.io/kubectl/pkg/
// polymorphichelpers):
//   - Deployment: the template of the ReplicaSet annotated with that
//     revision, without its pod-template-hash label, is patched into the
//     Deployment with the ReplicaSet's annotations; a paused Deployment is
//     refused;
//   - StatefulSet, DaemonSet: the ControllerRevision with that revision
//     holds a strategic merge patch of the template, which is applied.
//
// The controller then rolls out the old template as a new revision (the
// number after the highest). When the template already matches, nothing
// is changed. The message is kubectl's: "rolled back" or "skipped rollback
// (current template already matches revision <n>)". Wait for the workload
// afterwards to see the rollback through.
//
// revision must be at least 1: kubectl reads 0 as "the previous revision",
// which a release history never means. kubectl's code takes no context, so
// ctx is checked before it runs and bounds only the requests made here.
func Undo(ctx context.Context, client kubernetes.Interface, w Workload, revision int64) (string, error) {
	if err := w.validate(); err != nil {
		return "", err
	}
	if w.Kind == KindJob {
		return "", fmt.Errorf("%s: undo: %w", w, ErrUnsupportedKind)
	}
	if revision < 1 {
		return "", fmt.Errorf("%s: undo: invalid revision %d", w, revision)
	}
	rollbacker, err := polymorphichelpers.RollbackerFor(schema.GroupKind{Group: "apps", Kind: w.Kind}, client)
	if err != nil {
		return "", fmt.Errorf("%s: undo: %w", w, err)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("%s: undo: %w", w, err)
	}
	// The Rollbacker needs only the name and namespace of the object; it
	// reads the rest itself.
	obj := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: w.Namespace, Name: w.Name}}
	msg, err := rollbacker.Rollback(obj, nil, revision, cmdutil.DryRunNone)
	if err == nil {
		return msg, nil
	}
	// kubectl's errors are plain strings; tell a missing revision apart by
	// asking which revisions exist (only on this failure path).
	if revs, lerr := revisions(ctx, client, w); lerr == nil && !slices.Contains(revs, revision) {
		return "", fmt.Errorf("%s: undo to revision %d: %w (existing revisions: %s)", w, revision, ErrRevisionNotFound, formatRevisions(revs))
	}
	return "", fmt.Errorf("%s: undo to revision %d: %w", w, revision, err)
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
