package manifest

import (
	"errors"
	"fmt"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// CheckDuplicates reports every object that appears more than once with the
// same group, kind, namespace and name, naming all its sources: applying
// both would let one silently replace the other. Run it after
// NamespaceFilter, which makes implicit namespaces explicit.
func CheckDuplicates(nodes []*yaml.RNode) error {
	type key struct{ group, kind, namespace, name string }
	seen := map[key][]*yaml.RNode{}
	var order []key
	for _, node := range nodes {
		k := key{group(node.GetApiVersion()), node.GetKind(), node.GetNamespace(), node.GetName()}
		if _, ok := seen[k]; !ok {
			order = append(order, k)
		}
		seen[k] = append(seen[k], node)
	}
	var errs []error
	for _, k := range order {
		same := seen[k]
		if len(same) < 2 {
			continue
		}
		sources := make([]string, len(same))
		for i, node := range same {
			sources[i] = Source(node)
			if sources[i] == "" {
				sources[i] = "(unknown source)"
			}
		}
		errs = append(errs, fmt.Errorf("%s: defined more than once: %s", ID(same[0]), strings.Join(sources, ", ")))
	}
	return errors.Join(errs...)
}
