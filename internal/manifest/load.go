package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/kio/kioutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kube-release/kube-release/internal/yamlerr"
)

// Load reads the objects named by patterns, in order. A pattern is a file
// (read whatever its name), a directory (read recursively: *.yaml, *.yml and
// *.json files in lexical order, hidden files and directories skipped) or a
// glob (filepath.Match syntax, no "**"; matching directories are walked,
// matching files are read if they have one of those extensions, and hidden
// names only match a pattern whose last element starts with "."). A file is
// read once even when several patterns name it. A directory holding a
// kustomization is handed to loadKustomization, never read as plain YAML.
//
// A file holds one or more YAML documents, or one JSON object; a v1 List is
// expanded into its items and empty documents are skipped. Every object keeps
// its file and document in kyaml's path and index annotations (see Source;
// ForApply drops them).
//
// Load reports every problem it finds, joined into one error: a missing path,
// a glob that matches nothing, malformed YAML (with the line in the file), an
// object without apiVersion, kind or metadata.name. Documents are numbered
// from 1 and only non-empty documents count, as kyaml's index does.
func Load(patterns []string) ([]*yaml.RNode, error) {
	return LoadOptions{}.Load(patterns)
}

// LoadOptions change how Load reads manifest files. The zero value is Load.
type LoadOptions struct {
	// Skip is asked about every file before it is read, however it was
	// found (named, matched by a glob, met in a directory); a file it
	// returns true for is not read and is no error. Values files live among
	// manifests and must never be applied.
	Skip func(path string) bool
	// Render turns the content of a file into the YAML (or JSON) that is
	// parsed, e.g. by executing it as a template; nil parses the content as
	// it is. Its error should name path. The files of a kustomization are
	// read by kustomize and never rendered.
	Render func(path string, content []byte) ([]byte, error)
}

// Load reads the objects named by patterns as the package-level Load does,
// with the options applied.
func (o LoadOptions) Load(patterns []string) ([]*yaml.RNode, error) {
	l := loader{seen: map[string]bool{}, opts: o}
	for _, p := range patterns {
		l.pattern(p)
	}
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	return l.nodes, nil
}

// loader accumulates objects and problems over all patterns, so one run
// reports every problem, each naming its file.
type loader struct {
	opts  LoadOptions
	seen  map[string]bool
	nodes []*yaml.RNode
	errs  []error
}

func (l *loader) pattern(p string) {
	if p == "" {
		l.errs = append(l.errs, errors.New("empty manifest path"))
		return
	}
	info, err := os.Stat(p)
	switch {
	case err == nil && info.IsDir():
		l.dir(p)
	case err == nil:
		l.file(p)
	case errors.Is(err, fs.ErrNotExist) && strings.ContainsAny(p, `*?[\`):
		// An existing path wins over a glob, so names with brackets still load.
		l.glob(p)
	default:
		l.errs = append(l.errs, pathError(p, err))
	}
}

func (l *loader) glob(pattern string) {
	matches, err := filepath.Glob(pattern)
	if err != nil {
		l.errs = append(l.errs, fmt.Errorf("%s: %w", pattern, err))
		return
	}
	// Unlike a shell, filepath.Glob lets "*" match dot files; skip them as a
	// directory walk does unless the pattern asks for them.
	wantHidden := isHidden(filepath.Base(pattern))
	found := 0
	for _, m := range matches {
		if isHidden(filepath.Base(m)) && !wantHidden {
			continue
		}
		info, err := os.Stat(m)
		if err != nil {
			l.errs = append(l.errs, pathError(m, err))
			continue
		}
		switch {
		case info.IsDir():
			l.dir(m)
		case isManifestFile(m):
			l.file(m)
		default:
			// "manifests/*" should not trip over a README next to the YAML.
			continue
		}
		found++
	}
	if found == 0 {
		l.errs = append(l.errs, fmt.Errorf("%s: no manifest files match", pattern))
	}
}

func (l *loader) dir(root string) {
	walkRoot := root
	if info, err := os.Lstat(root); err == nil && info.Mode()&fs.ModeSymlink != 0 {
		// WalkDir does not descend into a symlinked root; a trailing
		// separator makes it resolve the link. Paths below it are cleaned.
		walkRoot = root + string(filepath.Separator)
	}
	found := 0
	_ = filepath.WalkDir(walkRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			l.errs = append(l.errs, pathError(path, err))
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if path != walkRoot && isHidden(d.Name()) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			kustomized, err := hasKustomization(path)
			if err != nil {
				l.errs = append(l.errs, err)
				return fs.SkipDir
			}
			if kustomized {
				found++
				l.kustomization(filepath.Clean(path))
				return fs.SkipDir
			}
			return nil
		}
		if !isManifestFile(d.Name()) {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			// Linked files are read; linked directories are not followed,
			// as WalkDir does not, since they can form loops.
			info, err := os.Stat(path)
			if err != nil {
				l.errs = append(l.errs, pathError(path, err))
				return nil
			}
			if info.IsDir() {
				return nil
			}
		}
		found++
		l.file(path)
		return nil
	})
	if found == 0 {
		l.errs = append(l.errs, fmt.Errorf("%s: no .yaml, .yml or .json files in directory", filepath.Clean(root)))
	}
}

func (l *loader) kustomization(dir string) {
	nodes, err := loadKustomization(dir)
	if err != nil {
		l.errs = append(l.errs, err)
		return
	}
	l.nodes = append(l.nodes, nodes...)
}

func (l *loader) file(path string) {
	path = filepath.Clean(path)
	if l.seen[path] {
		return
	}
	l.seen[path] = true
	if l.opts.Skip != nil && l.opts.Skip(path) {
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		l.errs = append(l.errs, pathError(path, err))
		return
	}
	if l.opts.Render != nil {
		if data, err = l.opts.Render(path, data); err != nil {
			l.errs = append(l.errs, err)
			return
		}
	}
	nodes, errs := parseFile(path, data)
	l.nodes = append(l.nodes, nodes...)
	l.errs = append(l.errs, errs...)
}

// checkJSON holds a .json file to JSON: it is read as YAML, of which JSON is
// a subset, and YAML would take a trailing comma or a comment that no JSON
// tool accepts. A stream of several objects is fine, as for kubectl; a
// file that does not start like JSON is left to the YAML reader, as
// kubectl leaves it.
func checkJSON(content string) error {
	trimmed := strings.TrimLeft(content, " \t\r\n")
	if !strings.HasPrefix(trimmed, "{") && !strings.HasPrefix(trimmed, "[") {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(content))
	for {
		var v json.RawMessage
		err := dec.Decode(&v)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			offset := dec.InputOffset()
			var syntax *json.SyntaxError
			if errors.As(err, &syntax) {
				offset = syntax.Offset
			}
			line := 1 + strings.Count(content[:min(int(offset), len(content))], "\n")
			return fmt.Errorf("line %d: invalid JSON: %s", line, strings.TrimPrefix(err.Error(), "json: "))
		}
	}
}

// hasKustomization reports whether dir holds a kustomization file, by any
// of the names kustomize recognises.
func hasKustomization(dir string) (bool, error) {
	for _, name := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		_, err := os.Stat(filepath.Join(dir, name))
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return false, pathError(filepath.Join(dir, name), err)
		}
	}
	return false, nil
}

func isManifestFile(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

func isHidden(name string) bool {
	return strings.HasPrefix(name, ".") && name != "." && name != ".."
}

// pathError names path once: *fs.PathError would repeat it with the
// operation ("open manifests/a.yaml: ...").
func pathError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%s: %w", path, err)
}

// parseFile turns the content of one file into objects annotated with path
// and document index, and reports every problem in it.
func parseFile(path string, data []byte) ([]*yaml.RNode, []error) {
	content := strings.TrimPrefix(strings.ReplaceAll(string(data), "\r\n", "\n"), "\ufeff")
	isJSON := strings.EqualFold(filepath.Ext(path), ".json")
	if isJSON {
		if err := checkJSON(content); err != nil {
			return nil, []error{fmt.Errorf("%s: %w", path, err)}
		}
	}
	var (
		nodes []*yaml.RNode
		errs  []error
		n     int // number of the current non-empty document, from 1
	)
	for _, doc := range splitDocuments(content) {
		node, err := readDocument(doc.text)
		if err == nil && node == nil {
			continue
		}
		n++
		problem := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s: document %d: %s", path, n, fmt.Sprintf(format, args...)))
		}
		if err != nil {
			problem("%s", yamlerr.Message(err, []byte(doc.text), doc.line))
			continue
		}
		if node.YNode().Kind != yaml.MappingNode {
			problem("not a Kubernetes object")
			continue
		}
		// The YAML decoder keeps duplicate keys in a node; converting the
		// object to JSON for the API server would reject them much later.
		var v any
		if msgs := yamlerr.Decode(node.YNode(), &v, doc.line); len(msgs) > 0 {
			for _, msg := range msgs {
				problem("%s", msg)
			}
			continue
		}
		if isJSON {
			// JSON decodes as flow-style YAML; printed manifests read better
			// in block style. The encoder still quotes strings that need it.
			clearStyle(node.YNode())
		}
		objects, items := []*yaml.RNode{node}, false
		if node.GetApiVersion() == "v1" && node.GetKind() == "List" {
			objects, items = nil, true
			list := node.Field("items")
			if list != nil && list.Value.YNode().Kind != yaml.SequenceNode && !yaml.IsMissingOrNull(list.Value) {
				problem("List items is not a sequence")
				continue
			}
			if list != nil && list.Value.YNode().Kind == yaml.SequenceNode {
				for _, item := range list.Value.Content() {
					objects = append(objects, yaml.NewRNode(item))
				}
			}
		}
		for i, obj := range objects {
			subject := fmt.Sprintf("%s: document %d", path, n)
			if items {
				subject += fmt.Sprintf(": item %d", i+1)
			}
			if obj.YNode().Kind != yaml.MappingNode {
				errs = append(errs, fmt.Errorf("%s: not a Kubernetes object", subject))
				continue
			}
			// First: kyaml's getters panic on metadata that is a list.
			if problem := malformedMetadata(obj); problem != "" {
				errs = append(errs, fmt.Errorf("%s: %s", subject, problem))
				continue
			}
			setters := []yaml.Filter{
				yaml.SetAnnotation(kioutil.PathAnnotation, path),
				yaml.SetAnnotation(kioutil.IndexAnnotation, strconv.Itoa(n-1)),
			}
			if items {
				setters = append(setters, yaml.SetAnnotation(itemAnnotation, strconv.Itoa(i)))
			}
			if err := checkObject(obj, subject, setters); err != nil {
				errs = append(errs, err)
				continue
			}
			nodes = append(nodes, obj)
		}
	}
	return nodes, errs
}

// checkObject refuses an object without kind, apiVersion or name, and
// otherwise records where it came from with setters. Errors start with
// subject.
func checkObject(obj *yaml.RNode, subject string, setters []yaml.Filter) error {
	if missing := missingFields(obj); len(missing) > 0 {
		return fmt.Errorf("%s: missing %s", subject, strings.Join(missing, ", "))
	}
	if err := annotate(obj, setters); err != nil {
		return fmt.Errorf("%s: %w", subject, err)
	}
	return nil
}

// annotate applies each setter to node; PipeE would feed the first
// setter's result, the annotation value, to the next.
func annotate(node *yaml.RNode, setters []yaml.Filter) error {
	for _, set := range setters {
		if err := node.PipeE(set); err != nil {
			return err
		}
	}
	return nil
}

// missingFields lists the identifying fields an object lacks; the API server
// rejects such an object, so it is better reported with its file up front.
func missingFields(node *yaml.RNode) []string {
	var missing []string
	if node.GetApiVersion() == "" {
		missing = append(missing, "apiVersion")
	}
	if node.GetKind() == "" {
		missing = append(missing, "kind")
	}
	if node.GetName() == "" {
		missing = append(missing, "metadata.name")
	}
	return missing
}

// malformedMetadata tells what of metadata has the wrong shape where
// kyaml would not say so: its getters panic on metadata that is a list, a
// namespace that is no string reads as none and is then overwritten with
// the target namespace, and annotations that are no mapping are replaced
// by Load's own. The API server rejects all of them; the user should see
// it, with the file. Missing metadata is missingFields' to report.
func malformedMetadata(node *yaml.RNode) string {
	meta := node.Field("metadata")
	if meta == nil || yaml.IsMissingOrNull(meta.Value) {
		return ""
	}
	if meta.Value.YNode().Kind != yaml.MappingNode {
		return "metadata is not a mapping"
	}
	for _, key := range []string{"namespace", "labels", "annotations"} {
		f := meta.Value.Field(key)
		if f == nil || yaml.IsMissingOrNull(f.Value) {
			continue
		}
		want, what := yaml.ScalarNode, "a string"
		if key != "namespace" {
			want, what = yaml.MappingNode, "a mapping"
		}
		if f.Value.YNode().Kind != want {
			return fmt.Sprintf("metadata.%s is not %s", key, what)
		}
	}
	return ""
}

// document is one YAML document of a file and the file line it starts on.
type document struct {
	text string
	line int
}

// splitDocuments splits at "---" lines itself rather than leaving it to
// kio.ByteReader: the YAML parser then numbers lines per document, and
// knowing where each document starts turns those into lines of the file. It
// also lets one malformed document be reported without hiding the others.
func splitDocuments(content string) []document {
	var (
		docs []document
		b    strings.Builder
	)
	start := 1
	for i, line := range strings.SplitAfter(content, "\n") {
		if isDocumentStart(line) {
			docs = append(docs, document{text: b.String(), line: start})
			b.Reset()
			start = i + 1
			// YAML allows content after the marker ("--- {a: 1}"); blanking
			// the marker keeps that content, its columns and its line.
			line = "   " + line[3:]
		}
		b.WriteString(line)
	}
	return append(docs, document{text: b.String(), line: start})
}

func isDocumentStart(line string) bool {
	rest, ok := strings.CutPrefix(line, "---")
	return ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\n')
}

// readDocument parses one document; it returns nil for an empty one (only
// comments, whitespace or null).
func readDocument(text string) (*yaml.RNode, error) {
	nodes, err := (&kio.ByteReader{
		Reader: strings.NewReader(text),
		// Load sets path and index itself: the reader would number every
		// document 0, as it sees one at a time.
		OmitReaderAnnotations: true,
		// Load expands Lists itself, so the items get annotations.
		DisableUnwrapping: true,
		// Aliases would make an edit of one object change another field.
		AnchorsAweigh: true,
	}).Read()
	if err != nil || len(nodes) == 0 {
		return nil, err
	}
	return nodes[0], nil
}

func clearStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		clearStyle(c)
	}
}
