package release

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/kube-release/kube-release/internal/yamlerr"
)

// legacyVersion is the only version of the legacy history (ReleaseHistory.defaultVersion).
const legacyVersion = "v1"

// field is one key of a YAML mapping, kept verbatim.
type field struct {
	key   string
	value *yaml.Node
}

// MarshalLegacy writes the legacy history YAML, newest release first, in
// the layout of docs/semantics.md:
//
//	version: v1
//	releases:
//	- number: 45
//	  status: Succeeded
//	  resources:
//	  - {kind: ConfigMap, name: web-config-45, namespace: default, versioned: true}
//	  managedWorkloads:
//	  - revision: "13"
//	    workload: {kind: Deployment, name: web, namespace: default, versioned: false}
//	  customWorkloads: []
//	  resourcesWithSpec: []
//
// Harness's writer (YamlBeans) lays the same data out differently (sorted
// keys, block mappings, revision in single quotes); both of Harness's
// readers take either, because they bind by field name. A release's fields
// that kube-release does not model follow, verbatim as read.
func MarshalLegacy(h History) ([]byte, error) {
	return marshalLegacy(h, nil)
}

// marshalLegacy is MarshalLegacy followed by the top-level keys of the
// history that kube-release does not model, verbatim as read (see
// unmarshalLegacy).
func marshalLegacy(h History, extra []field) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("version: " + legacyVersion + "\n")
	if len(h) == 0 {
		b.WriteString("releases: []\n")
		if err := writeFields(&b, extra); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	// Never write what UnmarshalLegacy would refuse to read back.
	seen := map[int]bool{}
	for _, r := range h {
		if err := r.validate(); err != nil {
			return nil, err
		}
		if seen[r.Number] {
			return nil, fmt.Errorf("release %d: number appears twice", r.Number)
		}
		seen[r.Number] = true
		for _, id := range r.Resources {
			if id.Kind == "" || id.Name == "" {
				return nil, fmt.Errorf("release %d: resource %q has no kind or no name", r.Number, id)
			}
		}
		for _, w := range r.Workloads {
			if w.ID.Kind == "" || w.ID.Name == "" {
				return nil, fmt.Errorf("release %d: workload %q has no kind or no name", r.Number, w.ID)
			}
		}
		if w := r.ManagedWorkload; w != nil && (w.ID.Kind == "" || w.ID.Name == "") {
			return nil, fmt.Errorf("release %d: managed workload %q has no kind or no name", r.Number, w.ID)
		}
		if r.Color != "" {
			// The colour is not written: it must read back from the name.
			w, err := singleWorkload(r.harness)
			if err != nil {
				return nil, fmt.Errorf("release %d: %w", r.Number, err)
			}
			if r.ManagedWorkload != nil {
				w = r.ManagedWorkload
			}
			if got := colorOf(w); got != r.Color {
				name := "none"
				if w != nil {
					name = strconv.Quote(w.ID.Name)
				}
				return nil, fmt.Errorf("release %d: colour %q: a legacy release records its colour only as the name of its managed workload, <name>-<colour>, and that is %s",
					r.Number, r.Color, name)
			}
		}
	}
	b.WriteString("releases:\n")
	for _, r := range NewHistory(h...) {
		fmt.Fprintf(&b, "- number: %d\n", r.Number)
		fmt.Fprintf(&b, "  status: %s\n", r.Status)
		if len(r.Resources) == 0 {
			b.WriteString("  resources: []\n")
		} else {
			b.WriteString("  resources:\n")
			for _, id := range r.Resources {
				b.WriteString("  - " + flowID(id) + "\n")
			}
		}
		if len(r.Workloads) == 0 {
			b.WriteString("  managedWorkloads: []\n")
		} else {
			b.WriteString("  managedWorkloads:\n")
			for _, w := range r.Workloads {
				// Harness's field is a String: a number here would not bind.
				if w.Revision != "" {
					b.WriteString("  - revision: " + strconv.Quote(w.Revision) + "\n")
					b.WriteString("    workload: " + flowID(w.ID) + "\n")
				} else {
					b.WriteString("  - workload: " + flowID(w.ID) + "\n")
				}
			}
		}
		kept, err := verbatim(r)
		if err != nil {
			return nil, fmt.Errorf("release %d: %w", r.Number, err)
		}
		if !kept.single {
			w := r.ManagedWorkload
			b.WriteString("  managedWorkload: " + flowID(w.ID) + "\n")
			if w.Revision != "" {
				b.WriteString("  managedWorkloadRevision: " + strconv.Quote(w.Revision) + "\n")
			}
		}
		if !kept.environment {
			b.WriteString("  bgEnvironment: " + scalar(string(r.Environment)) + "\n")
		}
		for _, f := range r.harness {
			switch {
			case !kept.single && (f.key == "managedWorkload" || f.key == "managedWorkloadRevision"),
				!kept.environment && f.key == "bgEnvironment":
				continue // written from the release above
			}
			if err := writeField(&b, "  ", f); err != nil {
				return nil, fmt.Errorf("release %d: %w", r.Number, err)
			}
		}
		// Harness writes both as empty lists for a rolling deploy.
		for _, name := range [...]string{"customWorkloads", "resourcesWithSpec"} {
			if !slices.ContainsFunc(r.harness, func(f field) bool { return f.key == name }) {
				b.WriteString("  " + name + ": []\n")
			}
		}
	}
	if err := writeFields(&b, extra); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// kept says which of the fields kube-release models beside keeping them
// verbatim are written as read.
type kept struct {
	single, environment bool
}

// verbatim says which of r's modelled fields Harness wrote are written as
// read, in Harness's layout and place: those that r says the same of, or
// nothing of (an update keeps what the history holds). The others are
// written from r.
func verbatim(r *Release) (kept, error) {
	w, err := singleWorkload(r.harness)
	if err != nil {
		return kept{}, err
	}
	env, err := bgEnvironment(r.harness)
	if err != nil {
		return kept{}, err
	}
	return kept{
		single:      r.ManagedWorkload == nil || (w != nil && *w == *r.ManagedWorkload),
		environment: r.Environment == "" || r.Environment == env,
	}, nil
}

// writeFields writes kept top-level keys after the releases.
func writeFields(b *bytes.Buffer, fields []field) error {
	for _, f := range fields {
		if err := writeField(b, "", f); err != nil {
			return err
		}
	}
	return nil
}

// flowID writes {kind: ..., name: ..., namespace: ..., versioned: ...}.
// A missing namespace is left out, as Harness's writer leaves out nulls.
func flowID(id ResourceID) string {
	s := "{kind: " + scalar(id.Kind) + ", name: " + scalar(id.Name)
	if id.Namespace != "" {
		s += ", namespace: " + scalar(id.Namespace)
	}
	return s + ", versioned: " + strconv.FormatBool(id.Versioned) + "}"
}

// scalar writes s plain when every YAML 1.1 reader (Harness's SnakeYAML
// and Jackson included) reads it back as that same string, else double
// quoted. Object names and kinds are nearly always plain.
func scalar(s string) string {
	if plainSafe(s) {
		return s
	}
	return strconv.Quote(s) // Go's escapes are all valid YAML escapes
}

func plainSafe(s string) bool {
	if s == "" {
		return false
	}
	letter := false
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			letter = true
		case c >= '0' && c <= '9':
		case (c == '-' || c == '.' || c == '_') && i > 0:
		default:
			return false
		}
	}
	if !letter {
		return false // 12, 1.5, 1-2-3: numbers or dates to some reader
	}
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "y", "n", "null":
		return false
	}
	if _, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64); err == nil {
		return false // 1e5, inf, nan
	}
	if _, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 0, 64); err == nil {
		return false // 0x1f, 0o17
	}
	return true
}

// writeField writes one kept field under indent, in block style as yaml.v3
// lays it out, so nested Harness data (customWorkloads with full specs)
// round-trips.
func writeField(b *bytes.Buffer, indent string, f field) error {
	doc := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		{Kind: yaml.ScalarNode, Tag: "!!str", Value: f.key}, f.value,
	}}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	enc.CompactSeqIndent()
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("field %s: %w", f.key, err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("field %s: %w", f.key, err)
	}
	for _, line := range strings.SplitAfter(out.String(), "\n") {
		if strings.TrimSpace(line) != "" {
			b.WriteString(indent)
		}
		b.WriteString(line)
	}
	return nil
}

// UnmarshalLegacy reads legacy history YAML, in kube-release's layout or in
// the one Harness writes. Empty input is an empty history. Fields of a
// release that kube-release does not model are kept (see MarshalLegacy).
// Top-level keys other than version and releases do not make a release;
// EncodeConfigMap keeps them, this drops them.
func UnmarshalLegacy(data []byte) (History, error) {
	h, _, err := unmarshalLegacy(data)
	return h, err
}

// unmarshalLegacy is UnmarshalLegacy that also returns the top-level keys
// besides version and releases, verbatim: Harness ignores keys it does not
// know, so a newer Harness may add one there, and a rewrite by
// kube-release must not drop it from under the Harness that reads it.
func unmarshalLegacy(data []byte) (History, []field, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// Someone repairs the history by hand: the line must be right.
		return nil, nil, errors.New(yamlerr.Message(err, data, 1))
	}
	if len(doc.Content) == 0 {
		return nil, nil, nil
	}
	root := deref(doc.Content[0])
	if isNull(root) {
		return nil, nil, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, nil, fmt.Errorf("the history is %s, not a mapping (line %d)", kindName(root), root.Line)
	}
	var releases *yaml.Node
	var extra []field
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, value := root.Content[i], deref(root.Content[i+1])
		switch key.Value {
		case "version":
			if isNull(value) {
				continue
			}
			if value.Kind != yaml.ScalarNode || value.Value != legacyVersion {
				return nil, nil, fmt.Errorf("version: %s is not %s, the only version kube-release reads (line %d)",
					describe(value), legacyVersion, value.Line)
			}
		case "releases":
			releases = value
		default:
			// The value itself, not an alias of it: the anchor may be
			// in the releases, which are written anew.
			extra = append(extra, field{key: key.Value, value: value})
		}
	}
	if releases == nil || isNull(releases) {
		return nil, extra, nil
	}
	if releases.Kind != yaml.SequenceNode {
		return nil, nil, fmt.Errorf("releases: %s is not a list (line %d)", describe(releases), releases.Line)
	}
	h := make(History, 0, len(releases.Content))
	line := map[int]int{}
	for i, item := range releases.Content {
		r, err := decodeLegacyRelease(deref(item))
		if err != nil {
			return nil, nil, fmt.Errorf("releases[%d]: %w", i, err)
		}
		if first, ok := line[r.Number]; ok {
			return nil, nil, fmt.Errorf("releases[%d]: number %d is also the number of the release on line %d (line %d)",
				i, r.Number, first, item.Line)
		}
		line[r.Number] = item.Line
		h = append(h, r)
	}
	h.sort()
	return h, extra, nil
}

func decodeLegacyRelease(n *yaml.Node) (*Release, error) {
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s is not a mapping (line %d)", describe(n), n.Line)
	}
	r := &Release{}
	var haveNumber, haveStatus bool
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i].Value, deref(n.Content[i+1])
		var err error
		switch key {
		case "number":
			haveNumber = true
			r.Number, err = releaseNumber(value)
		case "status":
			haveStatus = !isNull(value)
			r.Status, err = status(value)
		case "resources":
			r.Resources, err = resourceIDs(value)
		case "managedWorkloads":
			r.Workloads, err = workloads(value)
		case "bgEnvironment":
			// Kept too, so that a release Harness wrote is written back as
			// it was while the release says the same (see verbatim).
			var env string
			env, err = optionalString(value)
			r.Environment = Environment(env)
			r.harness = append(r.harness, field{key: key, value: n.Content[i+1]})
		case "customWorkloads", "resourcesWithSpec":
			// Empty, they are what MarshalLegacy writes anyway; only
			// Harness's content is worth keeping.
			if !isNull(value) && (value.Kind != yaml.SequenceNode || len(value.Content) > 0) {
				r.harness = append(r.harness, field{key: key, value: n.Content[i+1]})
			}
		default:
			r.harness = append(r.harness, field{key: key, value: n.Content[i+1]})
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
	}
	if !haveNumber {
		return nil, fmt.Errorf("number is missing (line %d)", n.Line)
	}
	if !haveStatus {
		return nil, fmt.Errorf("release %d: status is missing (line %d)", r.Number, n.Line)
	}
	w, err := singleWorkload(r.harness)
	if err != nil {
		return nil, fmt.Errorf("release %d: %w", r.Number, err)
	}
	r.ManagedWorkload = w
	r.Color = colorOf(w)
	// Harness wrote one managed workload per release before it wrote a list;
	// reading it as the list lets kube-release roll such a release back.
	if len(r.Workloads) == 0 && w != nil {
		r.Workloads = []Workload{*w}
	}
	return r, nil
}

// colorOf is the colour of a legacy release whose managed workload is w:
// what its name ends in after the last "-", when that is Blue or Green, as
// Harness's stage scale down reads it (its other readers take any name
// that ends in the colour; the blue/green deploy names it <name>-<colour>,
// which both read the same).
func colorOf(w *Workload) Color {
	if w == nil {
		return ""
	}
	i := strings.LastIndex(w.ID.Name, "-")
	if i < 0 {
		return ""
	}
	if c := Color(w.ID.Name[i+1:]); c.Valid() {
		return c
	}
	return ""
}

// bgEnvironment is the bgEnvironment among kept fields, "" for none.
func bgEnvironment(fields []field) (Environment, error) {
	var env Environment
	for _, f := range fields {
		if f.key == "bgEnvironment" {
			v, err := optionalString(deref(f.value))
			if err != nil {
				return "", fmt.Errorf("bgEnvironment: %w", err)
			}
			env = Environment(v)
		}
	}
	return env, nil
}

func singleWorkload(fields []field) (*Workload, error) {
	var w Workload
	found := false
	for _, f := range fields {
		value := deref(f.value)
		switch f.key {
		case "managedWorkload":
			if isNull(value) {
				continue
			}
			id, err := resourceID(value)
			if err != nil {
				return nil, fmt.Errorf("managedWorkload: %w", err)
			}
			w.ID, found = id, true
		case "managedWorkloadRevision":
			rev, err := optionalString(value)
			if err != nil {
				return nil, fmt.Errorf("managedWorkloadRevision: %w", err)
			}
			w.Revision = rev
		}
	}
	if !found {
		return nil, nil
	}
	return &w, nil
}

func releaseNumber(n *yaml.Node) (int, error) {
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		if v, err := strconv.Atoi(n.Value); err == nil && v >= 1 {
			return v, nil
		}
	}
	return 0, fmt.Errorf("%s is not a release number (line %d)", describe(n), n.Line)
}

func status(n *yaml.Node) (Status, error) {
	if isNull(n) {
		return "", nil // reported as missing by the caller
	}
	if n.Kind == yaml.ScalarNode {
		if s := Status(n.Value); s.valid() {
			return s, nil
		}
	}
	return "", fmt.Errorf("%s is not %s, %s or %s (line %d)", describe(n), InProgress, Succeeded, Failed, n.Line)
}

func resourceIDs(n *yaml.Node) ([]ResourceID, error) {
	if isNull(n) || (n.Kind == yaml.SequenceNode && len(n.Content) == 0) {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s is not a list (line %d)", describe(n), n.Line)
	}
	ids := make([]ResourceID, 0, len(n.Content))
	for i, item := range n.Content {
		id, err := resourceID(deref(item))
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func resourceID(n *yaml.Node) (ResourceID, error) {
	var id ResourceID
	if n.Kind != yaml.MappingNode {
		return id, fmt.Errorf("%s is not a mapping (line %d)", describe(n), n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i].Value, deref(n.Content[i+1])
		var err error
		switch key {
		case "kind":
			id.Kind, err = optionalString(value)
		case "name":
			id.Name, err = optionalString(value)
		case "namespace":
			id.Namespace, err = optionalString(value)
		case "versioned":
			id.Versioned, err = optionalBool(value)
		}
		if err != nil {
			return id, fmt.Errorf("%s: %w", key, err)
		}
	}
	if id.Kind == "" {
		return id, fmt.Errorf("kind is missing (line %d)", n.Line)
	}
	if id.Name == "" {
		return id, fmt.Errorf("name is missing (line %d)", n.Line)
	}
	return id, nil
}

func workloads(n *yaml.Node) ([]Workload, error) {
	if isNull(n) || (n.Kind == yaml.SequenceNode && len(n.Content) == 0) {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s is not a list (line %d)", describe(n), n.Line)
	}
	ws := make([]Workload, 0, len(n.Content))
	for i, item := range n.Content {
		item = deref(item)
		if item.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("[%d]: %s is not a mapping (line %d)", i, describe(item), item.Line)
		}
		var w Workload
		found := false
		for j := 0; j+1 < len(item.Content); j += 2 {
			key, value := item.Content[j].Value, deref(item.Content[j+1])
			var err error
			switch key {
			case "workload":
				found = !isNull(value)
				if found {
					w.ID, err = resourceID(value)
				}
			case "revision":
				w.Revision, err = optionalString(value)
			}
			if err != nil {
				return nil, fmt.Errorf("[%d].%s: %w", i, key, err)
			}
		}
		if !found {
			return nil, fmt.Errorf("[%d]: workload is missing (line %d)", i, item.Line)
		}
		ws = append(ws, w)
	}
	return ws, nil
}

func optionalString(n *yaml.Node) (string, error) {
	if isNull(n) {
		return "", nil
	}
	if n.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("%s is not a string (line %d)", describe(n), n.Line)
	}
	return n.Value, nil
}

func optionalBool(n *yaml.Node) (bool, error) {
	if isNull(n) {
		return false, nil
	}
	if n.Kind == yaml.ScalarNode {
		switch strings.ToLower(n.Value) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, fmt.Errorf("%s is not true or false (line %d)", describe(n), n.Line)
}

// deref follows an alias to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a scalar"
	case yaml.AliasNode:
		return "an alias"
	}
	return "empty"
}

// describe quotes a scalar, or names the kind of anything else.
func describe(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		if isNull(n) {
			return "null"
		}
		return strconv.Quote(n.Value)
	}
	return kindName(n)
}
