package plugin

import (
	"testing"

	"github.com/kube-release/kube-release/steps"
)

// TestValidateRendering covers the settings of rendering (values,
// skip_rendering, images), diff and history output, as TestValidate does
// the others: from a valid rolling deploy, one change per case.
func TestValidateRendering(t *testing.T) {
	tests := []validateCase{
		{name: "apply with values, images and diff", modify: func(s *Settings) {
			s.Step, s.Values, s.Images, s.Diff = StepApply, List{"values.yaml", "prod.values.yaml"}, List{"registry.local/web=registry.local/web:2", "nginx:1.27"}, true
		}},
		{name: "rolling with skip_rendering and diff", modify: func(s *Settings) { s.SkipRendering, s.Diff = true, true }},
		{name: "apply without release",
			modify: func(s *Settings) { s.Step, s.Release = StepApply, "" }},
		{name: "diff needs manifests only",
			modify: func(s *Settings) { s.Step, s.Release, s.Manifests = StepDiff, "", nil },
			want:   []string{`PLUGIN_MANIFESTS: required for step "diff"`}},
		{name: "diff with detailed exit code, and diff set too",
			modify: func(s *Settings) { s.Step, s.DetailedExitcode, s.Diff = StepDiff, true, true }},
		{name: "history needs release only",
			modify: func(s *Settings) { s.Step, s.Release, s.Manifests = StepHistory, "", nil },
			want:   []string{`PLUGIN_RELEASE: required for step "history"`}},
		{name: "history as json", modify: func(s *Settings) { s.Step, s.Manifests, s.Output = StepHistory, nil, steps.OutputJSON }},
		{name: "history as text", modify: func(s *Settings) { s.Step, s.Output = StepHistory, steps.OutputText }},
		{name: "bad image overrides, each reported",
			modify: func(s *Settings) { s.Images = List{"nginx", "web=registry.local/Web:1", "a=b:1", "a=c:2"} },
			want: []string{
				`PLUGIN_IMAGES: image override "nginx": no tag or digest to set (write name=image to change the repository)`,
				`PLUGIN_IMAGES: image override web=registry.local/Web:1: invalid image reference "registry.local/Web:1": bad repository "registry.local/Web"`,
				`PLUGIN_IMAGES: image overrides a=b:1 and a=c:2: same repository`,
			}},
		{name: "values with skip_rendering",
			modify: func(s *Settings) { s.Values, s.SkipRendering = List{"values.yaml"}, true },
			want:   []string{`PLUGIN_VALUES: not used with PLUGIN_SKIP_RENDERING: the manifests are not rendered as templates`}},
		{name: "rendering settings on a step without manifests",
			modify: func(s *Settings) { s.Step, s.Values, s.Images = StepRollback, List{"v.yaml"}, List{"nginx:1.27"} },
			want: []string{
				`PLUGIN_VALUES: applies only to the steps that read manifests (rolling, bluegreen, canary, apply, diff, delete), not "rollback"`,
				`PLUGIN_IMAGES: applies only to the steps that read manifests (rolling, bluegreen, canary, apply, diff, delete), not "rollback"`,
			}},
		{name: "skip_rendering on history",
			modify: func(s *Settings) { s.Step, s.SkipRendering = StepHistory, true },
			want:   []string{`PLUGIN_SKIP_RENDERING: applies only to the steps that read manifests (rolling, bluegreen, canary, apply, diff, delete), not "history"`}},
		{name: "diff with skip_dry_run",
			modify: func(s *Settings) { s.Diff, s.SkipDryRun = true, true },
			want:   []string{`PLUGIN_DIFF: cannot be combined with PLUGIN_SKIP_DRY_RUN: the diff compares the live objects with the server's dry run`}},
		{name: "diff on rollback",
			modify: func(s *Settings) { s.Step, s.Diff = StepRollback, true },
			want:   []string{`PLUGIN_DIFF: applies only to steps "rolling", "bluegreen", "canary" and "apply", not "rollback"`}},
		{name: "skip_dry_run on the diff step",
			modify: func(s *Settings) { s.Step, s.SkipDryRun = StepDiff, true },
			want:   []string{`PLUGIN_SKIP_DRY_RUN: does not apply to step "diff", which is a dry run`}},
		{name: "detailed exit code on apply",
			modify: func(s *Settings) { s.Step, s.DetailedExitcode = StepApply, true },
			want:   []string{`PLUGIN_DETAILED_EXITCODE: applies only to step "diff", not "apply"`}},
		{name: "json output on rolling",
			modify: func(s *Settings) { s.Output = steps.OutputJSON },
			want:   []string{`PLUGIN_OUTPUT: applies only to step "history", not "rolling"`}},
		{name: "unknown output",
			modify: func(s *Settings) { s.Step, s.Output = StepHistory, "yaml" },
			want:   []string{`PLUGIN_OUTPUT: unknown format "yaml": want text or json`}},
	}
	runValidateCases(t, tests)
}

// An output setting in any case is accepted, as the other enumerations are.
func TestLoadOutputCase(t *testing.T) {
	s, _, err := Load([]string{"PLUGIN_STEP=history", "PLUGIN_RELEASE=web", "PLUGIN_OUTPUT=JSON"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Output != steps.OutputJSON {
		t.Errorf("output %q, want json", s.Output)
	}
	s, _, err = Load([]string{"PLUGIN_STEP=history", "PLUGIN_RELEASE=web", "PLUGIN_OUTPUT="}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Output != steps.OutputText {
		t.Errorf("empty output %q, want the default text", s.Output)
	}
}
