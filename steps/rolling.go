package steps

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kube-release/kube-release/internal/apply"
	"github.com/kube-release/kube-release/internal/logging"
	"github.com/kube-release/kube-release/internal/manifest"
	"github.com/kube-release/kube-release/internal/object"
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
	// Declarative keeps one Secret of manifests per release (Harness's
	// declarative rollback) instead of the legacy ConfigMap, and versions
	// nothing.
	Declarative bool
	// Pruning deletes, after a successful declarative deploy, the objects
	// of the last successful release that the new one no longer has.
	Pruning bool
	// Render is how the manifests are rendered (values, images).
	Render RenderConfig
	// Diff prints the diff against the live objects before applying.
	Diff bool
	// CreateNamespace creates the namespace when it does not exist and
	// the manifests do not hold it.
	CreateNamespace bool
	// TakeOwnership adopts objects of the manifests that another release
	// owns instead of refusing the deploy.
	TakeOwnership bool
}

// Rolling is the rolling deploy: render and version the manifests, apply
// them, wait for steady state and record the release.
type Rolling struct {
	base[RollingConfig]
	src source
	// strategy is what a blue/green deploy changes in the pipeline; nil
	// for a rolling deploy.
	strategy strategy
}

// strategy is what a deploy strategy changes in the rolling deploy's
// pipeline: how the manifests are shaped, which workloads it waits for,
// which releases its cleanup drops, what it records and reports.
type strategy interface {
	// step names the step, in its summary.
	step() string
	// shape edits the rendered manifests of release p.number before the
	// filters, and returns the versioning filter of its config.
	shape(ctx context.Context, p *rollingPlan, nodes []*yaml.RNode) ([]*yaml.RNode, versioning.Filter, error)
	// workloads are those it waits for and records.
	workloads(nodes []*yaml.RNode) []object.Ref
	// cleanup is the releases of h that leave the history before release
	// number is recorded.
	cleanup(h release.History, number int) release.History
	// staleConfig is the config the cleanup deletes with the releases it
	// drops from h, given the objects of the release to deploy.
	staleConfig(h, drop release.History, next []release.ResourceID) []release.ResourceID
	// completes says whether the deploy completes its release (records it
	// Succeeded); a canary's stays InProgress for the rolling deploy after
	// it.
	completes() bool
	// mark adds the strategy's fields to the release it records.
	mark(rel *release.Release)
	// report adds the strategy's outputs and facts.
	report(outputs []Output, s *summary) []Output
}

// NewRolling returns the rolling step.
func NewRolling(cfg RollingConfig, env Env) *Rolling {
	src := source{cfg.Release, cfg.Namespace, cfg.Manifests, cfg.Render, cfg.CreateNamespace, renderedManifests{}}
	return &Rolling{base: base[RollingConfig]{cfg, env}, src: src}
}

// rollingPlan is everything prepared before the cluster is changed.
type rollingPlan struct {
	// book is the release's history in both formats; the release is
	// recorded in the format of the deploy (see format).
	book *release.Book
	// last is the newest release before this one, nil for the first.
	last     *release.Release
	number   int
	previous *release.Release
	objects  []*unstructured.Unstructured
	// manifests is what a declarative release stores: every object as
	// applied, as multi-document YAML.
	manifests []byte
	resources []release.ResourceID
	workloads []object.Ref
	images    []string
	baseline  *apply.Result
	// completing is the canary's release this rolling deploy completes,
	// with the stable manifests, under the canary's number; nil for a
	// new release.
	completing *release.Release
}

// Run implements Step. The whole deploy holds the release's deploy lock,
// which lives in the namespace: a first deploy may create that first.
func (r *Rolling) Run(ctx context.Context) (Result, error) {
	return withLockCreatingNamespace(ctx, r.env, r.cfg.Namespace, r.cfg.Release, r.createNamespace, r.run)
}

// createNamespace creates the missing namespace of a first deploy, from
// the manifests or with create_namespace, once they rendered. A namespace
// that does not exist holds no history, so this is release 1 in either
// format.
func (r *Rolling) createNamespace(ctx context.Context) error {
	return r.src.createNamespace(ctx, r.env, r.cfg.Timeout, release.History(nil).NextNumber())
}

func (r *Rolling) run(ctx context.Context) (Result, error) {
	stepCtx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()

	applier, err := apply.New(r.env.Clients, apply.Config{})
	if err != nil {
		return Result{}, err
	}
	plan, err := r.prepare(stepCtx)
	if err != nil {
		return Result{}, err
	}
	if err := claim(stepCtx, r.env, applier, plan.objects, r.owner(), r.cfg.TakeOwnership); err != nil {
		return r.notRecorded(plan, err), err
	}
	if !r.cfg.SkipDryRun {
		// A bad object stops the deploy before anything is written.
		if plan.baseline, err = dryRunAndDiff(stepCtx, r.env, applier, plan.objects, bool(r.cfg.Diff)); err != nil {
			return r.notRecorded(plan, err), err
		}
	}
	return r.execute(ctx, stepCtx, applier, plan)
}

// prepare reads the history, then reads, renders and versions the
// manifests. It writes nothing, so a failure here leaves the cluster as it
// was.
func (r *Rolling) prepare(ctx context.Context) (*rollingPlan, error) {
	log := r.env.Log
	log.Infof("Release Name: [%s]", r.cfg.Release)

	p := &rollingPlan{}
	if err := r.readHistory(ctx, p); err != nil {
		return nil, err
	}
	if err := checkOwner(r.env, p.book.History(), r.cfg.Release); err != nil {
		return nil, err
	}
	// Templates see the new release's number, known once the history is read.
	nodes, err := r.src.render(ctx, r.env, p.number)
	if err != nil {
		return nil, err
	}
	if err := r.plan(ctx, p, nodes); err != nil {
		return nil, err
	}
	logResources(log, p.resources)
	log.Infof("Current release number is: %d", p.number)
	if p.previous != nil {
		log.Infof("Previous Successful Release is %d", p.previous.Number)
	} else {
		log.Info("No previous successful release found.")
	}
	return p, nil
}

// plan shapes (for a strategy), versions and labels the rendered manifests,
// and fills p with what the deploy applies, waits for and records.
func (r *Rolling) plan(ctx context.Context, p *rollingPlan, nodes []*yaml.RNode) error {
	version := versioning.Filter{Release: p.number}
	if r.cfg.SkipResourceVersioning || r.cfg.Declarative {
		version = versioning.Filter{}
	}
	var err error
	if r.strategy != nil {
		if nodes, version, err = r.strategy.shape(ctx, p, nodes); err != nil {
			return err
		}
		// The strategy's cleanup is known now, and with it what a
		// rollback returns to.
		p.previous = p.book.HistoryWithout(r.format(), numbersIn(r.cleanupDrop(p))...).LastSuccessful(p.number)
	}
	if p.completing != nil {
		if err := stableTrack(ctx, r.env, nodes); err != nil {
			return err
		}
	}
	if nodes, err = filter(nodes, version, manifest.ReleaseLabelFilter{Release: r.cfg.Release}, r.owner().Filter()); err != nil {
		return err
	}
	p.resources = resources(nodes)
	p.workloads = managedWorkloads(nodes)
	if r.strategy != nil {
		p.workloads = r.strategy.workloads(nodes)
	}
	p.images = manifest.Images(nodes)
	logManifests(r.env.Log, nodes)
	if p.objects, err = toUnstructured(nodes); err != nil {
		return err
	}
	if r.cfg.Declarative {
		p.manifests, err = encodeManifests(nodes)
	}
	return err
}

// readHistory reads the release's history, both formats, and numbers the
// new release by the book's rules: above every release of either format,
// so a release moving to declarative mode continues the legacy numbering,
// and its last success, what a rollback returns to, may still be a legacy
// release.
func (r *Rolling) readHistory(ctx context.Context, p *rollingPlan) error {
	p.book = r.env.book(r.cfg.Namespace, r.cfg.Release)
	unreadable, err := readBook(ctx, p.book)
	if err != nil {
		return err
	}
	p.last = p.book.Newest()
	// Above the unreadable releases too: their Secrets keep their names.
	p.number = p.book.NextNumber()
	if r.strategy == nil && p.last != nil && p.last.Status == release.InProgress && isCanary(p.last) {
		// The canary of this pipeline left its release InProgress for
		// this deploy to complete.
		p.completing, p.number = p.last, p.last.Number
		r.env.Log.Infof("Completing release %d, which the canary deployed, with the stable workload", p.number)
	}
	// This run holds the deploy lock, so an InProgress release is one whose
	// run died; cleanup then drops it like any failed release.
	abandoned(r.env, without(p.book.Stored(r.format()), p.completing))
	// What a rollback of the new release returns to, in the history the
	// cleanup leaves: a declarative release it drops no longer hides the
	// legacy release of its number.
	p.previous = p.book.HistoryWithout(r.format(), numbersIn(r.cleanupDrop(p))...).LastSuccessful(p.number)
	if err := checkUnreadableForDeploy(unreadable, p.previous, r.cfg.Pruning); err != nil {
		return err
	}
	warnUnreadable(r.env, unreadable)
	return nil
}

// without is h less release r.
func without(h release.History, r *release.Release) release.History {
	if r == nil {
		return h
	}
	out := make(release.History, 0, len(h))
	for _, x := range h {
		if x.Number != r.Number {
			out = append(out, x)
		}
	}
	return out
}

// format is the history format the deploy records its release in.
func (r *Rolling) format() release.Format {
	if r.cfg.Declarative {
		return release.Declarative
	}
	return release.Legacy
}

// execute changes the cluster: cleanup, the InProgress record, apply, wait,
// and the final record. From the InProgress record on, every failure is
// recorded as Failed before returning.
func (r *Rolling) execute(parent, ctx context.Context, applier *apply.Applier, p *rollingPlan) (Result, error) {
	log := r.env.Log
	rel := r.newRelease(p)
	if err := r.checkRecordSize(p, rel); err != nil {
		return r.notRecorded(p, err), err
	}
	if err := r.recordInProgress(ctx, applier, p, rel); err != nil {
		return Result{}, err
	}
	waited, reason, err := r.deploy(ctx, applier, p, rel)
	if err != nil {
		return r.fail(parent, ctx, p, rel, reason, err)
	}
	for i, w := range waited {
		rel.Workloads[i].Revision = w.Revision
		log.Infof("%s ready at revision %s", w.Workload, w.Revision)
	}
	if rel.ManagedWorkload != nil && len(rel.Workloads) > 0 {
		rel.ManagedWorkload.Revision = rel.Workloads[0].Revision
	}
	if r.strategy == nil || r.strategy.completes() {
		rel.Status = release.Succeeded
	}
	if err := p.book.Update(ctx, rel); err != nil {
		return r.fail(parent, ctx, p, rel, "record", fmt.Errorf("record release %d as %s: %w", rel.Number, rel.Status, err))
	}
	if rel.Status == release.InProgress {
		log.Infof("Release %d stays InProgress: the rolling deploy of the stable workload completes it", rel.Number)
	}
	if r.cfg.Pruning {
		// The release stands; a pruning failure is reported, not undone.
		if err := r.prune(ctx, applier, p); err != nil {
			return r.result(p, rel, nil), err
		}
	}
	logging.Succeeded(log, "Release %d of %s Succeeded", rel.Number, r.cfg.Release)
	return r.result(p, rel, nil), nil
}

// newRelease is the release the deploy records first: InProgress, with
// what it is about to apply.
func (r *Rolling) newRelease(p *rollingPlan) *release.Release {
	rel := &release.Release{
		Number:    p.number,
		Status:    release.InProgress,
		Resources: p.resources,
		Manifests: p.manifests,
		Workloads: make([]release.Workload, len(p.workloads)),
		Metadata:  release.Metadata{Pipeline: r.env.Pipeline, Images: p.images, CreatedObjects: plannedCreations(p)},
	}
	for i, w := range p.workloads {
		rel.Workloads[i] = release.Workload{ID: release.ResourceIDOf(w, false)}
	}
	if r.strategy != nil {
		r.strategy.mark(rel)
	}
	return rel
}

// recordInProgress runs the cleanup and records rel, InProgress. The
// cleaned-up releases leave the history in the write that records this
// one: with the legacy history, one write instead of two.
func (r *Rolling) recordInProgress(ctx context.Context, applier *apply.Applier, p *rollingPlan, rel *release.Release) error {
	if p.completing != nil {
		// The canary's deploy ran the cleanup already.
		if err := p.book.Update(ctx, rel); err != nil {
			return fmt.Errorf("record release %d: %w", p.number, err)
		}
		return nil
	}
	dropped, err := r.cleanup(ctx, applier, p)
	if err != nil {
		return err
	}
	drop := numbersIn(dropped)
	if err := p.book.Create(ctx, r.format(), rel, drop...); err != nil {
		if errors.Is(err, release.ErrExists) {
			return fmt.Errorf("release %d of %s was recorded by another deploy running at the same time; nothing was applied, run again: %w", p.number, r.cfg.Release, err)
		}
		return fmt.Errorf("record release %d: %w", p.number, err)
	}
	if len(drop) > 0 {
		r.env.Log.Infof("Cleaned up releases %s", releaseNumbers(dropped))
	}
	return nil
}

// deploy applies the objects and waits for the workloads. A failure comes
// with the reason the release records for it.
func (r *Rolling) deploy(ctx context.Context, applier *apply.Applier, p *rollingPlan, rel *release.Release) ([]rollout.Result, string, error) {
	res, err := applyReported(ctx, r.env, applier, p.objects, apply.Options{Baseline: p.baseline})
	rel.Metadata.CreatedObjects = createdObjects(res)
	if err != nil {
		return nil, "apply", err
	}
	if p.last != nil && p.last.Status != release.Succeeded {
		// The last deploy failed: its broken pods may block this one.
		if err := replaceStuckPods(ctx, r.env, p.workloads); err != nil {
			return nil, "apply", err
		}
	}
	if len(p.workloads) == 0 {
		return nil, "", nil
	}
	waited, err := waitSteady(ctx, r.env, p.workloads, r.cfg.FailFast, r.cfg.FailFastAfter)
	if err != nil {
		return nil, waitFailureReason(err), err
	}
	return waited, "", nil
}

// fail records rel as Failed and returns the step's result. The record
// runs on a short context of its own, since the step's may have ended
// (timeout, SIGTERM).
func (r *Rolling) fail(parent, ctx context.Context, p *rollingPlan, rel *release.Release, reason string, err error) (Result, error) {
	rel.Metadata.FailureReason = failureReason(parent, ctx, reason)
	if rerr := recordFailed(parent, r.env, p.book, rel, ""); rerr != nil {
		err = errors.Join(err, rerr)
	}
	return r.result(p, rel, err), err
}

// cleanup applies the cleanup rule of the history's format before the new
// release is recorded. Legacy: Failed releases and releases older than the
// last successful one leave the history, and their versioned ConfigMaps and
// Secrets are deleted. Declarative: Failed releases go, and of the older
// ones only the newest few stay. It deletes the versioned objects and
// returns the releases to drop from the history, which the caller does as
// it records the new release.
func (r *Rolling) cleanup(ctx context.Context, applier *apply.Applier, p *rollingPlan) (release.History, error) {
	drop := r.cleanupDrop(p)
	if len(drop) == 0 {
		return nil, nil
	}
	list := releaseNumbers(drop)
	if r.cfg.Declarative {
		r.env.Log.Infof("Release numbers to be deleted are: %s", list)
	}
	var refs []object.Ref
	config := drop.VersionedResources()
	if r.strategy != nil {
		config = r.strategy.staleConfig(p.book.Stored(r.format()), drop, p.resources)
	}
	for _, id := range config {
		refs = append(refs, id.Ref())
	}
	if _, err := deleteReported(ctx, r.env, applier, refs, r.owner(), "%s deleted"); err != nil {
		return nil, fmt.Errorf("clean up releases %s: %w", list, err)
	}
	return drop, nil
}

// prune deletes the objects of the previous successful release that the
// new one no longer has, in reverse apply order. Objects annotated
// harness.io/skipPruning: "true" stay.
func (r *Rolling) prune(ctx context.Context, applier *apply.Applier, p *rollingPlan) error {
	if p.previous == nil || len(p.previous.Manifests) == 0 {
		r.env.Log.Info("Pruning: no earlier release with stored manifests; nothing to prune")
		return nil
	}
	n, err := pruneStored(ctx, r.env, applier, r.owner(), p.previous, p.objects)
	if err == nil && n == 0 {
		r.env.Log.Info("Pruning: nothing to prune")
	}
	return err
}

// step names the step.
func (r *Rolling) step() string {
	if r.strategy != nil {
		return r.strategy.step()
	}
	return "rolling"
}

// owner is the release the step deploys, the owner of what it applies.
func (r *Rolling) owner() owner { return owner{Namespace: r.cfg.Namespace, Name: r.cfg.Release} }

func releaseNumbers(h release.History) string {
	numbers := make([]string, len(h))
	for i, rel := range h {
		numbers[i] = strconv.Itoa(rel.Number)
	}
	return strings.Join(numbers, ",")
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

// notRecorded is the result of a deploy that failed once its manifests
// were known but before it recorded a release (the dry run): Failed, with
// no release number, since none was created; a rollback given one would
// look for a release that does not exist.
func (r *Rolling) notRecorded(p *rollingPlan, err error) Result {
	return r.result(p, &release.Release{Status: release.Failed}, err)
}

// result is what the step reports, whatever the outcome. A release
// numbered 0 is one that was never recorded: its number output is empty.
func (r *Rolling) result(p *rollingPlan, rel *release.Release, failure error) Result {
	number := ""
	if rel.Number > 0 {
		number = strconv.Itoa(rel.Number)
	}
	previous := ""
	if p.previous != nil {
		previous = strconv.Itoa(p.previous.Number)
	}
	workloads := make([]string, len(p.workloads))
	for i, w := range p.workloads {
		workloads[i] = w.Kind + "/" + w.Name
	}
	outputs := []Output{
		{OutputRelease, r.cfg.Release},
		{OutputReleaseNumber, number},
		{OutputPreviousReleaseNumber, previous},
		{OutputStatus, string(rel.Status)},
		{OutputWorkloads, strings.Join(workloads, ",")},
		{OutputImages, strings.Join(p.images, ",")},
	}

	if previous == "" {
		previous = "none"
	}
	s := summary{
		Step:      r.step(),
		Release:   r.cfg.Release,
		Namespace: r.cfg.Namespace,
		Number:    rel.Number,
		Status:    string(rel.Status),
		Facts:     []fact{{"Previous successful release", previous}},
		Images:    p.images,
		Tables:    workloadTable(rel.Workloads),
		Failure:   failure,
	}
	if r.strategy != nil {
		outputs = r.strategy.report(outputs, &s)
	}
	return Result{Outputs: outputs, Summary: s.Markdown()}
}
