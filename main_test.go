package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"k8s.io/klog/v2"

	"github.com/kube-release/kube-release/plugin"
	"github.com/kube-release/kube-release/steps"
)

// codedError is a library's error that carries an exit code of its own.
type codedError struct{ code int }

func (e codedError) Error() string { return fmt.Sprintf("failed with %d", e.code) }
func (e codedError) ExitCode() int { return e.code }
func (e codedError) Quiet() bool   { return true }

// Only kube-release's own errors choose the exit code: git's 128 through
// kustomize, or any other program's status, is a failed step.
func TestExitCode(t *testing.T) {
	gitErr := exec.Command("sh", "-c", "exit 128").Run()
	var exitErr *exec.ExitError
	if !errors.As(gitErr, &exitErr) || exitErr.ExitCode() != 128 {
		t.Fatalf("want an exec.ExitError with code 128, got %v", gitErr)
	}
	tests := []struct {
		name      string
		err       error
		code      int
		wantQuiet bool
	}{
		{"a step that failed", errors.New("rolling: wait: timeout"), 1, false},
		{"git's status through kustomize", fmt.Errorf("rolling: deploy: kustomize build: %w", gitErr), 1, false},
		{"another library's ExitCode and Quiet", fmt.Errorf("rolling: %w", codedError{code: 7}), 1, false},
		{"invalid settings", fmt.Errorf("invalid settings: %w", plugin.ErrInvalidSettings), 2, false},
		{"invalid settings holding a program's status", errors.Join(plugin.ErrInvalidSettings, gitErr), 2, false},
		{"changes found", fmt.Errorf("diff: %w", &steps.ChangesFound{}), 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, quiet := exitCode(tt.err)
			if code != tt.code || quiet != tt.wantQuiet {
				t.Errorf("exitCode = %d, quiet %v; want %d, quiet %v", code, quiet, tt.code, tt.wantQuiet)
			}
		})
	}
}

// client-go's klog lines come out through the run's logger, in its format
// and at its level: an error as a warning, an info line only at debug
// level; never raw.
func TestKlogGoesThroughTheLogger(t *testing.T) {
	var out bytes.Buffer
	// Invalid settings end the run early, after the logger is set up, at
	// the default level (info).
	if code := run(context.Background(), nil, []string{"PLUGIN_STEP=rolling"}, &out); code != 2 {
		t.Fatalf("exit %d, want 2:\n%s", code, out.String())
	}
	t.Cleanup(klog.ClearLogger)
	out.Reset()
	klog.Errorf("Unhandled Error: %v", "watch ended")
	klog.Info("Warning: deprecated")
	klog.V(8).Info(`Response Body: {"data":{"password":"aHVudGVyMg=="}}`)
	if want := "warning: Unhandled Error: watch ended\n"; out.String() != want {
		t.Errorf("got\n%q\nwant\n%q", out.String(), want)
	}
}

// --help names every step, every setting, the exit codes and the README,
// and exits 0 with no setting given.
func TestHelp(t *testing.T) {
	for _, arg := range []string{"--help", "-h", "help"} {
		var out bytes.Buffer
		if code := run(context.Background(), []string{arg}, nil, &out); code != 0 {
			t.Fatalf("%s: exit %d\n%s", arg, code, out.String())
		}
		help := out.String()
		for _, step := range plugin.KnownSteps() {
			if !strings.Contains(help, "\n  "+string(step)+" ") {
				t.Errorf("%s: step %s missing", arg, step)
			}
		}
		for _, want := range []string{"PLUGIN_MANIFESTS", "PLUGIN_TIMEOUT\n", "[default 10m]", "Exit codes:", "  2  the settings", plugin.DocsURL} {
			if !strings.Contains(help, want) {
				t.Errorf("%s: help lacks %q", arg, want)
			}
		}
	}
}

// Under GitHub Actions the secrets are masked before anything can fail,
// and a settings error names the inputs as the workflow spells them.
func TestGitHubSettingsErrors(t *testing.T) {
	var out bytes.Buffer
	code := run(context.Background(), nil, []string{
		"GITHUB_ACTIONS=true", "PLUGIN_STEP=rolling", "PLUGIN_TOKEN=t0ken-v4lue", "PLUGIN_SERVER=https://k8s.test", "PLUGIN_ROLLBACK_TO=2",
	}, &out)
	if code != 2 {
		t.Fatalf("exit %d, want 2\n%s", code, out.String())
	}
	log := out.String()
	if !strings.HasPrefix(log, "::add-mask::t0ken-v4lue\n") {
		t.Errorf("the token is not masked first:\n%s", log)
	}
	for _, want := range []string{"release: required for step \"rolling\"", "manifests: required for step \"rolling\"", "rollback_to: applies only to step \"rollback\""} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "PLUGIN_") || strings.Count(log, "t0ken-v4lue") != 1 {
		t.Errorf("environment names or the token in the log:\n%s", log)
	}
}

func TestAsInputs(t *testing.T) {
	got := plugin.AsInputs("PLUGIN_DELETE_NAMESPACE: goes only with PLUGIN_DELETE_RELEASE_OBJECTS; PLUGIN_NOPE and MY_PLUGIN_X stay")
	want := "delete_namespace: goes only with delete_release_objects; PLUGIN_NOPE and MY_PLUGIN_X stay"
	if got != want {
		t.Errorf("AsInputs = %q\nwant      %q", got, want)
	}
}
