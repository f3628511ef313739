// Package object holds the one type that names a Kubernetes object across
// kube-release: what apply changes, what rollout waits for, what a release
// records (converted at the edge of its formats) and what the steps print.
package object

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Ref names an object.
type Ref struct {
	// Group is the API group; "" is the core group. Where a reference
	// comes from a record that holds no group (Harness's history records
	// only kind, namespace and name), "" also stands for a kind of another
	// group that the kind alone names unambiguously.
	Group     string
	Kind      string
	Namespace string // empty for cluster-scoped objects
	Name      string
}

// Of returns the reference of an object.
func Of(obj *unstructured.Unstructured) Ref {
	return Ref{
		Group:     obj.GroupVersionKind().Group,
		Kind:      obj.GetKind(),
		Namespace: obj.GetNamespace(),
		Name:      obj.GetName(),
	}
}

// OfNode returns the reference of a manifest.
func OfNode(n *yaml.RNode) Ref {
	gv, _ := schema.ParseGroupVersion(n.GetApiVersion())
	return Ref{Group: gv.Group, Kind: n.GetKind(), Namespace: n.GetNamespace(), Name: n.GetName()}
}

// GroupKind returns the reference's group and kind.
func (r Ref) GroupKind() schema.GroupKind { return schema.GroupKind{Group: r.Group, Kind: r.Kind} }

// String is how lists, change sets and progress lines name the object, as
// Flux does: Deployment/default/web, or ClusterRole/admin for a
// cluster-scoped object.
func (r Ref) String() string {
	if r.Namespace == "" {
		return r.Kind + "/" + r.Name
	}
	return r.Kind + "/" + r.Namespace + "/" + r.Name
}

// Subject is how a sentence names the object, first in an error message:
// Deployment default/web, or ClusterRole admin.
func (r Ref) Subject() string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}
