package e2e

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kube-release/kube-release/internal/release"
)

// canaryApp is the manifests of an app at version v: a Deployment of 4
// replicas with an HPA, a PDB and a ConfigMap it reads, and a Service.
func canaryApp(v int, image string) string {
	if image == "" {
		image = fmt.Sprintf("registry.local/web:%d", v)
	}
	return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: web-config}
data: {version: "%d"}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: %s
        envFrom: [{configMapRef: {name: web-config}}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 8
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: web}}
`, v, image)
}

// canaryStep runs a step of the canary pipeline on version v.
func (r *bgRun) canaryStep(t *testing.T, step string, v int, image string, extra map[string]string, wantCode int) (string, string) {
	t.Helper()
	manifests := ""
	if step == "canary" || step == "rolling" {
		manifests = writeFile(t, fmt.Sprintf("v%d.yaml", v), canaryApp(v, image))
	}
	outputs := writeFile(t, step+".env", "")
	env := r.env(step, manifests, map[string]string{"DRONE_OUTPUT": outputs, "PLUGIN_FAIL_FAST_AFTER": "3s"})
	for k, val := range extra {
		env[k] = val
	}
	res := kubeRelease(t, env)
	if res.code != wantCode {
		t.Fatalf("%s (version %d): exit %d, want %d\n%s", step, v, res.code, wantCode, res.out)
	}
	return res.out, readOutput(t, outputs)
}

// deployment is the image and replicas of a Deployment, "" and 0 when it
// does not exist.
func (r *bgRun) deployment(t *testing.T, name string) (string, int32) {
	t.Helper()
	d, err := r.cs.AppsV1().Deployments(r.ns).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return d.Spec.Template.Spec.Containers[0].Image, *d.Spec.Replicas
}

// wantNoCanary checks that no canary object is left.
func (r *bgRun) wantNoCanary(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if image, _ := r.deployment(t, "web-canary"); image != "" {
		t.Errorf("Deployment web-canary left behind (%s)", image)
	}
	if _, err := r.cs.AutoscalingV2().HorizontalPodAutoscalers(r.ns).Get(ctx, "web-canary", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("HPA web-canary left behind: %v", err)
	}
	if _, err := r.cs.PolicyV1().PodDisruptionBudgets(r.ns).Get(ctx, "web-canary", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("PDB web-canary left behind: %v", err)
	}
}

// A canary by percentage and by count beside a stable workload of 4, then
// canary delete and the rolling deploy that completes the release, in both
// history modes. The stable Deployment was deployed before any canary, so
// its selector has no track key: the rolling phase leaves it so.
func TestCanaryPipeline(t *testing.T) {
	for _, declarative := range []bool{false, true} {
		t.Run(map[bool]string{false: "legacy", true: "declarative"}[declarative], func(t *testing.T) {
			r := newBGRun(t, declarative)
			r.canaryStep(t, "rolling", 1, "", nil, 0)

			for _, tc := range []struct {
				instances string
				want      int32
				release   int
			}{{"25%", 1, 2}, {"60%", 2, 3}, {"1%", 1, 4}} {
				log, out := r.canaryStep(t, "canary", 2, "", map[string]string{"PLUGIN_INSTANCES": tc.instances}, 0)
				wantOutputs(t, "canary "+tc.instances, out, fmt.Sprintf("release_number=%d", tc.release), "status=InProgress", fmt.Sprintf("target_instances=%d", tc.want))
				if !strings.Contains(out, "canary_workload="+r.ns+"/Deployment/web-canary,") {
					t.Errorf("canary_workload output:\n%s", out)
				}
				for _, line := range []string{"Current replica count is 4", "Canary Workload is: Deployment/web-canary", fmt.Sprintf("Target replica count for Canary is %d", tc.want)} {
					if !strings.Contains(log, line) {
						t.Errorf("canary %s: log lacks %q", tc.instances, line)
					}
				}
				if bumped := strings.Contains(log, "Bumped up to 1"); bumped != (tc.instances == "1%") {
					t.Errorf("canary %s: bumped-up line %v", tc.instances, bumped)
				}
				if image, replicas := r.deployment(t, "web-canary"); image != "registry.local/web:2" || replicas != tc.want {
					t.Errorf("canary %s: web-canary runs %s x%d", tc.instances, image, replicas)
				}
				if image, replicas := r.deployment(t, "web"); image != "registry.local/web:1" || replicas != 4 {
					t.Errorf("canary %s: stable web runs %s x%d", tc.instances, image, replicas)
				}
				r.wantRelease(t, tc.release, release.InProgress, "", "")
			}
			// The older canaries' releases were marked Failed, which the
			// cleanup then drops.
			for _, n := range []int{2, 3} {
				if rel := r.history(t).Get(n); rel != nil && rel.Status != release.Failed {
					t.Errorf("the older canary's release %d is %s", n, rel.Status)
				}
			}
			hpa, err := r.cs.AutoscalingV2().HorizontalPodAutoscalers(r.ns).Get(context.Background(), "web-canary", metav1.GetOptions{})
			if err != nil || hpa.Spec.ScaleTargetRef.Name != "web-canary" {
				t.Errorf("HPA of the canary: %v %+v", err, hpa)
			}
			pdb, err := r.cs.PolicyV1().PodDisruptionBudgets(r.ns).Get(context.Background(), "web-canary", metav1.GetOptions{})
			if err != nil || pdb.Spec.Selector.MatchLabels["harness.io/track"] != "canary" {
				t.Errorf("PDB of the canary: %v %+v", err, pdb)
			}

			r.canaryStep(t, "canary_delete", 0, "", nil, 0)
			r.wantNoCanary(t)
			// A retried canary_delete finds nothing and succeeds.
			r.canaryStep(t, "canary_delete", 0, "", nil, 0)

			_, out := r.canaryStep(t, "rolling", 2, "", nil, 0)
			wantOutputs(t, "rolling after the canary", out, "release_number=4", "status=Succeeded")
			r.wantRelease(t, 4, release.Succeeded, "", "")
			d, err := r.cs.AppsV1().Deployments(r.ns).Get(context.Background(), "web", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if d.Spec.Template.Spec.Containers[0].Image != "registry.local/web:2" || d.Spec.Template.Labels["harness.io/track"] != "stable" {
				t.Errorf("stable web after the rolling phase: %s, pod labels %v", d.Spec.Template.Spec.Containers[0].Image, d.Spec.Template.Labels)
			}
			if _, ok := d.Spec.Selector.MatchLabels["harness.io/track"]; ok {
				t.Errorf("the rolling phase changed the selector of a live Deployment: %v", d.Spec.Selector.MatchLabels)
			}
			// The next deploy is a new release.
			_, out = r.canaryStep(t, "rolling", 3, "", nil, 0)
			wantOutputs(t, "next rolling", out, "release_number=5", "status=Succeeded")
			assertUnlocked(t, r.cs, r.ns, "web")
		})
	}
}

// A canary that never gets ready fails; the rollback deletes it and leaves
// the stable workload and its pods as they were. A canary cancelled in its
// wait leaves nothing behind a rollback either. The next canary pipeline
// then succeeds.
func TestCanaryFailures(t *testing.T) {
	r := newBGRun(t, false)
	r.canaryStep(t, "rolling", 1, "", nil, 0)
	pods := func() string {
		list, err := r.cs.CoreV1().Pods(r.ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=web,!harness.io/track"})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range list.Items {
			names = append(names, p.Name)
		}
		return strings.Join(names, ",")
	}
	before := pods()

	_, out := r.canaryStep(t, "canary", 2, brokenImage, map[string]string{"PLUGIN_INSTANCES": "1"}, 1)
	wantOutputs(t, "broken canary", out, "release_number=2", "status=Failed")
	log, _ := r.canaryStep(t, "rollback", 0, "", nil, 0)
	if !strings.Contains(log, "stable workload was not changed") {
		t.Errorf("rollback log:\n%s", log)
	}
	r.wantNoCanary(t)
	if image, replicas := r.deployment(t, "web"); image != "registry.local/web:1" || replicas != 4 {
		t.Errorf("stable web after the rollback: %s x%d", image, replicas)
	}
	if after := pods(); after != before {
		t.Errorf("stable pods changed: %s, then %s", before, after)
	}
	r.wantRelease(t, 2, release.Failed, "", "")

	env := r.env("canary", writeFile(t, "stuck.yaml", canaryApp(3, brokenImage)), map[string]string{"PLUGIN_INSTANCES": "1"})
	s := start(t, env, "Waiting for 1 workloads")
	s.cmd.Process.Signal(syscall.SIGTERM)
	if code := s.wait(t, time.Minute); code == 0 {
		t.Fatalf("cancelled canary exited 0:\n%s", s.output())
	}
	r.canaryStep(t, "rollback", 0, "", nil, 0)
	r.wantNoCanary(t)

	_, out = r.canaryStep(t, "canary", 4, "", map[string]string{"PLUGIN_INSTANCES": "50%"}, 0)
	wantOutputs(t, "next canary", out, "release_number=4", "target_instances=2")
	r.canaryStep(t, "canary_delete", 0, "", nil, 0)
	_, out = r.canaryStep(t, "rolling", 4, "", nil, 0)
	wantOutputs(t, "next rolling", out, "release_number=4", "status=Succeeded")
	r.wantNoCanary(t)
}

// A canary of a workload that was never deployed is sized from its
// manifest; the rolling phase then creates the stable Deployment, whose
// selector may have the track key.
func TestCanaryFirstDeploy(t *testing.T) {
	r := newBGRun(t, true)
	_, out := r.canaryStep(t, "canary", 1, "", map[string]string{"PLUGIN_INSTANCES": "50%"}, 0)
	wantOutputs(t, "first canary", out, "release_number=1", "target_instances=2")
	r.canaryStep(t, "canary_delete", 0, "", nil, 0)
	_, out = r.canaryStep(t, "rolling", 1, "", nil, 0)
	wantOutputs(t, "rolling", out, "release_number=1", "status=Succeeded")
	d, err := r.cs.AppsV1().Deployments(r.ns).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Spec.Selector.MatchLabels["harness.io/track"] != "stable" {
		t.Errorf("a new stable Deployment's selector: %v", d.Spec.Selector.MatchLabels)
	}
}

// scale and delete as a pipeline runs them: the binary, its settings and
// outputs, and its exit codes for a refused workload, a typo and
// settings that cannot work.
func TestScaleAndDeleteSteps(t *testing.T) {
	r := newBGRun(t, false)
	r.canaryStep(t, "rolling", 1, "", nil, 0)

	_, out := r.canaryStep(t, "scale", 0, "", map[string]string{"PLUGIN_WORKLOAD": "Deployment/web", "PLUGIN_INSTANCES": "50%"}, 0)
	wantOutputs(t, "scale", out, "instances=2", "status=Succeeded")
	if _, replicas := r.deployment(t, "web"); replicas != 2 {
		t.Errorf("web has %d replicas after the scale, want 2", replicas)
	}
	log, _ := r.canaryStep(t, "scale", 0, "", map[string]string{"PLUGIN_WORKLOAD": "Deployment/nope", "PLUGIN_INSTANCES": "1"}, 1)
	if !strings.Contains(log, "Deployment "+r.ns+"/nope does not exist") {
		t.Errorf("scale of a missing workload:\n%s", log)
	}
	log, _ = r.canaryStep(t, "scale", 0, "", map[string]string{"PLUGIN_WORKLOAD": "Deployment/web"}, 2)
	if !strings.Contains(log, "PLUGIN_INSTANCES: required for step \"scale\"") {
		t.Errorf("scale without instances:\n%s", log)
	}

	log, _ = r.canaryStep(t, "delete", 0, "", map[string]string{"PLUGIN_RESOURCES": "HorizontalPodAutoscaler/web,PodDisruptonBudget/web"}, 1)
	if !strings.Contains(log, "the cluster serves no such kind: PodDisruptonBudget") {
		t.Errorf("delete with a typo:\n%s", log)
	}
	if _, err := r.cs.AutoscalingV2().HorizontalPodAutoscalers(r.ns).Get(context.Background(), "web", metav1.GetOptions{}); err != nil {
		t.Fatalf("a refused delete deleted the HPA: %v", err)
	}
	_, out = r.canaryStep(t, "delete", 0, "", map[string]string{"PLUGIN_RESOURCES": "HorizontalPodAutoscaler/web,PodDisruptionBudget/web"}, 0)
	wantOutputs(t, "delete", out, "deleted=2", "status=Succeeded")

	// The next deploy puts back what the manifests hold.
	_, out = r.canaryStep(t, "rolling", 2, "", nil, 0)
	wantOutputs(t, "rolling after scale and delete", out, "release_number=2", "status=Succeeded")
	if _, replicas := r.deployment(t, "web"); replicas != 4 {
		t.Errorf("web has %d replicas after the next deploy, want 4", replicas)
	}
	if _, err := r.cs.AutoscalingV2().HorizontalPodAutoscalers(r.ns).Get(context.Background(), "web", metav1.GetOptions{}); err != nil {
		t.Errorf("the next deploy did not put the HPA back: %v", err)
	}
}

// harnessCanaryState is a namespace as Harness's canary leaves it when
// its pipeline stopped after the canary deploy: stable web of release 1,
// and release 2 InProgress with the web-canary Deployment beside it.
// Nothing of it is written by kube-release.
func (r *bgRun) harnessCanaryState(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	stable := deploymentOf("web", map[string]string{"app": "web"}, "registry.local/web:1")
	canary := deploymentOf("web-canary", map[string]string{"app": "web", "harness.io/track": "canary"}, "registry.local/web:2")
	for _, d := range []*appsv1.Deployment{stable, canary} {
		if _, err := r.cs.AppsV1().Deployments(r.ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if r.declarative {
		for _, rel := range []struct {
			n              int
			status, object string
		}{{1, "Succeeded", "web"}, {2, "InProgress", "web-canary"}} {
			manifests := fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  namespace: %[2]s
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web, harness.io/release-name: web}
    spec:
      containers: [{name: web, image: "registry.local/web:%[3]d"}]
`, rel.object, r.ns, rel.n)
			s := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("harness.release.web.%d", rel.n), Labels: map[string]string{
					"owner": "harness", "release": "web", "release-number": fmt.Sprint(rel.n), "status": rel.status,
				}},
				Type: "harness.io/release/v2",
				Data: map[string][]byte{"release": gzipped(t, manifests)},
			}
			if _, err := r.cs.CoreV1().Secrets(r.ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	history := fmt.Sprintf(`releases: 
- number: 2
  status: InProgress
  managedWorkload: 
    name: web-canary
    kind: Deployment
    namespace: %[1]s
  managedWorkloadRevision: '1'
  resources: 
  - name: web-canary
    kind: Deployment
    namespace: %[1]s
- number: 1
  status: Succeeded
  managedWorkload: 
    name: web
    kind: Deployment
    namespace: %[1]s
  managedWorkloadRevision: '1'
  resources: 
  - name: web
    kind: Deployment
    namespace: %[1]s
version: v1
`, r.ns)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Data: map[string]string{"releaseHistory": history}}
	if _, err := r.cs.CoreV1().ConfigMaps(r.ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// A canary Harness deployed, in either history format, is continued: the
// canary delete finds its canary in the history, the rolling deploy
// completes Harness's release 2, and when that stable phase fails a
// rollback returns the stable workload to release 1.
func TestCanaryContinuesHarnessHistory(t *testing.T) {
	for _, declarative := range []bool{false, true} {
		t.Run(map[bool]string{false: "legacy", true: "declarative"}[declarative], func(t *testing.T) {
			r := newBGRun(t, declarative)
			r.harnessCanaryState(t)

			_, out := r.canaryStep(t, "canary_delete", 0, "", nil, 0)
			wantOutputs(t, "canary_delete", out, "release_number=2", "status=Succeeded")
			r.wantNoCanary(t)

			// The stable phase fails; the rollback returns the stable
			// workload to Harness's release 1.
			_, out = r.canaryStep(t, "rolling", 2, brokenImage, nil, 1)
			wantOutputs(t, "broken rolling", out, "release_number=2", "status=Failed")
			_, out = r.canaryStep(t, "rollback", 0, "", nil, 0)
			wantOutputs(t, "rollback", out, "release_number=1", "rolled_back_release_number=2")
			if image, _ := r.deployment(t, "web"); image != "registry.local/web:1" {
				t.Errorf("stable web after the rollback: %s", image)
			}

			_, out = r.canaryStep(t, "rolling", 3, "", nil, 0)
			wantOutputs(t, "next rolling", out, "release_number=3", "status=Succeeded", "previous_release_number=1")
			if image, _ := r.deployment(t, "web"); image != "registry.local/web:3" {
				t.Errorf("stable web after the next deploy: %s", image)
			}
			r.wantNoCanary(t)
		})
	}
}
