package manifest

import (
	"errors"
	"fmt"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// OwnerFilter annotates every object with the release it belongs to.
type OwnerFilter struct {
	Release, Namespace string
}

var _ kio.Filter = OwnerFilter{}

// Filter edits nodes in place and returns them.
func (f OwnerFilter) Filter(nodes []*yaml.RNode) ([]*yaml.RNode, error) {
	if f.Release == "" || f.Namespace == "" {
		return nil, errors.New("owner filter: no release name or namespace")
	}
	for _, node := range nodes {
		annotations, err := node.Pipe(yaml.LookupCreate(yaml.MappingNode, "metadata", "annotations"))
		if err == nil {
			err = annotations.PipeE(yaml.SetField(OwnerNameAnnotation, yaml.NewStringRNode(f.Release)))
		}
		if err == nil {
			err = annotations.PipeE(yaml.SetField(OwnerNamespaceAnnotation, yaml.NewStringRNode(f.Namespace)))
		}
		if err != nil {
			return nil, fmt.Errorf("%s: set annotation %s: %w", describe(node), OwnerNameAnnotation, err)
		}
	}
	return nodes, nil
}
