package steps

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/kyaml/kio"

	"github.com/kube-release/kube-release/internal/apply"
	"github.com/kube-release/kube-release/internal/bluegreen"
	"github.com/kube-release/kube-release/internal/diff"
	"github.com/kube-release/kube-release/internal/object"
	"github.com/kube-release/kube-release/internal/release"
)

// Every step's summary, rendered by the step's own result, against a
// golden file in testdata/summary: what a person reads in the CI.
func TestStepSummaries(t *testing.T) {
	web := release.ResourceID{Kind: "Deployment", Name: "web", Namespace: "prod"}
	db := release.ResourceID{Kind: "StatefulSet", Name: "db", Namespace: "prod"}
	rolling := NewRolling(RollingConfig{Release: "web", Namespace: "prod"}, Env{})
	plan := &rollingPlan{
		previous: &release.Release{Number: 4, Status: release.Succeeded},
		images:   []string{"registry.local/web:1.2", "registry.local/proxy:3"},
	}
	succeeded := &release.Release{Number: 5, Status: release.Succeeded,
		Workloads: []release.Workload{{ID: web, Revision: "13"}, {ID: db, Revision: "4"}}}
	failed := &release.Release{Number: 6, Status: release.Failed, Workloads: []release.Workload{{ID: web}}}
	waitErr := errors.New("wait for steady state: Deployment/prod/web: pod web-1: ImagePullBackOff")

	rollback := NewRollback(RollbackConfig{Release: "web", Namespace: "prod"}, Env{})
	current := &stored{Release: failed}
	target := &stored{Release: succeeded}
	evidence := "| Pod | State |\n|---|---|\n| web-1 | waiting: ImagePullBackOff |\n"

	applyStep := NewApply(ApplyConfig{Namespace: "prod"}, Env{})
	cm, deploy := &unstructured.Unstructured{}, &unstructured.Unstructured{}
	res := &apply.Result{Changes: []apply.Change{
		{Ref: object.Ref{Kind: "ConfigMap", Namespace: "prod", Name: "web"}, Action: apply.Created, Object: cm},
		{Ref: object.Ref{Group: "apps", Kind: "Deployment", Namespace: "prod", Name: "web"}, Action: apply.Configured, Object: deploy},
	}}

	legacy, declarative := historyFixture()
	book := release.NewBook(legacy, declarative)
	if err := book.Read(t.Context()); err != nil {
		t.Fatal(err)
	}

	bg := NewBlueGreen(RollingConfig{Release: "web", Namespace: "prod"}, Env{})
	bg.strategy.(*stageDeploy).stage = stageOf(t, bluegreen.LiveService{Name: "web"})
	blue := &release.Release{Number: 1, Status: release.Succeeded, Color: release.Blue, Environment: release.StageEnvironment,
		Workloads: []release.Workload{{ID: release.ResourceID{Kind: "Deployment", Name: "web-blue", Namespace: "prod"}, Revision: "1"}}}
	swap := NewSwap(SwapConfig{Release: "web", Namespace: "prod"}, Env{})
	swapPlan, err := bluegreen.PlanSwap(
		bluegreen.LiveService{Name: "web", Exists: true, Selector: map[string]string{"app": "web", "harness.io/color": "green"}},
		bluegreen.LiveService{Name: "web-stage", Exists: true, Selector: map[string]string{"app": "web", "harness.io/color": "blue"}},
		release.Blue)
	if err != nil {
		t.Fatal(err)
	}

	canary := NewCanary(CanaryConfig{RollingConfig: RollingConfig{Release: "web", Namespace: "prod"}, Instances: "25%"}, Env{})
	canaryNodes, err := kio.FromBytes([]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web-canary, namespace: prod}\n---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web-canary, namespace: prod}\n"))
	if err != nil {
		t.Fatal(err)
	}
	canaryStrategy := canary.strategy.(*canaryDeploy)
	canaryStrategy.workload, canaryStrategy.renamed, canaryStrategy.target = canaryNodes[0], canaryNodes, 1
	canaryRelease := &release.Release{Number: 7, Status: release.InProgress,
		Workloads: []release.Workload{{ID: release.ResourceID{Kind: "Deployment", Name: "web-canary", Namespace: "prod"}, Revision: "1"}}}
	canaryDelete := NewCanaryDelete(CanaryDeleteConfig{SwapConfig: SwapConfig{Release: "web", Namespace: "prod"}}, Env{})
	scale := NewScale(ScaleConfig{Release: "web", Namespace: "prod"}, Env{})
	scaled := &scalePlan{workload: object.Ref{Group: "apps", Kind: "Deployment", Namespace: "prod", Name: "web"}, from: 4, to: 2}
	deleteStep := NewDelete(DeleteConfig{Release: "web", Namespace: "prod"}, Env{})

	for _, tc := range []struct{ name, got string }{
		{"canary", canary.result(&rollingPlan{previous: plan.previous, images: []string{"registry.local/web:1.3"}}, canaryRelease, nil).Summary},
		{"canary-delete", canaryDelete.result(statusSucceeded, canaryRelease, 2, nil).Summary},
		{"scale", scale.result(statusSucceeded, scaled, nil).Summary},
		{"scale-refused", must(scale.failed(nil, errors.New("Deployment prod/web belongs to release prod/api, not to release prod/web: scale it with release api; nothing was changed")))},
		{"delete", deleteStep.result(statusSucceeded, &deletePlan{by: deleteByResources, objects: 3, deleted: 2, notFound: 1}, nil).Summary},
		{"delete-refused", must(deleteStep.failed(&deletePlan{by: deleteByResources}, errors.New("nothing was deleted:\nDeploymnet prod/web: the cluster serves no such kind: Deploymnet (check its spelling, or install its CustomResourceDefinition)")))},
		{"bluegreen-first", bg.result(&rollingPlan{images: []string{"registry.local/web:1"}}, blue, nil).Summary},
		{"swap-succeeded", swap.result(statusSucceeded, blue, swapPlan, nil).Summary},
		{"swap-refused", must(swap.failed(blue, swapPlan, errors.New("service prod/web would select no ready pod (selector app=web,harness.io/color=blue, colour blue has 0 pods, none ready): nothing was changed; deploy blue again, or wait for its pods, before swapping")))},
		{"rolling-succeeded", rolling.result(plan, succeeded, nil).Summary},
		{"rolling-failed", rolling.result(&rollingPlan{}, failed, waitErr).Summary},
		{"rolling-not-recorded", rolling.notRecorded(plan, errors.New(`dry run (nothing was changed): Service prod/web: spec.ports[0].port: Invalid value: 0`)).Summary},
		{"rollback-succeeded", rollback.result(rollbackSucceeded, target, current, evidence).Summary},
		{"rollback-skipped", rollback.result(rollbackSkipped, nil, nil, "").Summary},
		{"rollback-failed", must(rollback.failed(target, current, evidence, errors.New("roll back release 6 to 5: Deployment/prod/web: undo: revision 13 not found")))},
		{"apply-succeeded", applyStep.result(res, []string{"registry.local/web:1.2"}, nil).Summary},
		{"apply-failed", applyStep.result(&apply.Result{}, nil, errors.New("apply: Deployment prod/web: spec.replicas: Invalid value: -1")).Summary},
		{"history", historyMarkdown("web", "prod", historyEntries(book))},
		{"history-empty", historyMarkdown("web", "prod", nil)},
		{"diff", diffSummaryMarkdown("web", "prod", []diff.Object{
			{Name: "ConfigMap/prod/web", Action: diff.Create, Text: "+data:\n+  color: blue\n"},
			{Name: "Deployment/prod/web", Action: diff.Change, Text: "-        image: web:1.1\n+        image: web:1.2\n"},
			{Name: "Service/prod/web", Action: diff.Unchanged},
		}, diff.Summary{Create: 1, Change: 1, Unchanged: 1})},
	} {
		t.Run(tc.name, func(t *testing.T) { golden(t, "summary/"+tc.name+".md", tc.got) })
	}
}

func must(res Result, _ error) string { return res.Summary }

// stageOf prepares the stage deploy of a one-Service app, the primary
// Service as the cluster has it being primary.
func stageOf(t *testing.T, primary bluegreen.LiveService) *bluegreen.Stage {
	t.Helper()
	nodes, err := kio.FromBytes([]byte(`apiVersion: v1
kind: Service
metadata: {name: web, namespace: prod}
spec: {selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: prod}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: registry.local/web:1}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	services, nodes, err := bluegreen.PickServices(nodes)
	if err != nil {
		t.Fatal(err)
	}
	stage, err := bluegreen.PrepareStage(nodes, services, primary, false)
	if err != nil {
		t.Fatal(err)
	}
	return stage
}

// Tables cap their rows, escape pipes and show empty cells as dashes.
func TestSummaryTable(t *testing.T) {
	rows := make([][]string, summaryRowLimit+2)
	for i := range rows {
		rows[i] = []string{"a|b", ""}
	}
	s := summary{Step: "apply", Namespace: "prod", Tables: []table{{Header: []string{"Object", "Change"}, Rows: rows}}}
	md := s.Markdown()
	if !strings.Contains(md, "| a\\|b | – |\n") || !strings.Contains(md, "| ... and 2 more | |\n") {
		t.Errorf("table:\n%s", md)
	}
}

func TestCodeBlock(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                 "```text\nplain\n```\n",
		"has ``` inside\n":      "````text\nhas ``` inside\n````\n",
		"has ```` and ``` both": "`````text\nhas ```` and ``` both\n`````\n",
	} {
		if got := CodeBlock(in); got != want {
			t.Errorf("CodeBlock(%q) = %q, want %q", in, got, want)
		}
	}
}
