package plugin

import "github.com/kube-release/kube-release/steps"

// failureSummary is the step summary of a step that failed before it had
// anything of its own to report (bad manifests, no access to the cluster),
// so that the job summary still says what went wrong.
func failureSummary(step StepName, err error) string {
	return "### ❌ kube-release " + string(step) + " failed\n\n" + steps.CodeBlock(err.Error())
}
