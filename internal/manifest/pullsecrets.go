package manifest

import (
	"fmt"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// PullSecretsFilter adds image pull secrets to the pod spec of every
// object that has one (workloads, Pods, Jobs and CronJobs), as
// Azure/k8s-deploy's imagepullsecrets does: a private registry's
// credentials set once for the whole deploy. A secret the pod spec lists
// already is not listed twice.
type PullSecretsFilter struct {
	Names []string
}

// Filter implements kio.Filter.
func (f PullSecretsFilter) Filter(nodes []*yaml.RNode) ([]*yaml.RNode, error) {
	if len(f.Names) == 0 {
		return nodes, nil
	}
	for _, node := range nodes {
		spec, err := PodSpec(node)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", describe(node), err)
		}
		if spec == nil {
			continue
		}
		list, err := spec.Pipe(yaml.LookupCreate(yaml.SequenceNode, "imagePullSecrets"))
		if err != nil {
			return nil, fmt.Errorf("%s: spec.imagePullSecrets: %w", describe(node), err)
		}
		have := map[string]bool{}
		elements, err := list.Elements()
		if err != nil {
			return nil, fmt.Errorf("%s: spec.imagePullSecrets: %w", describe(node), err)
		}
		for _, e := range elements {
			have[stringAt(e, "name")] = true
		}
		for _, name := range f.Names {
			if have[name] {
				continue
			}
			have[name] = true
			if err := list.PipeE(yaml.Append(yaml.NewMapRNode(&map[string]string{"name": name}).YNode())); err != nil {
				return nil, err
			}
		}
	}
	return nodes, nil
}
