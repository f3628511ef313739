package manifest

import (
	"bytes"
	"fmt"
	"io"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// maskedValue replaces every secret value in Masked output.
const maskedValue = "***"

// lastAppliedAnnotation holds a full copy of the object, Secret data
// included, on objects that kubectl apply (client-side) has touched.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// Masked returns a copy of node that is safe to print: for a Secret, every
// value of data and stringData (and kubectl's last-applied copy) becomes
// "***"; keys stay, so a diff still shows which keys changed. A data or
// stringData that is not a mapping (a string, a list: a mistake the API
// server rejects) is a value too, and becomes "***" whole. Other objects
// are copied as they are.
func Masked(node *yaml.RNode) *yaml.RNode {
	c := node.Copy()
	if groupKind(c) != "/Secret" {
		return c
	}
	for _, field := range []string{"data", "stringData"} {
		m, err := c.Pipe(yaml.Lookup(field))
		if err != nil || m == nil {
			continue
		}
		if m.YNode().Kind != yaml.MappingNode {
			// Replaced in place, style and comments gone with the value.
			*m.YNode() = *yaml.NewStringRNode(maskedValue).YNode()
			continue
		}
		content := m.YNode().Content
		for i := 1; i < len(content); i += 2 {
			content[i] = yaml.NewStringRNode(maskedValue).YNode()
		}
	}
	if _, ok := c.GetAnnotations(lastAppliedAnnotation)[lastAppliedAnnotation]; ok {
		// Setting an existing annotation cannot fail on a mapping.
		_ = c.PipeE(yaml.SetAnnotation(lastAppliedAnnotation, maskedValue))
	}
	return c
}

// Encode writes nodes as multi-document YAML, without internal annotations.
// It does not mask Secrets: print Masked copies for logs.
func Encode(w io.Writer, nodes []*yaml.RNode) error {
	clean, err := ForApply(nodes)
	if err != nil {
		return err
	}
	// ForApply has dropped the path annotation, so ByteWriter never switches
	// to JSON for a single object read from a .json file.
	if err := (kio.ByteWriter{Writer: w}).Write(clean); err != nil {
		return fmt.Errorf("encode manifests: %w", err)
	}
	return nil
}

// String returns nodes as multi-document YAML, like Encode.
func String(nodes []*yaml.RNode) (string, error) {
	var b bytes.Buffer
	if err := Encode(&b, nodes); err != nil {
		return "", err
	}
	return b.String(), nil
}
