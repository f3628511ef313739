package steps

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kube-release/kube-release/internal/apply"
	"github.com/kube-release/kube-release/internal/logging"
	"github.com/kube-release/kube-release/internal/manifest"
	"github.com/kube-release/kube-release/internal/object"
	"github.com/kube-release/kube-release/internal/rollout"
)

// ApplyConfig is what the apply step needs of the settings.
type ApplyConfig struct {
	// Release is optional. When set, templates see it as .Release.Name and
	// the newest number of its history (read, never written) as
	// .Release.Number; otherwise the name is empty and the number 0.
	Release   string
	Namespace string
	Manifests []string
	Render    RenderConfig
	// Timeout bounds applying and waiting.
	Timeout              time.Duration
	SkipDryRun           bool
	SkipSteadyStateCheck bool
	FailFast             bool
	FailFastAfter        time.Duration
	// Diff prints the diff against the live objects before applying.
	Diff bool
	// CreateNamespace creates the namespace when it does not exist and
	// the manifests do not hold it.
	CreateNamespace bool
	// TakeOwnership adopts objects that another release owns instead of
	// refusing the apply (with a Release only).
	TakeOwnership bool
}

// Apply applies manifests with the rolling deploy's engine and order, and
// waits for the workloads it applied, Jobs included. It records no release
// and versions nothing, so rollback never undoes it: the step for a
// migration Job or an object outside the release.
type Apply struct {
	base[ApplyConfig]
	src source
}

// NewApply returns the apply step.
func NewApply(cfg ApplyConfig, env Env) *Apply {
	src := source{cfg.Release, cfg.Namespace, cfg.Manifests, cfg.Render, cfg.CreateNamespace, renderedManifests{}}
	return &Apply{base[ApplyConfig]{cfg, env}, src}
}

// The statuses the apply step reports (as a release's, for one vocabulary).
const (
	statusSucceeded = string(StatusSucceeded)
	statusFailed    = string(StatusFailed)
)

// Run implements Step. With a release, the apply holds the release's deploy
// lock, so it never races a deploy or rollback of it; the lock lives in the
// namespace, which a first apply may create first.
func (a *Apply) Run(ctx context.Context) (Result, error) {
	if a.cfg.Release != "" {
		return withLockCreatingNamespace(ctx, a.env, a.cfg.Namespace, a.cfg.Release, a.createNamespace, a.run)
	}
	if a.cfg.CreateNamespace {
		// No lock tells that the namespace is missing: ask. A Namespace
		// among the manifests needs no such step, as the apply creates
		// Namespaces first.
		exists, err := namespaceExists(ctx, a.env, a.cfg.Namespace)
		if err != nil {
			return Result{}, err
		}
		if !exists {
			if err := a.createNamespace(ctx); err != nil {
				return Result{}, err
			}
		}
	}
	return a.run(ctx)
}

// createNamespace creates the missing namespace, from the manifests or with
// create_namespace, once they rendered. A namespace that does not exist
// holds no history, so templates see release number 0.
func (a *Apply) createNamespace(ctx context.Context) error {
	return a.src.createNamespace(ctx, a.env, a.cfg.Timeout, 0)
}

func (a *Apply) run(ctx context.Context) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
	defer cancel()

	// Prepare: nothing below writes until the real apply.
	nodes, err := a.prepare(ctx)
	if err != nil {
		return Result{}, err
	}
	owned := a.cfg.Release != ""
	workloads := applyWorkloads(nodes)
	images := manifest.Images(nodes)
	objs, applier, err := objects(a.env, nodes)
	if err != nil {
		return Result{}, err
	}
	if owned {
		err = claim(ctx, a.env, applier, objs, a.owner(), a.cfg.TakeOwnership)
	} else {
		err = keepOwners(ctx, applier, objs)
	}
	if err != nil {
		return a.result(nil, images, err), err
	}
	var baseline *apply.Result
	if !a.cfg.SkipDryRun {
		if baseline, err = dryRunAndDiff(ctx, a.env, applier, objs, bool(a.cfg.Diff)); err != nil {
			// Nothing was applied; the CI still learns that the step failed.
			return a.result(nil, images, err), err
		}
	}

	res, err := applyReported(ctx, a.env, applier, objs, apply.Options{Baseline: baseline})
	if err != nil {
		return a.result(res, images, err), err
	}
	return a.wait(ctx, res, len(objs), workloads, images)
}

// prepare renders the manifests, for the newest release number of the
// release's history (0 without a release), and marks them as the
// release's own: with a release, what the apply writes is the release's.
func (a *Apply) prepare(ctx context.Context) ([]*yaml.RNode, error) {
	nodes, err := a.src.renderNewest(ctx, a.env)
	if err != nil {
		return nil, err
	}
	if a.cfg.Release != "" {
		if nodes, err = filter(nodes, a.owner().Filter()); err != nil {
			return nil, err
		}
	}
	logManifests(a.env.Log, nodes)
	return nodes, nil
}

// wait waits for the applied workloads, unless skip_steady_state_check,
// and returns the step's result.
func (a *Apply) wait(ctx context.Context, res *apply.Result, applied int, workloads []object.Ref, images []string) (Result, error) {
	log := a.env.Log
	if a.cfg.SkipSteadyStateCheck || len(workloads) == 0 {
		if len(workloads) > 0 {
			log.Infof("Not waiting for %d workloads (skip_steady_state_check)", len(workloads))
		}
		logging.Succeeded(log, "Applied %d objects", applied)
		return a.result(res, images, nil), nil
	}

	waited, err := waitSteady(ctx, a.env, workloads, a.cfg.FailFast, a.cfg.FailFastAfter)
	if err != nil {
		return a.result(res, images, err), err
	}
	for _, w := range waited {
		if w.Workload.Kind == rollout.KindJob {
			log.Infof("%s complete", w.Workload)
		} else {
			log.Infof("%s ready at revision %s", w.Workload, w.Revision)
		}
	}
	logging.Succeeded(log, "Applied %d objects; %d workloads reached steady state", applied, len(waited))
	return a.result(res, images, nil), nil
}

// owner is the release the apply belongs to.
func (a *Apply) owner() owner { return owner{Namespace: a.cfg.Namespace, Name: a.cfg.Release} }

// applyWorkloads are what the apply step waits for: the Deployments,
// StatefulSets, DaemonSets and Jobs of the set not marked direct-apply. A
// Job is done when Complete; Failed fails the step.
func applyWorkloads(nodes []*yaml.RNode) []object.Ref {
	return append(managedWorkloads(nodes), manifest.Workloads(nodes, manifest.WaitedJob)...)
}

// result is what the step reports, whatever the outcome; failure is the
// error that ended it, nil when it succeeded.
func (a *Apply) result(res *apply.Result, images []string, failure error) Result {
	status := statusSucceeded
	if failure != nil {
		status = statusFailed
	}
	var changes []string
	if res != nil {
		for _, c := range res.Changes {
			changes = append(changes, c.String())
		}
	}
	outputs := []Output{
		{OutputStatus, status},
		{OutputApplied, strconv.Itoa(len(changes))},
		{OutputChanges, capLines(changes, changesOutputLimit)},
		{OutputImages, strings.Join(images, ",")},
	}
	s := summary{
		Step:      "apply",
		Release:   a.cfg.Release,
		Namespace: a.cfg.Namespace,
		Status:    status,
		Note:      fmt.Sprintf("%d objects applied.", len(changes)),
		Failure:   failure,
	}
	if len(changes) > 0 {
		t := table{Header: []string{"Object", "Change"}}
		for _, c := range res.Changes {
			t.Rows = append(t.Rows, []string{c.Ref.String(), string(c.Action)})
		}
		s.Tables = []table{t}
	}
	return Result{Outputs: outputs, Summary: s.Markdown()}
}
