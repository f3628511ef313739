package plugin

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/kube-release/kube-release/steps"
)

// actionFile is the part of action.yml these tests read.
type actionFile struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Inputs      map[string]struct {
		Description string `json:"description"`
		Required    bool   `json:"required"`
		// A string, as GitHub hands every input over as one: a YAML
		// number or boolean here fails to unmarshal, on purpose.
		Default string `json:"default"`
	} `json:"inputs"`
	Outputs map[string]struct {
		Description string `json:"description"`
	} `json:"outputs"`
	Runs struct {
		Using string            `json:"using"`
		Image string            `json:"image"`
		Env   map[string]string `json:"env"`
	} `json:"runs"`
}

// taskFile is the part of tekton/task.yaml these tests read.
type taskFile struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Spec       struct {
		Params []struct {
			Name        string  `json:"name"`
			Type        string  `json:"type"`
			Description string  `json:"description"`
			Default     *string `json:"default"`
		} `json:"params"`
		Results []struct {
			Name        string `json:"name"`
			Description string `json:"description"`
		} `json:"results"`
		Steps []struct {
			Name    string   `json:"name"`
			Image   string   `json:"image"`
			Command []string `json:"command"`
			Env     []struct {
				Name  string `json:"name"`
				Value string `json:"value"`
			} `json:"env"`
		} `json:"steps"`
	} `json:"spec"`
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, into); err != nil {
		// Strict about types, not about fields this test does not read.
		if err := yaml.Unmarshal(data, into); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
}

func outputNames() []string {
	var names []string
	for _, o := range steps.OutputKeys() {
		names = append(names, o.Name)
	}
	return names
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// compareSets reports what want has that got lacks and what got has that
// want does not.
func compareSets(t *testing.T, what string, got, want []string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("%s: %s is missing", what, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			t.Errorf("%s: %s is unknown", what, g)
		}
	}
}

// action.yml declares one input per setting (but those GitHub has no use
// for), with the code's default, maps each to its PLUGIN_* variable and
// nothing else, and declares every output key the steps write.
func TestActionYAML(t *testing.T) {
	var a actionFile
	readYAML(t, actionPath, &a)
	if a.Name == "" || a.Description == "" {
		t.Error("action.yml needs a name and a description")
	}
	if len(a.Description) > 125 {
		t.Errorf("description is %d characters; the Marketplace takes at most 125", len(a.Description))
	}
	if a.Runs.Using != "docker" {
		t.Errorf("runs.using = %q, want docker", a.Runs.Using)
	}
	// The published image, not a build on every job; root, as GitHub runs
	// docker actions.
	if a.Runs.Image != "docker://"+publishedRepo+":v1-root" {
		t.Errorf("runs.image = %q, want the published root variant docker://%s:v1-root", a.Runs.Image, publishedRepo)
	}

	skip := omitted(actionPath)
	var wantInputs, wantEnv []string
	for _, d := range settingDocs(t) {
		if _, ok := skip[d.name]; ok {
			continue
		}
		wantInputs = append(wantInputs, d.name)
		wantEnv = append(wantEnv, d.env)
		in, ok := a.Inputs[d.name]
		if !ok {
			continue // reported below
		}
		if in.Description == "" {
			t.Errorf("input %s has no description", d.name)
		}
		if in.Default != d.def {
			t.Errorf("input %s: default %q, want the code's %q (a different one would win over it)", d.name, in.Default, d.def)
		}
		if in.Required != (d.name == "step") {
			t.Errorf("input %s: required %t; only step is required of every step", d.name, in.Required)
		}
		if v, ok := a.Runs.Env[d.env]; ok && v != "${{ inputs."+d.name+" }}" {
			t.Errorf("runs.env.%s = %q, want ${{ inputs.%s }}", d.env, v, d.name)
		}
	}
	compareSets(t, "action.yml inputs", sortedKeys(a.Inputs), wantInputs)
	var gotEnv []string
	for k := range a.Runs.Env {
		if strings.HasPrefix(k, settingPrefix) {
			gotEnv = append(gotEnv, k)
		}
	}
	compareSets(t, "action.yml runs.env", gotEnv, wantEnv)

	compareSets(t, "action.yml outputs", sortedKeys(a.Outputs), outputNames())
	for name, out := range a.Outputs {
		if out.Description == "" {
			t.Errorf("output %s has no description", name)
		}
	}
}

// Tekton result names: lower-case letters, digits, - and _.
var tektonName = regexp.MustCompile(`^[a-z0-9]([-_a-z0-9]*[a-z0-9])?$`)

// tekton/task.yaml has a string param with the default "" per setting (but
// results_dir, which the Task points at its own results), maps each to its
// PLUGIN_* variable, and declares every output key as a result.
func TestTektonTask(t *testing.T) {
	var task taskFile
	readYAML(t, taskPath, &task)
	if task.APIVersion != "tekton.dev/v1" || task.Kind != "Task" {
		t.Errorf("apiVersion/kind = %s/%s, want tekton.dev/v1/Task", task.APIVersion, task.Kind)
	}
	if len(task.Spec.Steps) != 1 {
		t.Fatalf("%d steps, want 1", len(task.Spec.Steps))
	}
	step := task.Spec.Steps[0]
	if step.Image != "$(params.kube_release_image)" || !slices.Equal(step.Command, []string{"/kube-release"}) {
		t.Errorf("step runs %s %q, want $(params.kube_release_image) [/kube-release]", step.Image, step.Command)
	}

	skip := omitted(taskPath)
	extra := tektonExtraParams()
	var wantParams, wantEnv []string
	envValues := map[string]string{}
	for _, e := range step.Env {
		if _, dup := envValues[e.Name]; dup {
			t.Errorf("env %s is set twice", e.Name)
		}
		envValues[e.Name] = e.Value
	}
	for _, d := range settingDocs(t) {
		wantEnv = append(wantEnv, d.env)
		want := "$(params." + d.name + ")"
		if d.name == "results_dir" {
			want = tektonResultsDir
		}
		if v, ok := envValues[d.env]; ok && v != want {
			t.Errorf("env %s = %q, want %q", d.env, v, want)
		}
		if _, ok := skip[d.name]; !ok {
			wantParams = append(wantParams, d.name)
		}
	}
	var gotParams []string
	for _, p := range task.Spec.Params {
		gotParams = append(gotParams, p.Name)
		if _, ok := extra[p.Name]; ok {
			continue
		}
		if p.Type != "string" {
			t.Errorf("param %s: type %q, want string", p.Name, p.Type)
		}
		if p.Default == nil || *p.Default != "" {
			t.Errorf("param %s: want the default \"\", so that an omitted param reads as not set", p.Name)
		}
		if p.Description == "" {
			t.Errorf("param %s has no description", p.Name)
		}
	}
	compareSets(t, "task params", gotParams, append(wantParams, sortedKeys(extra)...))
	var gotEnv []string
	for name := range envValues {
		if strings.HasPrefix(name, settingPrefix) {
			gotEnv = append(gotEnv, name)
		}
	}
	compareSets(t, "task step env", gotEnv, wantEnv)

	var gotResults []string
	for _, r := range task.Spec.Results {
		gotResults = append(gotResults, r.Name)
		if !tektonName.MatchString(r.Name) {
			t.Errorf("result %q is not a valid Tekton result name", r.Name)
		}
		if r.Description == "" {
			t.Errorf("result %s has no description", r.Name)
		}
	}
	compareSets(t, "task results", gotResults, outputNames())
}

// Every output key works as a dotenv key, a GitHub output name and a
// Tekton result (a file name), and is documented.
func TestDeclaredOutputKeys(t *testing.T) {
	known := map[string]bool{}
	for _, s := range KnownSteps() {
		known[string(s)] = true
	}
	seen := map[string]bool{}
	for _, o := range steps.OutputKeys() {
		if seen[o.Name] {
			t.Errorf("output %s is listed twice", o.Name)
		}
		seen[o.Name] = true
		if err := checkOutputKeys([]Output{{Key: o.Name}}); err != nil || !tektonName.MatchString(o.Name) {
			t.Errorf("output %q is not a valid key everywhere: %v", o.Name, err)
		}
		if o.Description == "" || len(o.Steps) == 0 {
			t.Errorf("output %s needs a description and its steps", o.Name)
		}
		for _, s := range o.Steps {
			if !known[s] {
				t.Errorf("output %s: unknown step %q", o.Name, s)
			}
		}
	}
	if t.Failed() {
		t.Log(fmt.Sprint("known steps: ", KnownSteps()))
	}
}

// exampleChecker checks kube-release steps in example YAML against the
// settings, the action's inputs, the Task's params and the output keys.
type exampleChecker struct {
	settings map[string]bool
	outputs  map[string]bool
	params   map[string]bool
}

func newExampleChecker(t *testing.T) exampleChecker {
	c := exampleChecker{settings: map[string]bool{}, outputs: map[string]bool{}, params: map[string]bool{}}
	for _, d := range settingDocs(t) {
		c.settings[d.name] = true
	}
	for _, name := range outputNames() {
		c.outputs[name] = true
	}
	var task taskFile
	readYAML(t, taskPath, &task)
	for _, p := range task.Spec.Params {
		c.params[p.Name] = true
	}
	return c
}

// outputRef finds references to a step's outputs: GitHub's
// steps.<id>.outputs.<key>, Harness's output.outputVariables.<key> and
// Tekton's tasks.<name>.results.<key>.
var outputRef = regexp.MustCompile(`(?:\.outputs|\.outputVariables|\.results)\.([A-Za-z0-9_-]+)`)

func (c exampleChecker) check(t *testing.T, where, text string) {
	t.Helper()
	for _, m := range outputRef.FindAllStringSubmatch(text, -1) {
		if !c.outputs[m[1]] {
			t.Errorf("%s refers to the output %q, which no step writes", where, m[1])
		}
	}
	var docs []any
	for _, doc := range strings.Split(text, "\n---\n") {
		var v any
		if err := yaml.Unmarshal([]byte(doc), &v); err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		docs = append(docs, v)
	}
	found := 0
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			uses, _ := v["uses"].(string)
			image, _ := v["image"].(string)
			taskRef, _ := v["taskRef"].(map[string]any)
			switch {
			case strings.Contains(uses, "kube-release"): // GitHub
				found++
				with, _ := v["with"].(map[string]any)
				for k := range with {
					if !c.settings[k] || omitted(actionPath)[k] != "" {
						t.Errorf("%s: the action has no input %q", where, k)
					}
				}
			case strings.Contains(image, "kube-release") && v["settings"] != nil: // Drone, Harness
				found++
				settings, _ := v["settings"].(map[string]any)
				for k := range settings {
					if !c.settings[k] {
						t.Errorf("%s: unknown setting %q", where, k)
					}
				}
			case taskRef != nil && taskRef["name"] == "kube-release": // Tekton
				found++
				params, _ := v["params"].([]any)
				for _, p := range params {
					name, _ := p.(map[string]any)["name"].(string)
					if !c.params[name] {
						t.Errorf("%s: the Task has no param %q", where, name)
					}
				}
			}
			for _, e := range v {
				walk(e)
			}
		}
	}
	for _, d := range docs {
		walk(d)
	}
	if found == 0 {
		t.Errorf("%s: no kube-release step found", where)
	}
}

// The examples in the README and tekton/pipeline-example.yaml use only
// settings, params and outputs that exist.
func TestExamples(t *testing.T) {
	c := newExampleChecker(t)
	data, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(data), -1)
	if len(blocks) < 4 {
		t.Errorf("README has %d YAML examples, want one per CI system", len(blocks))
	}
	for i, b := range blocks {
		c.check(t, fmt.Sprintf("README YAML example %d", i+1), b[1])
	}
	example, err := os.ReadFile("../tekton/pipeline-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c.check(t, "tekton/pipeline-example.yaml", string(example))
}

// The project's own Drone pipeline vets, tests and builds.
func TestDronePipeline(t *testing.T) {
	var p struct {
		Kind  string `json:"kind"`
		Type  string `json:"type"`
		Steps []struct {
			Name     string   `json:"name"`
			Image    string   `json:"image"`
			Commands []string `json:"commands"`
		} `json:"steps"`
	}
	readYAML(t, "../.drone.yml", &p)
	if p.Kind != "pipeline" || p.Type != "docker" {
		t.Errorf("kind/type = %s/%s, want pipeline/docker", p.Kind, p.Type)
	}
	var names []string
	for _, s := range p.Steps {
		names = append(names, s.Name)
	}
	for _, want := range []string{"vet", "test", "build"} {
		if !slices.Contains(names, want) {
			t.Errorf("no %s step in %q", want, names)
		}
	}
}

// publishedRepo is where .drone.yml publishes the image.
const publishedRepo = "ghcr.io/kube-release/kube-release"

// Every image tag the README, action.yml and tekton/ name is one that
// .drone.yml publishes: vMAJOR, vMAJOR.MINOR or vMAJOR.MINOR.PATCH, with
// -root for the GitHub action; never latest, and no auto_tag, which
// publishes tags without the v.
func TestImageTags(t *testing.T) {
	drone, err := os.ReadFile("../.drone.yml")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(drone), "auto_tag:") {
		t.Error(".drone.yml uses auto_tag, which publishes 1, 1.2, 1.2.3: tags no file names")
	}
	for _, tag := range []string{"${DRONE_TAG}", "${DRONE_TAG%.*}", "${DRONE_TAG%%.*}", "${DRONE_TAG}-root", "${DRONE_TAG%.*}-root", "${DRONE_TAG%%.*}-root"} {
		if !strings.Contains(string(drone), "        - "+tag+"\n") {
			t.Errorf(".drone.yml does not publish the tag %s", tag)
		}
	}
	published := regexp.MustCompile(`^v[0-9]+(\.[0-9]+){0,2}(-root)?$`)
	named := regexp.MustCompile(regexp.QuoteMeta(publishedRepo) + `:([A-Za-z0-9_.${}-]+)`)
	found := 0
	for _, path := range []string{"../README.md", "../action.yml", "../tekton/task.yaml", "../tekton/pipeline-example.yaml", "../tekton/pipelinerun-example.yaml"} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range named.FindAllStringSubmatch(string(data), -1) {
			found++
			if !published.MatchString(m[1]) {
				t.Errorf("%s names the image tag %q, which .drone.yml does not publish (it publishes vX, vX.Y, vX.Y.Z and their -root)", path, m[1])
			}
		}
	}
	if found == 0 {
		t.Error("no file names the image")
	}
}
