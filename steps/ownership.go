package steps

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kube-release/kube-release/internal/apply"
	"github.com/kube-release/kube-release/internal/manifest"
	"github.com/kube-release/kube-release/internal/object"
)

// owner is a release as the owner of the objects it applies.
type owner apply.Owner

// Filter annotates every object with the owner.
func (o owner) Filter() manifest.OwnerFilter {
	return manifest.OwnerFilter{Release: o.Name, Namespace: o.Namespace}
}

// claim checks, before anything is written, that no object of the set
// belongs to another release. With take (take_ownership) the release
// adopts them, each with a warning naming the release it takes it from;
// without, the step fails naming every such object and its owner.
func claim(ctx context.Context, env Env, applier *apply.Applier, objs []*unstructured.Unstructured, o owner, take bool) error {
	owner := apply.Owner(o)
	conflicts, err := applier.Conflicts(ctx, objs, owner)
	if err != nil {
		return err
	}
	if len(conflicts) == 0 {
		return nil
	}
	if take {
		for _, c := range conflicts {
			env.Log.Warnf("take_ownership: release %s takes over %s", owner, c)
		}
		return nil
	}
	lines := make([]string, len(conflicts))
	for i, c := range conflicts {
		lines[i] = "  " + c.String()
	}
	return fmt.Errorf("release %s would take over %d objects of other releases (nothing was changed):\n%s\nrename them in one of the releases, or set take_ownership: true to move them to release %s",
		owner, len(conflicts), strings.Join(lines, "\n"), owner)
}

// keepOwners marks each object that a release owns with its owner, for an
// apply without a release: it applies with the field manager of every
// step, so leaving the annotations out would strip the ownership.
func keepOwners(ctx context.Context, applier *apply.Applier, objs []*unstructured.Unstructured) error {
	owners, err := applier.Owners(ctx, objs)
	if err != nil {
		return err
	}
	for _, obj := range objs {
		if o, ok := owners[object.Of(obj)]; ok {
			annotations := obj.GetAnnotations()
			if annotations == nil {
				annotations = map[string]string{}
			}
			annotations[manifest.OwnerNameAnnotation] = o.Name
			annotations[manifest.OwnerNamespaceAnnotation] = o.Namespace
			obj.SetAnnotations(annotations)
		}
	}
	return nil
}

// spare leaves out of a cleanup or pruning what another release owns or
// uses, with a log line for each.
func spare(ctx context.Context, env Env, applier *apply.Applier, refs []object.Ref, o owner) ([]object.Ref, error) {
	del, spared, err := applier.Spare(ctx, refs, apply.Owner(o))
	if err != nil {
		return nil, err
	}
	for _, s := range spared {
		env.Log.Infof("%s not deleted: %s", s.Ref, s.Reason)
	}
	return del, nil
}
