package bluegreen

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/kube-release/kube-release/internal/manifest"
	"github.com/kube-release/kube-release/internal/release"
)

// The lines a blue/green step prints, word for word as Harness prints
// them (K8sBGRequestHandler, K8sBGBaseHandler,
// K8sSwapServiceSelectorsBaseHandler,
// K8sBlueGreenStageScaleDownRequestHandler), so that what users grep
// their CI logs for keeps matching; and kube-release's own, where it does
// more than Harness.

// Lines without parameters.
const (
	CleaningUp         = "Cleaning up non primary releases"
	SwappingSelectors  = "Swapping Service Selectors.."
	SwapDone           = "Done"
	NoStageToScaleDown = "No Stage environment found to scale down"
)

// PrimaryServiceIs names the primary Service.
func PrimaryServiceIs(name string) string { return "Primary Service is " + name }

// CreatedStageService says the stage Service was made from the primary one.
func CreatedStageService(stage, primary string) string {
	return fmt.Sprintf("Created Stage service [%s] using Spec from Primary Service [%s]", stage, primary)
}

// PrimaryServiceNotFound says the primary Service is not in the cluster
// yet: the first deploy.
func PrimaryServiceNotFound(name string) string {
	return "Primary Service [" + name + "] not found in cluster."
}

// StageServiceNotFound says the stage Service is not in the cluster yet.
func StageServiceNotFound(name string) string {
	return "Stage Service [" + name + "] not found in cluster."
}

// PrimaryColorIs and StageColorIs say the colours of a stage deploy.
func PrimaryColorIs(c release.Color) string { return "Primary Service is at color: " + string(c) }

// StageColorIs: see PrimaryColorIs.
func StageColorIs(c release.Color) string { return "Stage Service is at color: " + string(c) }

// CurrentRelease numbers the release being deployed.
func CurrentRelease(n int) string { return "Current release number is: " + strconv.Itoa(n) }

// WorkloadToDeploy names the coloured workload, Kind/<name>-<colour>.
func WorkloadToDeploy(kind, name string) string { return "Workload to deploy is: " + kind + "/" + name }

// SuffixingConfig says a declarative deploy suffixes its config.
func SuffixingConfig(c release.Color) string {
	return fmt.Sprintf("Adding stage color [%s] as a suffix to Configmap and Secret names.", c)
}

// FirstDeployNote says what Harness leaves unsaid on the first deploy:
// the primary Service is created selecting a colour that has no pods.
func FirstDeployNote(primary string, c release.Color) string {
	return fmt.Sprintf("Primary Service [%s] is new and selects %s: %s, which has no pods: it serves nothing until the first swap.",
		primary, manifest.ColorLabel, c)
}

// Selectors shows Service n (1, the primary, or 2, the stage one) before
// the swap, UpdatedSelectors after it; the selector follows, one
// "key: value" line each, keys in order.
func Selectors(n int, name string, selector map[string]string) string {
	return fmt.Sprintf("Selectors for Service %s : [name:%s]\n%s", ordinal(n), name, display(selector))
}

// UpdatedSelectors: see Selectors.
func UpdatedSelectors(n int, name string, selector map[string]string) string {
	return fmt.Sprintf("Updated Selectors for Service %s : [name:%s]\n%s", ordinal(n), name, display(selector))
}

// SwapAlreadyDone says a swap finds the Services as it would leave them.
func SwapAlreadyDone(s *Swap) string {
	return fmt.Sprintf("Primary Service [%s] selects %s and Stage Service [%s] %s already: nothing to swap.",
		s.Primary.Name, s.Target, s.Stage.Name, s.Target.Other())
}

// SwapInterrupted says a swap found both Services on one colour, and what
// it does about it.
func SwapInterrupted(s *Swap) string {
	return fmt.Sprintf("Service [%s] and Service [%s] both select %s: %s, as a swap stopped between its two writes leaves them; "+
		"the primary is set to select %s and the stage one %s, their other keys kept.",
		s.Primary.Name, s.Stage.Name, manifest.ColorLabel, s.Primary.Color(), s.Target, s.Target.Other())
}

func ordinal(n int) string {
	if n == 1 {
		return "One"
	}
	return "Two"
}

func display(selector map[string]string) string {
	var b strings.Builder
	for _, k := range sortedKeys(selector) {
		b.WriteString(k + ": " + selector[k] + "\n")
	}
	return b.String()
}
