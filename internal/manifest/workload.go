package manifest

import (
	"slices"

	"github.com/kube-release/kube-release/internal/object"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Role is what the steps do with an object of the manifests: the one place
// that decides it.
type Role int

const (
	// NotAWorkload: applied, nothing more.
	NotAWorkload Role = iota
	// Managed: an apps Deployment, StatefulSet or DaemonSet. A rolling
	// deploy labels its pod template, waits for it, records its revision,
	// and a rollback undoes it.
	Managed
	// LabelledOnly: an OpenShift DeploymentConfig. Its pod template gets
	// the release label, as Harness does, but kube-release cannot follow
	// its rollouts: applied, not waited for.
	LabelledOnly
	// WaitedJob: a batch Job; the apply step waits until it is Complete.
	WaitedJob
	// DirectApply: a workload annotated harness.io/direct-apply: "true" (in
	// any case): applied, never labelled, waited for or rolled back.
	DirectApply
)

// RoleOf classifies an object.
func RoleOf(node *yaml.RNode) Role {
	var role Role
	switch groupKind(node) {
	case "apps/Deployment", "apps/StatefulSet", "apps/DaemonSet":
		role = Managed
	case "apps.openshift.io/DeploymentConfig":
		role = LabelledOnly
	case "batch/Job":
		role = WaitedJob
	default:
		return NotAWorkload
	}
	if HasTrue(node.GetAnnotations(DirectApplyAnnotation), DirectApplyAnnotation) {
		return DirectApply
	}
	return role
}

// IsManagedWorkload reports whether node's pod template carries the
// release label: a Managed or LabelledOnly workload.
func IsManagedWorkload(node *yaml.RNode) bool {
	r := RoleOf(node)
	return r == Managed || r == LabelledOnly
}

// Workloads lists the objects of nodes whose role is one of roles, in
// order.
func Workloads(nodes []*yaml.RNode, roles ...Role) []object.Ref {
	var out []object.Ref
	for _, n := range nodes {
		if slices.Contains(roles, RoleOf(n)) {
			out = append(out, object.OfNode(n))
		}
	}
	return out
}

// PodTemplatePath returns the fields leading from an object to its pod
// template (a PodTemplateSpec), and false for a kind without one. For a Pod
// the path is empty: the object itself is the template.
func PodTemplatePath(node *yaml.RNode) ([]string, bool) {
	switch groupKind(node) {
	case "apps/Deployment", "apps/StatefulSet", "apps/DaemonSet", "apps/ReplicaSet",
		"batch/Job", "/ReplicationController", "apps.openshift.io/DeploymentConfig":
		return []string{"spec", "template"}, true
	case "batch/CronJob":
		return []string{"spec", "jobTemplate", "spec", "template"}, true
	case "/Pod":
		return []string{}, true
	}
	return nil, false
}

// PodTemplate returns the pod template of a workload (the object itself for a
// Pod), or nil when node is not a workload or has no template.
func PodTemplate(node *yaml.RNode) (*yaml.RNode, error) {
	path, ok := PodTemplatePath(node)
	if !ok {
		return nil, nil
	}
	if len(path) == 0 {
		return node, nil
	}
	return node.Pipe(yaml.Lookup(path...))
}

// PodSpec returns the pod spec of a workload, or nil when node is not a
// workload or has none.
func PodSpec(node *yaml.RNode) (*yaml.RNode, error) {
	tmpl, err := PodTemplate(node)
	if err != nil || tmpl == nil {
		return nil, err
	}
	return tmpl.Pipe(yaml.Lookup("spec"))
}

// Containers returns the containers and then the init containers of a pod
// spec. Ephemeral containers are never part of a manifest.
func Containers(podSpec *yaml.RNode) ([]*yaml.RNode, error) {
	var all []*yaml.RNode
	for _, field := range []string{"containers", "initContainers"} {
		list, err := podSpec.Pipe(yaml.Lookup(field))
		if err != nil {
			return nil, err
		}
		if list == nil || list.YNode().Kind != yaml.SequenceNode {
			continue
		}
		elements, err := list.Elements()
		if err != nil {
			return nil, err
		}
		all = append(all, elements...)
	}
	return all, nil
}

// groupKind is "group/Kind", with an empty group for the core API.
func groupKind(node *yaml.RNode) string {
	return group(node.GetApiVersion()) + "/" + node.GetKind()
}
