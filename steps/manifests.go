package steps

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kube-release/kube-release/internal/apply"
	"github.com/kube-release/kube-release/internal/manifest"
	"github.com/kube-release/kube-release/internal/release"
	"github.com/kube-release/kube-release/internal/rollout"
	"github.com/kube-release/kube-release/internal/versioning"
)

// readManifests loads the manifests and places namespaced objects without
// a namespace in the target one. Scope comes from the cluster's discovery
// (one pass, cached), or from a CRD in the same set. Nothing is written.
func readManifests(env Env, patterns []string, namespace string) ([]*yaml.RNode, error) {
	nodes, err := manifest.Load(patterns)
	if err != nil {
		return nil, err
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("manifests %s: no objects found", strings.Join(patterns, ", "))
	}
	scope := manifest.NamespaceFilter{Namespace: namespace, Scope: manifest.ScopeFromRESTMapper(env.Clients.Mapper)}
	if nodes, err = scope.Filter(nodes); err != nil {
		return nil, err
	}
	if err := manifest.CheckDuplicates(nodes); err != nil {
		return nil, err
	}
	return nodes, nil
}

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
		ids[i] = release.ResourceID{Kind: n.GetKind(), Name: n.GetName(), Namespace: n.GetNamespace(), Versioned: versioning.Versioned(n)}
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

// managedWorkloads are the workloads a rolling deploy waits for and records:
// Deployments, StatefulSets and DaemonSets not marked direct-apply.
func managedWorkloads(nodes []*yaml.RNode) []rollout.Workload {
	var ws []rollout.Workload
	for _, n := range nodes {
		if !manifest.IsManagedWorkload(n) {
			continue
		}
		switch n.GetKind() {
		case rollout.KindDeployment, rollout.KindStatefulSet, rollout.KindDaemonSet:
			ws = append(ws, rollout.Workload{Kind: n.GetKind(), Namespace: n.GetNamespace(), Name: n.GetName()})
		}
	}
	return ws
}

// createdObjects are the objects an apply created, for the release record
// (what on_first_failure: delete may remove).
func createdObjects(res *apply.Result) []release.ObjectRef {
	if res == nil {
		return nil
	}
	var refs []release.ObjectRef
	for _, c := range res.Changes {
		if c.Action != apply.Created {
			continue
		}
		apiVersion := ""
		if c.Object != nil {
			apiVersion = c.Object.GetAPIVersion()
		}
		refs = append(refs, release.ObjectRef{APIVersion: apiVersion, Kind: c.Ref.Kind, Namespace: c.Ref.Namespace, Name: c.Ref.Name})
	}
	return refs
}

// logChanges prints the change set, one object a line.
func logChanges(env Env, res *apply.Result) {
	if res == nil {
		return
	}
	for _, c := range res.Changes {
		env.Log.Info(c.String())
	}
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
