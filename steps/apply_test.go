package steps

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kube-release/kube-release/internal/release"
	"github.com/kube-release/kube-release/internal/rollout"
)

func (f *fixture) apply(cfg ApplyConfig) (Result, error) {
	f.t.Helper()
	f.prepare(nil, &cfg.Namespace, &cfg.Timeout, &cfg.FailFast, &cfg.FailFastAfter)
	return NewApply(cfg, f.env).Run(context.Background())
}

// assertNoRelease checks that nothing recorded a release of name: neither
// the legacy ConfigMap nor a declarative Secret.
func (f *fixture) assertNoRelease(name string) {
	f.t.Helper()
	if _, err := f.configMap(name); !apierrors.IsNotFound(err) {
		f.t.Errorf("configmap %s (legacy history) exists after apply: %v", name, err)
	}
	secrets, err := f.env.Clients.Typed.CoreV1().Secrets(f.namespace).List(context.Background(), release.SecretListOptions(name))
	if err != nil {
		f.t.Fatal(err)
	}
	if len(secrets.Items) > 0 {
		f.t.Errorf("apply recorded %d declarative releases", len(secrets.Items))
	}
}

func job(name, image string) string {
	return `
apiVersion: batch/v1
kind: Job
metadata:
  name: ` + name + `
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: task
        image: ` + image + `
`
}

// A Job is waited for until Complete; one whose pod exits 1 fails the step
// (backoffLimit 0: no retry). Neither records a release.
func TestApplyJobs(t *testing.T) {
	f := newFixture(t)
	ok := writeManifests(t, map[string]string{"migrate.yaml": job("migrate", "registry.local/task:1")})
	res, err := f.apply(ApplyConfig{Release: "sample", Manifests: []string{ok}})
	if err != nil {
		t.Fatal(err)
	}
	f.assertLog("Job/"+f.namespace+"/migrate created", "Job/"+f.namespace+"/migrate complete", "Applied 1 objects; 1 workloads reached steady state")
	for key, want := range map[string]string{
		OutputStatus:  "Succeeded",
		OutputApplied: "1",
		OutputChanges: "Job/" + f.namespace + "/migrate created",
		OutputImages:  "registry.local/task:1",
	} {
		if got := output(res, key); got != want {
			t.Errorf("output %s = %q, want %q", key, got, want)
		}
	}
	j, err := f.env.Clients.Typed.BatchV1().Jobs(f.namespace).Get(context.Background(), "migrate", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if j.Status.Succeeded != 1 {
		t.Errorf("job status %+v", j.Status)
	}

	failing := writeManifests(t, map[string]string{"broken.yaml": job("broken", "registry.local/task:exit-1")})
	start := time.Now()
	res, err = f.apply(ApplyConfig{Release: "sample", Manifests: []string{failing}, Timeout: 2 * time.Minute})
	if err == nil {
		t.Fatal("a Job that fails succeeded")
	}
	if !errors.Is(err, rollout.ErrFailed) || !strings.Contains(err.Error(), "Job/"+f.namespace+"/broken") {
		t.Errorf("error = %v, want the Job failed", err)
	}
	if took := time.Since(start); took > time.Minute {
		t.Errorf("failing Job took %s to report", took)
	}
	if got := output(res, OutputStatus); got != "Failed" {
		t.Errorf("status = %q, want Failed", got)
	}
	f.assertNoRelease("sample")
}

// skip_steady_state_check returns once applied, even for a workload that
// will never be ready, and still records no release.
func TestApplySkipSteadyStateCheck(t *testing.T) {
	f := newFixture(t)
	dir := writeManifests(t, map[string]string{"app.yaml": `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: never-ready
spec:
  replicas: 1
  selector: {matchLabels: {app: never-ready}}
  template:
    metadata: {labels: {app: never-ready}}
    spec: {containers: [{name: app, image: registry.local/app:does-not-exist}]}
`})
	start := time.Now()
	res, err := f.apply(ApplyConfig{Release: "sample", Manifests: []string{dir}, SkipSteadyStateCheck: true, SkipDryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("apply without waiting took %s", took)
	}
	f.assertLog("Not waiting for 1 workloads (skip_steady_state_check)", "Applied 1 objects")
	if strings.Contains(f.log.String(), "Dry run passed") {
		t.Error("skip_dry_run still ran the dry run")
	}
	if got := output(res, OutputStatus); got != "Succeeded" {
		t.Errorf("status = %q", got)
	}
	if _, err := f.env.Clients.Typed.AppsV1().Deployments(f.namespace).Get(context.Background(), "never-ready", metav1.GetOptions{}); err != nil {
		t.Errorf("deployment not applied: %v", err)
	}
	f.assertNoRelease("sample")

	// The controller writes the new Deployment's status a few times; an
	// apply whose dry run and write straddle one of those reports it
	// configured. Wait until the controller has reported the stuck pod.
	err = wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := f.env.Clients.Typed.AppsV1().Deployments(f.namespace).Get(ctx, "never-ready", metav1.GetOptions{})
		return err == nil && d.Status.ObservedGeneration >= d.Generation && d.Status.UnavailableReplicas == 1, err
	})
	if err != nil {
		t.Fatal(err)
	}

	// The same manifests again: unchanged, and no release either.
	res, err = f.apply(ApplyConfig{Manifests: []string{dir}, SkipSteadyStateCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := output(res, OutputChanges); got != "Deployment/"+f.namespace+"/never-ready unchanged" {
		t.Errorf("changes = %q", got)
	}
	f.assertNoRelease("sample")
}

// Templates see the values files merged in order and the newest release
// number of the history; a values.yaml among the manifests is not applied;
// image overrides apply to every workload and show in the outputs.
func TestApplyRendersTemplates(t *testing.T) {
	f := newFixture(t)
	if _, err := f.rolling(RollingConfig{Release: "shop", Manifests: []string{sampleV1}}); err != nil {
		t.Fatal(err)
	}
	dir := writeManifests(t, map[string]string{
		"values.yaml":      "name: shop\nreplicas: 1\nlogLevel: info\n",
		"prod.values.yaml": "replicas: 2\nlogLevel: warn\n",
		"app.yaml": `
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Values.name }}-settings
data:
  LOG_LEVEL: {{ .Values.logLevel | quote }}
  RELEASE: "{{ .Release.Name }}/{{ .Release.Number }}"
  NAMESPACE: {{ .Release.Namespace }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Values.name }}
spec:
  replicas: {{ int .Values.replicas }}
  selector: {matchLabels: {app: {{ .Values.name }}}}
  template:
    metadata: {labels: {app: {{ .Values.name }}}}
    spec:
      initContainers: [{name: init, image: registry.local/init:1}]
      containers: [{name: app, image: registry.local/shop:1.0.0}]
`,
	})
	res, err := f.apply(ApplyConfig{
		Release:   "shop",
		Manifests: []string{dir},
		Render: RenderConfig{
			Values: []string{filepath.Join(dir, "values.yaml"), filepath.Join(dir, "prod.values.yaml")},
			Images: []string{"registry.local/shop=registry.local/shop:1.1.0", "registry.local/init:2"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	cm, err := f.configMap("shop-settings")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"LOG_LEVEL": "warn", "RELEASE": "shop/1", "NAMESPACE": f.namespace}
	for k, v := range want {
		if cm.Data[k] != v {
			t.Errorf("configmap %s = %q, want %q", k, cm.Data[k], v)
		}
	}
	d, err := f.env.Clients.Typed.AppsV1().Deployments(f.namespace).Get(context.Background(), "shop", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 2 {
		t.Errorf("replicas %d, want 2 from prod.values.yaml", *d.Spec.Replicas)
	}
	if got := d.Spec.Template.Spec.Containers[0].Image; got != "registry.local/shop:1.1.0" {
		t.Errorf("image %s", got)
	}
	if got := d.Spec.Template.Spec.InitContainers[0].Image; got != "registry.local/init:2" {
		t.Errorf("init image %s", got)
	}
	if got := output(res, OutputImages); got != "registry.local/shop:1.1.0,registry.local/init:2" {
		t.Errorf("images output %q", got)
	}
	if got := output(res, OutputApplied); got != "2" {
		t.Errorf("applied %q, want 2: the values files are not objects", got)
	}
	f.assertLog("Rendered 2 objects", "ConfigMap/"+f.namespace+"/shop-settings", "Deployment/"+f.namespace+"/shop")
	if h := f.history("shop"); len(h) != 1 {
		t.Errorf("apply changed the history: %v", numbers(h))
	}

	// A missing value is an error naming the file and line, before
	// anything is applied.
	broken := writeManifests(t, map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.nmae }}\n"})
	_, err = f.apply(ApplyConfig{Manifests: []string{broken}, Render: RenderConfig{Values: []string{filepath.Join(dir, "values.yaml")}}})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(broken, "cm.yaml")+`: line 4: template: .Values.nmae: map has no entry for key "nmae"`) {
		t.Errorf("error = %v", err)
	}

	// skip_rendering applies "{{" as it is.
	literal := writeManifests(t, map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: alert\ndata:\n  summary: '{{ $labels.instance }} is down'\n"})
	if _, err := f.apply(ApplyConfig{Manifests: []string{literal}, Render: RenderConfig{SkipRendering: true}}); err != nil {
		t.Fatal(err)
	}
	cm, err = f.configMap("alert")
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["summary"] != "{{ $labels.instance }} is down" {
		t.Errorf("summary %q", cm.Data["summary"])
	}
}

// A kustomize overlay is built and applied, and an image override still
// wins over the overlay's own image.
func TestApplyKustomizeOverlay(t *testing.T) {
	f := newFixture(t)
	res, err := f.apply(ApplyConfig{
		Manifests: []string{"../testdata/kustomize/overlays/prod"},
		Render:    RenderConfig{Images: []string{"registry.local/shop:1.2.0"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := f.env.Clients.Typed.AppsV1().Deployments(f.namespace).Get(context.Background(), "prod-shop", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 2 || d.Spec.Template.Spec.Containers[0].Image != "registry.local/shop:1.2.0" {
		t.Errorf("deployment replicas %d image %s", *d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Image)
	}
	if got := output(res, OutputApplied); got != "3" {
		t.Errorf("applied %q, want 3", got)
	}
	f.assertLog("Deployment/" + f.namespace + "/prod-shop ready at revision 1")
}

// image_pull_secrets reach the pod spec of what is deployed.
func TestApplyImagePullSecrets(t *testing.T) {
	f := newFixture(t)
	dir := writeManifests(t, map[string]string{"app.yaml": deletable("pull")})
	if _, err := f.apply(ApplyConfig{Manifests: []string{dir}, Render: RenderConfig{ImagePullSecrets: []string{"registry", "mirror"}}}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range f.deployment("pull-web").Spec.Template.Spec.ImagePullSecrets {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "registry,mirror" {
		t.Errorf("imagePullSecrets = %v, want registry, mirror", names)
	}
}
