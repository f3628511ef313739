package steps

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/kube-release/kube-release/internal/apply"
	"github.com/kube-release/kube-release/internal/logging"
	"github.com/kube-release/kube-release/internal/object"
	"github.com/kube-release/kube-release/internal/release"
)

// CanaryDeleteConfig is what the canary delete step needs of the settings.
type CanaryDeleteConfig struct {
	SwapConfig
	// Objects is the canary step's canary_workload output
	// (namespace/Kind/name, comma-separated); empty: the canary objects
	// of the newest release.
	Objects string
}

// CanaryDelete deletes a canary's objects once it is verified (or not).
// An object that is gone already is no failure, so a retried step
// succeeds; the history is left as it is.
type CanaryDelete struct{ base[CanaryDeleteConfig] }

// NewCanaryDelete returns the canary delete step.
func NewCanaryDelete(cfg CanaryDeleteConfig, env Env) *CanaryDelete {
	return &CanaryDelete{base[CanaryDeleteConfig]{cfg, env}}
}

// Run implements Step, under the release's deploy lock.
func (c *CanaryDelete) Run(ctx context.Context) (Result, error) {
	return withBook(ctx, c.env, c.cfg.SwapConfig, c.run)
}

func (c *CanaryDelete) run(ctx context.Context, book *release.Book) (Result, error) {
	refs, rel, err := c.objects(book)
	if err == nil && len(refs) == 0 {
		c.env.Log.Info("No canary objects found to delete")
	}
	deleted := 0
	if err == nil && len(refs) > 0 {
		deleted, err = deleteCanary(ctx, c.env, c.owner(), refs)
	}
	status := statusSucceeded
	if err != nil {
		status = statusFailed
	} else {
		logging.Succeeded(c.env.Log, "Deleted %d canary objects", deleted)
	}
	return c.result(status, rel, deleted, err), err
}

func (c *CanaryDelete) result(status string, rel *release.Release, deleted int, failure error) Result {
	s := summary{Step: "canary_delete", Release: c.cfg.Release, Namespace: c.cfg.Namespace, Status: status, Failure: failure,
		Note: fmt.Sprintf("%d canary objects deleted.", deleted)}
	number := ""
	if rel != nil {
		s.Number, number = rel.Number, strconv.Itoa(rel.Number)
	}
	return Result{Outputs: []Output{{OutputRelease, c.cfg.Release}, {OutputReleaseNumber, number}, {OutputStatus, status}}, Summary: s.Markdown()}
}

func (c *CanaryDelete) owner() owner { return owner{Namespace: c.cfg.Namespace, Name: c.cfg.Release} }

// objects are the canary objects to delete: those the canary step output,
// else the newest release's. Only canary objects of the step's namespace
// are deleted.
func (c *CanaryDelete) objects(book *release.Book) ([]object.Ref, *release.Release, error) {
	newest := book.Newest()
	if strings.TrimSpace(c.cfg.Objects) == "" {
		if newest == nil {
			return nil, nil, nil
		}
		f, _ := book.Format(newest.Number)
		return canaryObjects(&stored{Release: newest, declarative: f == release.Declarative}), newest, nil
	}
	var refs []object.Ref
	for _, entry := range strings.Split(c.cfg.Objects, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		parts := strings.Split(entry, "/")
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			return nil, newest, fmt.Errorf("canary object %q: want namespace/Kind/name, as the canary step's canary_workload output has them", entry)
		}
		if parts[0] != c.cfg.Namespace || !strings.HasSuffix(parts[2], canarySuffix) {
			return nil, newest, fmt.Errorf("canary object %q: not a canary object (<name>%s) of namespace %s; nothing was deleted", entry, canarySuffix, c.cfg.Namespace)
		}
		refs = append(refs, object.Ref{Kind: parts[1], Namespace: parts[0], Name: parts[2]})
	}
	return refs, newest, nil
}

// deleteCanary deletes canary objects, the workload first so its pods
// stop before their HPA and PDB go; what is gone already counts as done.
func deleteCanary(ctx context.Context, env Env, o owner, refs []object.Ref) (int, error) {
	applier, err := apply.New(env.Clients, apply.Config{})
	if err != nil {
		return 0, err
	}
	n, err := deleteReported(ctx, env, applier, refs, o, "%s deleted")
	if err != nil {
		return n, fmt.Errorf("delete the canary: %w", err)
	}
	return n, nil
}
