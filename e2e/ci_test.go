package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/kube-release/kube-release/internal/release"
	"github.com/kube-release/kube-release/internal/testcluster"
)

// ciRun is one run of the binary as a CI step.
type ciRun struct {
	stdout, stderr string
	code           int
}

// runStep runs the binary in dir with exactly env, plus PATH and an empty
// HOME, as a CI system runs a step's container.
func runStep(t *testing.T, dir string, env map[string]string, args ...string) ciRun {
	t.Helper()
	cmd := exec.CommandContext(context.Background(), binary, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := ciRun{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return r
}

func (r ciRun) mustSucceed(t *testing.T) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

func readOutput(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func wantFile(t *testing.T, path, want string) {
	t.Helper()
	if got := readOutput(t, path); got != want {
		t.Errorf("%s:\n%s\nwant:\n%s", filepath.Base(path), got, want)
	}
}

// webApp is a small app whose Deployment takes its config from a
// ConfigMap and a Secret, with the Secret's values given.
func webApp(image, password, apiKey string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  color: blue
---
apiVersion: v1
kind: Secret
metadata:
  name: web-secret
type: Opaque
data:
  password: %s
stringData:
  api-key: %s
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: %s
        envFrom:
        - configMapRef: {name: web-config}
        - secretRef: {name: web-secret}
`, base64.StdEncoding.EncodeToString([]byte(password)), apiKey, image)
}

// workspace is a checked-out repository holding the app's manifests in
// deploy/, as a CI job sees it.
func workspace(t *testing.T, manifests string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "deploy"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeManifests(t, dir, manifests)
	return dir
}

// writeManifests replaces the app's manifests, as a new commit would.
func writeManifests(t *testing.T, dir, manifests string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "deploy", "app.yaml"), []byte(manifests), 0o644); err != nil {
		t.Fatal(err)
	}
}

func releaseHistory(t *testing.T, c *testcluster.Cluster, namespace, name string) release.History {
	t.Helper()
	h, err := release.NewConfigMapStore(c.Typed(t), namespace, name).List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Drone runs the plugin image with the step's settings as PLUGIN_* (a
// list comma-joined) and DRONE_* variables, and reads DRONE_OUTPUT.
// Harness CI sets the same, and HARNESS_OUTPUT_FILE too, often to the same
// file, which must not get every line twice.
func TestDrone(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	kubeconfig, err := os.ReadFile(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	dir := workspace(t, webApp("registry.local/web:1.0", "hunter2", "key-1"))
	if err := os.WriteFile(filepath.Join(dir, "deploy", "extra.yaml"), []byte(configMapManifest), 0o644); err != nil {
		t.Fatal(err)
	}
	env := func(output string) map[string]string {
		return map[string]string{
			"CI":                     "true",
			"DRONE":                  "true",
			"DRONE_BUILD_NUMBER":     "42",
			"DRONE_BUILD_EVENT":      "push",
			"DRONE_BUILD_LINK":       "https://drone.example.com/acme/web/42",
			"DRONE_REPO":             "acme/web",
			"DRONE_BRANCH":           "main",
			"DRONE_COMMIT_SHA":       "0123456789abcdef",
			"DRONE_COMMIT_AUTHOR":    "ada",
			"DRONE_OUTPUT":           output,
			"PLUGIN_STEP":            "rolling",
			"PLUGIN_RELEASE":         "web",
			"PLUGIN_NAMESPACE":       ns,
			"PLUGIN_MANIFESTS":       "deploy/app.yaml,deploy/extra.yaml",
			"PLUGIN_KUBECONFIG_DATA": base64.StdEncoding.EncodeToString(kubeconfig),
			"PLUGIN_TIMEOUT":         "2m",
		}
	}

	out1 := filepath.Join(t.TempDir(), "drone.env")
	r := runStep(t, dir, env(out1))
	r.mustSucceed(t)
	wantFile(t, out1, `release=web
release_number=1
previous_release_number=
status=Succeeded
workloads=Deployment/web
images=registry.local/web:1.0
`)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if last := lines[len(lines)-1]; last != "Release 1 of web Succeeded" {
		t.Errorf("last line %q, want the outcome", last)
	}
	if strings.Contains(r.stdout, "::") || strings.Contains(r.stdout, "\x1b[") {
		t.Errorf("GitHub commands or colour outside GitHub and a terminal:\n%s", r.stdout)
	}
	if r.stderr != "" {
		t.Errorf("stderr: %s", r.stderr)
	}

	// Harness CI: both variables name the same file.
	out2 := filepath.Join(t.TempDir(), "harness.env")
	harness := env(out2)
	harness["HARNESS_OUTPUT_FILE"] = out2
	harness["PLUGIN_LOG_TIMESTAMPS"] = "true"
	r = runStep(t, dir, harness)
	r.mustSucceed(t)
	stamped := regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ Release 2 of web Succeeded$`)
	if !strings.HasPrefix(r.stdout, "20") || !stamped.MatchString(r.stdout) {
		t.Errorf("log_timestamps: lines lack their timestamps:\n%s", r.stdout)
	}
	wantFile(t, out2, `release=web
release_number=2
previous_release_number=1
status=Succeeded
workloads=Deployment/web
images=registry.local/web:1.0
`)

	latest := releaseHistory(t, c, ns, "web").Latest()
	want := release.Pipeline{Repository: "acme/web", Branch: "main", Commit: "0123456789abcdef", Build: "42",
		BuildLink: "https://drone.example.com/acme/web/42", Event: "push", Actor: "ada"}
	if latest == nil || latest.Metadata.Pipeline != want {
		t.Errorf("release records the pipeline %+v, want %+v", latest, want)
	}
}

// action is the part of action.yml that a runner reads to start the step.
type action struct {
	Inputs map[string]struct {
		Default string `json:"default"`
	} `json:"inputs"`
	Runs struct {
		Env map[string]string `json:"env"`
	} `json:"runs"`
}

var inputExpr = regexp.MustCompile(`\$\{\{\s*inputs\.([A-Za-z0-9_-]+)\s*\}\}`)

// githubStep is the environment GitHub gives a docker action's container:
// action.yml's runs.env with ${{ inputs.x }} evaluated (an input left out
// takes its default, else ""), INPUT_X for every declared input, and the
// runner's own variables. The output and summary files are fresh per step,
// as on GitHub.
type githubStep struct {
	env             map[string]string
	output, summary string
}

func newGitHubStep(t *testing.T, inputs map[string]string) githubStep {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var a action
	if err := yaml.Unmarshal(data, &a); err != nil {
		t.Fatal(err)
	}
	value := map[string]string{}
	for name, in := range a.Inputs {
		value[name] = in.Default
	}
	for name, v := range inputs {
		if _, ok := a.Inputs[name]; !ok {
			t.Fatalf("input %s is not declared in action.yml", name)
		}
		value[name] = v
	}
	dir := t.TempDir()
	s := githubStep{
		env: map[string]string{
			"CI":                  "true",
			"GITHUB_ACTIONS":      "true",
			"GITHUB_RUN_ID":       "4711",
			"GITHUB_REPOSITORY":   "acme/web",
			"GITHUB_SHA":          "fedcba9876543210",
			"GITHUB_REF_NAME":     "main",
			"GITHUB_EVENT_NAME":   "push",
			"GITHUB_ACTOR":        "ada",
			"GITHUB_SERVER_URL":   "https://github.com",
			"GITHUB_OUTPUT":       filepath.Join(dir, "output"),
			"GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary"),
		},
		output:  filepath.Join(dir, "output"),
		summary: filepath.Join(dir, "summary"),
	}
	for name := range a.Inputs {
		s.env["INPUT_"+strings.ToUpper(strings.ReplaceAll(name, " ", "_"))] = value[name]
	}
	for k, v := range a.Runs.Env {
		s.env[k] = inputExpr.ReplaceAllStringFunc(v, func(expr string) string {
			name := inputExpr.FindStringSubmatch(expr)[1]
			if _, ok := a.Inputs[name]; !ok {
				t.Fatalf("runs.env.%s refers to undeclared input %s", k, name)
			}
			return value[name]
		})
	}
	return s
}

// GitHub Actions: the action's env mapping applied to the workflow's
// inputs; outputs in GITHUB_OUTPUT, a Markdown summary, folded sections,
// masked secrets and annotations. The workflow deploys, a broken deploy
// fails, and the rollback step (if: failure()) returns to release 1.
func TestGitHubAction(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	dir := workspace(t, webApp("registry.local/web:1.0", "hunter2", "key-1"))
	auth := map[string]string{
		"server":                     c.Server,
		"token":                      c.Token,
		"certificate_authority_data": base64.StdEncoding.EncodeToString(c.CAData),
	}
	with := func(inputs map[string]string) map[string]string {
		for k, v := range auth {
			inputs[k] = v
		}
		return inputs
	}

	deploy := newGitHubStep(t, with(map[string]string{
		"step": "rolling", "release": "web", "namespace": ns, "manifests": "deploy/",
	}))
	r := runStep(t, dir, deploy.env)
	r.mustSucceed(t)
	wantFile(t, deploy.output, `release=web
release_number=1
previous_release_number=
status=Succeeded
workloads=Deployment/web
images=registry.local/web:1.0
`)
	wantFile(t, deploy.summary, "### ✅ kube-release rolling: `web` release 1 Succeeded\n\n"+
		"| | |\n|---|---|\n"+
		"| Release | `web` |\n"+
		"| Release number | 1 |\n"+
		"| Status | Succeeded |\n"+
		"| Namespace | `"+ns+"` |\n"+
		"| Previous successful release | none |\n"+
		"| Images | `registry.local/web:1.0` |\n"+
		"\n| Workload | Revision |\n|---|---|\n"+
		"| Deployment/web | 1 |\n")

	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	// The token is masked before anything else is printed.
	if lines[0] != "::add-mask::"+c.Token {
		t.Errorf("first line %q, want ::add-mask:: of the token", lines[0])
	}
	for _, want := range []string{
		"::group::Resources (3)\nKind          Name            Versioned\n",
		"::endgroup::\n",
		"::group::Applied 3 objects: 3 created\n",
		"\nSecret/" + ns + "/web-secret-1 created\n",
		"::notice::Release 1 of web Succeeded\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if got := strings.Count(r.stdout, "::group::"); got != strings.Count(r.stdout, "::endgroup::") {
		t.Errorf("%d groups opened, %d closed", got, strings.Count(r.stdout, "::endgroup::"))
	}
	if strings.Count(r.stdout, c.Token) != 1 {
		t.Error("the token appears outside its ::add-mask:: line")
	}

	// A deploy that cannot become ready fails the job.
	writeManifests(t, dir, webApp("registry.local/web:does-not-exist", "hunter2", "key-1"))
	broken := newGitHubStep(t, with(map[string]string{
		"step": "rolling", "release": "web", "namespace": ns, "manifests": "deploy/", "fail_fast_after": "2s",
	}))
	r = runStep(t, dir, broken.env)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", r.code, r.stdout)
	}
	wantFile(t, broken.output, `release=web
release_number=2
previous_release_number=1
status=Failed
workloads=Deployment/web
images=registry.local/web:does-not-exist
`)
	summary := readOutput(t, broken.summary)
	for _, want := range []string{
		"### ❌ kube-release rolling: `web` release 2 Failed\n\n",
		"| Previous successful release | 1 |\n",
		"| Deployment/web | – |\n",
		"\n#### Why it failed\n\n```text\nwait for steady state: ",
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
	if !regexp.MustCompile(`(?m)^::error::rolling: wait for steady state: `).MatchString(r.stdout) {
		t.Errorf("no ::error:: annotation for the failure:\n%s", r.stdout)
	}

	// The rollback step, with the failed deploy's release number.
	rollback := newGitHubStep(t, with(map[string]string{
		"step": "rollback", "release": "web", "namespace": ns, "release_number": "2",
	}))
	r = runStep(t, dir, rollback.env)
	r.mustSucceed(t)
	wantFile(t, rollback.output, `release=web
release_number=1
rolled_back_release_number=2
status=Succeeded
`)
	if summary := readOutput(t, rollback.summary); !strings.HasPrefix(summary, "### ") {
		t.Errorf("rollback summary:\n%s", summary)
	}
}

// task is the part of tekton/task.yaml that the Tekton controller reads to
// build the step's container.
type task struct {
	Spec struct {
		Params []struct {
			Name    string `json:"name"`
			Default string `json:"default"`
		} `json:"params"`
		Results []struct {
			Name string `json:"name"`
		} `json:"results"`
		Workspaces []struct {
			Name string `json:"name"`
		} `json:"workspaces"`
		Steps []struct {
			Command    []string `json:"command"`
			WorkingDir string   `json:"workingDir"`
			Env        []struct {
				Name  string `json:"name"`
				Value string `json:"value"`
			} `json:"env"`
		} `json:"steps"`
	} `json:"spec"`
}

var tektonVar = regexp.MustCompile(`\$\((params|workspaces)\.([A-Za-z0-9_-]+)(\.path)?\)`)

// tektonStep resolves the Task's step as Tekton does for a TaskRun with
// params (omitted ones take their default "") and workspaces (unbound ones
// have the path ""), with the results directory, /tekton/results in the
// pod, at resultsDir. It returns the env and the working directory.
func tektonStep(t *testing.T, params, workspaces map[string]string, resultsDir string) (map[string]string, string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "tekton", "task.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tk task
	if err := yaml.Unmarshal(data, &tk); err != nil {
		t.Fatal(err)
	}
	value := map[string]string{}
	for _, p := range tk.Spec.Params {
		value[p.Name] = p.Default
	}
	for name, v := range params {
		if _, ok := value[name]; !ok {
			t.Fatalf("param %s is not declared in tekton/task.yaml", name)
		}
		value[name] = v
	}
	declared := map[string]bool{}
	for _, w := range tk.Spec.Workspaces {
		declared[w.Name] = true
	}
	substitute := func(s string) string {
		s = tektonVar.ReplaceAllStringFunc(s, func(expr string) string {
			m := tektonVar.FindStringSubmatch(expr)
			if m[1] == "params" {
				v, ok := value[m[2]]
				if !ok {
					t.Fatalf("%s refers to an undeclared param", expr)
				}
				return v
			}
			if !declared[m[2]] {
				t.Fatalf("%s refers to an undeclared workspace", expr)
			}
			return workspaces[m[2]]
		})
		return strings.Replace(s, "/tekton/results", resultsDir, 1)
	}
	step := tk.Spec.Steps[0]
	if !slices.Equal(step.Command, []string{"/kube-release"}) {
		t.Fatalf("step command %q", step.Command)
	}
	env := map[string]string{}
	for _, e := range step.Env {
		env[e.Name] = substitute(e.Value)
	}
	return env, substitute(step.WorkingDir)
}

// Tekton: params as the step's env (omitted ones ""), the kubeconfig from
// a workspace bound to a Secret, the manifests in the source workspace,
// and one results file per output.
func TestTektonTask(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	source := workspace(t, webApp("registry.local/web:1.0", "hunter2", "key-1"))
	secret := t.TempDir()
	kubeconfig, err := os.ReadFile(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(secret, "kubeconfig"), kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	results := t.TempDir()
	env, workingDir := tektonStep(t,
		map[string]string{
			"step": "rolling", "release": "web", "namespace": ns, "manifests": "deploy/app.yaml",
			"pipeline_run": "deploy-web-x7k2q",
		},
		map[string]string{"source": source, "kubeconfig": secret},
		results)
	if workingDir != source {
		t.Errorf("working directory %q, want the source workspace", workingDir)
	}
	runStep(t, workingDir, env).mustSucceed(t)

	want := map[string]string{
		"release":                 "web",
		"release_number":          "1",
		"previous_release_number": "",
		"status":                  "Succeeded",
		"workloads":               "Deployment/web",
		"images":                  "registry.local/web:1.0",
	}
	entries, err := os.ReadDir(results)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	var wantNames []string
	for name := range want {
		wantNames = append(wantNames, name)
	}
	slices.Sort(wantNames)
	if !slices.Equal(names, wantNames) {
		t.Errorf("results %q, want %q", names, wantNames)
	}
	for name, value := range want {
		if got := readOutput(t, filepath.Join(results, name)); got != value {
			t.Errorf("result %s = %q, want %q", name, got, value)
		}
	}

	latest := releaseHistory(t, c, ns, "web").Latest()
	if latest == nil || latest.Metadata.Pipeline != (release.Pipeline{Build: "deploy-web-x7k2q"}) {
		t.Errorf("release records the pipeline %+v, want the PipelineRun", latest)
	}

	// Without the kubeconfig workspace the Task falls back to in-cluster
	// config, which this test is not in: the error says what to set.
	env, _ = tektonStep(t, map[string]string{"step": "rollback", "release": "web", "namespace": ns}, nil, t.TempDir())
	r := runStep(t, t.TempDir(), env)
	if r.code == 0 || !strings.Contains(r.stdout, "not running in a cluster") {
		t.Errorf("exit %d without a kubeconfig, want a failure with a clear error:\n%s", r.code, r.stdout)
	}
}

// No secret value reaches the log or any output, at debug level, whether
// the step succeeds or fails: not the token, not a Secret's values, as
// written, base64-encoded or decoded. Under GitHub Actions the token shows
// only in the ::add-mask:: line that hides it.
func TestNoSecretsInOutput(t *testing.T) {
	c := testcluster.Shared(t)
	const (
		password = "pa55-w0rd-in-data"
		apiKey   = "api-key-in-stringData"
	)
	secrets := []string{
		c.Token,
		password, base64.StdEncoding.EncodeToString([]byte(password)),
		apiKey, base64.StdEncoding.EncodeToString([]byte(apiKey)),
	}
	// A Secret the API server rejects, whose error would quote its value.
	const badValue = "not//base64=="
	invalid := webApp("registry.local/web:1.0", password, apiKey) + `---
apiVersion: v1
kind: Secret
metadata:
  name: broken
data:
  key: "` + badValue + `"
`

	tests := []struct {
		name      string
		manifests string
		github    bool
		wantCode  int
		extra     []string
	}{
		{name: "rolling", manifests: webApp("registry.local/web:1.0", password, apiKey)},
		{name: "rolling under GitHub Actions", manifests: webApp("registry.local/web:1.0", password, apiKey), github: true},
		{name: "rolling rejected by the API server", manifests: invalid, wantCode: 1, extra: []string{badValue}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := c.Namespace(t)
			dir := workspace(t, tt.manifests)
			files := t.TempDir()
			env := map[string]string{
				"PLUGIN_STEP":                       "rolling",
				"PLUGIN_RELEASE":                    "web",
				"PLUGIN_NAMESPACE":                  ns,
				"PLUGIN_MANIFESTS":                  "deploy/",
				"PLUGIN_SERVER":                     c.Server,
				"PLUGIN_TOKEN":                      c.Token,
				"PLUGIN_CERTIFICATE_AUTHORITY_DATA": base64.StdEncoding.EncodeToString(c.CAData),
				"PLUGIN_LOG_LEVEL":                  "debug",
				"PLUGIN_RESULTS_DIR":                filepath.Join(files, "results"),
				"DRONE_OUTPUT":                      filepath.Join(files, "drone.env"),
				"GITHUB_OUTPUT":                     filepath.Join(files, "github_output"),
				"GITHUB_STEP_SUMMARY":               filepath.Join(files, "summary.md"),
			}
			if tt.github {
				env["GITHUB_ACTIONS"] = "true"
			}
			r := runStep(t, dir, env)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d:\n%s%s", r.code, tt.wantCode, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, "debug: ") {
				t.Errorf("no debug lines: the test must run at debug level:\n%s", r.stdout)
			}

			stdout := r.stdout
			if tt.github {
				masks := regexp.MustCompile(`(?m)^::add-mask::.*\n`)
				if got := masks.FindAllString(stdout, -1); !slices.Contains(got, "::add-mask::"+c.Token+"\n") {
					t.Errorf("the token is not masked: %q", got)
				}
				stdout = masks.ReplaceAllString(stdout, "")
			}
			outputs := assertNoSecrets(t, stdout, r.stderr, files, append(slices.Clone(secrets), tt.extra...))
			if _, ok := outputs["drone.env"]; !ok && tt.wantCode == 0 {
				t.Errorf("no outputs written: %q", slices.Sorted(maps.Keys(outputs)))
			}
		})
	}
}

// logLevels are every log_level, least verbose first.
var logLevels = []string{"error", "warn", "info", "debug", "trace"}

// outputEnv points every CI output of a step into files: DRONE_OUTPUT,
// GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and results_dir.
func outputEnv(files string) map[string]string {
	return map[string]string{
		"PLUGIN_RESULTS_DIR":  filepath.Join(files, "results"),
		"DRONE_OUTPUT":        filepath.Join(files, "drone.env"),
		"GITHUB_OUTPUT":       filepath.Join(files, "github_output"),
		"GITHUB_STEP_SUMMARY": filepath.Join(files, "summary.md"),
	}
}

// assertNoSecrets fails for every secret value found in stdout, stderr or
// any file under files, and returns them all by name.
func assertNoSecrets(t *testing.T, stdout, stderr, files string, secrets []string) map[string]string {
	t.Helper()
	outputs := map[string]string{"stdout": stdout, "stderr": stderr}
	err := filepath.WalkDir(files, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		outputs[strings.TrimPrefix(path, files+"/")] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for where, text := range outputs {
		for _, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("%s shows the secret value %q:\n%s", where, secret, text)
			}
		}
	}
	return outputs
}

// badSecrets are Secrets the API server rejects for the shape of their
// data or stringData, each answered with an error that would echo the
// value: a string, a list or a number instead of a map, a nested map, a
// value that is not base64.
const badSecrets = `apiVersion: v1
kind: Secret
metadata: {name: as-string}
data: hunter2-data-string
---
apiVersion: v1
kind: Secret
metadata: {name: as-list}
stringData: [hunter2-list-one, hunter2-list-two]
---
apiVersion: v1
kind: Secret
metadata: {name: as-number}
data: 98765432123
---
apiVersion: v1
kind: Secret
metadata: {name: nested}
stringData: {k: {nested: hunter2-nested}}
---
apiVersion: v1
kind: Secret
metadata: {name: not-base64}
data: {k: "not//base64=="}
`

// badSecretValues are the values of badSecrets and templatedSecret.
var badSecretValues = []string{"hunter2-data-string", "hunter2-list-one", "hunter2-list-two", "98765432123", "hunter2-nested", "not//base64==", "hunter2-pin-value"}

// templatedSecret renders a Secret value through int, which fails on a
// value that is no number: values/prod.yaml holds it.
const templatedSecret = `apiVersion: v1
kind: Secret
metadata: {name: pin}
stringData:
  pin: "{{ int .Values.db.pin }}"
`

// Every step, at every log level, with Secrets the API server rejects for
// their shape and a template calling int on a value meant for a Secret:
// no value reaches stdout, stderr or any output file, nor the release
// history a later step prints (the failure reason of a release recorded
// Failed).
func TestNoSecretsFromBadSecrets(t *testing.T) {
	c := testcluster.Shared(t)
	secrets := append([]string{c.Token}, badSecretValues...)
	runs := []struct {
		name     string
		step     string
		env      map[string]string
		wantCode int
	}{
		{name: "diff", step: "diff", wantCode: 1},
		{name: "apply", step: "apply", wantCode: 1},
		{name: "rolling", step: "rolling", wantCode: 1},
		// Without a dry run the apply fails, and the release is recorded
		// Failed with the error as its reason, for the steps below to read.
		{name: "rolling without a dry run", step: "rolling", env: map[string]string{"PLUGIN_SKIP_DRY_RUN": "true"}, wantCode: 1},
		{name: "history", step: "history"},
		{name: "history as JSON", step: "history", env: map[string]string{"PLUGIN_OUTPUT": "json"}},
		{name: "rollback", step: "rollback"},
		{name: "diff of a template", step: "diff", env: map[string]string{"PLUGIN_MANIFESTS": "templated/", "PLUGIN_VALUES": "values/prod.yaml"}, wantCode: 1},
		{name: "apply of a template", step: "apply", env: map[string]string{"PLUGIN_MANIFESTS": "templated/", "PLUGIN_VALUES": "values/prod.yaml"}, wantCode: 1},
		{name: "rolling of a template", step: "rolling", env: map[string]string{"PLUGIN_MANIFESTS": "templated/", "PLUGIN_VALUES": "values/prod.yaml"}, wantCode: 1},
	}
	for _, level := range logLevels {
		t.Run(level, func(t *testing.T) {
			t.Parallel()
			ns := c.Namespace(t)
			dir := workspace(t, badSecrets)
			for name, content := range map[string]string{
				"templated/secret.yaml": templatedSecret,
				"values/prod.yaml":      "db:\n  pin: hunter2-pin-value\n",
			} {
				path := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for i, run := range runs {
				t.Run(fmt.Sprintf("%d %s", i+1, run.name), func(t *testing.T) {
					files := t.TempDir()
					env := map[string]string{
						"PLUGIN_STEP":                       run.step,
						"PLUGIN_RELEASE":                    "web",
						"PLUGIN_NAMESPACE":                  ns,
						"PLUGIN_SERVER":                     c.Server,
						"PLUGIN_TOKEN":                      c.Token,
						"PLUGIN_CERTIFICATE_AUTHORITY_DATA": base64.StdEncoding.EncodeToString(c.CAData),
						"PLUGIN_LOG_LEVEL":                  level,
					}
					if run.step != "history" && run.step != "rollback" {
						env["PLUGIN_MANIFESTS"] = "deploy/"
					}
					maps.Copy(env, outputEnv(files))
					maps.Copy(env, run.env)
					r := runStep(t, dir, env)
					if r.code != run.wantCode {
						t.Fatalf("exit %d, want %d:\n%s%s", r.code, run.wantCode, r.stdout, r.stderr)
					}
					// A template that fails stops a step before it logs at debug level.
					if (level == "debug" || level == "trace") && run.step != "history" && run.env["PLUGIN_VALUES"] == "" && !strings.Contains(r.stdout, "debug: ") {
						t.Errorf("no debug lines at level %s:\n%s", level, r.stdout)
					}
					assertNoSecrets(t, r.stdout, r.stderr, files, secrets)
				})
			}
		})
	}
}

// Every step, one after another on one release, at every log level with
// token auth and Secret data that changes between releases (so diffs show
// it changing): no value reaches stdout, stderr or any output file.
func TestNoSecretsInAnyStep(t *testing.T) {
	c := testcluster.Shared(t)
	values := [][2]string{{"pa55-one", "key-one"}, {"pa55-two", "key-two"}, {"pa55-three", "key-three"}}
	secrets := []string{c.Token}
	for _, v := range values {
		for _, s := range v {
			secrets = append(secrets, s, base64.StdEncoding.EncodeToString([]byte(s)))
		}
	}
	runs := []struct {
		step     string
		app      int // which values and image
		image    string
		wantCode int
		extra    map[string]string
		// changed: the run diffs a Secret whose values change.
		changed bool
	}{
		{step: "rolling", app: 0, image: "registry.local/web:1.0"},
		{step: "diff", app: 1, image: "registry.local/web:2.0"},
		{step: "rolling", app: 1, image: "registry.local/web:2.0", extra: map[string]string{"PLUGIN_DIFF": "true"}},
		{step: "apply", app: 1, image: "registry.local/web:2.0"},
		// Declarative mode versions nothing, so this diffs the Secret the
		// apply above left, whose values change.
		{step: "rolling", app: 2, image: "registry.local/web:does-not-exist", wantCode: 1, changed: true,
			extra: map[string]string{"PLUGIN_FAIL_FAST_AFTER": "2s", "PLUGIN_ENABLE_DECLARATIVE_ROLLBACK": "true", "PLUGIN_DIFF": "true"}},
		{step: "rollback", app: 2},
		{step: "history", app: 2},
		{step: "history", app: 2, extra: map[string]string{"PLUGIN_OUTPUT": "json"}},
	}
	// Each log level runs the whole sequence on a release of its own.
	for _, level := range logLevels {
		t.Run(level, func(t *testing.T) {
			t.Parallel()
			ns := c.Namespace(t)
			for i, run := range runs {
				t.Run(fmt.Sprintf("%d %s", i+1, run.step), func(t *testing.T) {
					image := run.image
					if image == "" {
						image = "registry.local/web:1.0"
					}
					dir := workspace(t, webApp(image, values[run.app][0], values[run.app][1]))
					files := t.TempDir()
					env := map[string]string{
						"PLUGIN_STEP":                       run.step,
						"PLUGIN_RELEASE":                    "web",
						"PLUGIN_NAMESPACE":                  ns,
						"PLUGIN_SERVER":                     c.Server,
						"PLUGIN_TOKEN":                      c.Token,
						"PLUGIN_CERTIFICATE_AUTHORITY_DATA": base64.StdEncoding.EncodeToString(c.CAData),
						"PLUGIN_LOG_LEVEL":                  level,
					}
					maps.Copy(env, outputEnv(files))
					switch run.step {
					case "rolling", "apply", "diff":
						env["PLUGIN_MANIFESTS"] = "deploy/"
					}
					maps.Copy(env, run.extra)
					r := runStep(t, dir, env)
					if r.code != run.wantCode {
						t.Fatalf("exit %d, want %d:\n%s%s", r.code, run.wantCode, r.stdout, r.stderr)
					}
					// The diff is printed at info level and above.
					if run.changed && level != "error" && level != "warn" && !strings.Contains(r.stdout, "*** (changed)") {
						t.Errorf("the diff does not show the Secret value changing, masked:\n%s", r.stdout)
					}
					assertNoSecrets(t, r.stdout, r.stderr, files, secrets)
				})
			}
		})
	}
}
