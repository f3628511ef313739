// Package manifest reads Kubernetes manifests into kyaml nodes that remember
// the file and document they came from, and holds the pure kyaml filters that
// prepare them for a deploy: namespace, release label and image overrides.
//
// Every function here works on *yaml.RNode and never talks to a cluster, so
// each edit is tested with literal YAML in and out.
package manifest

import (
	"fmt"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio/kioutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// InternalAnnotationPrefix prefixes the annotations kube-release sets for its
// own bookkeeping (list item index, versioning marks). ForApply removes every
// annotation with this prefix, as it does kyaml's own internal ones, so other
// packages put their marks under it too.
const InternalAnnotationPrefix = "internal.kube-release.io/"

// kyamlInternalPrefix is the prefix of kioutil.PathAnnotation and its
// siblings; kyaml only exports the full keys.
const kyamlInternalPrefix = "internal.config.kubernetes.io/"

// itemAnnotation records the 0-based position of an object inside a v1 List,
// so two items of one document can be told apart in error messages.
const itemAnnotation = InternalAnnotationPrefix + "list-item"

// Source says where node was read from, e.g. "manifests/app.yaml (document 2)",
// "list.yaml (document 1, item 3)" or, for the output of a kustomization,
// "overlays/prod (object 4)", counting from 1. It is "" for a node that
// Load did not produce.
func Source(node *yaml.RNode) string {
	a := node.GetAnnotations(kioutil.PathAnnotation, kioutil.IndexAnnotation, itemAnnotation, kustomizeObjectAnnotation)
	path := a[kioutil.PathAnnotation]
	if path == "" {
		return ""
	}
	if obj, err := strconv.Atoi(a[kustomizeObjectAnnotation]); err == nil {
		return fmt.Sprintf("%s (object %d)", path, obj+1)
	}
	doc, err := strconv.Atoi(a[kioutil.IndexAnnotation])
	if err != nil {
		return path
	}
	item, err := strconv.Atoi(a[itemAnnotation])
	if err != nil {
		return fmt.Sprintf("%s (document %d)", path, doc+1)
	}
	return fmt.Sprintf("%s (document %d, item %d)", path, doc+1, item+1)
}

// ID names an object for messages: kind, apiVersion and namespace/name, e.g.
// `Deployment apps/v1 "prod/web"` or `Widget example.com/v1 "w"`.
func ID(node *yaml.RNode) string {
	name := node.GetName()
	if ns := node.GetNamespace(); ns != "" {
		name = ns + "/" + name
	}
	return fmt.Sprintf("%s %s %q", node.GetKind(), node.GetApiVersion(), name)
}

// describe is the subject of an error about node: where it came from (when
// known) and which object it is.
func describe(node *yaml.RNode) string {
	if src := Source(node); src != "" {
		return src + ": " + ID(node)
	}
	return ID(node)
}

// ForApply returns copies of nodes without the internal annotations that
// Load, kyaml and the filters use for bookkeeping, ready to be sent to a
// cluster or printed. The given nodes keep theirs, so Source and
// versioning.Versioned still work on them afterwards (for error messages and
// the release record).
func ForApply(nodes []*yaml.RNode) ([]*yaml.RNode, error) {
	out := make([]*yaml.RNode, 0, len(nodes))
	for _, node := range nodes {
		c := node.Copy()
		if err := clearInternalAnnotations(c); err != nil {
			return nil, fmt.Errorf("%s: clear annotations: %w", describe(node), err)
		}
		out = append(out, c)
	}
	return out, nil
}

func clearInternalAnnotations(node *yaml.RNode) error {
	for key := range node.GetAnnotations() {
		if isInternalAnnotation(key) {
			if err := node.PipeE(yaml.ClearAnnotation(key)); err != nil {
				return err
			}
		}
	}
	// An object that had no annotations before Load must not gain an empty
	// map: it would show up in diffs and in the printed manifests.
	return yaml.ClearEmptyAnnotations(node)
}

func isInternalAnnotation(key string) bool {
	return strings.HasPrefix(key, InternalAnnotationPrefix) ||
		strings.HasPrefix(key, kyamlInternalPrefix) ||
		// kio.ByteReader and kio.ParseAll still set the deprecated index key.
		key == kioutil.LegacyIndexAnnotation
}

// group returns the API group of an apiVersion ("" for the core group).
func group(apiVersion string) string {
	g, _, found := strings.Cut(apiVersion, "/")
	if !found {
		return ""
	}
	return g
}

// isTrue reads a boolean annotation the way Harness does: "true" in any case.
func isTrue(value string) bool {
	return strings.EqualFold(value, "true")
}

// stringAt returns the scalar at path, or "" when there is none.
func stringAt(node *yaml.RNode, path ...string) string {
	v, err := node.Pipe(yaml.Lookup(path...))
	if err != nil || v == nil || v.YNode().Kind != yaml.ScalarNode {
		return ""
	}
	return v.YNode().Value
}
