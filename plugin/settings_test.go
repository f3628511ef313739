package plugin

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/kube-release/kube-release/steps"
)

func TestBoolDecode(t *testing.T) {
	tests := []struct {
		in      string
		want    bool
		wantErr bool
	}{
		{in: "true", want: true},
		{in: "TRUE", want: true},
		{in: "True", want: true},
		{in: "1", want: true},
		{in: "yes", want: true},
		{in: "Yes", want: true},
		{in: "on", want: true},
		{in: " true\n", want: true},
		{in: "false", want: false},
		{in: "FALSE", want: false},
		{in: "0", want: false},
		{in: "no", want: false},
		{in: "NO", want: false},
		{in: "off", want: false},
		{in: "", wantErr: true},
		{in: "maybe", wantErr: true},
		{in: "2", wantErr: true},
		{in: "truee", wantErr: true},
		{in: "t", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			b := Bool(!tt.want)
			err := b.Decode(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Decode(%q) = %v, want an error", tt.in, b)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode(%q): %v", tt.in, err)
			}
			if bool(b) != tt.want {
				t.Errorf("Decode(%q) = %v, want %v", tt.in, b, tt.want)
			}
		})
	}
}

func TestListDecode(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want List
	}{
		{name: "one", in: "a.yaml", want: List{"a.yaml"}},
		{name: "commas as Drone joins a list", in: "a.yaml,b.yaml,dir/", want: List{"a.yaml", "b.yaml", "dir/"}},
		{name: "newlines as a YAML block", in: "a.yaml\nb.yaml\n", want: List{"a.yaml", "b.yaml"}},
		{name: "CRLF", in: "a.yaml\r\nb.yaml\r\n", want: List{"a.yaml", "b.yaml"}},
		{name: "mixed and padded", in: " a.yaml , b.yaml\n  manifests/*.yaml ", want: List{"a.yaml", "b.yaml", "manifests/*.yaml"}},
		{name: "empties dropped", in: "a.yaml,,\n\n ,b.yaml,", want: List{"a.yaml", "b.yaml"}},
		{name: "blank", in: " ,\n, ", want: nil},
		{name: "empty", in: "", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := List{"stale"}
			if err := l.Decode(tt.in); err != nil {
				t.Fatalf("Decode(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(l, tt.want) {
				t.Errorf("Decode(%q) = %q, want %q", tt.in, l, tt.want)
			}
		})
	}
}

func TestSecretNeverPrints(t *testing.T) {
	const token = "sEcReT-tOkEn-value"
	s := Settings{Token: token, KubeconfigData: token}
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		if got := fmt.Sprintf(format, s); strings.Contains(got, token) {
			t.Errorf("Sprintf(%q, settings) shows the secret: %s", format, got)
		}
		if got := fmt.Sprintf(format, s.Token); strings.Contains(got, token) {
			t.Errorf("Sprintf(%q, token) shows the secret: %s", format, got)
		}
	}
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), token) {
		t.Errorf("json.Marshal(settings) shows the secret: %s", data)
	}
	if got := Secret("").String(); got != "" {
		t.Errorf("an unset secret prints %q, want empty", got)
	}
	if got := string(s.Token); got != token {
		t.Errorf("string(Secret) = %q, want the value", got)
	}
}

func TestDefaultSettings(t *testing.T) {
	got := DefaultSettings()
	want := Settings{
		Timeout:        10 * time.Minute,
		LogLevel:       "info",
		FailFast:       true,
		FailFastAfter:  60 * time.Second,
		OnFirstFailure: steps.OnFirstFailureKeep,
		Output:         steps.OutputText,
		LockTTL:        2 * time.Minute,
		OwnerCheck:     "warn",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DefaultSettings() = %+v\nwant %+v", got, want)
	}
}

func TestKnownSteps(t *testing.T) {
	got := KnownSteps()
	want := []StepName{StepRolling, StepRollback, StepApply, StepDiff, StepHistory, StepBlueGreen, StepSwap, StepStageScaleDown, StepCanary, StepCanaryDelete, StepScale, StepDelete}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("KnownSteps() = %v, want %v", got, want)
	}
	got[0] = "changed"
	if KnownSteps()[0] != StepRolling {
		t.Error("changing the returned slice changed the step table")
	}
}

// TestSettingsTags guards the struct against drift: every field is a
// setting with a full PLUGIN_ name, a description and a type Load decodes.
func TestSettingsTags(t *testing.T) {
	typ := reflect.TypeFor[Settings]()
	seen := map[string]bool{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		env := f.Tag.Get("envconfig")
		if !strings.HasPrefix(env, settingPrefix) || env != strings.ToUpper(env) {
			t.Errorf("field %s: envconfig tag %q is not a full PLUGIN_* name", f.Name, env)
		}
		if seen[env] {
			t.Errorf("field %s: %s used twice", f.Name, env)
		}
		seen[env] = true
		if f.Tag.Get("desc") == "" {
			t.Errorf("field %s: no desc tag", f.Name)
		}
		var s Settings
		v := reflect.ValueOf(&s).Elem().Field(i)
		if err := decodeValue(v, "1"); err != nil && strings.Contains(err.Error(), "not supported") {
			t.Errorf("field %s: %v", f.Name, err)
		}
	}
}

// TestEnvconfigAgrees checks that envconfig.Process, given the same non-empty
// environment, fills Settings exactly as Load does: the tags and decoders are
// envconfig's, so the README generated from them tells the truth.
func TestEnvconfigAgrees(t *testing.T) {
	environ := []string{
		"PLUGIN_STEP=rollback",
		"PLUGIN_NAMESPACE=prod",
		"PLUGIN_RELEASE=web",
		"PLUGIN_MANIFESTS=a.yaml,b.yaml\nc.yaml",
		"PLUGIN_TIMEOUT=5m",
		"PLUGIN_KUBECONFIG=/tmp/kubeconfig",
		"PLUGIN_SERVER=https://example.test:6443",
		"PLUGIN_TOKEN=abc",
		"PLUGIN_INSECURE_SKIP_TLS_VERIFY=yes",
		"PLUGIN_CONTEXT=ctx",
		"PLUGIN_LOG_LEVEL=debug",
		"PLUGIN_LOG_TIMESTAMPS=1",
		"PLUGIN_RESULTS_DIR=/tekton/results",
		"PLUGIN_SKIP_DRY_RUN=true",
		"PLUGIN_SKIP_RESOURCE_VERSIONING=TRUE",
		"PLUGIN_FAIL_FAST=no",
		"PLUGIN_FAIL_FAST_AFTER=2m",
		"PLUGIN_ENABLE_DECLARATIVE_ROLLBACK=on",
		"PLUGIN_PRUNING=0",
		"PLUGIN_RELEASE_NUMBER=7",
		"PLUGIN_ROLLBACK_TO=5",
		"PLUGIN_ON_FIRST_FAILURE=delete",
		"PLUGIN_SKIP_STEADY_STATE_CHECK=false",
	}
	t.Run("rollback", func(t *testing.T) { envconfigAgrees(t, environ) })
	// The settings of the other steps, which validation refuses on a rollback.
	t.Run("diff", func(t *testing.T) {
		envconfigAgrees(t, []string{
			"PLUGIN_STEP=diff",
			"PLUGIN_MANIFESTS=k8s/",
			"PLUGIN_VALUES=values.yaml,prod.values.yaml",
			"PLUGIN_SKIP_RENDERING=false",
			"PLUGIN_IMAGES=registry.local/web=registry.local/web:2,nginx:1.27",
			"PLUGIN_DIFF=true",
			"PLUGIN_DETAILED_EXITCODE=1",
		})
	})
	t.Run("history", func(t *testing.T) {
		envconfigAgrees(t, []string{"PLUGIN_STEP=history", "PLUGIN_RELEASE=web", "PLUGIN_OUTPUT=json"})
	})
}

func envconfigAgrees(t *testing.T, environ []string) {
	t.Helper()
	loaded, _, err := Load(environ, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}

	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	var processed Settings
	if err := envconfig.Process("", &processed); err != nil {
		t.Fatalf("envconfig.Process: %v", err)
	}
	if !reflect.DeepEqual(*loaded, processed) {
		t.Errorf("Load and envconfig.Process differ:\nLoad    %+v\nProcess %+v", *loaded, processed)
	}
}
