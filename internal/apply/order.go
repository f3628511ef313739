package apply

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// stage is a step of the apply order. Objects of one stage do not depend on
// each other, so they are applied in parallel; a stage only starts once the
// previous one is applied.
type stage int

const (
	stageNamespaces stage = iota
	stageQuotas
	stageSecrets
	stageConfigMaps
	stageClasses
	stagePersistentVolumes
	stagePersistentVolumeClaims
	stageServiceAccounts
	stageCRDs
	// RBAC is split by kind: without the "bind" and "escalate" verbs the API
	// server only accepts a binding whose role already exists and grants no
	// more than the deployer holds, so roles go before their bindings.
	stageClusterRoles
	stageClusterRoleBindings
	stageRoles
	stageRoleBindings
	stageServices
	stageOther
)

const (
	groupCore        = ""
	groupRBAC        = "rbac.authorization.k8s.io"
	groupExtensions  = "apiextensions.k8s.io"
	groupStorage     = "storage.k8s.io"
	groupScheduling  = "scheduling.k8s.io"
	groupNode        = "node.k8s.io"
	groupNetworking  = "networking.k8s.io"
	kindNamespace    = "Namespace"
	kindSecret       = "Secret"
	kindConfigMap    = "ConfigMap"
	kindCRD          = "CustomResourceDefinition"
	crdEstablished   = "Established"
	crdNamesAccepted = "NamesAccepted"
)

// stageOf places a kind in the apply order of semantics.md. The group
// matters: a custom kind named "Service" is not a core Service.
func stageOf(gk schema.GroupKind) stage {
	switch gk.Group {
	case groupCore:
		switch gk.Kind {
		case kindNamespace:
			return stageNamespaces
		case "ResourceQuota", "LimitRange":
			return stageQuotas
		case kindSecret:
			return stageSecrets
		case kindConfigMap:
			return stageConfigMaps
		case "PersistentVolume":
			return stagePersistentVolumes
		case "PersistentVolumeClaim":
			return stagePersistentVolumeClaims
		case "ServiceAccount":
			return stageServiceAccounts
		case "Service":
			return stageServices
		}
	case groupStorage:
		if gk.Kind == "StorageClass" {
			return stageClasses
		}
	// Pods naming a missing PriorityClass or RuntimeClass are refused at
	// admission, so these cluster-wide classes go with StorageClass, as Helm
	// and Flux also apply them early.
	case groupScheduling:
		if gk.Kind == "PriorityClass" {
			return stageClasses
		}
	case groupNode:
		if gk.Kind == "RuntimeClass" {
			return stageClasses
		}
	case groupNetworking:
		if gk.Kind == "IngressClass" {
			return stageClasses
		}
	case groupExtensions:
		if gk.Kind == kindCRD {
			return stageCRDs
		}
	case groupRBAC:
		switch gk.Kind {
		case "ClusterRole":
			return stageClusterRoles
		case "ClusterRoleBinding":
			return stageClusterRoleBindings
		case "Role":
			return stageRoles
		case "RoleBinding":
			return stageRoleBindings
		}
	}
	// Workloads and everything else, custom resources included: their CRDs
	// are established by now.
	return stageOther
}

// Order groups objects into the stages they are applied in: Namespaces;
// ResourceQuotas and LimitRanges; Secrets; ConfigMaps; StorageClasses (and
// the other cluster-wide classes pods refer to); PersistentVolumes;
// PersistentVolumeClaims; ServiceAccounts; CustomResourceDefinitions;
// ClusterRoles; ClusterRoleBindings; Roles; RoleBindings; Services; then
// everything else, custom resources included. Empty stages are left out, and
// objects keep their input order within a stage, so the result is
// deterministic.
func Order(objs []*unstructured.Unstructured) [][]*unstructured.Unstructured {
	var out [][]*unstructured.Unstructured
	for _, s := range stages(objs) {
		out = append(out, s.objs)
	}
	return out
}

type stageObjs struct {
	stage stage
	objs  []*unstructured.Unstructured
}

func stages(objs []*unstructured.Unstructured) []stageObjs {
	by := make([][]*unstructured.Unstructured, stageOther+1)
	for _, obj := range objs {
		s := stageOf(obj.GroupVersionKind().GroupKind())
		by[s] = append(by[s], obj)
	}
	var out []stageObjs
	for s, objs := range by {
		if len(objs) > 0 {
			out = append(out, stageObjs{stage(s), objs})
		}
	}
	return out
}
