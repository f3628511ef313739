package steps

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"sigs.k8s.io/kustomize/kyaml/kio"

	"github.com/kube-release/kube-release/internal/apply"
	"github.com/kube-release/kube-release/internal/diagnose"
	"github.com/kube-release/kube-release/internal/object"
	"github.com/kube-release/kube-release/internal/release"
	"github.com/kube-release/kube-release/internal/rollout"
)

// RollbackConfig is what the rollback step needs of the settings.
type RollbackConfig struct {
	Release   string
	Namespace string
	Timeout   time.Duration
	// ReleaseNumber is the release to roll back (the deploy step's
	// release_number output); 0 means the newest.
	ReleaseNumber int
	// RollbackTo is the release to return to; 0 means the last successful
	// one before ReleaseNumber. It must be Succeeded.
	RollbackTo int
	// OnFirstFailure says what to do when there is nothing to return to:
	// keep the failed release's objects, or delete those it created.
	OnFirstFailure OnFirstFailure
	// Pruning deletes the objects the rolled-back release added (declarative
	// releases only; the target's own objects are re-created anyway).
	Pruning       bool
	FailFast      bool
	FailFastAfter time.Duration
}

// Rollback returns a release's workloads to an earlier successful release.
// Everything it needs is read from the cluster, so it runs in a later step
// or job than the deploy.
type Rollback struct {
	cfg RollbackConfig
	env Env
	// book is the release's history, read as the rollback starts; every
	// record goes through it, to the store that holds the release.
	book *release.Book
}

// NewRollback returns the rollback step.
func NewRollback(cfg RollbackConfig, env Env) *Rollback {
	return &Rollback{cfg: cfg, env: env}
}

// Outcomes of a rollback, the step's status output.
const (
	rollbackSucceeded = string(StatusSucceeded)
	rollbackFailed    = string(StatusFailed)
	rollbackSkipped   = string(StatusSkipped)
)

// stored is a release of the history and whether a declarative Secret
// holds it: a history may span both formats (a release that moved to
// declarative mode).
type stored struct {
	*release.Release
	declarative bool
}

// Run implements Step. The rollback holds the release's deploy lock, so it
// never races a deploy of the same release.
func (rb *Rollback) Run(ctx context.Context) (Result, error) {
	return withLock(ctx, rb.env, rb.cfg.Namespace, rb.cfg.Release, rb.run)
}

func (rb *Rollback) run(ctx context.Context) (Result, error) {
	log := rb.env.Log
	stepCtx, cancel := context.WithTimeout(ctx, rb.cfg.Timeout)
	defer cancel()

	plan, err := rb.choose(stepCtx)
	switch {
	case err != nil:
		return rb.failed(nil, plan.current, "", err)
	case plan.skip:
		return rb.result(rollbackSkipped, nil, nil, ""), nil
	case plan.current.Color.Valid() && rb.cfg.RollbackTo == 0:
		return rb.blueGreen(ctx, stepCtx, plan.current)
	}
	current, target := plan.current, plan.target
	evidence := rb.evidence(stepCtx, current)
	if res, done, err := rb.canary(ctx, stepCtx, current, evidence); done {
		return res, err
	}

	if target == nil {
		return rb.firstFailure(ctx, stepCtx, current, evidence)
	}
	log.Infof("Previous eligible Release is %d with status %s.", target.Number, target.Status)
	log.Infof("Rolling back to release %d", target.Number)

	waited, err := rb.restore(stepCtx, current, target)
	if err != nil {
		rb.markFailed(ctx, current, "rollback failed")
		return rb.failed(target, current, evidence, fmt.Errorf("roll back release %d to %d: %w", current.Number, target.Number, err))
	}
	if err := rb.markRolledBack(ctx, current, target, waited); err != nil {
		return rb.failed(target, current, evidence, err)
	}
	log.Infof("Rolled back release %d of %s to release %d", current.Number, rb.cfg.Release, target.Number)
	return rb.result(rollbackSucceeded, target, current, evidence), nil
}

// rollbackPlan is what a rollback settles before it changes anything.
type rollbackPlan struct {
	// current is the release rolled back, target the one it returns to:
	// nil when there is none, as after a failed first release.
	current, target *stored
	// skip says there is nothing to roll back.
	skip bool
}

// choose reads the history and settles, by the book's rules, which
// release is rolled back and which it returns to. It changes nothing.
func (rb *Rollback) choose(ctx context.Context) (rollbackPlan, error) {
	log := rb.env.Log
	if err := rb.readHistory(ctx); err != nil {
		return rollbackPlan{}, err
	}
	history := rb.book.History()
	if len(history) == 0 {
		return rollbackPlan{skip: true}, rb.noHistory()
	}
	current, err := rb.current(history)
	if err != nil {
		return rollbackPlan{}, err
	}
	if current.Status == release.InProgress {
		log.Infof("Release %d is InProgress: its run ended without recording an outcome", current.Number)
	}
	if current.Color.Valid() && rb.cfg.RollbackTo == 0 {
		// A blue/green release, whatever its status: swapped in, it is
		// rolled back by swapping back; not, by recording it Failed, so
		// that no swap routes users to it (see Rollback.blueGreen).
		return rollbackPlan{current: current}, nil
	}
	if rb.cfg.ReleaseNumber == 0 && rb.cfg.RollbackTo == 0 && current.Status == release.Succeeded {
		log.Info("No failed release found. Skipping rollback.")
		return rollbackPlan{skip: true}, nil
	}
	if current.Status == release.Succeeded {
		// Asked for by number: a release that succeeded but is wrong (a bad
		// config that passed its checks) is rolled back like a failed one.
		log.Infof("Release %d Succeeded; rolling it back as asked", current.Number)
	}
	target, err := rb.target(history, current)
	return rollbackPlan{current: current, target: target}, err
}

// readHistory reads both formats into the book (a declarative release wins
// over a legacy one of the same number, even when it cannot be read), and
// fails when the rollback needs a release that cannot be read (see
// checkUnreadable).
func (rb *Rollback) readHistory(ctx context.Context) error {
	rb.book = rb.env.book(rb.cfg.Namespace, rb.cfg.Release)
	unreadable, err := readBook(ctx, rb.book)
	if err != nil {
		return err
	}
	return rb.checkUnreadable(rb.book.History(), unreadable)
}

// noHistory ends a rollback of a release without history: there is nothing
// to do, unless a release was asked for by number. That one must exist:
// skipping would pass a pipeline that names the wrong release, namespace
// or cluster.
func (rb *Rollback) noHistory() error {
	setting, n := "release_number", rb.cfg.ReleaseNumber
	if n == 0 {
		setting, n = "rollback_to", rb.cfg.RollbackTo
	}
	if n != 0 {
		return fmt.Errorf("%s %d: release %s has no history in namespace %s", setting, n, rb.cfg.Release, rb.cfg.Namespace)
	}
	rb.env.Log.Infof("No release history found for release %s", rb.cfg.Release)
	return nil
}

// entry is release r of the book, as the rollback handles it.
func (rb *Rollback) entry(r *release.Release) *stored {
	f, _ := rb.book.Format(r.Number)
	return &stored{Release: r, declarative: f == release.Declarative}
}

// current is the release being rolled back: release_number, else the newest.
func (rb *Rollback) current(history release.History) (*stored, error) {
	if rb.cfg.ReleaseNumber == 0 {
		return rb.entry(history.Latest()), nil
	}
	if r := history.Get(rb.cfg.ReleaseNumber); r != nil {
		return rb.entry(r), nil
	}
	return nil, fmt.Errorf("release_number %d: release %s has no such release (it has %s)", rb.cfg.ReleaseNumber, rb.cfg.Release, releaseNumbers(history))
}

// target is the release to return to: rollback_to, else the last
// successful release before current; nil when there is none.
func (rb *Rollback) target(history release.History, current *stored) (*stored, error) {
	if n := rb.cfg.RollbackTo; n != 0 {
		t := history.Get(n)
		switch {
		case t == nil:
			return nil, fmt.Errorf("rollback_to %d: release %s has no such release (it has %s)", n, rb.cfg.Release, releaseNumbers(history))
		case n >= current.Number:
			return nil, fmt.Errorf("rollback_to %d: must be older than release %d, the one rolled back", n, current.Number)
		case t.Status != release.Succeeded:
			return nil, fmt.Errorf("rollback_to %d: release %d is %s; only a Succeeded release can be returned to", n, n, t.Status)
		}
		return rb.entry(t), nil
	}
	if t := rb.book.LastSuccessful(current.Number); t != nil {
		return rb.entry(t), nil
	}
	return nil, nil
}

// firstFailure handles a release with nothing to return to. keep: leave it
// as it is. delete: remove what the release created, never an object that
// existed before it.
func (rb *Rollback) firstFailure(parent, ctx context.Context, current *stored, evidence string) (Result, error) {
	log := rb.env.Log
	if rb.cfg.OnFirstFailure != OnFirstFailureDelete {
		log.Info("No previous eligible release found. Can't rollback.")
		return rb.result(rollbackSkipped, nil, nil, evidence), nil
	}
	created := current.Metadata.CreatedObjects
	if len(created) == 0 {
		log.Infof("No previous eligible release found. Release %d records no objects it created, so nothing is deleted.", current.Number)
		rb.markFailed(parent, current, "rolled back")
		return rb.result(rollbackSkipped, nil, current, evidence), nil
	}
	log.Infof("No previous eligible release found. Deleting the %d objects release %d created (on_first_failure: delete)", len(created), current.Number)
	applier, err := apply.New(rb.env.Clients, apply.Config{})
	if err != nil {
		return rb.failed(nil, current, evidence, err)
	}
	refs := make([]object.Ref, len(created))
	for i, o := range created {
		refs[i] = o.Ref()
	}
	// What it created may have been taken over by another release since.
	if refs, err = spare(ctx, rb.env, applier, refs, rb.owner()); err != nil {
		return rb.failed(nil, current, evidence, fmt.Errorf("delete the objects of release %d: %w", current.Number, err))
	}
	deleted, err := applier.Delete(ctx, refs, apply.DeleteOptions{})
	for _, c := range deleted {
		log.Info(c.String())
	}
	rb.markFailed(parent, current, "rolled back")
	if err != nil {
		return rb.failed(nil, current, evidence, fmt.Errorf("delete the objects of release %d: %w", current.Number, err))
	}
	return rb.result(rollbackSucceeded, nil, current, evidence), nil
}

// owner is the release rolled back, the owner of what it re-applies.
func (rb *Rollback) owner() owner { return owner{Namespace: rb.cfg.Namespace, Name: rb.cfg.Release} }

// evidence logs why the release failed, before anything is changed, and
// returns it as Markdown for the step summary.
func (rb *Rollback) evidence(ctx context.Context, current *stored) string {
	workloads := workloadsOf(current)
	if len(workloads) == 0 {
		return ""
	}
	report, err := diagnose.Collect(ctx, rb.env.Clients.Typed, workloads, diagnose.Options{})
	if report != nil {
		for _, line := range report.Lines() {
			rb.env.Log.Info(line)
		}
	}
	if err != nil {
		rb.env.Log.Warnf("evidence of the failure of release %d: %v", current.Number, err)
	}
	if report == nil {
		return ""
	}
	return report.Markdown()
}

// workloadsOf are a release's managed workloads: recorded (legacy) or
// read from its manifests (declarative).
func workloadsOf(s *stored) []object.Ref {
	if !s.declarative {
		ws := make([]object.Ref, 0, len(s.Workloads))
		for _, w := range s.Workloads {
			ws = append(ws, w.ID.Ref())
		}
		return ws
	}
	nodes, err := kio.FromBytes(s.Manifests)
	if err != nil {
		return nil
	}
	return managedWorkloads(nodes)
}

// restore returns the workloads to target and waits for them.
func (rb *Rollback) restore(ctx context.Context, current, target *stored) ([]rollout.Result, error) {
	var workloads []object.Ref
	var err error
	if target.declarative {
		workloads, err = rb.reapply(ctx, current, target)
	} else {
		workloads, err = rb.undo(ctx, target)
	}
	if err != nil || len(workloads) == 0 {
		return nil, err
	}
	if err := replaceStuckPods(ctx, rb.env, workloads); err != nil {
		return nil, err
	}
	return waitSteady(ctx, rb.env, workloads, rb.cfg.FailFast, rb.cfg.FailFastAfter)
}

// reapply re-applies a declarative target's stored manifests, which
// restores config too and re-creates whatever was pruned since, and
// returns its workloads.
func (rb *Rollback) reapply(ctx context.Context, current, target *stored) ([]object.Ref, error) {
	nodes, err := kio.FromBytes(target.Manifests)
	if err != nil {
		return nil, fmt.Errorf("release %d manifests: %w", target.Number, err)
	}
	workloads := managedWorkloads(nodes)
	// A release Harness recorded stored its manifests unmarked.
	if nodes, err = filter(nodes, rb.owner().Filter()); err != nil {
		return nil, fmt.Errorf("release %d manifests: %w", target.Number, err)
	}
	objs, applier, err := objects(rb.env, nodes)
	if err != nil {
		return nil, fmt.Errorf("release %d manifests: %w", target.Number, err)
	}
	if err := claim(ctx, rb.env, applier, objs, rb.owner(), false); err != nil {
		return nil, err
	}
	if _, err := applyReported(ctx, rb.env, applier, objs, apply.Options{}); err != nil {
		return nil, err
	}
	if rb.cfg.Pruning && current.declarative {
		// What the rolled-back release added, and the target lacks.
		if _, err := pruneStored(ctx, rb.env, applier, rb.owner(), current.Release, objs); err != nil {
			return nil, err
		}
	}
	return workloads, nil
}

// undo returns each managed workload of a legacy target to its recorded
// revision, as kubectl rollout undo --to-revision does, all at once, and
// returns them. The target's versioned config still exists, so the old
// pods get their old config back.
func (rb *Rollback) undo(ctx context.Context, target *stored) ([]object.Ref, error) {
	type undone struct {
		workload object.Ref
		msg      string
		err      error
	}
	results := make([]*undone, len(target.Workloads))
	var wg sync.WaitGroup
	for i, w := range target.Workloads {
		wl := w.ID.Ref()
		revision, err := strconv.ParseInt(w.Revision, 10, 64)
		if err != nil || revision < 1 {
			rb.env.Log.Warnf("%s: release %d records no revision (%q); left as it is", wl, target.Number, w.Revision)
			continue
		}
		results[i] = &undone{workload: wl}
		wg.Go(func() {
			results[i].msg, results[i].err = rollout.Undo(ctx, rb.env.Clients.Typed, wl, revision)
		})
	}
	wg.Wait()
	var errs []error
	var undoneWorkloads []object.Ref
	for _, r := range results {
		switch {
		case r == nil:
		case r.err != nil:
			errs = append(errs, r.err)
		default:
			rb.env.Log.Infof("%s: %s", r.workload, r.msg)
			undoneWorkloads = append(undoneWorkloads, r.workload)
		}
	}
	// Even when some undo failed, or the step is being cancelled, the
	// history must name the revisions the undone workloads now have: a
	// rollback run again finds its target by them.
	rb.refreshRevisions(ctx, target, undoneWorkloads)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return workloadsOf(target), nil
}

// refreshRevisions records, as soon as their controllers have seen the
// undo, the revision numbers the undone workloads of a legacy target have
// now: undo renumbers the template it returns to, and a history that kept
// the old number could not be rolled back again after an interruption. It
// runs on a short context of its own, so a cancelled step still records
// them; a failure is a warning, since markRolledBack tries again.
func (rb *Rollback) refreshRevisions(parent context.Context, target *stored, workloads []object.Ref) {
	if len(workloads) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), recordTimeout)
	defer cancel()
	revisions := make([]rollout.Result, len(workloads))
	var wg sync.WaitGroup
	for i, w := range workloads {
		wg.Go(func() {
			rev, err := rollout.ObservedRevision(ctx, rb.env.Clients.Typed, w)
			if err != nil {
				rb.env.Log.Warnf("release %d: %v", target.Number, err)
			}
			revisions[i] = rollout.Result{Workload: w, Revision: rev}
		})
	}
	wg.Wait()
	if err := rb.recordRevisions(ctx, target, revisions); err != nil {
		rb.env.Log.Warn(err)
	}
}

// recordRevisions updates the revisions a legacy target records for its
// workloads, when any changed.
func (rb *Rollback) recordRevisions(ctx context.Context, target *stored, results []rollout.Result) error {
	updated := target.Release.Clone()
	changed := false
	for i, w := range updated.Workloads {
		for _, res := range results {
			if res.Workload.Kind == w.ID.Kind && res.Workload.Namespace == w.ID.Namespace && res.Workload.Name == w.ID.Name &&
				res.Revision != "" && res.Revision != w.Revision {
				updated.Workloads[i].Revision = res.Revision
				changed = true
			}
		}
	}
	if !changed {
		return nil
	}
	if err := rb.book.Update(ctx, updated); err != nil {
		return fmt.Errorf("record the revisions of release %d: %w", target.Number, err)
	}
	target.Release = updated
	return nil
}

// markRolledBack records the outcome: the rolled-back release is Failed,
// and a legacy target's workloads record the revision they are at now,
// because undo gives the restored template a new revision number and the
// old one no longer exists.
func (rb *Rollback) markRolledBack(ctx context.Context, current, target *stored, waited []rollout.Result) error {
	if !target.declarative {
		if err := rb.recordRevisions(ctx, target, waited); err != nil {
			return err
		}
	}
	return rb.markFailedErr(ctx, current, "rolled back")
}

// markFailed records current as Failed under a fresh short context, so it
// is recorded even when the step was cancelled; a failure to record is
// logged.
func (rb *Rollback) markFailed(parent context.Context, current *stored, reason string) {
	if err := rb.markFailedErr(parent, current, reason); err != nil {
		rb.env.Log.Error(err)
	}
}

func (rb *Rollback) markFailedErr(parent context.Context, current *stored, reason string) error {
	if current.Status == release.Failed && current.Metadata.FailureReason != "" {
		rb.env.Log.Infof("Release %d stays Failed (%s)", current.Number, current.Metadata.FailureReason)
		return nil
	}
	return recordFailed(parent, rb.env, rb.book, current.Release.Clone(), reason)
}

// failed is the result of a rollback that err ended, and err.
func (rb *Rollback) failed(target, current *stored, evidence string, err error) (Result, error) {
	res := rb.resultWith(rollbackFailed, target, current, evidence, err)
	return res, err
}

func (rb *Rollback) result(status string, target, current *stored, evidence string) Result {
	return rb.resultWith(status, target, current, evidence, nil)
}

func (rb *Rollback) resultWith(status string, target, current *stored, evidence string, failure error) Result {
	targetNumber, currentNumber := "", ""
	if target != nil {
		targetNumber = strconv.Itoa(target.Number)
	}
	if current != nil {
		currentNumber = strconv.Itoa(current.Number)
	}
	outputs := []Output{
		{OutputRelease, rb.cfg.Release},
		{OutputReleaseNumber, targetNumber},
		{OutputRolledBackReleaseNumber, currentNumber},
		{OutputStatus, status},
	}
	s := summary{
		Step:      "rollback",
		Release:   rb.cfg.Release,
		Namespace: rb.cfg.Namespace,
		Status:    status,
		Failure:   failure,
		Evidence:  evidence,
	}
	switch {
	case target != nil:
		s.Number = current.Number
		s.Note = fmt.Sprintf("Release %s rolled back to release %s.", currentNumber, targetNumber)
		if failure != nil {
			s.Note = fmt.Sprintf("Release %s was not rolled back to release %s.", currentNumber, targetNumber)
		}
		s.Facts = []fact{{"Rolled back to release", targetNumber}}
		s.Tables = workloadTable(target.Workloads)
	case current != nil:
		s.Number = current.Number
		s.Note = fmt.Sprintf("Release %s: no earlier successful release to return to.", currentNumber)
	}
	return Result{Outputs: outputs, Summary: s.Markdown()}
}
