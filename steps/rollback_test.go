package steps

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kube-release/kube-release/internal/release"
)

func (f *fixture) rollback(cfg RollbackConfig) (Result, error) {
	f.t.Helper()
	f.prepare(&cfg.Release, &cfg.Namespace, &cfg.Timeout, &cfg.FailFast, &cfg.FailFastAfter)
	return NewRollback(cfg, f.env).Run(context.Background())
}

func (f *fixture) declarativeHistory(name string) release.History {
	f.t.Helper()
	h, err := release.NewSecretStore(f.env.Clients.Typed, f.namespace, name).List(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return h
}

// brokenV3 is v2 with images that never become ready and new config.
func brokenV3(t *testing.T) string {
	return variant(t, sampleV2,
		"registry.local/web:2.0.0", "registry.local/web:does-not-exist",
		"registry.local/cache:7.4", "registry.local/cache:does-not-exist",
		"registry.local/log-agent:2.1", "registry.local/log-agent:does-not-exist",
		"hello from v2", "hello from v3",
	)
}

func (f *fixture) deployment(name string) *appsv1.Deployment {
	f.t.Helper()
	d, err := f.env.Clients.Typed.AppsV1().Deployments(f.namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return d
}

// assertRunningV2 checks every workload of the sample runs release 2's
// template and is ready.
func (f *fixture) assertRunningV2(configName string) {
	f.t.Helper()
	ctx := context.Background()
	cs := f.cluster.Clientset(f.t)
	web := f.deployment("web")
	if img := web.Spec.Template.Spec.Containers[0].Image; img != "registry.local/web:2.0.0" {
		f.t.Errorf("web image = %s, want v2's", img)
	}
	if got := web.Spec.Template.Spec.Containers[0].Env[0].ValueFrom.ConfigMapKeyRef.Name; got != configName {
		f.t.Errorf("web config = %s, want %s", got, configName)
	}
	if web.Status.ReadyReplicas != *web.Spec.Replicas || web.Status.UpdatedReplicas != *web.Spec.Replicas {
		f.t.Errorf("web not ready after rollback: %+v", web.Status)
	}
	cache, err := cs.AppsV1().StatefulSets(f.namespace).Get(ctx, "cache", metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	if img := cache.Spec.Template.Spec.Containers[0].Image; img != "registry.local/cache:7.4" {
		f.t.Errorf("cache image = %s, want v2's", img)
	}
	if cache.Status.ReadyReplicas != *cache.Spec.Replicas {
		f.t.Errorf("cache not ready after rollback: %+v", cache.Status)
	}
	agent, err := cs.AppsV1().DaemonSets(f.namespace).Get(ctx, "log-agent", metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	if img := agent.Spec.Template.Spec.Containers[0].Image; img != "registry.local/log-agent:2.1" {
		f.t.Errorf("log-agent image = %s, want v2's", img)
	}
	if agent.Status.NumberReady != agent.Status.DesiredNumberScheduled {
		f.t.Errorf("log-agent not ready after rollback: %+v", agent.Status)
	}
}

// Legacy history: v1, v2, a broken v3; the rollback returns every workload
// to v2's revision, whose versioned config still exists.
func TestRollbackLegacy(t *testing.T) {
	f := newFixture(t)
	for _, dir := range []string{sampleV1, sampleV2} {
		if _, err := f.rolling(RollingConfig{Manifests: []string{dir}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.rolling(RollingConfig{Manifests: []string{brokenV3(t)}}); err == nil {
		t.Fatal("broken v3 deployed")
	}

	res, err := f.rollback(RollbackConfig{})
	if err != nil {
		t.Fatal(err)
	}
	f.assertLog("Previous eligible Release is 2 with status Succeeded.", "Rolling back to release 2", "Release 3 stays Failed (fail_fast)")
	for key, want := range map[string]string{"release_number": "2", "rolled_back_release_number": "3", "status": "Succeeded"} {
		if got := output(res, key); got != want {
			t.Errorf("output %s = %q, want %q", key, got, want)
		}
	}
	f.assertRunningV2("web-config-2")
	cm, err := f.configMap("web-config-2")
	if err != nil || cm.Data["GREETING"] != "hello from v2" {
		t.Errorf("web-config-2 = %v, %v", cm, err)
	}

	h := f.history("sample")
	if h[0].Number != 3 || h[0].Status != release.Failed {
		t.Errorf("release 3 = %s", h[0].Status)
	}
	if last := h.LastSuccessful(4); last == nil || last.Number != 2 {
		t.Errorf("last success = %v, want release 2", last)
	}

	// Rolling back again is harmless: the same target, nothing changes.
	if _, err := f.rollback(RollbackConfig{}); err != nil {
		t.Fatal(err)
	}
	f.assertLog("Rolling back to release 2")
	f.assertRunningV2("web-config-2")

	// Once a new release succeeds, there is nothing to roll back.
	if _, err := f.rolling(RollingConfig{Manifests: []string{sampleV1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.rollback(RollbackConfig{}); err != nil {
		t.Fatal(err)
	}
	f.assertLog("No failed release found. Skipping rollback.")
}

// Declarative history: the rollback re-applies v2's stored manifests, so
// config content returns too; release Secrets are named and labelled as
// Harness does, and cleanup keeps only the allowed number.
func TestRollbackDeclarative(t *testing.T) {
	f := newFixture(t)
	for _, dir := range []string{sampleV1, sampleV2, sampleV1, sampleV2} {
		if _, err := f.rolling(RollingConfig{Manifests: []string{dir}, Declarative: true}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.rolling(RollingConfig{Manifests: []string{brokenV3(t)}, Declarative: true}); err == nil {
		t.Fatal("broken v3 deployed")
	}
	f.assertLog("Release numbers to be deleted are: 2")
	if cm, err := f.configMap("web-config"); err != nil || cm.Data["GREETING"] != "hello from v3" {
		t.Fatalf("web-config before rollback = %v, %v", cm, err)
	}

	if _, err := f.rollback(RollbackConfig{}); err != nil {
		t.Fatal(err)
	}
	f.assertLog("Rolling back to release 4")
	f.assertRunningV2("web-config")
	if cm, err := f.configMap("web-config"); err != nil || cm.Data["GREETING"] != "hello from v2" {
		t.Errorf("web-config after rollback = %v, %v; want v2's content", cm, err)
	}

	h := f.declarativeHistory("sample")
	if got := numbers(h); len(got) != 3 || got[0] != 5 || got[1] != 4 || got[2] != 3 {
		t.Errorf("release secrets = %v, want [5 4 3]", got)
	}
	if h[0].Status != release.Failed {
		t.Errorf("release 5 = %s, want Failed", h[0].Status)
	}
	s, err := f.secret("harness.release.sample.5")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"owner": "harness", "release": "sample", "release-number": "5", "status": "Failed"}
	for k, v := range want {
		if s.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, s.Labels[k], v)
		}
	}
	if s.Type != "harness.io/release/v2" {
		t.Errorf("secret type = %s", s.Type)
	}
	if _, err := f.configMap("sample"); !apierrors.IsNotFound(err) {
		t.Errorf("declarative mode wrote a legacy history: %v", err)
	}
}

// rollback_to and release_number pick the releases explicitly; bad ones
// are refused before anything changes.
func TestRollbackExplicitReleases(t *testing.T) {
	f := newFixture(t)
	for _, dir := range []string{sampleV2, sampleV1} {
		if _, err := f.rolling(RollingConfig{Manifests: []string{dir}}); err != nil {
			t.Fatal(err)
		}
	}
	// Both releases succeeded: rolling back release 2 on request returns
	// to release 1 (v2's images).
	if _, err := f.rollback(RollbackConfig{ReleaseNumber: 2, RollbackTo: 1}); err != nil {
		t.Fatal(err)
	}
	f.assertLog("Rolling back to release 1")
	f.assertRunningV2("web-config-1")

	for _, tc := range []struct {
		cfg  RollbackConfig
		want string
	}{
		{RollbackConfig{ReleaseNumber: 9}, "release_number 9: release sample has no such release (it has 2,1)"},
		{RollbackConfig{RollbackTo: 7}, "rollback_to 7: release sample has no such release (it has 2,1)"},
		{RollbackConfig{ReleaseNumber: 1, RollbackTo: 2}, "rollback_to 2: must be older than release 1"},
		{RollbackConfig{ReleaseNumber: 3, RollbackTo: 2}, "release_number 3"},
	} {
		_, err := f.rollback(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.cfg, err, tc.want)
		}
	}
	// rollback_to a release that is not Succeeded is refused.
	store := release.NewConfigMapStore(f.env.Clients.Typed, f.namespace, "sample")
	one := f.history("sample").Get(1)
	one.Status = release.Failed
	if err := store.Update(context.Background(), one); err != nil {
		t.Fatal(err)
	}
	_, err := f.rollback(RollbackConfig{ReleaseNumber: 2, RollbackTo: 1})
	if err == nil || !strings.Contains(err.Error(), "release 1 is Failed; only a Succeeded release can be returned to") {
		t.Errorf("rollback_to a failed release: %v", err)
	}
}

func TestRollbackEdgeCases(t *testing.T) {
	f := newFixture(t)
	res, err := f.rollback(RollbackConfig{})
	if err != nil {
		t.Fatal(err)
	}
	f.assertLog("No release history found for release sample")
	if output(res, "status") != "Skipped" {
		t.Errorf("status = %s", output(res, "status"))
	}

	// A failed first release has nothing to return to; keep leaves it.
	if _, err := f.rolling(RollingConfig{Manifests: []string{brokenV3(t)}}); err == nil {
		t.Fatal("broken deployed")
	}
	if _, err := f.rollback(RollbackConfig{}); err != nil {
		t.Fatal(err)
	}
	f.assertLog("No previous eligible release found. Can't rollback.")
	if _, err := f.env.Clients.Typed.AppsV1().Deployments(f.namespace).Get(context.Background(), "web", metav1.GetOptions{}); err != nil {
		t.Errorf("keep deleted the deployment: %v", err)
	}
}

// on_first_failure: delete removes what the failed first release created
// and nothing that existed before it.
func TestRollbackFirstFailureDelete(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cs := f.cluster.Clientset(t)
	// A Service the release also declares, created beforehand by someone
	// else: the release configures it but must never delete it.
	pre := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"owner": "someone-else"}},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}, Selector: map[string]string{"app": "web"}},
	}
	if _, err := cs.CoreV1().Services(f.namespace).Create(ctx, pre, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.rolling(RollingConfig{Manifests: []string{brokenV3(t)}}); err == nil {
		t.Fatal("broken deployed")
	}
	if _, err := f.rollback(RollbackConfig{OnFirstFailure: OnFirstFailureDelete}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.AppsV1().Deployments(f.namespace).Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("deployment the release created: %v, want deleted", err)
	}
	if _, err := f.configMap("web-config-1"); !apierrors.IsNotFound(err) {
		t.Errorf("configmap the release created: %v, want deleted", err)
	}
	if _, err := cs.CoreV1().Services(f.namespace).Get(ctx, "web", metav1.GetOptions{}); err != nil {
		t.Errorf("pre-existing service was deleted: %v", err)
	}
	if h := f.history("sample"); h[0].Status != release.Failed {
		t.Errorf("release 1 = %s, want Failed", h[0].Status)
	}
}

// Pruning deletes what the new release dropped; rolling back re-creates it.
func TestPruningAndItsRollback(t *testing.T) {
	f := newFixture(t)
	extra := writeManifests(t, map[string]string{"extra.yaml": `
apiVersion: v1
kind: ConfigMap
metadata: {name: extra}
data: {a: b}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: keeper
  annotations: {harness.io/skipPruning: "true"}
data: {a: b}
`})
	cfg := RollingConfig{Manifests: []string{sampleV1, extra}, Declarative: true, Pruning: true}
	if _, err := f.rolling(cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Manifests = []string{sampleV2}
	if _, err := f.rolling(cfg); err != nil {
		t.Fatal(err)
	}
	f.assertLog("Pruned ConfigMap/" + f.namespace + "/extra")
	if _, err := f.configMap("extra"); !apierrors.IsNotFound(err) {
		t.Errorf("extra after pruning: %v, want deleted", err)
	}
	if _, err := f.configMap("keeper"); err != nil {
		t.Errorf("skipPruning object was pruned: %v", err)
	}

	// Rolling back release 2 re-creates what it pruned.
	if _, err := f.rollback(RollbackConfig{ReleaseNumber: 2, Pruning: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.configMap("extra"); err != nil {
		t.Errorf("rollback did not re-create the pruned object: %v", err)
	}
}
