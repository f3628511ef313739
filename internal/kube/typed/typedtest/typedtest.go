// Package typedtest adapts client-go's clientset, and so its fake, to
// typed.Interface, for tests of pure logic. It links the whole clientset:
// only tests import it.
package typedtest

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kube-release/kube-release/internal/kube/typed"
)

// Wrap returns cs as a typed.Interface.
func Wrap(cs kubernetes.Interface) typed.Interface { return clientset{cs} }

type clientset struct{ cs kubernetes.Interface }

func (c clientset) CoreV1() typed.CoreV1                 { return core(c) }
func (c clientset) AppsV1() typed.AppsV1                 { return apps(c) }
func (c clientset) BatchV1() typed.BatchV1               { return batch(c) }
func (c clientset) CoordinationV1() typed.CoordinationV1 { return coordination(c) }

type core clientset

func (c core) ConfigMaps(ns string) typed.Client[*corev1.ConfigMap, *corev1.ConfigMapList] {
	return c.cs.CoreV1().ConfigMaps(ns)
}

func (c core) Secrets(ns string) typed.Client[*corev1.Secret, *corev1.SecretList] {
	return c.cs.CoreV1().Secrets(ns)
}

func (c core) Pods(ns string) typed.PodClient { return c.cs.CoreV1().Pods(ns) }

func (c core) Events(ns string) typed.Client[*corev1.Event, *corev1.EventList] {
	return c.cs.CoreV1().Events(ns)
}

type apps clientset

func (c apps) Deployments(ns string) typed.Client[*appsv1.Deployment, *appsv1.DeploymentList] {
	return c.cs.AppsV1().Deployments(ns)
}

func (c apps) StatefulSets(ns string) typed.Client[*appsv1.StatefulSet, *appsv1.StatefulSetList] {
	return c.cs.AppsV1().StatefulSets(ns)
}

func (c apps) DaemonSets(ns string) typed.Client[*appsv1.DaemonSet, *appsv1.DaemonSetList] {
	return c.cs.AppsV1().DaemonSets(ns)
}

func (c apps) ReplicaSets(ns string) typed.Client[*appsv1.ReplicaSet, *appsv1.ReplicaSetList] {
	return c.cs.AppsV1().ReplicaSets(ns)
}

func (c apps) ControllerRevisions(ns string) typed.Client[*appsv1.ControllerRevision, *appsv1.ControllerRevisionList] {
	return c.cs.AppsV1().ControllerRevisions(ns)
}

type batch clientset

func (c batch) Jobs(ns string) typed.Client[*batchv1.Job, *batchv1.JobList] {
	return c.cs.BatchV1().Jobs(ns)
}

type coordination clientset

func (c coordination) Leases(ns string) typed.Client[*coordinationv1.Lease, *coordinationv1.LeaseList] {
	return c.cs.CoordinationV1().Leases(ns)
}
