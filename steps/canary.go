package steps

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kube-release/kube-release/internal/manifest"
	"github.com/kube-release/kube-release/internal/object"
	"github.com/kube-release/kube-release/internal/release"
	"github.com/kube-release/kube-release/internal/versioning"
)

// CanaryConfig is what the canary step needs of the settings: those of the
// rolling deploy, and the size of the canary.
type CanaryConfig struct {
	RollingConfig
	// Instances is a count ("2") or a percentage ("25%") of the stable
	// workload's replicas.
	Instances string
}

// NewCanary returns the canary deploy: the rolling deploy's pipeline with
// the one workload deployed as <name>-<canary>, labelled harness.io/track:
// canary and sized by Instances, beside the stable one, which it leaves
// alone. Its release stays InProgress: the rolling deploy that follows in
// the same pipeline completes it with the stable manifests.
func NewCanary(cfg CanaryConfig, env Env) *Rolling {
	r := NewRolling(cfg.RollingConfig, env)
	r.strategy = &canaryDeploy{cfg: cfg, env: env}
	return r
}

// canarySuffix names the canary's objects: <name>-canary.
const canarySuffix = "-canary"

// canaryDeploy is the canary strategy of a deploy.
type canaryDeploy struct {
	cfg CanaryConfig
	env Env
	// Set by shape: the canary workload, every object renamed with it, and
	// its size.
	workload *yaml.RNode
	renamed  []*yaml.RNode
	target   int
}

func (d *canaryDeploy) step() string { return "canary" }

// shape renames the one workload and what belongs to it (HPAs, PDBs) to
// the canary, sized from the stable workload's live replicas.
func (d *canaryDeploy) shape(ctx context.Context, p *rollingPlan, nodes []*yaml.RNode) ([]*yaml.RNode, versioning.Filter, error) {
	log := d.env.Log
	w, err := manifest.OneWorkload(nodes)
	if err != nil {
		return nil, versioning.Filter{}, err
	}
	current, err := stableReplicas(ctx, d.env, object.OfNode(w), w)
	if err != nil {
		return nil, versioning.Filter{}, err
	}
	log.Infof("Current replica count is %d", current)
	target, bumped, err := CanaryInstances(d.cfg.Instances, current)
	if err != nil {
		return nil, versioning.Filter{}, err
	}
	if bumped {
		log.Info("Target instances computed to be less than 1. Bumped up to 1")
	}
	if d.renamed, err = manifest.CanaryVariant().Apply(nodes, w); err != nil {
		return nil, versioning.Filter{}, err
	}
	if err := w.PipeE(yaml.LookupCreate(yaml.MappingNode, "spec"), yaml.SetField("replicas", yaml.NewScalarRNode(strconv.Itoa(target)))); err != nil {
		return nil, versioning.Filter{}, fmt.Errorf("%s: set replicas: %w", object.OfNode(w), err)
	}
	d.workload, d.target = w, target
	log.Infof("Canary Workload is: %s/%s", w.GetKind(), w.GetName())
	log.Infof("Target replica count for Canary is %d", target)
	version := versioning.Filter{Release: p.number}
	switch {
	case d.cfg.Declarative:
		version = versioning.Filter{Suffix: strings.TrimPrefix(canarySuffix, "-")}
	case d.cfg.SkipResourceVersioning:
		version = versioning.Filter{}
	}
	return nodes, version, nil
}

// CanaryInstances is the canary's size: a count, or a percentage of
// current rounded half up; at least 1 (bumped says it was raised to 1).
func CanaryInstances(instances string, current int) (target int, bumped bool, err error) {
	s := strings.TrimSpace(instances)
	if s == "" {
		return 0, false, fmt.Errorf("instances: required: a count (2) or a percentage (25%%) of the stable workload's %d replicas", current)
	}
	if p, ok := strings.CutSuffix(s, "%"); ok {
		pct, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || pct <= 0 || pct > 100 || math.IsNaN(pct) {
			return 0, false, fmt.Errorf("instances %q: want a percentage above 0 and at most 100", instances)
		}
		target = int(math.Floor(pct*float64(current)/100 + 0.5))
	} else {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return 0, false, fmt.Errorf("instances %q: want a count of at least 1 or a percentage such as 25%%", instances)
		}
		target = n
	}
	if target < 1 {
		return 1, true, nil
	}
	return target, false, nil
}

// stableReplicas is the replicas of the stable workload in the cluster;
// of the manifest when it is not deployed yet; else 1.
func stableReplicas(ctx context.Context, env Env, w object.Ref, node *yaml.RNode) (int, error) {
	if gvr, ok := scalable(w); ok {
		live, err := env.Clients.Dynamic.Resource(gvr).Namespace(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
		switch {
		case err == nil:
			if n, found, _ := unstructured.NestedInt64(live.Object, "spec", "replicas"); found {
				return int(n), nil
			}
			return 1, nil
		case !apierrors.IsNotFound(err):
			return 0, fmt.Errorf("%s: %w", w, err)
		}
	}
	if r, err := node.Pipe(yaml.Lookup("spec", "replicas")); err == nil && r != nil {
		if n, err := strconv.Atoi(yaml.GetValue(r)); err == nil {
			return n, nil
		}
	}
	return 1, nil
}

// scalable is the resource of a workload kind spec.replicas scales.
func scalable(w object.Ref) (schema.GroupVersionResource, bool) {
	resource := map[string]string{"Deployment": "deployments", "StatefulSet": "statefulsets"}[w.Kind]
	return schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: resource}, resource != ""
}

func (d *canaryDeploy) workloads(nodes []*yaml.RNode) []object.Ref {
	return workloadIn(nodes, d.workload)
}

// workloadIn is w as nodes hold it after the filters.
func workloadIn(nodes []*yaml.RNode, w *yaml.RNode) []object.Ref {
	for _, n := range nodes {
		if n.GetKind() == w.GetKind() && n.GetName() == w.GetName() {
			return []object.Ref{object.OfNode(n)}
		}
	}
	return nil
}

// cleanup is the rolling deploy's.
func (d *canaryDeploy) cleanup(h release.History, number int) release.History {
	if d.cfg.Declarative {
		_, drop := h.DeclarativeCleanup(number)
		return drop
	}
	_, drop := h.LegacyCleanup()
	return drop
}

func (d *canaryDeploy) staleConfig(_, drop release.History, _ []release.ResourceID) []release.ResourceID {
	return drop.VersionedResources()
}

// mark records the canary as the release's one managed workload, as
// Harness's canary does.
func (d *canaryDeploy) mark(rel *release.Release) {
	if len(rel.Workloads) > 0 {
		rel.ManagedWorkload = &release.Workload{ID: rel.Workloads[0].ID}
	}
}

// completes is false: the rolling deploy after the canary completes the
// release.
func (d *canaryDeploy) completes() bool { return false }

func (d *canaryDeploy) report(outputs []Output, s *summary) []Output {
	if d.workload == nil {
		return outputs
	}
	names := make([]string, len(d.renamed))
	for i, n := range d.renamed {
		names[i] = d.cfg.Namespace + "/" + n.GetKind() + "/" + n.GetName()
	}
	s.Facts = append(s.Facts, fact{"Canary", "`" + d.workload.GetKind() + "/" + d.workload.GetName() + "`"}, fact{"Canary instances", strconv.Itoa(d.target)})
	return append(outputs, Output{OutputTargetInstances, strconv.Itoa(d.target)}, Output{OutputCanaryWorkload, strings.Join(names, ",")})
}

// isCanary reports whether rel is a canary's release: it deployed a
// workload named <name>-canary.
func isCanary(rel *release.Release) bool {
	for _, id := range rel.Resources {
		if isWorkloadKind(id.Kind) && strings.HasSuffix(id.Name, canarySuffix) {
			return true
		}
	}
	return rel.ManagedWorkload != nil && strings.HasSuffix(rel.ManagedWorkload.ID.Name, canarySuffix)
}

func isWorkloadKind(kind string) bool {
	return kind == "Deployment" || kind == "StatefulSet" || kind == "DeploymentConfig"
}

// canaryObjects are the canary objects of rel that may exist: those it
// recorded, and, for a release the rolling deploy completed with the
// stable manifests, the canary of each of its workloads, with its HPA and
// PDB.
func canaryObjects(s *stored) []object.Ref {
	seen := map[object.Ref]bool{}
	var refs []object.Ref
	add := func(r object.Ref) {
		if !seen[r] {
			seen[r] = true
			refs = append(refs, r)
		}
	}
	for _, id := range s.Resources {
		if strings.HasSuffix(id.Name, canarySuffix) {
			add(id.Ref())
		}
	}
	// An HPA or PDB of the canary exists only if the release has one of
	// its kind: looking for the others would need permissions a release
	// without them is not granted.
	kinds := map[string]bool{}
	for _, id := range s.Resources {
		kinds[id.Kind] = true
	}
	if recorded, err := releaseObjects(s.Release, s.declarative); err == nil {
		for _, r := range recorded {
			kinds[r.Kind] = true
		}
	}
	for _, w := range workloadsOf(s) {
		if strings.HasSuffix(w.Name, canarySuffix) {
			continue
		}
		add(object.Ref{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name + canarySuffix})
		for _, kind := range []string{"HorizontalPodAutoscaler", "PodDisruptionBudget"} {
			if kinds[kind] {
				add(object.Ref{Kind: kind, Namespace: w.Namespace, Name: w.Name + canarySuffix})
			}
		}
	}
	return refs
}

// stableTrack labels the stable workload of the rolling deploy that
// completes a canary's release harness.io/track: stable: its pods always,
// a Deployment's selector only where that is legal, when the Deployment is
// new or its live selector has the key already. A selector is immutable:
// adding a key to a live one fails the apply.
func stableTrack(ctx context.Context, env Env, nodes []*yaml.RNode) error {
	w, err := manifest.OneWorkload(nodes)
	if err != nil {
		return err
	}
	template, err := manifest.PodTemplate(w)
	if err != nil || template == nil {
		return err
	}
	if err := template.PipeE(yaml.SetLabel(manifest.TrackLabel, manifest.TrackStable)); err != nil {
		return err
	}
	if w.GetKind() != "Deployment" {
		return nil
	}
	ref := object.OfNode(w)
	live, err := env.Clients.Typed.AppsV1().Deployments(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("%s: %w", ref, err)
	case live.Spec.Selector == nil || live.Spec.Selector.MatchLabels[manifest.TrackLabel] == "":
		env.Log.Infof("%s: %s added to its pods, not to its selector, which is immutable", ref, manifest.TrackLabel)
		return nil
	}
	return w.PipeE(yaml.Lookup("spec", "selector", "matchLabels"), yaml.SetField(manifest.TrackLabel, yaml.NewStringRNode(manifest.TrackStable)))
}

// canary deletes the canary objects of current that exist, whatever
// became of its deploy (a half-failed apply, a cancelled job), so that no
// canary outlives a rollback. When the canary was all the release
// deployed, the stable workload was never touched: the release is
// recorded Failed and the rollback is done. Otherwise the rollback goes on
// with the stable workload.
func (rb *Rollback) canary(parent, ctx context.Context, current *stored, evidence string) (res Result, done bool, err error) {
	refs := canaryObjects(current)
	if len(refs) == 0 {
		return Result{}, false, nil
	}
	n, err := deleteCanary(ctx, rb.env, rb.owner(), refs)
	if err != nil {
		res, err := rb.failed(nil, current, evidence, err)
		return res, true, err
	}
	if n > 0 {
		rb.env.Log.Infof("Deleted the %d canary objects of release %d", n, current.Number)
	}
	for _, w := range workloadsOf(current) {
		if !strings.HasSuffix(w.Name, canarySuffix) {
			return Result{}, false, nil
		}
	}
	rb.env.Log.Infof("Release %d deployed a canary only: the stable workload was not changed and stays as it is", current.Number)
	if err := rb.markFailedErr(parent, current, "rolled back"); err != nil {
		res, err := rb.failed(nil, current, evidence, err)
		return res, true, err
	}
	return rb.result(rollbackSucceeded, nil, current, evidence), true, nil
}
