package steps

import (
	"context"
	"strconv"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kube-release/kube-release/internal/manifest"
)

func (f *fixture) scale(cfg ScaleConfig) (Result, error) {
	f.t.Helper()
	f.prepare(&cfg.Release, &cfg.Namespace, &cfg.Timeout, &cfg.FailFast, &cfg.FailFastAfter)
	return NewScale(cfg, f.env).Run(context.Background())
}

// scaleFixture is a Deployment and a StatefulSet named prefix-web and
// prefix-db, with replicas each.
func scaleFixture(prefix string, web, db int) string {
	return `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ` + prefix + `-web
spec:
  replicas: ` + strconv.Itoa(web) + `
  selector: {matchLabels: {app: ` + prefix + `-web}}
  template:
    metadata: {labels: {app: ` + prefix + `-web}}
    spec: {containers: [{name: app, image: registry.local/app:1}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: ` + prefix + `-db
spec:
  serviceName: ` + prefix + `-db
  replicas: ` + strconv.Itoa(db) + `
  selector: {matchLabels: {app: ` + prefix + `-db}}
  template:
    metadata: {labels: {app: ` + prefix + `-db}}
    spec: {containers: [{name: db, image: registry.local/db:1}]}
`
}

// deployScalable deploys scaleFixture(prefix, ...) as release rel.
func (f *fixture) deployScalable(rel, prefix string, web, db int) {
	f.t.Helper()
	dir := writeManifests(f.t, map[string]string{"app.yaml": scaleFixture(prefix, web, db)})
	if _, err := f.rolling(RollingConfig{Release: rel, Manifests: []string{dir}}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) statefulSetReplicas(name string) (spec, ready int32) {
	f.t.Helper()
	s, err := f.env.Clients.Typed.AppsV1().StatefulSets(f.namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return *s.Spec.Replicas, s.Status.ReadyReplicas
}

// A count, and percentages of the replicas the workload has when the
// step starts, rounded half up and at least 1; the step waits until the
// workload has that many ready.
func TestScaleByCountAndPercentage(t *testing.T) {
	f := newFixture(t)
	f.deployScalable("sample", "app", 4, 3)

	for _, tc := range []struct {
		workload, instances string
		from, to            int
	}{
		{"Deployment/app-web", "1%", 4, 1},
		{"Deployment/app-web", "4", 1, 4},
		{"Deployment/app-web", "50%", 4, 2},
		{"StatefulSet/app-db", "50%", 3, 2}, // 1.5 rounds up
		{f.namespace + "/StatefulSet/app-db", "150%", 2, 3},
		{"Deployment/app-web", "0%", 2, 0},
		{"StatefulSet/app-db", "0", 3, 0},
	} {
		res, err := f.scale(ScaleConfig{Workload: tc.workload, Instances: tc.instances})
		if err != nil {
			t.Fatalf("scale %s to %s: %v", tc.workload, tc.instances, err)
		}
		kindName := tc.workload[strings.Index(tc.workload, "/")+1:]
		if strings.Count(tc.workload, "/") == 1 {
			kindName = tc.workload
		}
		f.assertLog("Scaling "+kindName+" from "+strconv.Itoa(tc.from)+" to "+strconv.Itoa(tc.to)+" instances",
			"Scaled "+kindName+" from "+strconv.Itoa(tc.from)+" to "+strconv.Itoa(tc.to)+" instances")
		for key, want := range map[string]string{OutputRelease: "sample", OutputStatus: "Succeeded", OutputInstances: strconv.Itoa(tc.to)} {
			if got := output(res, key); got != want {
				t.Errorf("scale %s to %s: output %s = %q, want %q", tc.workload, tc.instances, key, got, want)
			}
		}
		var spec, ready int32
		if strings.Contains(tc.workload, "Deployment/") {
			d := f.deployment("app-web")
			spec, ready = *d.Spec.Replicas, d.Status.ReadyReplicas
		} else {
			spec, ready = f.statefulSetReplicas("app-db")
		}
		if int(spec) != tc.to || int(ready) != tc.to {
			t.Errorf("scale %s to %s: replicas %d, ready %d, want %d", tc.workload, tc.instances, spec, ready, tc.to)
		}
		if !strings.Contains(res.Summary, "| Instances after | "+strconv.Itoa(tc.to)+" |") {
			t.Errorf("summary:\n%s", res.Summary)
		}
	}

	// skip_steady_state_check scales and returns.
	res, err := f.scale(ScaleConfig{Workload: "Deployment/app-web", Instances: "2", SkipSteadyStateCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	f.assertLog("Not waiting for Deployment/app-web (skip_steady_state_check)")
	if strings.Contains(f.log.String(), "Waiting for") {
		t.Error("skip_steady_state_check still waited")
	}
	if got := *f.deployment("app-web").Spec.Replicas; got != 2 || output(res, OutputInstances) != "2" {
		t.Errorf("replicas %d, instances output %q, want 2", got, output(res, OutputInstances))
	}
}

// A workload Harness deployed carries no owner annotations: the release's
// history naming it makes it the release's. Another release's history
// does not.
func TestScaleWorkloadNamedInHistory(t *testing.T) {
	f := newFixture(t)
	f.deployScalable("sample", "app", 2, 1)
	patch := `{"metadata":{"annotations":{"` + manifest.OwnerNameAnnotation + `":null,"` + manifest.OwnerNamespaceAnnotation + `":null}}}`
	if _, err := f.env.Clients.Typed.AppsV1().Deployments(f.namespace).Patch(context.Background(), "app-web", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.deployment("app-web").Annotations[manifest.OwnerNameAnnotation]; ok {
		t.Fatal("the owner annotation is still there")
	}

	_, err := f.scale(ScaleConfig{Release: "other", Workload: "Deployment/app-web", Instances: "3"})
	if err == nil || !strings.Contains(err.Error(), "Deployment "+f.namespace+"/app-web is not a workload of release other") {
		t.Errorf("error = %v, want not a workload of release other", err)
	}
	if got := *f.deployment("app-web").Spec.Replicas; got != 2 {
		t.Errorf("a refused scale changed the replicas to %d", got)
	}

	res, err := f.scale(ScaleConfig{Release: "sample", Workload: "Deployment/app-web", Instances: "3"})
	if err != nil {
		t.Fatal(err)
	}
	if got := *f.deployment("app-web").Spec.Replicas; got != 3 || output(res, OutputInstances) != "3" {
		t.Errorf("replicas %d, instances %q, want 3", got, output(res, OutputInstances))
	}
}

// What the step refuses, each with an error that names the workload, and
// nothing changed: a workload that does not exist, one of another
// release, one of no release, a kind that cannot be scaled, and settings
// it cannot read.
func TestScaleRefuses(t *testing.T) {
	f := newFixture(t)
	f.deployScalable("one", "one", 1, 1)
	f.deployScalable("two", "two", 1, 1)
	loose := writeManifests(t, map[string]string{"app.yaml": scaleFixture("loose", 1, 1)})
	if _, err := f.apply(ApplyConfig{Manifests: []string{loose}}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name               string
		release, workload  string
		instances, wantErr string
		unchanged          string // a Deployment whose replicas must stay 1
	}{
		{name: "missing", release: "one", workload: "Deployment/nope", instances: "2",
			wantErr: "Deployment " + f.namespace + "/nope does not exist"},
		{name: "another release's", release: "two", workload: "Deployment/one-web", instances: "2",
			wantErr: "Deployment " + f.namespace + "/one-web belongs to release " + f.namespace + "/one, not to release " + f.namespace + "/two", unchanged: "one-web"},
		{name: "no release's", release: "one", workload: "Deployment/loose-web", instances: "2",
			wantErr: "Deployment " + f.namespace + "/loose-web is not a workload of release one", unchanged: "loose-web"},
		{name: "Job", release: "one", workload: "Job/migrate", instances: "2",
			wantErr: "workload Job/migrate: only a Deployment or StatefulSet can be scaled, not a Job"},
		{name: "DaemonSet", release: "one", workload: "DaemonSet/agent", instances: "2",
			wantErr: "only a Deployment or StatefulSet can be scaled, not a DaemonSet"},
		{name: "no kind", release: "one", workload: "one-web", instances: "2",
			wantErr: `workload: "one-web" is not Kind/name`},
		{name: "other namespace", release: "one", workload: "elsewhere/Deployment/one-web", instances: "2",
			wantErr: "outside namespace " + f.namespace, unchanged: "one-web"},
		{name: "bad instances", release: "one", workload: "Deployment/one-web", instances: "half",
			wantErr: `instances: "half" is not a count (3) or a percentage (50%)`, unchanged: "one-web"},
		{name: "fraction", release: "one", workload: "Deployment/one-web", instances: "12.5%",
			wantErr: `instances: "12.5%" is not a count`, unchanged: "one-web"},
		{name: "negative", release: "one", workload: "Deployment/one-web", instances: "-1",
			wantErr: `instances: "-1" is not a count`, unchanged: "one-web"},
	} {
		res, err := f.scale(ScaleConfig{Release: tc.release, Workload: tc.workload, Instances: tc.instances})
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: error = %v, want %q", tc.name, err, tc.wantErr)
		}
		for key, want := range map[string]string{OutputRelease: tc.release, OutputStatus: "Failed", OutputInstances: ""} {
			if got := output(res, key); got != want {
				t.Errorf("%s: output %s = %q, want %q", tc.name, key, got, want)
			}
		}
		if tc.unchanged != "" {
			if got := *f.deployment(tc.unchanged).Spec.Replicas; got != 1 {
				t.Errorf("%s: a refused scale changed %s to %d replicas", tc.name, tc.unchanged, got)
			}
		}
		if strings.Contains(f.log.String(), "Scaling ") {
			t.Errorf("%s: a refused scale logged that it scales", tc.name)
		}
	}
}

// A percentage is of the replicas, rounded half up, at least 1 but for
// 0%.
func TestScaledCount(t *testing.T) {
	for _, tc := range []struct {
		percent, current int
		want             int64
	}{
		{50, 4, 2},
		{50, 3, 2},  // 1.5 rounds up
		{50, 5, 3},  // 2.5 rounds up
		{50, 1, 1},  // 0.5 rounds up
		{1, 4, 1},   // 0.04: at least 1
		{10, 0, 1},  // at least 1, even of none
		{0, 7, 0},   // 0% scales to 0
		{33, 10, 3}, // 3.3 rounds down
		{35, 10, 4}, // 3.5 rounds up
		{100, 7, 7},
		{200, 3, 6},
		{150, 3, 5}, // 4.5 rounds up
	} {
		if got := scaledCount(tc.percent, tc.current); got != tc.want {
			t.Errorf("%d%% of %d = %d, want %d", tc.percent, tc.current, got, tc.want)
		}
	}
}

func TestParseInstances(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    instances
		wantErr bool
	}{
		{in: "3", want: instances{n: 3}},
		{in: " 3 ", want: instances{n: 3}},
		{in: "0", want: instances{n: 0}},
		{in: "50%", want: instances{n: 50, percent: true}},
		{in: "50 %", want: instances{n: 50, percent: true}},
		{in: "0%", want: instances{n: 0, percent: true}},
		{in: "", wantErr: true},
		{in: "%", wantErr: true},
		{in: "-1", wantErr: true},
		{in: "+1", wantErr: true},
		{in: "1.5", wantErr: true},
		{in: "50%%", wantErr: true},
		{in: "three", wantErr: true},
		{in: "99999999999", wantErr: true},
	} {
		got, err := parseInstances(tc.in)
		if (err != nil) != tc.wantErr || (err == nil && got != tc.want) {
			t.Errorf("parseInstances(%q) = %+v, %v", tc.in, got, err)
		}
	}
	// The count a percentage gives must fit a workload's replicas.
	if _, err := (instances{n: 1 << 30, percent: true}).of(1 << 30); err == nil {
		t.Error("a count above what replicas holds was accepted")
	}
	if n, err := (instances{n: 5}).of(100); err != nil || n != 5 {
		t.Errorf("a count of 5 of 100 replicas = %d, %v", n, err)
	}
}

func TestParseObjectName(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    objectName
		wantErr string
	}{
		{in: "Deployment/web", want: objectName{Kind: "Deployment", Name: "web"}},
		{in: " Deployment/web ", want: objectName{Kind: "Deployment", Name: "web"}},
		{in: "prod/Deployment/web", want: objectName{Kind: "Deployment", Namespace: "prod", Name: "web"}},
		{in: "Deployment/prod/web", want: objectName{Kind: "Deployment", Namespace: "prod", Name: "web"}},
		{in: "Widget.example.com/gizmo", want: objectName{Group: "example.com", Kind: "Widget", Name: "gizmo"}},
		{in: "ClusterRole/system:reader", want: objectName{Kind: "ClusterRole", Name: "system:reader"}},
		{in: "web", wantErr: "is not Kind/name"},
		{in: "Deployment/", wantErr: "is not Kind/name"},
		{in: "/web", wantErr: "is not Kind/name"},
		{in: "a/b/c/d", wantErr: "is not Kind/name"},
		{in: "Deploy ment/web", wantErr: "is not Kind/name"},
		{in: "staging/Deployment/web", wantErr: "outside namespace prod"},
		{in: ".apps/web", wantErr: "is not a kind"},
	} {
		got, err := parseObjectName(tc.in, "prod")
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parseObjectName(%q) = %+v, %v, want an error with %q", tc.in, got, err, tc.wantErr)
			}
		case err != nil || got != tc.want:
			t.Errorf("parseObjectName(%q) = %+v, %v, want %+v", tc.in, got, err, tc.want)
		}
	}
}
