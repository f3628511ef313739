package manifest

import (
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// ErrUnknownKind is what a ScopeFunc returns (or wraps) for a kind the
// cluster does not serve. NamespaceFilter also treats RESTMapper "no match"
// errors as this.
var ErrUnknownKind = errors.New("unknown kind")

// ScopeFunc tells whether objects of a kind are namespaced. The caller backs
// it with the cluster's RESTMapper (see ScopeFromRESTMapper).
type ScopeFunc func(apiVersion, kind string) (namespaced bool, err error)

// ScopeFromRESTMapper adapts a RESTMapper to a ScopeFunc.
func ScopeFromRESTMapper(mapper meta.RESTMapper) ScopeFunc {
	return func(apiVersion, kind string) (bool, error) {
		gv, err := schema.ParseGroupVersion(apiVersion)
		if err != nil {
			return false, err
		}
		m, err := mapper.RESTMapping(gv.WithKind(kind).GroupKind(), gv.Version)
		if err != nil {
			return false, err
		}
		return m.Scope.Name() == meta.RESTScopeNameNamespace, nil
	}
}

// NamespaceFilter sets metadata.namespace to Namespace on every namespaced
// object that has none, as kubectl apply -n does. Cluster-scoped objects are
// left as they are (the API server ignores a namespace on them), and so is an
// object that names another namespace.
//
// The scope of a kind comes from a CustomResourceDefinition in the same set
// when there is one, since its kind is not known to the cluster before the
// CRD is applied, and from Scope otherwise. Every object is checked, even one
// that already has a namespace, so that a kind the cluster does not know is
// reported before anything is applied. All problems are reported together.
type NamespaceFilter struct {
	// Namespace is the target namespace; it must not be empty.
	Namespace string
	// Scope answers for kinds without a CRD in the set; nil knows no kind.
	Scope ScopeFunc
}

var _ kio.Filter = NamespaceFilter{}

// Filter edits nodes in place and returns them.
func (f NamespaceFilter) Filter(nodes []*yaml.RNode) ([]*yaml.RNode, error) {
	if f.Namespace == "" {
		return nil, errors.New("namespace filter: no target namespace")
	}
	crdScopes := crdScopes(nodes)
	var errs []error
	for _, node := range nodes {
		namespaced, err := f.namespaced(node, crdScopes)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", describe(node), err))
			continue
		}
		if !namespaced || node.GetNamespace() != "" {
			continue
		}
		if err := node.PipeE(yaml.SetK8sNamespace(f.Namespace)); err != nil {
			errs = append(errs, fmt.Errorf("%s: set namespace: %w", describe(node), err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return nodes, nil
}

func (f NamespaceFilter) namespaced(node *yaml.RNode, crdScopes map[schema.GroupKind]bool) (bool, error) {
	apiVersion, kind := node.GetApiVersion(), node.GetKind()
	if namespaced, ok := crdScopes[schema.GroupKind{Group: group(apiVersion), Kind: kind}]; ok {
		return namespaced, nil
	}
	if f.Scope == nil {
		return false, ErrUnknownKind
	}
	namespaced, err := f.Scope(apiVersion, kind)
	if meta.IsNoMatchError(err) {
		// The mapper's message repeats kind and version, which the
		// subject already names; what helps is where to look.
		return false, fmt.Errorf("%w: the cluster serves no such resource (check apiVersion and kind; "+
			"a custom resource needs its CustomResourceDefinition installed, or in the same manifests)", ErrUnknownKind)
	}
	return namespaced, err
}

// crdScopes maps the kinds that CRDs in nodes define to whether they are
// namespaced. Scope is immutable on a CRD, so the manifest is authoritative.
func crdScopes(nodes []*yaml.RNode) map[schema.GroupKind]bool {
	scopes := map[schema.GroupKind]bool{}
	for _, node := range nodes {
		if node.GetKind() != "CustomResourceDefinition" || group(node.GetApiVersion()) != "apiextensions.k8s.io" {
			continue
		}
		kind := stringAt(node, "spec", "names", "kind")
		if kind == "" {
			continue
		}
		// Namespaced is the API's default and the only other value.
		gk := schema.GroupKind{Group: stringAt(node, "spec", "group"), Kind: kind}
		scopes[gk] = stringAt(node, "spec", "scope") != "Cluster"
	}
	return scopes
}
