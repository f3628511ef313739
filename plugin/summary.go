package plugin

import (
	"fmt"
	"strings"
)

// failureSummary is the step summary of a step that failed before it had
// anything of its own to report (bad manifests, no access to the cluster),
// so that the job summary still says what went wrong.
func failureSummary(step Step, err error) string {
	text := strings.TrimRight(err.Error(), "\n")
	fence := "```"
	for strings.Contains(text, fence) {
		fence += "`"
	}
	return fmt.Sprintf("### ❌ kube-release %s failed\n\n%stext\n%s\n%s\n", step, fence, text, fence)
}
