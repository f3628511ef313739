package manifest

import (
	"errors"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// parse reads literal YAML as Load reads a file named in.yaml.
func parse(t *testing.T, in string) []*yaml.RNode {
	t.Helper()
	nodes, errs := parseFile("in.yaml", []byte(in))
	if len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	return nodes
}

// str prints nodes as Encode does.
func str(t *testing.T, nodes []*yaml.RNode) string {
	t.Helper()
	s, err := String(nodes)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
