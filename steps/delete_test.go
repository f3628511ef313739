package steps

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func (f *fixture) delete(cfg DeleteConfig) (Result, error) {
	f.t.Helper()
	var failFast bool
	var failFastAfter = cfg.Timeout + 1 // prepare's fail-fast defaults are not the delete's
	f.prepare(nil, &cfg.Namespace, &cfg.Timeout, &failFast, &failFastAfter)
	return NewDelete(cfg, f.env).Run(context.Background())
}

// deletable is a release's Deployment, Service and ConfigMap, named
// prefix-web and prefix-settings.
func deletable(prefix string) string {
	return `
apiVersion: v1
kind: ConfigMap
metadata: {name: ` + prefix + `-settings}
data: {mode: on}
---
apiVersion: v1
kind: Service
metadata: {name: ` + prefix + `-web}
spec:
  selector: {app: ` + prefix + `-web}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ` + prefix + `-web}
spec:
  replicas: 1
  selector: {matchLabels: {app: ` + prefix + `-web}}
  template:
    metadata: {labels: {app: ` + prefix + `-web}}
    spec:
      containers:
      - name: app
        image: registry.local/app:1
        envFrom: [{configMapRef: {name: ` + prefix + `-settings}}]
`
}

// exists reports whether the object of resource (configmaps, services,
// deployments) and name is in the fixture's namespace.
func (f *fixture) exists(resource, name string) bool {
	f.t.Helper()
	gvr := schema.GroupVersionResource{Version: "v1", Resource: resource}
	if resource == "deployments" {
		gvr.Group = "apps"
	}
	_, err := f.env.Clients.Metadata.Resource(gvr).Namespace(f.namespace).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return true
}

// Objects named by Kind/name: what exists is deleted, what does not is
// success, and with a release, another release's object is spared. A
// retried step deletes nothing more and succeeds.
func TestDeleteResources(t *testing.T) {
	f := newFixture(t)
	for _, rel := range []string{"one", "two"} {
		dir := writeManifests(t, map[string]string{"app.yaml": deletable(rel)})
		if _, err := f.rolling(RollingConfig{Release: rel, Manifests: []string{dir}, SkipResourceVersioning: true}); err != nil {
			t.Fatal(err)
		}
	}

	cfg := DeleteConfig{Release: "one", Resources: []string{"Service/one-web", "Deployment/nope", "service/two-web", f.namespace + "/Deployment/one-web"}}
	res, err := f.delete(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.assertLog("Deployment/"+f.namespace+"/nope not found: already deleted",
		"Service/"+f.namespace+"/two-web not deleted: it belongs to release "+f.namespace+"/two",
		"Deleted 2 objects of 4 (1 not found)")
	for key, want := range map[string]string{OutputRelease: "one", OutputStatus: "Succeeded", OutputDeleted: "2"} {
		if got := output(res, key); got != want {
			t.Errorf("output %s = %q, want %q", key, got, want)
		}
	}
	if f.exists("services", "one-web") || f.exists("deployments", "one-web") {
		t.Error("one-web is still there")
	}
	if !f.exists("services", "two-web") || !f.exists("configmaps", "one-settings") {
		t.Error("the delete reached beyond what it was asked for")
	}

	// The step retried: all gone, success, nothing deleted.
	res, err = f.delete(cfg)
	if err != nil || output(res, OutputDeleted) != "0" {
		t.Fatalf("retried delete: deleted %s, %v", output(res, OutputDeleted), err)
	}

	// Without a release, what is named goes, whoever owns it.
	if res, err := f.delete(DeleteConfig{Resources: []string{"Service/two-web"}}); err != nil || output(res, OutputDeleted) != "1" {
		t.Fatalf("delete without release: deleted %s, %v", output(res, OutputDeleted), err)
	}
	if f.exists("services", "two-web") {
		t.Error("two-web is still there")
	}
}

// What the step refuses before it deletes anything: a kind the cluster
// does not serve (a typo must not pass for "already gone"), an object of
// another namespace, a cluster-scoped object the release's history does
// not name, and a name that is not Kind/name.
func TestDeleteRefuses(t *testing.T) {
	f := newFixture(t)
	dir := writeManifests(t, map[string]string{"app.yaml": deletable("app")})
	if _, err := f.rolling(RollingConfig{Release: "app", Manifests: []string{dir}, SkipResourceVersioning: true}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		resources []string
		wantErr   string
	}{
		{"typo", []string{"Service/app-web", "Deploymnet/app-web"},
			"Deploymnet " + f.namespace + "/app-web: the cluster serves no such kind: Deploymnet"},
		{"other namespace", []string{"Service/app-web", "kube-system/Deployment/coredns"},
			`"kube-system/Deployment/coredns" names an object outside namespace ` + f.namespace},
		{"cluster-scoped", []string{"Service/app-web", "ClusterRole/admin"},
			"ClusterRole admin is cluster-scoped, outside namespace " + f.namespace},
		{"namespace", []string{"Namespace/" + f.namespace},
			"is cluster-scoped, outside namespace " + f.namespace},
		{"not a name", []string{"app-web"}, `"app-web" is not Kind/name`},
	} {
		res, err := f.delete(DeleteConfig{Release: "app", Resources: tc.resources})
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: error = %v, want %q", tc.name, err, tc.wantErr)
		}
		if output(res, OutputStatus) != "Failed" || output(res, OutputDeleted) != "0" {
			t.Errorf("%s: outputs %v", tc.name, res.Outputs)
		}
		if !f.exists("services", "app-web") {
			t.Fatalf("%s: a refused delete deleted app-web", tc.name)
		}
	}
}

// The objects of the release's history, every release of it: the
// versioned ConfigMaps of older releases too. Another release's stay, and
// so does the history.
func TestDeleteReleaseObjects(t *testing.T) {
	f := newFixture(t)
	for _, image := range []string{"registry.local/app:1", "registry.local/app:2"} {
		dir := writeManifests(t, map[string]string{"app.yaml": strings.ReplaceAll(deletable("app"), "registry.local/app:1", image)})
		if _, err := f.rolling(RollingConfig{Release: "app", Manifests: []string{dir}}); err != nil {
			t.Fatal(err)
		}
	}
	other := writeManifests(t, map[string]string{"app.yaml": deletable("other")})
	if _, err := f.rolling(RollingConfig{Release: "other", Manifests: []string{other}}); err != nil {
		t.Fatal(err)
	}
	if !f.exists("configmaps", "app-settings-1") || !f.exists("configmaps", "app-settings-2") {
		t.Fatal("the versioned ConfigMaps are not there")
	}

	res, err := f.delete(DeleteConfig{Release: "app", ReleaseObjects: true})
	if err != nil {
		t.Fatal(err)
	}
	f.assertLog("Deleting the objects of release app, releases")
	for _, o := range []struct{ kind, name string }{
		{"deployments", "app-web"}, {"services", "app-web"}, {"configmaps", "app-settings-1"}, {"configmaps", "app-settings-2"},
	} {
		if f.exists(o.kind, o.name) {
			t.Errorf("%s %s is still there", o.kind, o.name)
		}
	}
	if output(res, OutputDeleted) != "4" {
		t.Errorf("deleted = %s, want 4", output(res, OutputDeleted))
	}
	if !f.exists("deployments", "other-web") || !f.exists("configmaps", "other-settings-1") {
		t.Error("another release's objects were deleted")
	}
	if len(f.history("app")) != 2 {
		t.Error("the history was touched")
	}

	// The release deploys again afterwards.
	dir := writeManifests(t, map[string]string{"app.yaml": deletable("app")})
	if res, err := f.rolling(RollingConfig{Release: "app", Manifests: []string{dir}}); err != nil || output(res, OutputReleaseNumber) != "3" {
		t.Fatalf("deploy after delete: release %s, %v", output(res, OutputReleaseNumber), err)
	}
}

// The objects that manifests render to, as apply renders them; a second
// run finds them gone and succeeds.
func TestDeleteManifests(t *testing.T) {
	f := newFixture(t)
	dir := writeManifests(t, map[string]string{"app.yaml": deletable("loose")})
	if _, err := f.apply(ApplyConfig{Manifests: []string{dir}}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := f.delete(DeleteConfig{Manifests: []string{dir}}); err != nil {
			t.Fatal(err)
		}
	}
	f.assertLog("Deleted 0 objects of 3 (3 not found)")
	if f.exists("deployments", "loose-web") || f.exists("services", "loose-web") || f.exists("configmaps", "loose-settings") {
		t.Error("objects of the manifests are still there")
	}
}
