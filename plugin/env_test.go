package plugin

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kube-release/kube-release/steps"
)

// rollingEnv is a minimal valid environment for the rolling step.
func rollingEnv(extra ...string) []string {
	return append([]string{
		"PLUGIN_STEP=rolling",
		"PLUGIN_RELEASE=web",
		"PLUGIN_MANIFESTS=k8s/",
	}, extra...)
}

func TestLoadDefaults(t *testing.T) {
	s, warnings, err := Load(rollingEnv(), nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %q, want none", warnings)
	}
	want := DefaultSettings()
	want.Step = StepRolling
	want.Release = "web"
	want.Manifests = List{"k8s/"}
	if !reflect.DeepEqual(*s, want) {
		t.Errorf("Load = %+v\nwant %+v", *s, want)
	}
}

// TestLoadEmptyMeansUnset covers every type: CI systems pass an omitted
// setting as the empty string, which must leave the default in place.
func TestLoadEmptyMeansUnset(t *testing.T) {
	var environ []string
	for _, f := range settingFields() {
		switch f.env {
		case envStep, envRelease, envManifests:
			continue
		}
		environ = append(environ, f.env+"=")
	}
	for _, blank := range []string{"", " ", "\n", " \t\n"} {
		t.Run(strings.ReplaceAll(blank, "\n", `\n`), func(t *testing.T) {
			env := rollingEnv()
			for _, kv := range environ {
				env = append(env, kv+blank)
			}
			s, warnings, err := Load(env, nil)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if len(warnings) != 0 {
				t.Errorf("warnings = %q, want none", warnings)
			}
			want := DefaultSettings()
			want.Step, want.Release, want.Manifests = StepRolling, "web", List{"k8s/"}
			if !reflect.DeepEqual(*s, want) {
				t.Errorf("Load = %+v\nwant %+v", *s, want)
			}
		})
	}
	t.Run("empty required setting is missing", func(t *testing.T) {
		_, _, err := Load([]string{"PLUGIN_STEP=rolling", "PLUGIN_RELEASE=", "PLUGIN_MANIFESTS="}, nil)
		wantProblems(t, err,
			`PLUGIN_RELEASE: required for step "rolling"`,
			`PLUGIN_MANIFESTS: required for step "rolling"`)
	})
}

func TestLoadValues(t *testing.T) {
	env := []string{
		"PLUGIN_STEP=Rollback",
		"PLUGIN_NAMESPACE=prod",
		"PLUGIN_RELEASE=web",
		"PLUGIN_MANIFESTS=a.yaml,\nb.yaml",
		"PLUGIN_TIMEOUT=90s",
		"PLUGIN_FAIL_FAST=No",
		"PLUGIN_FAIL_FAST_AFTER=2m30s",
		"PLUGIN_PRUNING=YES",
		"PLUGIN_RELEASE_NUMBER= 12 ",
		"PLUGIN_ROLLBACK_TO=10",
		"PLUGIN_ON_FIRST_FAILURE=DELETE",
		"PLUGIN_LOG_LEVEL=Debug",
		"PLUGIN_LOG_TIMESTAMPS=1",
		"PLUGIN_TOKEN=abc.def",
		"UNRELATED=x",
		"NOEQUALS",
	}
	s, warnings, err := Load(env, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %q, want none", warnings)
	}
	want := DefaultSettings()
	want.Step = StepRollback
	want.Namespace = "prod"
	want.Release = "web"
	want.Manifests = List{"a.yaml", "b.yaml"}
	want.Timeout = 90 * time.Second
	want.FailFast = false
	want.FailFastAfter = 150 * time.Second
	want.Pruning = true
	want.ReleaseNumber = 12
	want.RollbackTo = 10
	want.OnFirstFailure = steps.OnFirstFailureDelete
	want.LogLevel = "debug"
	want.LogTimestamps = true
	want.Token = "abc.def"
	if !reflect.DeepEqual(*s, want) {
		t.Errorf("Load = %+v\nwant %+v", *s, want)
	}
}

func TestLoadLastValueWins(t *testing.T) {
	s, _, err := Load(rollingEnv("PLUGIN_NAMESPACE=a", "PLUGIN_NAMESPACE=b"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Namespace != "b" {
		t.Errorf("namespace = %q, want the later value b (as os.Getenv)", s.Namespace)
	}
}

func TestLoadParseErrors(t *testing.T) {
	tests := []struct {
		name string
		env  string
		want string
	}{
		{name: "bool word", env: "PLUGIN_FAIL_FAST=maybe",
			want: `PLUGIN_FAIL_FAST: invalid value "maybe": want true or false (or 1/0, yes/no)`},
		{name: "bool number", env: "PLUGIN_PRUNING=2",
			want: `PLUGIN_PRUNING: invalid value "2": want true or false (or 1/0, yes/no)`},
		{name: "bool insecure", env: "PLUGIN_INSECURE_SKIP_TLS_VERIFY=ture",
			want: `PLUGIN_INSECURE_SKIP_TLS_VERIFY: invalid value "ture": want true or false (or 1/0, yes/no)`},
		{name: "duration without unit", env: "PLUGIN_TIMEOUT=600",
			want: `PLUGIN_TIMEOUT: invalid value "600": want a duration such as 90s, 10m or 1h30m`},
		{name: "duration word", env: "PLUGIN_FAIL_FAST_AFTER=a minute",
			want: `PLUGIN_FAIL_FAST_AFTER: invalid value "a minute": want a duration such as 90s, 10m or 1h30m`},
		{name: "duration zero", env: "PLUGIN_TIMEOUT=0s",
			want: `PLUGIN_TIMEOUT: must be greater than 0`},
		{name: "duration negative", env: "PLUGIN_FAIL_FAST_AFTER=-1m",
			want: `PLUGIN_FAIL_FAST_AFTER: must be greater than 0`},
		{name: "int word", env: "PLUGIN_RELEASE_NUMBER=five",
			want: `PLUGIN_RELEASE_NUMBER: invalid value "five": want a whole number`},
		{name: "int fraction", env: "PLUGIN_ROLLBACK_TO=1.5",
			want: `PLUGIN_ROLLBACK_TO: invalid value "1.5": want a whole number`},
		{name: "int zero", env: "PLUGIN_RELEASE_NUMBER=0",
			want: `PLUGIN_RELEASE_NUMBER: must be greater than 0`},
		{name: "int negative", env: "PLUGIN_ROLLBACK_TO=-3",
			want: `PLUGIN_ROLLBACK_TO: must be greater than 0`},
		{name: "long value is cut", env: "PLUGIN_TIMEOUT=" + strings.Repeat("x", 100),
			want: `PLUGIN_TIMEOUT: invalid value "` + strings.Repeat("x", 64) + `"...: want a duration such as 90s, 10m or 1h30m`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := []string{"PLUGIN_STEP=rollback", "PLUGIN_RELEASE=web", tt.env}
			s, _, err := Load(env, nil)
			if s != nil {
				t.Errorf("Load returned settings with an error")
			}
			wantProblems(t, err, tt.want)
		})
	}
}

// TestLoadReportsEverything checks that parse errors and validation errors
// come together, once each, in the order of the Settings struct.
func TestLoadReportsEverything(t *testing.T) {
	env := []string{
		"PLUGIN_STEP=rolling",
		"PLUGIN_NAMESPACE=Prod_1",
		"PLUGIN_TIMEOUT=ten minutes",
		"PLUGIN_LOG_LEVEL=verbose",
		"PLUGIN_FAIL_FAST=perhaps",
		"PLUGIN_RELEASE_NUMBER=3",
		"PLUGIN_NAMESAPCE=typo",
	}
	_, warnings, err := Load(env, []string{"rolling", "extra"})
	if !errors.Is(err, ErrInvalidSettings) {
		t.Fatalf("errors.Is(err, ErrInvalidSettings) = false for %v", err)
	}
	want := `invalid settings:
  unexpected command-line arguments ["extra"]: only the step may be given
  PLUGIN_NAMESPACE: "Prod_1" is not a valid namespace: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')
  PLUGIN_RELEASE: required for step "rolling"
  PLUGIN_MANIFESTS: required for step "rolling"
  PLUGIN_TIMEOUT: invalid value "ten minutes": want a duration such as 90s, 10m or 1h30m
  PLUGIN_LOG_LEVEL: unknown level "verbose": want one of error, warn, info, debug, trace
  PLUGIN_FAIL_FAST: invalid value "perhaps": want true or false (or 1/0, yes/no)
  PLUGIN_RELEASE_NUMBER: applies only to step "rollback", not "rolling"`
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
	if len(warnings) != 1 || warnings[0] != "unknown setting PLUGIN_NAMESAPCE, did you mean PLUGIN_NAMESPACE?" {
		t.Errorf("warnings = %q, want the typo reported even with an error", warnings)
	}
}

func TestLoadStepFromArgs(t *testing.T) {
	base := []string{"PLUGIN_RELEASE=web", "PLUGIN_MANIFESTS=k8s/"}
	tests := []struct {
		name     string
		env      []string
		args     []string
		want     StepName
		problems []string
	}{
		{name: "argument only", args: []string{"apply"}, want: StepApply},
		{name: "argument any case", args: []string{"Rolling"}, want: StepRolling},
		{name: "setting only", env: []string{"PLUGIN_STEP=apply"}, want: StepApply},
		{name: "both agree", env: []string{"PLUGIN_STEP=apply"}, args: []string{"apply"}, want: StepApply},
		{name: "empty argument ignored", env: []string{"PLUGIN_STEP=apply"}, args: []string{""}, want: StepApply},
		{name: "both disagree", env: []string{"PLUGIN_STEP=apply"}, args: []string{"rolling"},
			problems: []string{`PLUGIN_STEP: "apply" conflicts with the command-line argument "rolling": give the step once`}},
		{name: "neither",
			problems: []string{`PLUGIN_STEP: required: set it or pass the step as the first argument (one of rolling, rollback, apply, diff, history, bluegreen, swap, stage_scale_down, canary, canary_delete, scale, delete)`}},
		{name: "unknown", args: []string{"recreate"},
			problems: []string{`PLUGIN_STEP: unknown step "recreate": want one of rolling, rollback, apply, diff, history, bluegreen, swap, stage_scale_down, canary, canary_delete, scale, delete`}},
		{name: "extra arguments", args: []string{"apply", "--debug", "x"}, want: StepApply,
			problems: []string{`unexpected command-line arguments ["--debug" "x"]: only the step may be given`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, err := Load(append(append([]string{}, base...), tt.env...), tt.args)
			if len(tt.problems) > 0 {
				wantProblems(t, err, tt.problems...)
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if s.Step != tt.want {
				t.Errorf("step = %q, want %q", s.Step, tt.want)
			}
		})
	}
}

func TestLoadUnknownSettings(t *testing.T) {
	tests := []struct {
		name string
		env  string
		want string
	}{
		{name: "transposed letters", env: "PLUGIN_NAMESAPCE=x",
			want: "unknown setting PLUGIN_NAMESAPCE, did you mean PLUGIN_NAMESPACE?"},
		{name: "extra underscore", env: "PLUGIN_KUBE_CONFIG=x",
			want: "unknown setting PLUGIN_KUBE_CONFIG, did you mean PLUGIN_KUBECONFIG?"},
		{name: "plural", env: "PLUGIN_MANIFEST=x",
			want: "unknown setting PLUGIN_MANIFEST, did you mean PLUGIN_MANIFESTS?"},
		{name: "missing letters", env: "PLUGIN_SKIP_DRYRUN=true",
			want: "unknown setting PLUGIN_SKIP_DRYRUN, did you mean PLUGIN_SKIP_DRY_RUN?"},
		{name: "two typos in a long name", env: "PLUGIN_FAIL_FAST_AFTR=1m",
			want: "unknown setting PLUGIN_FAIL_FAST_AFTR, did you mean PLUGIN_FAIL_FAST_AFTER?"},
		{name: "nothing close", env: "PLUGIN_COLOUR=blue",
			want: "unknown setting PLUGIN_COLOUR is ignored"},
		{name: "empty value still reported", env: "PLUGIN_RELASE=",
			want: "unknown setting PLUGIN_RELASE, did you mean PLUGIN_RELEASE?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, warnings, err := Load(rollingEnv(tt.env, "OTHER_NAMESPACE=x", "plugin_namespace=y"), nil)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if len(warnings) != 1 || warnings[0] != tt.want {
				t.Errorf("warnings = %q, want [%q]", warnings, tt.want)
			}
		})
	}
	t.Run("sorted and never showing values", func(t *testing.T) {
		_, warnings, err := Load(rollingEnv("PLUGIN_TOKN=sEcReT", "PLUGIN_A=sEcReT"), nil)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			"unknown setting PLUGIN_A is ignored",
			"unknown setting PLUGIN_TOKN, did you mean PLUGIN_TOKEN?",
		}
		if !reflect.DeepEqual(warnings, want) {
			t.Errorf("warnings = %q, want %q", warnings, want)
		}
	})
}

// The PLUGIN_* names a CI runner sets for every plugin step are no typo.
func TestLoadRunnerSettings(t *testing.T) {
	_, warnings, err := Load(rollingEnv("PLUGIN_ARTIFACT_FILE=/harness/artifact.json"), nil)
	if err != nil || len(warnings) != 0 {
		t.Fatalf("Load: %v, warnings %q", err, warnings)
	}
}

// An expression the CI did not resolve is unset, with a warning: a
// rollback wired to an output of a deploy that never ran skips instead of
// exiting 2.
func TestLoadUnresolvedExpressions(t *testing.T) {
	for _, raw := range []string{"null", "<+pipeline.stages.deploy.spec.execution.steps.rolling.output.outputVariables.release_number>", "$(tasks.deploy.results.release_number)", "<nil>"} {
		s, warnings, err := Load([]string{"PLUGIN_STEP=rollback", "PLUGIN_RELEASE=web", "PLUGIN_RELEASE_NUMBER=" + raw, "PLUGIN_ROLLBACK_TO=" + raw}, nil)
		if err != nil {
			t.Fatalf("%s: Load: %v", raw, err)
		}
		if s.ReleaseNumber != 0 || s.RollbackTo != 0 {
			t.Errorf("%s: release_number %d, rollback_to %d, want unset", raw, s.ReleaseNumber, s.RollbackTo)
		}
		want := "PLUGIN_RELEASE_NUMBER is " + strconv.Quote(raw)
		if len(raw) > 64 {
			want = "PLUGIN_RELEASE_NUMBER is " + strconv.Quote(raw[:64]) + "..."
		}
		if len(warnings) != 2 || !strings.HasPrefix(warnings[0], want+", an expression the CI did not resolve: taken as unset") {
			t.Errorf("%s: warnings %q", raw, warnings)
		}
	}
	// A string setting may be null; a secret's expression is never shown.
	s, warnings, err := Load(rollingEnv("PLUGIN_NAMESPACE=null", "PLUGIN_TOKEN=<+secrets.getValue(\"k8s\")>"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Namespace != "null" || s.Token != "" {
		t.Errorf("namespace %q, token set %v", s.Namespace, s.Token != "")
	}
	if len(warnings) != 1 || warnings[0] != "PLUGIN_TOKEN is (hidden), an expression the CI did not resolve: taken as unset" {
		t.Errorf("warnings %q", warnings)
	}
}

// TestLoadSecretsNeverShown makes every check that could quote a value fail
// while the secrets are set, then looks for them in the error and warnings.
func TestLoadSecretsNeverShown(t *testing.T) {
	const secret = "sEcReT-c2VjcmV0"
	badKubeconfig := "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    token: [" + secret + "]\n"
	for name, env := range map[string][]string{
		"bad kubeconfig data": {
			"PLUGIN_TOKEN=" + secret,
			"PLUGIN_KUBECONFIG_DATA=" + badKubeconfig,
			"PLUGIN_KUBECONFIG=/k",
			"PLUGIN_TOKN=" + secret,
			"PLUGIN_SERVER=https://user:" + secret + "@[::1",
		},
		"garbage kubeconfig data": {"PLUGIN_KUBECONFIG_DATA=" + secret + ": [\n" + secret},
		"server with password":    {"PLUGIN_SERVER=ftp://user:" + secret + "@host"},
	} {
		t.Run(name, func(t *testing.T) {
			_, warnings, err := Load(append([]string{"PLUGIN_STEP=rolling"}, env...), nil)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error shows a secret:\n%v", err)
			}
			for _, w := range warnings {
				if strings.Contains(w, secret) {
					t.Errorf("warning shows a secret: %s", w)
				}
			}
			t.Log(err)
		})
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "abc", 3},
		{"abc", "", 3},
		{"NAMESPACE", "NAMESPACE", 0},
		{"NAMESAPCE", "NAMESPACE", 1},
		{"KUBE_CONFIG", "KUBECONFIG", 1},
		{"RELASE", "RELEASE", 1},
		{"kitten", "sitting", 3},
		{"ca", "abc", 3},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// wantProblems checks that err is a settings error listing exactly the
// given problems, in order.
func wantProblems(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want problems %q", want)
	}
	if !errors.Is(err, ErrInvalidSettings) {
		t.Errorf("errors.Is(err, ErrInvalidSettings) = false for %v", err)
	}
	var se *SettingsError
	if !errors.As(err, &se) {
		t.Fatalf("error %v is not a *SettingsError", err)
	}
	got := make([]string, len(se.Problems))
	for i, p := range se.Problems {
		got[i] = p.String()
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
