// Package rollout waits for workloads to reach steady state, reads their
// rollout revisions and rolls them back to a recorded revision.
//
// Readiness follows kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status), the
// same rules kubectl-like tools and Flux use, with two stricter points: an
// apps/v1 workload is never done before its controller has observed the
// latest generation, and a Job is done only once it is Complete.
package rollout

import (
	"context"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/kube-release/kube-release/internal/kube/typed"
	"github.com/kube-release/kube-release/internal/object"
)

// The kinds this package knows.
const (
	KindDeployment  = "Deployment"
	KindStatefulSet = "StatefulSet"
	KindDaemonSet   = "DaemonSet"
	KindJob         = "Job"
)

// ErrUnsupportedKind is returned for a workload of a kind other than
// Deployment, StatefulSet, DaemonSet or Job (Job only where it makes sense).
var ErrUnsupportedKind = errors.New("unsupported kind")

// A workload is named by an object.Ref of kind Deployment, StatefulSet,
// DaemonSet or Job. Their groups are fixed, so a Ref from a record that holds
// no group (Harness's history) names them as well.

func validate(w object.Ref) error {
	switch w.Kind {
	case KindDeployment, KindStatefulSet, KindDaemonSet, KindJob:
	default:
		return fmt.Errorf("%s: %w (want Deployment, StatefulSet, DaemonSet or Job)", w, ErrUnsupportedKind)
	}
	if w.Namespace == "" || w.Name == "" {
		return fmt.Errorf("%s: namespace and name are required", w)
	}
	return nil
}

// watchFunc opens a watch on the workload's kind in its namespace.
type watchFunc func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)

func watchFuncOf(w object.Ref, client typed.Interface) watchFunc {
	switch w.Kind {
	case KindDeployment:
		return client.AppsV1().Deployments(w.Namespace).Watch
	case KindStatefulSet:
		return client.AppsV1().StatefulSets(w.Namespace).Watch
	case KindDaemonSet:
		return client.AppsV1().DaemonSets(w.Namespace).Watch
	case KindJob:
		return client.BatchV1().Jobs(w.Namespace).Watch
	}
	return nil
}

// Get reads the workload as its typed object: *appsv1.Deployment,
// *appsv1.StatefulSet, *appsv1.DaemonSet or *batchv1.Job.
func Get(ctx context.Context, client typed.Interface, w object.Ref) (runtime.Object, error) {
	opts := metav1.GetOptions{}
	switch w.Kind {
	case KindDeployment:
		return client.AppsV1().Deployments(w.Namespace).Get(ctx, w.Name, opts)
	case KindStatefulSet:
		return client.AppsV1().StatefulSets(w.Namespace).Get(ctx, w.Name, opts)
	case KindDaemonSet:
		return client.AppsV1().DaemonSets(w.Namespace).Get(ctx, w.Name, opts)
	case KindJob:
		return client.BatchV1().Jobs(w.Namespace).Get(ctx, w.Name, opts)
	}
	return nil, fmt.Errorf("%s: %w", w, ErrUnsupportedKind)
}
