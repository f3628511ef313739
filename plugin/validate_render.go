package plugin

import (
	"fmt"
	"strings"

	"github.com/kube-release/kube-release/internal/manifest"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kube-release/kube-release/steps"
)

// checkRendering checks the settings of rendering, diff and history output.
// A setting that a step would ignore is a problem: a pipeline that sets
// images on a rollback expects them to matter.
func (s *Settings) checkRendering(spec stepSpec, known bool) []Problem {
	var problems []Problem
	add := func(setting, format string, args ...any) {
		problems = append(problems, Problem{Setting: setting, Message: fmt.Sprintf(format, args...)})
	}

	if len(s.Images) > 0 {
		if _, err := manifest.ParseImageOverrides(s.Images); err != nil {
			// One problem per override, as ParseImageOverrides joins them.
			for _, msg := range strings.Split(err.Error(), "\n") {
				add(envImages, "%s", msg)
			}
		}
	}
	for _, name := range s.ImagePullSecrets {
		if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
			add(envImagePullSecrets, "%q is not a Secret name: %s", name, strings.Join(msgs, "; "))
		}
	}
	if len(s.Values) > 0 && s.SkipRendering {
		add(envValues, "not used with %s: the manifests are not rendered as templates", envSkipRendering)
	}
	if known && !spec.needsManifests && !spec.readsManifests {
		for _, set := range []struct {
			env string
			on  bool
		}{{envValues, len(s.Values) > 0}, {envSkipRendering, bool(s.SkipRendering)}, {envImages, len(s.Images) > 0}, {envImagePullSecrets, len(s.ImagePullSecrets) > 0}} {
			if set.on {
				add(set.env, "applies only to the steps that read manifests (%s, %s, %s, %s, %s, %s), not %q", StepRolling, StepBlueGreen, StepCanary, StepApply, StepDiff, StepDelete, s.Step)
			}
		}
	}

	if known && bool(s.Diff) && !spec.needsManifests {
		add(envDiff, "applies only to steps %q, %q, %q and %q, not %q", StepRolling, StepBlueGreen, StepCanary, StepApply, s.Step)
	}
	if s.Diff && s.SkipDryRun {
		add(envDiff, "cannot be combined with %s: the diff compares the live objects with the server's dry run", envSkipDryRun)
	}
	if s.SkipDryRun && s.Step == StepDiff {
		add(envSkipDryRun, "does not apply to step %q, which is a dry run", StepDiff)
	}
	if known && bool(s.DetailedExitcode) && s.Step != StepDiff {
		add(envDetailedExitcode, "applies only to step %q, not %q", StepDiff, s.Step)
	}
	switch s.Output {
	case "", steps.OutputText:
	case steps.OutputJSON:
		if known && s.Step != StepHistory {
			add(envOutput, "applies only to step %q, not %q", StepHistory, s.Step)
		}
	default:
		add(envOutput, "unknown format %q: want %s or %s", s.Output, steps.OutputText, steps.OutputJSON)
	}
	return problems
}
