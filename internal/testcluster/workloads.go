package testcluster

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Images whose pods kwok runs as named (stages.yaml): ready at once, or
// failing on purpose.
const (
	GoodImage  = "registry.local/app:1"
	GoodImage2 = "registry.local/app:2"
	// MissingImage sits in ImagePullBackOff, never Ready.
	MissingImage = "registry.local/app:does-not-exist"
	// CrashImage goes into CrashLoopBackOff, never Ready.
	CrashImage = "registry.local/app:crashloop"
	// Exit1Image runs and fails with exit code 1 (in a Job).
	Exit1Image = "registry.local/app:exit-1"
)

// PodTemplate is a one-container pod template labelled app=<app>.
func PodTemplate(app, image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
	}
}

func appSelector(app string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}
}

// Deployment is a Deployment of image, labelled and selected app=<name>.
func Deployment(name, image string, replicas int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: appSelector(name),
			Template: PodTemplate(name, image),
		},
	}
}

// StatefulSet is a StatefulSet of image whose pods start in parallel.
func StatefulSet(name, image string, replicas int32) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            ptr.To(replicas),
			ServiceName:         name,
			PodManagementPolicy: appsv1.ParallelPodManagement,
			Selector:            appSelector(name),
			Template:            PodTemplate(name, image),
		},
	}
}

// DaemonSet is a DaemonSet of image.
func DaemonSet(name, image string) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DaemonSetSpec{
			Selector: appSelector(name),
			Template: PodTemplate(name, image),
		},
	}
}

// Job is a Job of image that is never retried.
func Job(name, image string) *batchv1.Job {
	tmpl := PodTemplate(name, image)
	tmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       batchv1.JobSpec{BackoffLimit: ptr.To[int32](0), Template: tmpl},
	}
}
