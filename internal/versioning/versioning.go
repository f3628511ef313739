// Package versioning renames ConfigMaps and Secrets per release and rewrites
// the references to them, as Harness does in legacy (non-declarative) mode:
// a new release then never overwrites the config that the running pods of the
// previous release use, and a rollback to a workload revision finds its
// config still there.
package versioning

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kube-release/kube-release/internal/manifest"
)

// SkipAnnotation set to "true" (in any case) on a ConfigMap or Secret keeps
// its name, and the references to it, as they are.
const SkipAnnotation = manifest.SkipVersioningAnnotation

// versionedAnnotation marks an object the filter renamed by release number,
// for Versioned, and suffixedAnnotation one it renamed by Suffix, with the
// suffix. They are internal: manifest.ForApply removes them before the
// object is applied.
const (
	versionedAnnotation = manifest.InternalAnnotationPrefix + "versioned"
	suffixedAnnotation  = manifest.InternalAnnotationPrefix + "suffixed"
)

// maxNameLength is the limit of a ConfigMap or Secret name (a DNS subdomain).
const maxNameLength = 253

// Filter versions the ConfigMaps and Secrets of one release: each is renamed
// <name>-<Release> unless annotated SkipAnnotation, and the references to
// the renamed objects from the pod specs of Deployments, StatefulSets,
// DaemonSets, Jobs, CronJobs and Pods in the same namespace are rewritten.
// References to anything not renamed in this set are left alone.
//
// Run it after manifest.NamespaceFilter: a reference matches an object only
// when both name the same namespace. Objects already renamed (Versioned or
// Suffixed) are not renamed again, so running the filter twice does no harm.
//
// The zero Filter (Release 0, no Suffix) changes nothing, so a caller with
// versioning turned off may still run it.
type Filter struct {
	// Release is the number of the release being deployed.
	Release int
	// Suffix, when set instead of Release, renames each <name>-<Suffix>:
	// the declarative blue/green and canary deploys keep the config of the
	// colour or the canary apart so (-blue, -green, -canary), where the
	// legacy ones version it. Such objects are not Versioned (the release
	// records them as unversioned, as Harness does) but Suffixed. Harness
	// cuts the suffix short where a name would be too long; this reports
	// the name instead, as it does for a release number.
	Suffix string
}

var _ kio.Filter = Filter{}

// Filter edits nodes in place and returns them. Every problem is reported;
// names that would be too long or clash are found before anything changes.
func (f Filter) Filter(nodes []*yaml.RNode) ([]*yaml.RNode, error) {
	if f.Suffix != "" {
		if f.Release != 0 {
			return nil, fmt.Errorf("versioning: release number %d and suffix %q: only one of them", f.Release, f.Suffix)
		}
		if !validSuffix(f.Suffix) {
			return nil, fmt.Errorf("versioning: invalid suffix %q: lower-case letters, digits and '-' only, not first or last", f.Suffix)
		}
	} else if f.Release == 0 {
		return nodes, nil
	}
	if f.Release < 0 {
		return nil, fmt.Errorf("versioning: invalid release number %d", f.Release)
	}
	renames, err := f.plan(nodes)
	if err != nil {
		return nil, err
	}
	if len(renames) == 0 {
		return nodes, nil
	}
	var errs []error
	for _, node := range nodes {
		if err := rewriteReferences(node, renames); err != nil {
			errs = append(errs, fmt.Errorf("%s: rewrite references: %w", describe(node), err))
		}
	}
	for _, node := range nodes {
		kind := configKind(node)
		if kind == "" || renamed(node) || skipped(node) {
			continue
		}
		newName, ok := renames[ref{kind, node.GetNamespace(), node.GetName()}]
		if !ok {
			continue
		}
		err := node.PipeE(
			yaml.Lookup(yaml.MetadataField),
			yaml.SetField(yaml.NameField, yaml.NewStringRNode(newName)))
		if err == nil && f.Suffix != "" {
			err = node.PipeE(yaml.SetAnnotation(suffixedAnnotation, f.Suffix))
		} else if err == nil {
			err = node.PipeE(yaml.SetAnnotation(versionedAnnotation, "true"))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: rename to %s: %w", describe(node), newName, err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return nodes, nil
}

// Versioned reports whether Filter renamed node. Ask before
// manifest.ForApply, whose copies no longer carry the mark; node's name is
// then already the versioned one.
func Versioned(node *yaml.RNode) bool {
	return node.GetAnnotations(versionedAnnotation)[versionedAnnotation] == "true"
}

// Suffixed is the suffix a Filter with Suffix appended to node's name, ""
// when it appended none. Ask before manifest.ForApply, as for Versioned.
func Suffixed(node *yaml.RNode) string {
	return node.GetAnnotations(suffixedAnnotation)[suffixedAnnotation]
}

// renamed reports whether a Filter renamed node already, either way.
func renamed(node *yaml.RNode) bool {
	return Versioned(node) || Suffixed(node) != ""
}

// Name is the versioned name of a ConfigMap or Secret in a release.
func Name(name string, release int) string {
	return name + "-" + strconv.Itoa(release)
}

// newName is the name f gives a ConfigMap or Secret named name.
func (f Filter) newName(name string) string {
	if f.Suffix != "" {
		return name + "-" + f.Suffix
	}
	return Name(name, f.Release)
}

// validSuffix reports whether s keeps a valid name valid: a DNS label's
// characters, neither first nor last a '-'.
func validSuffix(s string) bool {
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i > 0 && i < len(s)-1:
		default:
			return false
		}
	}
	return s != ""
}

// ref identifies a ConfigMap or Secret as a pod spec refers to it.
type ref struct {
	kind, namespace, name string
}

// plan returns the new name of every ConfigMap and Secret to version, and
// rejects names that would be too long or would clash with another object.
func (f Filter) plan(nodes []*yaml.RNode) (map[ref]string, error) {
	type planned struct {
		node    *yaml.RNode
		renamed bool
	}
	renames := map[ref]string{}
	final := map[ref]planned{} // every ConfigMap and Secret by its name after renaming
	var errs []error
	for _, node := range nodes {
		kind := configKind(node)
		if kind == "" {
			continue
		}
		r := ref{kind, node.GetNamespace(), node.GetName()}
		newName := r.name
		if !renamed(node) && !skipped(node) {
			newName = f.newName(r.name)
			if len(newName) > maxNameLength {
				errs = append(errs, fmt.Errorf("%s: versioned name %s is longer than %d characters", describe(node), newName, maxNameLength))
				continue
			}
			renames[r] = newName
		}
		this := planned{node, newName != r.name}
		after := ref{kind, r.namespace, newName}
		if other, ok := final[after]; ok && (this.renamed || other.renamed) {
			// Name the renamed one: it is the one whose name is new.
			renamed, kept := this, other
			if !this.renamed {
				renamed, kept = other, this
			}
			errs = append(errs, fmt.Errorf("%s: versioned name %s is taken by %s", describe(renamed.node), newName, describe(kept.node)))
			continue
		}
		// Two objects that had one name already are CheckDuplicates' to report.
		final[after] = this
	}
	return renames, errors.Join(errs...)
}

// configKind is "ConfigMap" or "Secret" for the objects that are versioned,
// and "" for any other object.
func configKind(node *yaml.RNode) string {
	if node.GetApiVersion() != "v1" {
		return ""
	}
	switch kind := node.GetKind(); kind {
	case "ConfigMap", "Secret":
		return kind
	}
	return ""
}

func skipped(node *yaml.RNode) bool {
	return manifest.HasTrue(node.GetAnnotations(SkipAnnotation), SkipAnnotation)
}

// rewritesReferences reports whether references in node's pod spec are
// rewritten: only in the workload kinds that Harness rewrites.
func rewritesReferences(node *yaml.RNode) bool {
	group, _, found := strings.Cut(node.GetApiVersion(), "/")
	if !found {
		group = ""
	}
	switch group + "/" + node.GetKind() {
	case "apps/Deployment", "apps/StatefulSet", "apps/DaemonSet", "batch/Job", "batch/CronJob", "/Pod":
		return true
	}
	return false
}

// rewriteReferences points the references in node's pod spec at the new
// names of the renamed objects in node's namespace.
func rewriteReferences(node *yaml.RNode, renames map[ref]string) error {
	if !rewritesReferences(node) {
		return nil
	}
	spec, err := manifest.PodSpec(node)
	if err != nil || spec == nil {
		return err
	}
	rw := rewriter{namespace: node.GetNamespace(), renames: renames}
	containers, err := manifest.Containers(spec)
	if err != nil {
		return err
	}
	for _, c := range containers {
		rw.each(c, []string{"env"}, func(env *yaml.RNode) {
			rw.rename(env, "ConfigMap", "valueFrom", "configMapKeyRef", "name")
			rw.rename(env, "Secret", "valueFrom", "secretKeyRef", "name")
		})
		rw.each(c, []string{"envFrom"}, func(from *yaml.RNode) {
			rw.rename(from, "ConfigMap", "configMapRef", "name")
			rw.rename(from, "Secret", "secretRef", "name")
		})
	}
	rw.each(spec, []string{"volumes"}, func(volume *yaml.RNode) {
		rw.rename(volume, "ConfigMap", "configMap", "name")
		rw.rename(volume, "Secret", "secret", "secretName")
		rw.each(volume, []string{"projected", "sources"}, func(source *yaml.RNode) {
			rw.rename(source, "ConfigMap", "configMap", "name")
			rw.rename(source, "Secret", "secret", "name")
		})
	})
	rw.each(spec, []string{"imagePullSecrets"}, func(secret *yaml.RNode) {
		rw.rename(secret, "Secret", "name")
	})
	return errors.Join(rw.errs...)
}

// rewriter walks one pod spec; it collects lookup errors instead of
// threading them through every callback.
type rewriter struct {
	namespace string
	renames   map[ref]string
	errs      []error
}

// each calls fn for every element of the sequence at path under node.
func (rw *rewriter) each(node *yaml.RNode, path []string, fn func(*yaml.RNode)) {
	list, err := node.Pipe(yaml.Lookup(path...))
	if err != nil {
		rw.errs = append(rw.errs, fmt.Errorf("%s: %w", strings.Join(path, "."), err))
		return
	}
	if list == nil || list.YNode().Kind != yaml.SequenceNode {
		return
	}
	for _, element := range list.Content() {
		fn(yaml.NewRNode(element))
	}
}

// rename rewrites the name at path under node when it names a renamed
// object of kind.
func (rw *rewriter) rename(node *yaml.RNode, kind string, path ...string) {
	field, err := node.Pipe(yaml.Lookup(path...))
	if err != nil {
		rw.errs = append(rw.errs, fmt.Errorf("%s: %w", strings.Join(path, "."), err))
		return
	}
	if field == nil || field.YNode().Kind != yaml.ScalarNode {
		return
	}
	newName, ok := rw.renames[ref{kind, rw.namespace, field.YNode().Value}]
	if !ok {
		return
	}
	// Keep the node and its quoting; the tag must say string, as a name
	// like "123" would otherwise turn into a number.
	field.YNode().Value = newName
	field.YNode().Tag = yaml.NodeTagString
}

func describe(node *yaml.RNode) string {
	if src := manifest.Source(node); src != "" {
		return src + ": " + manifest.ID(node)
	}
	return manifest.ID(node)
}
