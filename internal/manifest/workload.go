package manifest

import (
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

const (
	// DirectApplyAnnotation marks a workload that is applied but not managed:
	// no release label, no waiting for steady state, no rollback.
	DirectApplyAnnotation = "harness.io/direct-apply"

	// ReleaseNameLabel is set on the pod template of every managed workload.
	ReleaseNameLabel = "harness.io/release-name"
)

// IsManagedWorkload reports whether node is a workload that a rolling deploy
// waits for and a rollback undoes: an apps Deployment, StatefulSet or
// DaemonSet, or an OpenShift DeploymentConfig, unless it is annotated
// harness.io/direct-apply: "true" (in any case).
func IsManagedWorkload(node *yaml.RNode) bool {
	switch groupKind(node) {
	case "apps/Deployment", "apps/StatefulSet", "apps/DaemonSet", "apps.openshift.io/DeploymentConfig":
		return !isTrue(node.GetAnnotations(DirectApplyAnnotation)[DirectApplyAnnotation])
	}
	return false
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
