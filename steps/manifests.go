package steps

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/sirupsen/logrus"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kube-release/kube-release/internal/apply"
	"github.com/kube-release/kube-release/internal/logging"
	"github.com/kube-release/kube-release/internal/manifest"
	"github.com/kube-release/kube-release/internal/object"
	"github.com/kube-release/kube-release/internal/release"
	"github.com/kube-release/kube-release/internal/rollout"
	"github.com/kube-release/kube-release/internal/versioning"
)

// filter runs kyaml filters in order.
func filter(nodes []*yaml.RNode, filters ...kio.Filter) ([]*yaml.RNode, error) {
	var err error
	for _, f := range filters {
		if nodes, err = f.Filter(nodes); err != nil {
			return nil, err
		}
	}
	return nodes, nil
}

// toUnstructured converts the nodes to API objects, without the internal
// bookkeeping annotations. JSON is the bridge: unstructured objects must
// hold int64 and float64, never the int kyaml would give.
func toUnstructured(nodes []*yaml.RNode) ([]*unstructured.Unstructured, error) {
	clean, err := manifest.ForApply(nodes)
	if err != nil {
		return nil, err
	}
	objs := make([]*unstructured.Unstructured, len(clean))
	for i, n := range clean {
		data, err := n.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", manifest.Source(nodes[i]), err)
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(data); err != nil {
			return nil, fmt.Errorf("%s: %w", manifest.Source(nodes[i]), err)
		}
		objs[i] = obj
	}
	return objs, nil
}

// resources are the release record's view of the objects: kind, name (the
// versioned one), namespace, and whether it was versioned.
func resources(nodes []*yaml.RNode) []release.ResourceID {
	ids := make([]release.ResourceID, len(nodes))
	for i, n := range nodes {
		ids[i] = release.ResourceIDOf(object.OfNode(n), versioning.Versioned(n))
	}
	return ids
}

// resourceTable is the "Kind  Name  Versioned" table Harness users know
// from their deploy logs.
func resourceTable(ids []release.ResourceID) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 4, 4, ' ', 0)
	fmt.Fprintln(w, "Kind\tName\tVersioned")
	for _, id := range ids {
		fmt.Fprintf(w, "%s\t%s\t%t\n", id.Kind, id.Name, id.Versioned)
	}
	w.Flush()
	return strings.TrimRight(b.String(), "\n")
}

// managedWorkloads are the workloads a rolling deploy waits for and records
// (manifest.Managed).
func managedWorkloads(nodes []*yaml.RNode) []object.Ref {
	return manifest.Workloads(nodes, manifest.Managed)
}

// logChanges prints the change set, one object a line.
// Under GitHub Actions the lines fold under a title that counts them.
func logChanges(env Env, res *apply.Result) {
	if res == nil || len(res.Changes) == 0 {
		return
	}
	counts := map[apply.Action]int{}
	for _, c := range res.Changes {
		counts[c.Action]++
	}
	var parts []string
	for _, a := range []apply.Action{apply.Created, apply.Configured, apply.Unchanged, apply.Deleted} {
		if counts[a] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[a], a))
		}
	}
	end := logging.Section(env.Log, logrus.InfoLevel, fmt.Sprintf("Applied %d objects: %s", len(res.Changes), strings.Join(parts, ", ")))
	defer end()
	for _, c := range res.Changes {
		env.Log.Info(c.String())
	}
}

// logResources prints the resource table, folded under GitHub Actions.
func logResources(log logrus.FieldLogger, ids []release.ResourceID) {
	end := logging.Section(log, logrus.InfoLevel, fmt.Sprintf("Resources (%d)", len(ids)))
	defer end()
	log.Info(resourceTable(ids))
}

// logManifests prints the manifests as they will be applied, at debug
// level and folded under GitHub Actions, with every Secret value masked.
func logManifests(log logrus.FieldLogger, nodes []*yaml.RNode) {
	if len(nodes) == 0 {
		return
	}
	if logger, ok := log.(interface{ IsLevelEnabled(logrus.Level) bool }); ok && !logger.IsLevelEnabled(logrus.DebugLevel) {
		// Encoding every manifest is not free; skip it when nobody reads it.
		return
	}
	masked := make([]*yaml.RNode, len(nodes))
	for i, n := range nodes {
		masked[i] = manifest.Masked(n)
	}
	text, err := manifest.String(masked)
	if err != nil {
		log.Debugf("rendered manifests: %v", err)
		return
	}
	end := logging.Section(log, logrus.DebugLevel, fmt.Sprintf("Rendered manifests (%d objects)", len(nodes)))
	defer end()
	log.Debug(strings.TrimRight(text, "\n"))
}

// dryRun validates every object server-side without writing, and returns
// the result a real apply compares against to tell unchanged objects.
func dryRun(ctx context.Context, env Env, applier *apply.Applier, objs []*unstructured.Unstructured) (*apply.Result, error) {
	res, err := applier.Apply(ctx, objs, apply.Options{DryRun: true})
	if err != nil {
		return nil, fmt.Errorf("dry run (nothing was changed): %w", err)
	}
	for _, s := range res.Skipped {
		env.Log.Debug(s.String())
	}
	env.Log.Infof("Dry run passed for %d objects", len(objs)-len(res.Skipped))
	return res, nil
}

// dryRunAndDiff is dryRun, followed, when diff is set, by the diff of what
// the apply is about to change.
func dryRunAndDiff(ctx context.Context, env Env, applier *apply.Applier, objs []*unstructured.Unstructured, diff bool) (*apply.Result, error) {
	baseline, err := dryRun(ctx, env, applier, objs)
	if err != nil || !diff {
		return baseline, err
	}
	objects, summary, err := diffObjects(ctx, env, objs, baseline)
	if err != nil {
		return nil, fmt.Errorf("diff (nothing was changed): %w", err)
	}
	logDiff(env, objects, summary)
	return baseline, nil
}

// newWaiter is the waiter of a step: fail-fast as configured, progress
// lines to the log.
func newWaiter(env Env, failFast bool, failFastAfter time.Duration) *rollout.Waiter {
	return rollout.NewWaiter(env.Clients.Typed, rollout.Options{
		FailFast:      failFast,
		FailFastAfter: failFastAfter,
		OnProgress:    newProgressPrinter(env.Log).print,
	})
}

// encodeManifests renders the objects as a declarative release stores
// them: the multi-document YAML of every object as applied.
func encodeManifests(nodes []*yaml.RNode) ([]byte, error) {
	clean, err := manifest.ForApply(nodes)
	if err != nil {
		return nil, err
	}
	docs := make([][]byte, len(clean))
	for i, n := range clean {
		s, err := n.String()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", manifest.Source(nodes[i]), err)
		}
		docs[i] = []byte(s)
	}
	return release.JoinManifests(docs...), nil
}

// decodeManifests parses the manifests a declarative release stored.
func decodeManifests(data []byte) ([]*unstructured.Unstructured, error) {
	nodes, err := kio.FromBytes(data)
	if err != nil {
		return nil, err
	}
	return toUnstructured(nodes)
}

// SkipPruningAnnotation keeps an object when pruning would delete it.
const SkipPruningAnnotation = manifest.SkipPruningAnnotation

// pruneRefs are the objects of stored manifests that are not among keep,
// except those annotated SkipPruningAnnotation: "true".
func pruneRefs(stored []byte, keep []*unstructured.Unstructured) ([]object.Ref, error) {
	old, err := decodeManifests(stored)
	if err != nil {
		return nil, err
	}
	kept := make(map[object.Ref]bool, len(keep))
	for _, obj := range keep {
		kept[object.Of(obj)] = true
	}
	var refs []object.Ref
	for _, obj := range old {
		ref := object.Of(obj)
		if kept[ref] || manifest.HasTrue(obj.GetAnnotations(), SkipPruningAnnotation) {
			continue
		}
		refs = append(refs, ref)
	}
	return refs, nil
}

// replaceStuckPods lets StatefulSets recover from a broken revision: their
// controller never replaces a pod that is not ready, so one left at a bad
// revision blocks every later rollout until it is deleted.
func replaceStuckPods(ctx context.Context, env Env, workloads []object.Ref) error {
	deleted := make([][]string, len(workloads))
	errs := make([]error, len(workloads))
	var wg sync.WaitGroup
	for i, w := range workloads {
		if w.Kind != rollout.KindStatefulSet {
			continue
		}
		wg.Go(func() { deleted[i], errs[i] = rollout.ReplaceStuckPods(ctx, env.Clients.Typed, w) })
	}
	wg.Wait()
	for i, w := range workloads {
		for _, pod := range deleted[i] {
			env.Log.Infof("%s: deleted pod %s, stuck at an earlier revision, so that it is re-created from the current one", w, pod)
		}
	}
	return errors.Join(errs...)
}
