package steps

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kube-release/kube-release/internal/bluegreen"
	"github.com/kube-release/kube-release/internal/manifest"
	"github.com/kube-release/kube-release/internal/object"
	"github.com/kube-release/kube-release/internal/release"
	"github.com/kube-release/kube-release/internal/versioning"
)

// NewBlueGreen returns the blue/green stage deploy: the rolling deploy's
// pipeline, with the one workload deployed as <name>-<stage colour> behind
// the stage Service while the primary Service keeps serving the other
// colour. The swap step then routes users to it; rollback, before or after
// the swap, knows from the history what to undo.
func NewBlueGreen(cfg RollingConfig, env Env) *Rolling {
	r := NewRolling(cfg, env)
	r.strategy = &stageDeploy{cfg: cfg, env: env}
	return r
}

// stageDeploy is the blue/green strategy of a deploy.
type stageDeploy struct {
	cfg RollingConfig
	env Env
	// stage is the prepared stage deploy, once shape has run.
	stage *bluegreen.Stage
}

func (d *stageDeploy) step() string { return "bluegreen" }

// shape picks the Services, reads the primary one's colour in the cluster,
// and colours the workload, its HPAs and PDBs, the Services and (in
// declarative mode) the config.
func (d *stageDeploy) shape(ctx context.Context, p *rollingPlan, nodes []*yaml.RNode) ([]*yaml.RNode, versioning.Filter, error) {
	log := d.env.Log
	services, nodes, err := bluegreen.PickServices(nodes)
	if err != nil {
		return nil, versioning.Filter{}, err
	}
	primary, stage := services.Primary.GetName(), services.Stage.GetName()
	log.Info(bluegreen.PrimaryServiceIs(primary))
	if services.Created {
		log.Info(bluegreen.CreatedStageService(stage, primary))
	}
	live, err := liveService(ctx, d.env, d.cfg.Namespace, primary)
	if err != nil {
		return nil, versioning.Filter{}, err
	}
	if !live.Exists {
		log.Info(bluegreen.PrimaryServiceNotFound(primary))
	}
	if d.stage, err = bluegreen.PrepareStage(nodes, services, live, d.cfg.Declarative); err != nil {
		return nil, versioning.Filter{}, err
	}
	c := d.stage.Colors
	log.Info(bluegreen.PrimaryColorIs(c.Primary))
	log.Info(bluegreen.StageColorIs(c.Stage))
	if c.FirstDeploy {
		log.Warn(bluegreen.FirstDeployNote(primary, c.Primary))
	}
	if d.cfg.Declarative {
		log.Info(bluegreen.SuffixingConfig(c.Stage))
	}
	log.Info(bluegreen.WorkloadToDeploy(d.stage.Workload.GetKind(), d.stage.Workload.GetName()))
	log.Info(bluegreen.CleaningUp)
	version := versioning.Filter{Release: p.number}
	if d.cfg.SkipResourceVersioning || d.cfg.Declarative {
		version = versioning.Filter{}
	}
	return d.stage.Nodes, version, nil
}

// workloads is the coloured workload alone: the primary colour's is not
// this deploy's to wait for, and DaemonSets and Jobs are applied as they
// are.
func (d *stageDeploy) workloads(nodes []*yaml.RNode) []object.Ref {
	w := d.stage.Workload
	for _, n := range nodes {
		if n.GetKind() == w.GetKind() && n.GetName() == w.GetName() {
			return []object.Ref{object.OfNode(n)}
		}
	}
	return nil
}

// cleanup drops every older release of the stage colour, whatever its
// status: this deploy replaces that colour's workload. The primary
// colour's releases stay, as the rollback target of this one.
func (d *stageDeploy) cleanup(h release.History, number int) release.History {
	if d.stage == nil {
		// The colours are not known before shape, and nor is the drop.
		return nil
	}
	_, drop := h.BlueGreenCleanup(d.stage.Colors.Stage, number)
	return drop
}

func (d *stageDeploy) staleConfig(h, drop release.History, next []release.ResourceID) []release.ResourceID {
	keep := make(release.History, 0, len(h))
	for _, r := range h {
		if drop.Get(r.Number) == nil {
			keep = append(keep, r)
		}
	}
	return release.StaleConfig(drop, keep, next)
}

// mark records the release in the stage environment, with its colour and
// (for Harness's legacy readers) its one managed workload.
func (d *stageDeploy) mark(rel *release.Release) {
	rel.Color = d.stage.Colors.Stage
	rel.Environment = release.StageEnvironment
	if len(rel.Workloads) > 0 {
		rel.ManagedWorkload = &release.Workload{ID: rel.Workloads[0].ID}
	}
}

func (d *stageDeploy) report(outputs []Output, s *summary) []Output {
	if d.stage == nil {
		return outputs
	}
	sv, c := d.stage.Services, d.stage.Colors
	serving := string(c.Primary)
	if c.FirstDeploy {
		serving += " (no pods until the first swap)"
	}
	s.Facts = append(s.Facts,
		fact{"Primary Service", "`" + sv.Primary.GetName() + "`, serving " + serving},
		fact{"Stage Service", "`" + sv.Stage.GetName() + "`, selecting " + string(c.Stage) + ", the colour deployed"},
	)
	return append(outputs, colorOutputs(sv.Primary.GetName(), sv.Stage.GetName(), c.Primary)...)
}

// colorOutputs are the blue/green outputs of every blue/green step.
func colorOutputs(primaryService, stageService string, primary release.Color) []Output {
	return []Output{
		{OutputPrimaryService, primaryService},
		{OutputStageService, stageService},
		{OutputPrimaryColor, string(primary)},
		{OutputStageColor, string(primary.Other())},
	}
}

var services = schema.GroupVersionResource{Version: "v1", Resource: "services"}

// liveService reads a Service of a blue/green deploy as the cluster has
// it.
func liveService(ctx context.Context, env Env, namespace, name string) (bluegreen.LiveService, error) {
	live := bluegreen.LiveService{Name: name}
	obj, err := env.Clients.Dynamic.Resource(services).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return live, nil
	case err != nil:
		return live, fmt.Errorf("service %s/%s: %w", namespace, name, err)
	}
	live.Exists = true
	live.Selector, _, _ = unstructured.NestedStringMap(obj.Object, "spec", "selector")
	return live, nil
}

// servicePair is the primary and stage Service of a release, as the
// cluster has them.
type servicePair struct {
	Primary, Stage bluegreen.LiveService
}

// findServices finds the primary and stage Service of rel among the
// Services it recorded, as the cluster has them. Harness's histories and
// kube-release's both record the Services by name, so this serves a
// history either wrote.
func findServices(ctx context.Context, env Env, namespace string, rel *release.Release) (servicePair, error) {
	var found []liveAnnotated
	for _, id := range rel.Resources {
		if id.Kind != "Service" {
			continue
		}
		obj, err := env.Clients.Dynamic.Resource(services).Namespace(namespace).Get(ctx, id.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return servicePair{}, fmt.Errorf("service %s/%s of release %d: %w: it was deleted since the release was deployed; deploy again to re-create it", namespace, id.Name, rel.Number, bluegreen.ErrServiceNotFound)
		}
		if err != nil {
			return servicePair{}, fmt.Errorf("service %s/%s: %w", namespace, id.Name, err)
		}
		live := bluegreen.LiveService{Name: id.Name, Exists: true}
		live.Selector, _, _ = unstructured.NestedStringMap(obj.Object, "spec", "selector")
		found = append(found, liveAnnotated{live, obj.GetAnnotations()})
	}
	pair, ok := classifyServices(found)
	if !ok {
		names := make([]string, len(found))
		for i, f := range found {
			names[i] = f.Name
		}
		return pair, fmt.Errorf("release %d records Services %s: cannot tell its primary and stage Service apart; mark them %s and %s",
			rel.Number, listOrNone(names), manifest.PrimaryServiceAnnotation, manifest.StageServiceAnnotation)
	}
	return pair, nil
}

type liveAnnotated struct {
	bluegreen.LiveService
	annotations map[string]string
}

// classifyServices tells the primary Service from the stage one as a stage
// deploy chose them: by their annotations, else the stage one is the
// primary's copy, <primary>-stage (which Harness leaves unannotated).
func classifyServices(found []liveAnnotated) (servicePair, bool) {
	var pair servicePair
	var rest []bluegreen.LiveService
	for _, f := range found {
		switch {
		case manifest.HasTrue(f.annotations, manifest.StageServiceAnnotation) && !pair.Stage.Exists:
			pair.Stage = f.LiveService
		case manifest.HasTrue(f.annotations, manifest.PrimaryServiceAnnotation) && !pair.Primary.Exists:
			pair.Primary = f.LiveService
		default:
			rest = append(rest, f.LiveService)
		}
	}
	if !pair.Primary.Exists {
		// Unmarked, the primary is the only one left beside the stage
		// Service, or the one whose copy is there too.
		for i, s := range rest {
			if (pair.Stage.Exists && len(rest) == 1) || slices.ContainsFunc(rest, func(o bluegreen.LiveService) bool { return o.Name == s.Name+bluegreen.StageSuffix }) {
				pair.Primary, rest = s, slices.Delete(rest, i, i+1)
				break
			}
		}
	}
	if !pair.Stage.Exists && pair.Primary.Exists {
		for i, s := range rest {
			if s.Name == pair.Primary.Name+bluegreen.StageSuffix {
				pair.Stage, rest = s, slices.Delete(rest, i, i+1)
				break
			}
		}
	}
	return pair, pair.Primary.Exists && pair.Stage.Exists && len(rest) == 0
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return "[" + strings.Join(names, ", ") + "]"
}

// blueGreen rolls back a blue/green release. One that was never swapped in
// serves nobody: the primary Service still selects the colour it served
// before, so nothing changes but the release's record, Failed, and the
// next stage deploy replaces it. One that was swapped in is rolled back by
// swapping back to the release of the other colour before it, which still
// runs; nothing is redeployed.
func (rb *Rollback) blueGreen(parent, ctx context.Context, current *stored) (Result, error) {
	log := rb.env.Log
	if current.Environment != release.PrimaryEnvironment {
		log.Infof("Release %d (%s) was never swapped in: the primary Service still serves the colour it served before; no Service selector was changed", current.Number, current.Color)
		if err := rb.markFailedErr(parent, current, "rolled back"); err != nil {
			return rb.failed(nil, current, "", err)
		}
		res := rb.result(rollbackSucceeded, nil, current, "")
		return res, nil
	}
	var target *release.Release
	for _, r := range rb.book.History() {
		if r.Number < current.Number && r.Status == release.Succeeded && r.Color == current.Color.Other() {
			target = r
			break
		}
	}
	if target == nil {
		log.Infof("No previous eligible release found. Can't rollback. Release %d (%s) keeps serving: no earlier release of %s runs to route users back to", current.Number, current.Color, current.Color.Other())
		return rb.result(rollbackSkipped, nil, nil, ""), nil
	}
	log.Infof("Release %d (%s) was swapped in: routing users back to release %d (%s)", current.Number, current.Color, target.Number, target.Color)
	pair, err := findServices(ctx, rb.env, rb.cfg.Namespace, current.Release)
	if err != nil {
		return rb.failed(rb.entry(target), current, "", err)
	}
	plan, err := swapServices(ctx, rb.env, rb.cfg.Namespace, pair, target.Color)
	if err != nil {
		return rb.failed(rb.entry(target), current, "", fmt.Errorf("swap back to release %d: %w", target.Number, err))
	}
	// The record follows the Services, so a rollback cut off in between
	// finds the swap done and records it.
	if _, err := rb.book.SwapEnvironments(ctx, target.Color); err != nil {
		return rb.failed(rb.entry(target), current, "", err)
	}
	back := current.Release.Clone()
	back.Environment = release.StageEnvironment
	if err := recordFailed(parent, rb.env, rb.book, back, "rolled back"); err != nil {
		return rb.failed(rb.entry(target), current, "", err)
	}
	res := rb.result(rollbackSucceeded, rb.entry(target), current, "")
	res.Outputs = append(res.Outputs, colorOutputs(plan.Primary.Name, plan.Stage.Name, plan.Target)...)
	return res, nil
}

// completes is true: a stage deploy's release is complete once its
// colour is ready; the swap is a step of its own.
func (d *stageDeploy) completes() bool { return true }
