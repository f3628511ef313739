package steps

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kube-release/kube-release/internal/apply"
	"github.com/kube-release/kube-release/internal/manifest"
	"github.com/kube-release/kube-release/internal/release"
	"github.com/kube-release/kube-release/internal/rollout"
	"github.com/kube-release/kube-release/internal/versioning"
)

// RollingConfig is what the rolling step needs of the settings.
type RollingConfig struct {
	Release   string
	Namespace string
	Manifests []string
	// Timeout bounds applying and waiting.
	Timeout                time.Duration
	SkipDryRun             bool
	SkipResourceVersioning bool
	FailFast               bool
	FailFastAfter          time.Duration
}

// Rolling is the rolling deploy: render and version the manifests, apply
// them, wait for steady state and record the release.
type Rolling struct {
	cfg RollingConfig
	env Env
}

// NewRolling returns the rolling step.
func NewRolling(cfg RollingConfig, env Env) *Rolling {
	return &Rolling{cfg: cfg, env: env}
}

// recordTimeout bounds the history write that records a failure, which
// runs after the step's own context may have ended (timeout, SIGTERM).
const recordTimeout = 20 * time.Second

// rollingPlan is everything prepared before the cluster is changed.
type rollingPlan struct {
	store     release.Store
	history   release.History
	number    int
	previous  *release.Release
	objects   []*unstructured.Unstructured
	resources []release.ResourceID
	workloads []rollout.Workload
	images    []string
	baseline  *apply.Result
}

// Run implements Step.
func (r *Rolling) Run(ctx context.Context) (Result, error) {
	stepCtx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()

	applier, err := apply.New(r.env.Clients, apply.Config{})
	if err != nil {
		return Result{}, err
	}
	plan, err := r.prepare(stepCtx, applier)
	if err != nil {
		return Result{}, err
	}
	return r.execute(ctx, stepCtx, applier, plan)
}

// prepare reads, renders, versions and validates everything, and reads the
// history. It writes nothing, so a failure here leaves the cluster as it was.
func (r *Rolling) prepare(ctx context.Context, applier *apply.Applier) (*rollingPlan, error) {
	log := r.env.Log
	log.Infof("Release Name: [%s]", r.cfg.Release)

	nodes, err := readManifests(r.env, r.cfg.Manifests, r.cfg.Namespace)
	if err != nil {
		return nil, err
	}
	p := &rollingPlan{store: release.NewConfigMapStore(r.env.Clients.Typed, r.cfg.Namespace, r.cfg.Release)}
	if p.history, err = p.store.List(ctx); err != nil {
		return nil, fmt.Errorf("release history: %w", err)
	}
	p.number = p.history.NextNumber()
	p.previous = p.history.LastSuccessful(p.number)

	version := versioning.Filter{Release: p.number}
	if r.cfg.SkipResourceVersioning {
		version = versioning.Filter{}
	}
	if nodes, err = filter(nodes, version, manifest.ReleaseLabelFilter{Release: r.cfg.Release}); err != nil {
		return nil, err
	}
	p.resources = resources(nodes)
	p.workloads = managedWorkloads(nodes)
	p.images = manifest.Images(nodes)
	if p.objects, err = toUnstructured(nodes); err != nil {
		return nil, err
	}

	log.Info(resourceTable(p.resources))
	log.Infof("Current release number is: %d", p.number)
	if p.previous != nil {
		log.Infof("Previous Successful Release is %d", p.previous.Number)
	} else {
		log.Info("No previous successful release found.")
	}

	if !r.cfg.SkipDryRun {
		if p.baseline, err = dryRun(ctx, r.env, applier, p.objects); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// execute changes the cluster: cleanup, the InProgress record, apply, wait,
// and the final record. From the InProgress record on, every failure is
// recorded as Failed before returning.
func (r *Rolling) execute(parent, ctx context.Context, applier *apply.Applier, p *rollingPlan) (Result, error) {
	log := r.env.Log
	if err := r.cleanup(ctx, applier, p); err != nil {
		return Result{}, err
	}

	rel := &release.Release{
		Number:    p.number,
		Status:    release.InProgress,
		Resources: p.resources,
		Workloads: make([]release.Workload, len(p.workloads)),
		Metadata:  release.Metadata{Pipeline: r.env.Pipeline, Images: p.images},
	}
	for i, w := range p.workloads {
		rel.Workloads[i] = release.Workload{ID: release.ResourceID{Kind: w.Kind, Name: w.Name, Namespace: w.Namespace}}
	}
	if err := p.store.Create(ctx, rel); err != nil {
		if errors.Is(err, release.ErrExists) {
			return Result{}, fmt.Errorf("release %d of %s was recorded by another deploy running at the same time; nothing was applied, run again: %w", p.number, r.cfg.Release, err)
		}
		return Result{}, fmt.Errorf("record release %d: %w", p.number, err)
	}

	fail := func(reason string, err error) (Result, error) {
		switch {
		case parent.Err() != nil:
			reason = "interrupted"
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			reason = "timeout"
		}
		rel.Status = release.Failed
		rel.Metadata.FailureReason = reason
		recordCtx, cancel := context.WithTimeout(context.WithoutCancel(parent), recordTimeout)
		defer cancel()
		if uerr := p.store.Update(recordCtx, rel); uerr != nil {
			err = errors.Join(err, fmt.Errorf("record release %d as Failed: %w", rel.Number, uerr))
		} else {
			log.Infof("Release %d recorded as Failed (%s)", rel.Number, reason)
		}
		return r.result(p, rel, nil), err
	}

	res, err := applier.Apply(ctx, p.objects, apply.Options{Baseline: p.baseline})
	logChanges(r.env, res)
	rel.Metadata.CreatedObjects = createdObjects(res)
	if err != nil {
		return fail("apply", fmt.Errorf("apply: %w", err))
	}

	var waited []rollout.Result
	if len(p.workloads) > 0 {
		deadline, _ := ctx.Deadline()
		log.Infof("Waiting for %d workloads to reach steady state (timeout %s)", len(p.workloads), time.Until(deadline).Round(time.Second))
		waiter := rollout.NewWaiter(r.env.Clients.Typed, rollout.Options{
			FailFast:      r.cfg.FailFast,
			FailFastAfter: r.cfg.FailFastAfter,
			OnProgress:    newProgressPrinter(log).print,
		})
		waited, err = waiter.Wait(ctx, p.workloads)
		if err != nil {
			return fail(waitFailureReason(err), fmt.Errorf("wait for steady state: %w", err))
		}
	}

	for i, w := range waited {
		rel.Workloads[i].Revision = w.Revision
		log.Infof("%s ready at revision %s", w.Workload, w.Revision)
	}
	rel.Status = release.Succeeded
	if err := p.store.Update(ctx, rel); err != nil {
		return fail("record", fmt.Errorf("record release %d as Succeeded: %w", rel.Number, err))
	}
	log.Infof("Release %d of %s Succeeded", rel.Number, r.cfg.Release)
	return r.result(p, rel, waited), nil
}

// cleanup applies the legacy cleanup rule before the new release is
// recorded: Failed releases and releases older than the last successful one
// leave the history, and their versioned ConfigMaps and Secrets are deleted.
func (r *Rolling) cleanup(ctx context.Context, applier *apply.Applier, p *rollingPlan) error {
	_, drop := p.history.LegacyCleanup()
	if len(drop) == 0 {
		return nil
	}
	numbers := make([]string, len(drop))
	nums := make([]int, len(drop))
	for i, rel := range drop {
		numbers[i] = strconv.Itoa(rel.Number)
		nums[i] = rel.Number
	}
	var refs []apply.Ref
	for _, id := range drop.VersionedResources() {
		refs = append(refs, apply.Ref{Kind: id.Kind, Namespace: id.Namespace, Name: id.Name})
	}
	deleted, err := applier.Delete(ctx, refs, apply.DeleteOptions{})
	for _, c := range deleted {
		r.env.Log.Info(c.String())
	}
	if err != nil {
		return fmt.Errorf("clean up releases %s: %w", strings.Join(numbers, ","), err)
	}
	if err := p.store.Delete(ctx, nums...); err != nil {
		return fmt.Errorf("clean up releases %s: %w", strings.Join(numbers, ","), err)
	}
	r.env.Log.Infof("Cleaned up releases %s", strings.Join(numbers, ","))
	return nil
}

func waitFailureReason(err error) string {
	switch {
	case errors.Is(err, rollout.ErrFailFast):
		return "fail_fast"
	case errors.Is(err, rollout.ErrTimeout):
		return "timeout"
	}
	return "steady state not reached"
}

// result is what the step reports, whatever the outcome.
func (r *Rolling) result(p *rollingPlan, rel *release.Release, waited []rollout.Result) Result {
	previous := ""
	if p.previous != nil {
		previous = strconv.Itoa(p.previous.Number)
	}
	workloads := make([]string, len(p.workloads))
	for i, w := range p.workloads {
		workloads[i] = w.Kind + "/" + w.Name
	}
	outputs := []Output{
		{"release", r.cfg.Release},
		{"release_number", strconv.Itoa(rel.Number)},
		{"previous_release_number", previous},
		{"status", string(rel.Status)},
		{"workloads", strings.Join(workloads, ",")},
		{"images", strings.Join(p.images, ",")},
	}

	var md strings.Builder
	fmt.Fprintf(&md, "### kube-release rolling: `%s` release %d %s\n\n", r.cfg.Release, rel.Number, rel.Status)
	if p.previous != nil {
		fmt.Fprintf(&md, "Previous successful release: %d. ", p.previous.Number)
	}
	fmt.Fprintf(&md, "Namespace `%s`.\n\n", r.cfg.Namespace)
	if len(rel.Workloads) > 0 {
		md.WriteString("| Workload | Revision |\n|---|---|\n")
		for _, w := range rel.Workloads {
			fmt.Fprintf(&md, "| %s/%s | %s |\n", w.ID.Kind, w.ID.Name, w.Revision)
		}
	}
	return Result{Outputs: outputs, Summary: md.String()}
}
