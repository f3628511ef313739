package steps

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kube-release/kube-release/internal/apply"
	"github.com/kube-release/kube-release/internal/object"
	"github.com/kube-release/kube-release/internal/release"
	"github.com/kube-release/kube-release/internal/render"
	"github.com/kube-release/kube-release/internal/rollout"
)

// The pieces every step is built of. A step prepares (renders its source,
// filters the objects, reads the history, plans) without writing, then
// executes with these: apply and report, wait, delete and report (cleanup,
// prune), and record the outcome on a context that outlives the step's.

// base is what every step holds: its own config and the plugin's
// environment.
type base[C any] struct {
	cfg C
	env Env
}

// source is where a deploying step's manifests come from and how they
// render.
type source struct {
	Release, Namespace string
	Manifests          []string
	Render             RenderConfig
	// CreateNamespace creates a missing namespace that the manifests do
	// not hold.
	CreateNamespace bool
	// first holds the manifests rendered to create a missing namespace
	// before the lock (see createNamespace), for the render that follows.
	first renderedManifests
}

// render renders the manifests for release number, or takes those that
// createNamespace rendered for it.
func (s *source) render(ctx context.Context, env Env, number int) ([]*yaml.RNode, error) {
	if nodes := s.first.take(number); nodes != nil {
		return nodes, nil
	}
	return renderManifests(ctx, env, s.Manifests, s.Namespace, s.Render,
		render.Release{Name: s.Release, Namespace: s.Namespace, Number: number})
}

// renderNewest renders the manifests of a step that records no release
// (apply, diff): templates see the newest number of the release's history,
// read and never written, or 0 without a release.
func (s *source) renderNewest(ctx context.Context, env Env) ([]*yaml.RNode, error) {
	number := 0
	if s.Release != "" {
		n, err := newestNumber(ctx, env, s.Namespace, s.Release)
		if err != nil {
			return nil, err
		}
		number = n
	}
	return s.render(ctx, env, number)
}

// createNamespace creates the missing namespace, from the manifests or
// with create_namespace, once they rendered for release number: a
// namespace that does not exist holds no history, so that is the first
// number of the step's kind.
func (s *source) createNamespace(ctx context.Context, env Env, timeout time.Duration, number int) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	nodes, err := s.render(ctx, env, number)
	if err != nil {
		return err
	}
	s.first = renderedManifests{number: number, nodes: nodes}
	return createNamespace(ctx, env, s.Namespace, nodes, s.CreateNamespace)
}

// objects converts the prepared manifests to the objects to apply and
// gives the applier that applies them.
func objects(env Env, nodes []*yaml.RNode) ([]*unstructured.Unstructured, *apply.Applier, error) {
	objs, err := toUnstructured(nodes)
	if err != nil {
		return nil, nil, err
	}
	applier, err := apply.New(env.Clients, apply.Config{})
	if err != nil {
		return nil, nil, err
	}
	return objs, applier, nil
}

// applyReported applies objs and logs the change set, and what a cut-off
// request may have created.
func applyReported(ctx context.Context, env Env, applier *apply.Applier, objs []*unstructured.Unstructured, opts apply.Options) (*apply.Result, error) {
	res, err := applier.Apply(ctx, objs, opts)
	logChanges(env, res)
	warnUnproven(env, res)
	if err != nil {
		return res, fmt.Errorf("apply: %w", err)
	}
	return res, nil
}

// waitSteady waits for workloads to reach steady state before ctx's
// deadline.
func waitSteady(ctx context.Context, env Env, workloads []object.Ref, failFast bool, failFastAfter time.Duration) ([]rollout.Result, error) {
	deadline, _ := ctx.Deadline()
	env.Log.Infof("Waiting for %d workloads to reach steady state (timeout %s)", len(workloads), time.Until(deadline).Round(time.Second))
	waited, err := newWaiter(env, failFast, failFastAfter).Wait(ctx, workloads)
	if err != nil {
		return nil, fmt.Errorf("wait for steady state: %w", err)
	}
	return waited, nil
}

// deleteReported deletes the objects of refs that are not another
// release's, logging each deletion with format (a printf format of the
// object, such as "Pruned %s"), and returns how many it deleted.
func deleteReported(ctx context.Context, env Env, applier *apply.Applier, refs []object.Ref, o owner, format string) (int, error) {
	if o.Name != "" {
		// With no release (delete without one) there is none to spare
		// the others from: what was named goes.
		var err error
		if refs, err = spare(ctx, env, applier, refs, o); err != nil || len(refs) == 0 {
			return 0, err
		}
	}
	deleted, err := applier.Delete(ctx, refs, apply.DeleteOptions{})
	for _, c := range deleted {
		env.Log.Infof(format, c.Ref)
	}
	return len(deleted), err
}

// pruneStored deletes the objects of a release's stored manifests that
// keep no longer holds, in reverse apply order; objects annotated
// harness.io/skipPruning: "true" stay.
func pruneStored(ctx context.Context, env Env, applier *apply.Applier, o owner, from *release.Release, keep []*unstructured.Unstructured) (int, error) {
	refs, err := pruneRefs(from.Manifests, keep)
	if err != nil {
		return 0, fmt.Errorf("prune: release %d: %w", from.Number, err)
	}
	n, err := deleteReported(ctx, env, applier, refs, o, "Pruned %s")
	if err != nil {
		return n, fmt.Errorf("prune: %w", err)
	}
	return n, nil
}

// recordTimeout bounds the history write that records an outcome after the
// step's own context may have ended (timeout, SIGTERM).
const recordTimeout = 20 * time.Second

// recordFailed records rel as Failed, with reason, on a short context of
// its own: the step's may have ended, and a failure must still be
// recorded. A release that is no longer in the history is not an error.
func recordFailed(parent context.Context, env Env, book *release.Book, rel *release.Release, reason string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), recordTimeout)
	defer cancel()
	rel.Status = release.Failed
	if rel.Metadata.FailureReason == "" {
		rel.Metadata.FailureReason = reason
	}
	if err := book.Update(ctx, rel); err != nil {
		if errors.Is(err, release.ErrNotFound) {
			return nil
		}
		return fmt.Errorf("record release %d as Failed: %w", rel.Number, err)
	}
	env.Log.Infof("Release %d recorded as Failed (%s)", rel.Number, rel.Metadata.FailureReason)
	return nil
}
