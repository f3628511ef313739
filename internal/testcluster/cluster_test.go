package testcluster

import (
	"context"
	"os"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

func TestMain(m *testing.M) { os.Exit(Run(m)) }

func podTemplate(image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "t"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
	}
}

func deployment(name, image string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "t"}},
			Template: podTemplate(image),
		},
	}
}

func poll(t *testing.T, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, time.Minute, true, cond)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// The test bed itself: pods of a healthy image become Ready, a missing image
// is stuck in ImagePullBackOff, and a Job's pods complete or fail by image.
func TestControlPlane(t *testing.T) {
	c := Shared(t)
	cs := c.Clientset(t)
	ctx := context.Background()

	t.Run("deployment becomes available", func(t *testing.T) {
		ns := c.Namespace(t)
		_, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment("web", "registry.local/web:1"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		poll(t, "deployment available", func(ctx context.Context) (bool, error) {
			d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
			return err == nil && d.Status.AvailableReplicas == 2 && d.Status.UpdatedReplicas == 2, err
		})
	})

	t.Run("missing image stays in ImagePullBackOff", func(t *testing.T) {
		ns := c.Namespace(t)
		_, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment("broken", "registry.local/web:does-not-exist"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		poll(t, "pod waiting in ImagePullBackOff", func(ctx context.Context) (bool, error) {
			return podWaiting(ctx, cs, ns, "ImagePullBackOff")
		})
	})

	t.Run("crashloop image", func(t *testing.T) {
		ns := c.Namespace(t)
		_, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment("crash", "registry.local/web:crashloop"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		poll(t, "pod waiting in CrashLoopBackOff", func(ctx context.Context) (bool, error) {
			return podWaiting(ctx, cs, ns, "CrashLoopBackOff")
		})
	})

	t.Run("daemonset runs on every node", func(t *testing.T) {
		ns := c.Namespace(t)
		ds := &appsv1.DaemonSet{
			ObjectMeta: metav1.ObjectMeta{Name: "agent"},
			Spec: appsv1.DaemonSetSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "t"}},
				Template: podTemplate("registry.local/agent:1"),
			},
		}
		if _, err := cs.AppsV1().DaemonSets(ns).Create(ctx, ds, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		poll(t, "daemonset ready on 2 nodes", func(ctx context.Context) (bool, error) {
			d, err := cs.AppsV1().DaemonSets(ns).Get(ctx, "agent", metav1.GetOptions{})
			return err == nil && d.Status.NumberReady == 2, err
		})
	})

	for _, tc := range []struct {
		image string
		want  batchv1.JobConditionType
	}{
		{"registry.local/task:1", batchv1.JobComplete},
		{"registry.local/task:exit-1", batchv1.JobFailed},
	} {
		t.Run("job "+tc.image, func(t *testing.T) {
			ns := c.Namespace(t)
			tmpl := podTemplate(tc.image)
			tmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
			job := &batchv1.Job{
				ObjectMeta: metav1.ObjectMeta{Name: "task"},
				Spec:       batchv1.JobSpec{BackoffLimit: ptr.To[int32](0), Template: tmpl},
			}
			if _, err := cs.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			poll(t, "job "+string(tc.want), func(ctx context.Context) (bool, error) {
				j, err := cs.BatchV1().Jobs(ns).Get(ctx, "task", metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				for _, cond := range j.Status.Conditions {
					if cond.Type == tc.want && cond.Status == corev1.ConditionTrue {
						return true, nil
					}
				}
				return false, nil
			})
		})
	}
}

func podWaiting(ctx context.Context, cs kubernetes.Interface, ns, reason string) (bool, error) {
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return false, err
	}
	for _, p := range pods.Items {
		for _, s := range p.Status.ContainerStatuses {
			if s.State.Waiting != nil && s.State.Waiting.Reason == reason {
				return true, nil
			}
		}
	}
	return false, nil
}
