package plugin

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kube-release/kube-release/steps"
)

var update = flag.Bool("update", false, "rewrite the generated parts of README.md, action.yml and tekton/task.yaml")

// The files whose generated parts TestGeneratedDocs keeps in step with the
// Settings struct and steps.OutputKeys, relative to this package.
const (
	readmePath = "../README.md"
	actionPath = "../action.yml"
	taskPath   = "../tekton/task.yaml"
)

// settingDoc is a setting as the documentation shows it.
type settingDoc struct {
	name string // snake_case, as action inputs and Tekton params name it
	env  string
	desc string
	def  string
	// steps names the steps that read it; nil means every step.
	steps  []string
	secret bool
}

// stepsPrefix matches a description that starts with the steps the
// setting applies to: "rolling, apply: skip the dry run".
var stepsPrefix = regexp.MustCompile(`^([a-z_]+(?:, [a-z_]+)*): (.+)$`)

func settingDocs(t *testing.T) []settingDoc {
	t.Helper()
	known := make(map[string]bool)
	for _, s := range KnownSteps() {
		known[string(s)] = true
	}
	typ := reflect.TypeFor[Settings]()
	var docs []settingDoc
	for _, f := range settingFields() {
		desc := typ.Field(f.index).Tag.Get("desc")
		if desc == "" {
			t.Errorf("%s has no desc tag: the README, action.yml and the Tekton Task describe every setting from it", f.env)
		}
		d := settingDoc{
			name:   strings.ToLower(strings.TrimPrefix(f.env, settingPrefix)),
			env:    f.env,
			desc:   desc,
			def:    f.def,
			secret: f.secret,
		}
		if m := stepsPrefix.FindStringSubmatch(desc); m != nil {
			names := strings.Split(m[1], ", ")
			if !slices.ContainsFunc(names, func(n string) bool { return !known[n] }) {
				d.steps, d.desc = names, m[2]
			}
		}
		docs = append(docs, d)
	}
	return docs
}

// Settings that a CI file leaves out on purpose, and why.
func omitted(file string) map[string]string {
	switch file {
	case actionPath:
		return map[string]string{
			"results_dir":  "Tekton only: GitHub takes outputs from GITHUB_OUTPUT",
			"pipeline_run": "Tekton only: on GitHub the release records GITHUB_RUN_ID and friends",
		}
	case taskPath:
		return map[string]string{
			"results_dir": "set by the Task itself to the directory of its results",
		}
	}
	return nil
}

// tektonExtraParams are the Task params that are no setting.
func tektonExtraParams() map[string]string {
	return map[string]string{"kube_release_image": "the kube-release image the step runs"}
}

// tektonResultsDir is where a Task's results go: $(results.<name>.path) is
// /tekton/results/<name>.
const tektonResultsDir = "/tekton/results"

func quote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		panic(err) // a string always encodes
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func stepsText(steps []string) string {
	if steps == nil {
		return "all"
	}
	return strings.Join(steps, ", ")
}

// tableCell keeps a value from breaking a Markdown table row.
func tableCell(s string) string {
	return strings.ReplaceAll(s, "|", `\|`)
}

// region is a generated part of a file: the lines between the BEGIN and
// END GENERATED markers named after it.
type region struct {
	file, name string
	generate   func(t *testing.T) string
}

func regions() []region {
	return []region{
		{readmePath, "settings", readmeSettings},
		{readmePath, "outputs", readmeOutputs},
		{actionPath, "inputs", actionInputs},
		{actionPath, "env", actionEnv},
		{actionPath, "outputs", actionOutputs},
		{taskPath, "params", taskParams},
		{taskPath, "env", taskEnv},
		{taskPath, "results", taskResults},
	}
}

func readmeSettings(t *testing.T) string {
	var b strings.Builder
	b.WriteString("| Setting | Environment variable | Steps | Default | Description |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for _, d := range settingDocs(t) {
		def := "–"
		if d.def != "" {
			def = "`" + d.def + "`"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s | %s |\n", d.name, d.env, stepsText(d.steps), def, tableCell(d.desc))
	}
	return b.String()
}

func readmeOutputs(t *testing.T) string {
	var b strings.Builder
	b.WriteString("| Output | Steps | Description |\n|---|---|---|\n")
	for _, o := range steps.OutputKeys() {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", o.Name, stepsText(o.Steps), tableCell(o.Description))
	}
	return b.String()
}

func actionInputs(t *testing.T) string {
	var b strings.Builder
	skip := omitted(actionPath)
	for _, d := range settingDocs(t) {
		if _, ok := skip[d.name]; ok {
			continue
		}
		desc := d.desc
		if d.steps != nil {
			desc = stepsText(d.steps) + ": " + desc
		}
		fmt.Fprintf(&b, "  %s:\n    description: %s\n    required: %t\n", d.name, quote(desc), d.name == "step")
		if d.def != "" {
			fmt.Fprintf(&b, "    default: %s\n", quote(d.def))
		}
	}
	return b.String()
}

func actionEnv(t *testing.T) string {
	var b strings.Builder
	skip := omitted(actionPath)
	for _, d := range settingDocs(t) {
		if _, ok := skip[d.name]; ok {
			continue
		}
		fmt.Fprintf(&b, "    %s: ${{ inputs.%s }}\n", d.env, d.name)
	}
	return b.String()
}

func actionOutputs(t *testing.T) string {
	var b strings.Builder
	for _, o := range steps.OutputKeys() {
		fmt.Fprintf(&b, "  %s:\n    description: %s\n", o.Name, quote(stepsText(o.Steps)+": "+o.Description))
	}
	return b.String()
}

func taskParams(t *testing.T) string {
	var b strings.Builder
	skip := omitted(taskPath)
	for _, d := range settingDocs(t) {
		if _, ok := skip[d.name]; ok {
			continue
		}
		desc := d.desc
		if d.steps != nil {
			desc = stepsText(d.steps) + ": " + desc
		}
		if d.def != "" {
			desc += " (default " + d.def + ")"
		}
		// An empty default lets an omitted param arrive as the empty
		// string, which kube-release reads as "not set".
		fmt.Fprintf(&b, "    - name: %s\n      type: string\n      description: %s\n      default: \"\"\n", d.name, quote(desc))
	}
	return b.String()
}

func taskEnv(t *testing.T) string {
	var b strings.Builder
	skip := omitted(taskPath)
	for _, d := range settingDocs(t) {
		value := "$(params." + d.name + ")"
		if d.name == "results_dir" {
			value = tektonResultsDir
		} else if _, ok := skip[d.name]; ok {
			continue
		}
		fmt.Fprintf(&b, "        - name: %s\n          value: %s\n", d.env, value)
	}
	return b.String()
}

func taskResults(t *testing.T) string {
	var b strings.Builder
	for _, o := range steps.OutputKeys() {
		fmt.Fprintf(&b, "    - name: %s\n      description: %s\n", o.Name, quote(stepsText(o.Steps)+": "+o.Description))
	}
	return b.String()
}

// replaceRegion returns content with the lines between the markers of name
// replaced by body.
func replaceRegion(content, name, body string) (string, error) {
	lines := strings.SplitAfter(content, "\n")
	begin, end := -1, -1
	for i, line := range lines {
		switch {
		case strings.Contains(line, "BEGIN GENERATED: "+name+" "), strings.HasSuffix(strings.TrimSpace(line), "BEGIN GENERATED: "+name):
			if begin >= 0 {
				return "", fmt.Errorf("two BEGIN GENERATED: %s markers", name)
			}
			begin = i
		case strings.Contains(line, "END GENERATED: "+name+" "), strings.HasSuffix(strings.TrimSpace(line), "END GENERATED: "+name):
			end = i
		}
	}
	if begin < 0 || end < begin {
		return "", fmt.Errorf("no BEGIN GENERATED: %s ... END GENERATED: %s markers", name, name)
	}
	return strings.Join(lines[:begin+1], "") + body + strings.Join(lines[end:], ""), nil
}

// TestGeneratedDocs keeps the settings and outputs tables of the README,
// and the inputs, env and outputs of action.yml and the params, env and
// results of tekton/task.yaml, in step with the code. After changing a
// setting or an output key:
//
//	go test ./plugin/ -run TestGeneratedDocs -update
func TestGeneratedDocs(t *testing.T) {
	files := map[string]string{}
	var order []string
	for _, r := range regions() {
		if _, ok := files[r.file]; !ok {
			data, err := os.ReadFile(r.file)
			if err != nil {
				t.Fatal(err)
			}
			files[r.file] = string(data)
			order = append(order, r.file)
		}
		updated, err := replaceRegion(files[r.file], r.name, r.generate(t))
		if err != nil {
			t.Fatalf("%s: %v", r.file, err)
		}
		files[r.file] = updated
	}
	for _, file := range order {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if string(data) == files[file] {
			continue
		}
		if *update {
			if err := os.WriteFile(file, []byte(files[file]), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("rewrote %s", filepath.Clean(file))
			continue
		}
		t.Errorf("%s is out of date with the settings or outputs: run go test ./plugin/ -run TestGeneratedDocs -update\n%s",
			filepath.Clean(file), firstDifference(string(data), files[file]))
	}
}

// firstDifference shows the first line that differs, which is usually
// enough to see what changed.
func firstDifference(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n  have %q\n  want %q", i+1, gl, wl)
		}
	}
	return ""
}
