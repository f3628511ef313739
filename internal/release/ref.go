package release

import (
	"github.com/kube-release/kube-release/internal/object"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The formats name objects their own ways (Harness's KubernetesResourceId
// has no group, kube-release's metadata an apiVersion); everywhere else an
// object is an object.Ref. These convert at the edge.

// Ref returns the object the id names. Its Group is empty: Harness's format
// records none, and the kinds it names are unambiguous without one.
func (id ResourceID) Ref() object.Ref {
	return object.Ref{Kind: id.Kind, Namespace: id.Namespace, Name: id.Name}
}

// ResourceIDOf returns how Harness's format records ref.
func ResourceIDOf(ref object.Ref, versioned bool) ResourceID {
	return ResourceID{Kind: ref.Kind, Name: ref.Name, Namespace: ref.Namespace, Versioned: versioned}
}

// Ref returns the object o names.
func (o ObjectRef) Ref() object.Ref {
	gv, _ := schema.ParseGroupVersion(o.APIVersion)
	return object.Ref{Group: gv.Group, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name}
}

// ObjectRefOf returns how kube-release's metadata records ref, an object of
// apiVersion.
func ObjectRefOf(ref object.Ref, apiVersion string) ObjectRef {
	return ObjectRef{APIVersion: apiVersion, Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name}
}
