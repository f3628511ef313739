package plugin

import (
	"fmt"
	"strings"

	"github.com/kube-release/kube-release/steps"
)

// checkStrategySteps checks the settings that belong to the canary, scale
// and delete steps: each is required where its step needs it and a
// problem anywhere else, as a pipeline that sets instances on a rolling
// deploy expects it to matter.
func (s *Settings) checkStrategySteps() []Problem {
	var problems []Problem
	add := func(setting, format string, args ...any) {
		problems = append(problems, Problem{Setting: setting, Message: fmt.Sprintf(format, args...)})
	}
	onlyFor := func(setting string, set bool, allowed ...StepName) {
		if !set {
			return
		}
		for _, step := range allowed {
			if s.Step == step {
				return
			}
		}
		names := make([]string, len(allowed))
		for i, step := range allowed {
			names[i] = fmt.Sprintf("%q", step)
		}
		add(setting, "applies only to step %s, not %q", strings.Join(names, " and "), s.Step)
	}

	switch s.Step {
	case StepCanary:
		if _, _, err := steps.CanaryInstances(s.Instances, 1); err != nil {
			add(envInstances, "%v", err)
		}
	case StepScale:
		if s.Instances == "" {
			add(envInstances, "required for step %q: a count (3) or a percentage (50%%) of the workload's replicas", s.Step)
		} else if err := steps.CheckScaleInstances(s.Instances); err != nil {
			add(envInstances, "%v", err)
		}
		if s.Workload == "" {
			add(envWorkload, "required for step %q: the Deployment or StatefulSet to scale, as Kind/name", s.Step)
		}
	case StepDelete:
		problems = append(problems, s.checkDeleteSelection()...)
	}
	onlyFor(envInstances, s.Instances != "", StepCanary, StepScale)
	onlyFor(envWorkload, s.Workload != "", StepScale)
	onlyFor(envCanaryWorkload, s.CanaryWorkload != "", StepCanaryDelete)
	onlyFor(envResources, len(s.Resources) > 0, StepDelete)
	onlyFor(envDeleteReleaseObjects, bool(s.DeleteReleaseObjects), StepDelete)
	onlyFor(envDeleteNamespace, bool(s.DeleteNamespace), StepDelete)
	onlyFor(envSkipSteadyStateCheck, bool(s.SkipSteadyStateCheck), StepApply, StepScale)
	return problems
}

// checkDeleteSelection wants exactly one of the three ways a delete
// selects its objects.
func (s *Settings) checkDeleteSelection() []Problem {
	var set []string
	for _, by := range []struct {
		env string
		on  bool
	}{{envResources, len(s.Resources) > 0}, {envDeleteReleaseObjects, bool(s.DeleteReleaseObjects)}, {envManifests, len(s.Manifests) > 0}} {
		if by.on {
			set = append(set, by.env)
		}
	}
	var problems []Problem
	switch {
	case len(set) == 0:
		problems = append(problems, Problem{Setting: envResources, Message: fmt.Sprintf(
			"step %q needs what to delete: %s, %s or %s", s.Step, envResources, envDeleteReleaseObjects, envManifests)})
	case len(set) > 1:
		problems = append(problems, Problem{Setting: set[1], Message: fmt.Sprintf(
			"cannot be combined with %s: give one of %s, %s and %s", set[0], envResources, envDeleteReleaseObjects, envManifests)})
	}
	if s.DeleteReleaseObjects && s.Release == "" {
		problems = append(problems, Problem{Setting: envRelease, Message: fmt.Sprintf("required with %s", envDeleteReleaseObjects)})
	}
	if s.DeleteNamespace && !s.DeleteReleaseObjects {
		problems = append(problems, Problem{Setting: envDeleteNamespace, Message: fmt.Sprintf("goes only with %s", envDeleteReleaseObjects)})
	}
	return problems
}
