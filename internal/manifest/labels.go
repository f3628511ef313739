package manifest

import (
	"errors"
	"fmt"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// ReleaseLabelFilter labels the pod template of every managed workload with
// harness.io/release-name: Release, so the release's pods can be found.
// Selectors are left alone: a Deployment's selector is immutable, and adding
// the label to it would make the next apply fail.
type ReleaseLabelFilter struct {
	Release string
}

var _ kio.Filter = ReleaseLabelFilter{}

// Filter edits nodes in place and returns them.
func (f ReleaseLabelFilter) Filter(nodes []*yaml.RNode) ([]*yaml.RNode, error) {
	if f.Release == "" {
		return nil, errors.New("release label filter: no release name")
	}
	for _, node := range nodes {
		if !IsManagedWorkload(node) {
			continue
		}
		tmpl, err := PodTemplate(node)
		if err == nil && tmpl == nil {
			err = errors.New("no pod template")
		}
		if err == nil {
			err = tmpl.PipeE(
				yaml.LookupCreate(yaml.MappingNode, "metadata", "labels"),
				yaml.SetField(ReleaseNameLabel, yaml.NewStringRNode(f.Release)))
		}
		if err != nil {
			return nil, fmt.Errorf("%s: set label %s: %w", describe(node), ReleaseNameLabel, err)
		}
	}
	return nodes, nil
}
