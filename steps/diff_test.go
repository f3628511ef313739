package steps

import (
	"context"
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func (f *fixture) diff(cfg DiffConfig) (Result, error) {
	f.t.Helper()
	f.resetLog()
	cfg.Namespace = f.namespace
	if cfg.Timeout == 0 {
		cfg.Timeout = time.Minute
	}
	return NewDiff(cfg, f.env).Run(context.Background())
}

// diffApp is an app of a ConfigMap, a Secret and a Deployment; the
// arguments are what its versions change.
func diffApp(logLevel, password, image string) string {
	return `
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
data:
  LOG_LEVEL: ` + logLevel + `
---
apiVersion: v1
kind: Secret
metadata:
  name: app-secret
type: Opaque
stringData:
  user: admin
  password: ` + password + `
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  replicas: 1
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers:
      - name: app
        image: ` + image + `
        envFrom:
        - configMapRef: {name: app-config}
        - secretRef: {name: app-secret}
`
}

const extraConfigMap = `
apiVersion: v1
kind: ConfigMap
metadata:
  name: extra
data:
  FEATURE: "on"
`

// The diff step prints a unified diff per changed object and the summary,
// masks Secret values (a changed one shows as changed), changes nothing,
// and with detailed_exitcode ends in exit code 3 without being an error.
func TestDiffStep(t *testing.T) {
	f := newFixture(t)
	const oldPassword, newPassword = "hunter2-old", "hunter2-new"
	base := writeManifests(t, map[string]string{"app.yaml": diffApp("info", oldPassword, "registry.local/app:1")})
	if _, err := f.apply(ApplyConfig{Manifests: []string{base}}); err != nil {
		t.Fatal(err)
	}

	changed := writeManifests(t, map[string]string{
		"app.yaml":   diffApp("warn", newPassword, "registry.local/app:1"),
		"extra.yaml": extraConfigMap,
	})
	res, err := f.diff(DiffConfig{Manifests: []string{changed}, DetailedExitCode: true, Render: RenderConfig{Images: []string{"registry.local/app:2"}}})
	var found *ChangesFound
	if !errors.As(err, &found) || found.ExitCode() != 3 || !found.Quiet() {
		t.Fatalf("error = %v, want ChangesFound (exit code 3, quiet)", err)
	}
	for key, want := range map[string]string{
		OutputChangesFound: "true",
		OutputToCreate:     "1",
		OutputToChange:     "3",
		OutputUnchanged:    "0",
		OutputChanges: strings.Join([]string{
			"Secret/" + f.namespace + "/app-secret change",
			"ConfigMap/" + f.namespace + "/app-config change",
			"ConfigMap/" + f.namespace + "/extra create",
			"Deployment/" + f.namespace + "/app change",
		}, "\n"),
	} {
		if got := output(res, key); got != want {
			t.Errorf("output %s = %q, want %q", key, got, want)
		}
	}
	log := f.log.String()
	for _, secret := range []string{oldPassword, newPassword, "admin", b64(oldPassword), b64(newPassword), b64("admin")} {
		if strings.Contains(log, secret) || strings.Contains(res.Summary, secret) {
			t.Errorf("the diff shows secret value %q", secret)
		}
	}
	golden(t, "diff-step.log", strings.ReplaceAll(log, f.namespace, "NAMESPACE"))

	// Nothing changed on the cluster.
	if _, err := f.configMap("extra"); !apierrors.IsNotFound(err) {
		t.Errorf("diff created configmap extra: %v", err)
	}
	cm, err := f.configMap("app-config")
	if err != nil || cm.Data["LOG_LEVEL"] != "info" {
		t.Errorf("diff changed app-config: %v %v", cm.Data, err)
	}

	// Without changes: exit 0 even with detailed_exitcode.
	res, err = f.diff(DiffConfig{Manifests: []string{base}, DetailedExitCode: true})
	if err != nil {
		t.Fatal(err)
	}
	if output(res, OutputChangesFound) != "false" || output(res, OutputUnchanged) != "3" || output(res, OutputChanges) != "" {
		t.Errorf("outputs without changes: %v", res.Outputs)
	}
	f.assertLog("Diff: 0 to create, 0 to change, 3 unchanged")

	// With changes but without detailed_exitcode: exit 0.
	if _, err := f.diff(DiffConfig{Manifests: []string{changed}}); err != nil {
		t.Errorf("diff without detailed_exitcode: %v", err)
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// The diff of a whole kustomized app that is not deployed yet: every object
// to create, nothing created.
func TestDiffMicroservicesDemo(t *testing.T) {
	f := newFixture(t)
	res, err := f.diff(DiffConfig{Manifests: []string{"../testdata/microservices-demo"}, DetailedExitCode: true})
	var found *ChangesFound
	if !errors.As(err, &found) {
		t.Fatalf("error = %v, want ChangesFound", err)
	}
	if got := found.Summary.String(); got != "33 to create, 0 to change, 0 unchanged" {
		t.Errorf("summary %s", got)
	}
	if !strings.HasSuffix(output(res, OutputChanges), "more") && len(output(res, OutputChanges)) > changesOutputLimit {
		t.Errorf("changes output is %d bytes", len(output(res, OutputChanges)))
	}
	if _, err := f.env.Clients.Typed.AppsV1().Deployments(f.namespace).Get(context.Background(), "frontend", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("diff created the frontend deployment: %v", err)
	}
}

// diff: true on a rolling deploy prints the diff before applying, with the
// release's versioned names, and the image override shows in it and in
// the outputs. Templates see the new release's number.
func TestRollingDiffImagesAndTemplates(t *testing.T) {
	f := newFixture(t)
	if _, err := f.rolling(RollingConfig{Manifests: []string{sampleV1}}); err != nil {
		t.Fatal(err)
	}
	res, err := f.rolling(RollingConfig{
		Manifests: []string{sampleV2},
		Diff:      true,
		Render:    RenderConfig{Images: []string{"registry.local/web:2.0.1"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.assertLog(
		"Deployment/"+f.namespace+"/web: change",
		"-        image: registry.local/web:1.0.0",
		"+        image: registry.local/web:2.0.1",
		"ConfigMap/"+f.namespace+"/web-config-2: create",
		"Secret/"+f.namespace+"/web-secret-2: create",
		"Diff: ",
	)
	// The references follow the versioned names, in every place they occur.
	for _, re := range []string{`(?m)^-\s+name: web-config-1$`, `(?m)^\+\s+name: web-config-2$`} {
		if !regexp.MustCompile(re).MatchString(f.log.String()) {
			t.Errorf("the diff lacks a line matching %s", re)
		}
	}
	if strings.Contains(f.log.String(), "v2-not-a-real-key") {
		t.Error("the diff shows a Secret value")
	}
	log := f.log.String()
	if strings.Index(log, "Diff: ") > strings.Index(log, "Applied ") {
		t.Error("the diff was printed after the apply")
	}
	if got := output(res, OutputImages); !strings.Contains(got, "registry.local/web:2.0.1") || strings.Contains(got, "registry.local/web:2.0.0") {
		t.Errorf("images output %q", got)
	}

	dir := writeManifests(t, map[string]string{"cm.yaml": `
apiVersion: v1
kind: ConfigMap
metadata:
  name: numbered
data:
  RELEASE: "{{ .Release.Name }}-{{ .Release.Number }}"
`})
	if _, err := f.rolling(RollingConfig{Manifests: []string{dir}}); err != nil {
		t.Fatal(err)
	}
	cm, err := f.configMap("numbered-3")
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["RELEASE"] != "sample-3" {
		t.Errorf("RELEASE = %q, want sample-3: templates see the new release's number", cm.Data["RELEASE"])
	}
}
