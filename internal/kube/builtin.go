package kube

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// builtinKind is a kind every supported Kubernetes serves under one GA
// version only, with a resource name and scope fixed by its API.
type builtinKind struct {
	group, version, kind, plural string
	namespaced                   bool
}

// builtinKinds are the kinds a deploy's manifests are mostly made of. Their
// mappings are known without asking the API server, which spares a typical
// deploy its discovery requests (two round trips before the first write).
// Kinds served under several versions (HorizontalPodAutoscaler) are left
// to discovery, which knows the server's preferred one.
// TestBuiltinKindsMatchDiscovery holds this table to the API server's.
var builtinKinds = []builtinKind{
	{"", "v1", "ConfigMap", "configmaps", true},
	{"", "v1", "Endpoints", "endpoints", true},
	{"", "v1", "LimitRange", "limitranges", true},
	{"", "v1", "Namespace", "namespaces", false},
	{"", "v1", "PersistentVolume", "persistentvolumes", false},
	{"", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true},
	{"", "v1", "Pod", "pods", true},
	{"", "v1", "PodTemplate", "podtemplates", true},
	{"", "v1", "ReplicationController", "replicationcontrollers", true},
	{"", "v1", "ResourceQuota", "resourcequotas", true},
	{"", "v1", "Secret", "secrets", true},
	{"", "v1", "Service", "services", true},
	{"", "v1", "ServiceAccount", "serviceaccounts", true},
	{"apps", "v1", "ControllerRevision", "controllerrevisions", true},
	{"apps", "v1", "DaemonSet", "daemonsets", true},
	{"apps", "v1", "Deployment", "deployments", true},
	{"apps", "v1", "ReplicaSet", "replicasets", true},
	{"apps", "v1", "StatefulSet", "statefulsets", true},
	{"batch", "v1", "CronJob", "cronjobs", true},
	{"batch", "v1", "Job", "jobs", true},
	{"coordination.k8s.io", "v1", "Lease", "leases", true},
	{"networking.k8s.io", "v1", "Ingress", "ingresses", true},
	{"networking.k8s.io", "v1", "IngressClass", "ingressclasses", false},
	{"networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", true},
	{"policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true},
	{"rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false},
	{"rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false},
	{"rbac.authorization.k8s.io", "v1", "Role", "roles", true},
	{"rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true},
	{"scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", false},
	{"storage.k8s.io", "v1", "StorageClass", "storageclasses", false},
	{"apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false},
}

// newBuiltinMapper maps builtinKinds, and nothing else.
func newBuiltinMapper() meta.RESTMapper {
	var versions []schema.GroupVersion
	for _, k := range builtinKinds {
		versions = append(versions, schema.GroupVersion{Group: k.group, Version: k.version})
	}
	m := meta.NewDefaultRESTMapper(versions)
	for _, k := range builtinKinds {
		gv := schema.GroupVersion{Group: k.group, Version: k.version}
		scope := meta.RESTScopeRoot
		if k.namespaced {
			scope = meta.RESTScopeNamespace
		}
		// Discovery's singular name of a built-in kind is its lower case.
		singular := gv.WithResource(strings.ToLower(k.kind))
		m.AddSpecific(gv.WithKind(k.kind), gv.WithResource(k.plural), singular, scope)
	}
	// The union removes the duplicate a kind whose singular is its plural
	// (Endpoints) leaves, as with discovery's mapper.
	return meta.MultiRESTMapper{m}
}

// fallbackMapper answers from first and asks then only what first does not
// know. Reset resets then.
type fallbackMapper struct {
	first meta.RESTMapper
	then  meta.ResettableRESTMapper
}

var _ meta.ResettableRESTMapper = fallbackMapper{}

func (m fallbackMapper) Reset() { m.then.Reset() }

// fallback returns the first answer unless first has no match.
func fallback[T any](v T, err error, then func() (T, error)) (T, error) {
	if err != nil && meta.IsNoMatchError(err) {
		return then()
	}
	return v, err
}

func (m fallbackMapper) KindFor(resource schema.GroupVersionResource) (schema.GroupVersionKind, error) {
	v, err := m.first.KindFor(resource)
	return fallback(v, err, func() (schema.GroupVersionKind, error) { return m.then.KindFor(resource) })
}

func (m fallbackMapper) KindsFor(resource schema.GroupVersionResource) ([]schema.GroupVersionKind, error) {
	v, err := m.first.KindsFor(resource)
	return fallback(v, err, func() ([]schema.GroupVersionKind, error) { return m.then.KindsFor(resource) })
}

func (m fallbackMapper) ResourceFor(input schema.GroupVersionResource) (schema.GroupVersionResource, error) {
	v, err := m.first.ResourceFor(input)
	return fallback(v, err, func() (schema.GroupVersionResource, error) { return m.then.ResourceFor(input) })
}

func (m fallbackMapper) ResourcesFor(input schema.GroupVersionResource) ([]schema.GroupVersionResource, error) {
	v, err := m.first.ResourcesFor(input)
	return fallback(v, err, func() ([]schema.GroupVersionResource, error) { return m.then.ResourcesFor(input) })
}

func (m fallbackMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	v, err := m.first.RESTMapping(gk, versions...)
	return fallback(v, err, func() (*meta.RESTMapping, error) { return m.then.RESTMapping(gk, versions...) })
}

func (m fallbackMapper) RESTMappings(gk schema.GroupKind, versions ...string) ([]*meta.RESTMapping, error) {
	v, err := m.first.RESTMappings(gk, versions...)
	return fallback(v, err, func() ([]*meta.RESTMapping, error) { return m.then.RESTMappings(gk, versions...) })
}

func (m fallbackMapper) ResourceSingularizer(resource string) (string, error) {
	v, err := m.first.ResourceSingularizer(resource)
	if err != nil {
		return m.then.ResourceSingularizer(resource)
	}
	return v, nil
}
