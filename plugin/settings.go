// Package plugin owns kube-release's CI contract: the settings a pipeline hands
// the step (PLUGIN_* environment variables), their validation, the Kubernetes
// client configuration built from them, and the outputs the step leaves behind.
package plugin

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kube-release/kube-release/steps"
)

// Settings is everything a pipeline can set. Each field carries its full
// environment name in its envconfig tag so that a grep for PLUGIN_NAMESPACE
// finds it; desc feeds the README settings table. An empty value always means
// "not set" (see Load), so a default applies even when a CI system passes an
// omitted setting as the empty string.
type Settings struct {
	// Step is the deploy step to run; it may instead be the first command-line argument.
	Step StepName `envconfig:"PLUGIN_STEP" desc:"step to run: rolling, rollback, apply, diff, history, bluegreen, swap, stage_scale_down, canary, canary_delete, scale or delete (or the first command-line argument)"`
	// Namespace is the target namespace; it defaults to the kubeconfig context's namespace, else default.
	Namespace string `envconfig:"PLUGIN_NAMESPACE" desc:"target namespace (default: the kubeconfig context's namespace, else default)"`
	// Release names the deployment target; the release history objects are named after it.
	Release string `envconfig:"PLUGIN_RELEASE" desc:"release name, a DNS-1123 subdomain of at most 63 characters; required for rolling, bluegreen, swap, stage_scale_down, canary, canary_delete, scale, rollback and history; apply and diff give templates its newest release number; delete spares the objects of other releases"`
	// Manifests are the files, directories and globs to deploy.
	Manifests List `envconfig:"PLUGIN_MANIFESTS" desc:"manifest files, directories (a kustomization is built) or globs, separated by commas or newlines; required for rolling, bluegreen, canary, apply and diff; delete: the objects to delete"`
	// Values are the values files of the manifests' Go templates, merged in order.
	Values List `envconfig:"PLUGIN_VALUES" desc:"rolling, bluegreen, canary, apply, diff, delete: YAML values files for the manifests' Go templates (.Values), merged in order, later files winning; never applied"`
	// SkipRendering reads the manifests as they are, without templating.
	SkipRendering Bool `envconfig:"PLUGIN_SKIP_RENDERING" desc:"rolling, bluegreen, canary, apply, diff, delete: do not execute the manifests as Go templates"`
	// Images override the images of the workloads' containers.
	Images List `envconfig:"PLUGIN_IMAGES" desc:"rolling, bluegreen, canary, apply, diff, delete: image overrides, name=image or image (e.g. registry.local/web=registry.local/web:1.4.2 or nginx:1.27), for every container and init container"`
	// ImagePullSecrets are added to every pod spec.
	ImagePullSecrets List `envconfig:"PLUGIN_IMAGE_PULL_SECRETS" desc:"rolling, bluegreen, canary, apply, diff: names of Secrets of type kubernetes.io/dockerconfigjson to add to every pod spec's imagePullSecrets, separated by commas"`
	// Timeout bounds the whole step, waiting for steady state included.
	Timeout time.Duration `envconfig:"PLUGIN_TIMEOUT" default:"10m" desc:"how long the step may take, as a Go duration (e.g. 10m)"`

	// Kubeconfig is the path of a kubeconfig file.
	Kubeconfig string `envconfig:"PLUGIN_KUBECONFIG" desc:"path of a kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster)"`
	// KubeconfigData is a whole kubeconfig; it wins over every other source.
	KubeconfigData Secret `envconfig:"PLUGIN_KUBECONFIG_DATA" desc:"kubeconfig content, as YAML or base64 of it (secret)"`
	// Server is the API server URL, overriding the kubeconfig's or, with Token, used alone.
	Server string `envconfig:"PLUGIN_SERVER" desc:"API server URL; with token it needs no kubeconfig"`
	// Token is a bearer token for the API server.
	Token Secret `envconfig:"PLUGIN_TOKEN" desc:"bearer token for the API server (secret)"`
	// CertificateAuthorityData is the PEM of the CA that signed the API server's certificate.
	CertificateAuthorityData string `envconfig:"PLUGIN_CERTIFICATE_AUTHORITY_DATA" desc:"base64 of the PEM CA certificate(s) that verify the API server"`
	// InsecureSkipTLSVerify turns off verification of the API server's certificate.
	InsecureSkipTLSVerify Bool `envconfig:"PLUGIN_INSECURE_SKIP_TLS_VERIFY" desc:"do not verify the API server's certificate (insecure)"`
	// Context selects a kubeconfig context instead of the current one.
	Context string `envconfig:"PLUGIN_CONTEXT" desc:"kubeconfig context to use (default: its current context)"`

	// LogLevel is the most verbose level logged.
	LogLevel string `envconfig:"PLUGIN_LOG_LEVEL" default:"info" desc:"log level: error, warn, info, debug or trace"`
	// LogTimestamps prefixes log lines with the time, for CI systems that do not.
	LogTimestamps Bool `envconfig:"PLUGIN_LOG_TIMESTAMPS" desc:"prefix log lines with a timestamp"`
	// ResultsDir is where Tekton expects results, one file per output.
	ResultsDir string `envconfig:"PLUGIN_RESULTS_DIR" desc:"Tekton results directory; each output is also written there as a file"`
	// PipelineRun names the Tekton PipelineRun, which Tekton tells a step
	// only through a Task param; the other CI systems set variables of
	// their own that Pipeline reads.
	PipelineRun string `envconfig:"PLUGIN_PIPELINE_RUN" desc:"Tekton PipelineRun name ($(context.pipelineRun.name)), recorded on the release as the build that deployed it"`

	// SkipDryRun applies without a server-side dry run first.
	SkipDryRun Bool `envconfig:"PLUGIN_SKIP_DRY_RUN" desc:"rolling, bluegreen, canary, apply: skip the server-side dry run before applying"`
	// CreateNamespace creates a missing target namespace that the manifests do not create themselves.
	CreateNamespace Bool `envconfig:"PLUGIN_CREATE_NAMESPACE" desc:"rolling, bluegreen, canary, apply: create the target namespace when it does not exist and the manifests do not hold it (like helm --create-namespace)"`
	// TakeOwnership lets a release adopt objects another release owns.
	TakeOwnership Bool `envconfig:"PLUGIN_TAKE_OWNERSHIP" desc:"rolling, bluegreen, canary, apply: adopt objects of the manifests that another release owns (kube-release.io/release-name) instead of refusing to deploy"`
	// SkipResourceVersioning keeps ConfigMap and Secret names unchanged.
	SkipResourceVersioning Bool `envconfig:"PLUGIN_SKIP_RESOURCE_VERSIONING" desc:"rolling, bluegreen, canary: do not suffix ConfigMap and Secret names with the release number"`
	// FailFast gives up waiting as soon as a pod is stuck for FailFastAfter.
	FailFast Bool `envconfig:"PLUGIN_FAIL_FAST" default:"true" desc:"rolling, bluegreen, canary, rollback, apply, scale: stop waiting once a pod is stuck (image pull or crash loop)"`
	// FailFastAfter is how long a pod may sit in ImagePullBackOff, CrashLoopBackOff and the like before the wait gives up.
	FailFastAfter time.Duration `envconfig:"PLUGIN_FAIL_FAST_AFTER" default:"60s" desc:"rolling, bluegreen, canary, rollback, apply, scale: how long a pod may be stuck before the wait gives up"`
	// EnableDeclarativeRollback keeps one Secret of manifests per release instead of versioning config.
	EnableDeclarativeRollback Bool `envconfig:"PLUGIN_ENABLE_DECLARATIVE_ROLLBACK" desc:"rolling, bluegreen, canary: store each release's manifests and roll back by re-applying them"`
	// Pruning deletes objects of the previous release that the new one no longer has.
	Pruning Bool `envconfig:"PLUGIN_PRUNING" desc:"rolling: delete objects of the previous release that are gone from the manifests"`

	// Instances sizes a canary.
	Instances string `envconfig:"PLUGIN_INSTANCES" desc:"canary: the canary's replicas, a count (2) or a percentage (25%) of the stable workload's, rounded half up, at least 1; scale: the replicas to scale to, a count or a percentage of the workload's"`
	// Workload names what the scale step scales.
	Workload string `envconfig:"PLUGIN_WORKLOAD" desc:"scale: the Deployment or StatefulSet of the release to scale, Kind/name (or namespace/Kind/name)"`
	// Resources name what the delete step deletes.
	Resources List `envconfig:"PLUGIN_RESOURCES" desc:"delete: the objects to delete, Kind/name (Kind.group/name for a custom kind), separated by commas or newlines"`
	// DeleteReleaseObjects deletes what the release's history records.
	DeleteReleaseObjects Bool `envconfig:"PLUGIN_DELETE_RELEASE_OBJECTS" desc:"delete: delete every object the release's history records, instead of resources or manifests"`
	// DeleteNamespace also deletes the Namespaces of the release's history.
	DeleteNamespace Bool `envconfig:"PLUGIN_DELETE_NAMESPACE" desc:"delete: with delete_release_objects, also delete the Namespaces the history records"`
	// CanaryWorkload names what canary_delete deletes.
	CanaryWorkload string `envconfig:"PLUGIN_CANARY_WORKLOAD" desc:"canary_delete: the canary step's canary_workload output (default: the canary objects of the newest release)"`
	// ReleaseNumber is the release to roll back; 0 means the newest.
	ReleaseNumber int `envconfig:"PLUGIN_RELEASE_NUMBER" desc:"rollback: number of the release to roll back (default: the newest)"`
	// RollbackTo is the release to return to; 0 means the last successful one.
	RollbackTo int `envconfig:"PLUGIN_ROLLBACK_TO" desc:"rollback: number of the release to return to (default: the last successful one)"`
	// OnFirstFailure says what rollback does when the failed release has no successful one before it.
	OnFirstFailure steps.OnFirstFailure `envconfig:"PLUGIN_ON_FIRST_FAILURE" default:"keep" desc:"rollback: with no earlier successful release, keep or delete the failed release's objects"`

	// SkipSteadyStateCheck returns once applied, without waiting for workloads.
	SkipSteadyStateCheck Bool `envconfig:"PLUGIN_SKIP_STEADY_STATE_CHECK" desc:"apply, scale: do not wait for the workloads to become ready"`

	// Diff prints, before applying, what the apply would change.
	Diff Bool `envconfig:"PLUGIN_DIFF" desc:"rolling, bluegreen, canary, apply: print a diff of each object against the live one (Secret values masked) before applying"`
	// DetailedExitcode makes the diff step exit 3 when there are changes.
	DetailedExitcode Bool `envconfig:"PLUGIN_DETAILED_EXITCODE" desc:"diff: exit with 3 instead of 0 when an apply would change something"`
	// Output is the format of the history step's listing.
	Output steps.OutputFormat `envconfig:"PLUGIN_OUTPUT" default:"text" desc:"history: text or json"`

	// LockTTL is how long a deploy lock outlives a run that died holding it.
	LockTTL time.Duration `envconfig:"PLUGIN_LOCK_TTL" default:"2m" desc:"every step that changes the cluster: how long the release's deploy lock outlives a run that dies holding it"`
	// LockWait is how long to wait for another run's deploy lock.
	LockWait time.Duration `envconfig:"PLUGIN_LOCK_WAIT" default:"0s" desc:"every step that changes the cluster: how long to wait for a deploy lock another run holds (0: fail at once)"`
	// ForceUnlock takes the deploy lock even when another run holds it.
	ForceUnlock Bool `envconfig:"PLUGIN_FORCE_UNLOCK" desc:"every step that changes the cluster: take the release's deploy lock even if another run holds it"`
	// OwnerCheck says what happens when another repository deploys the release.
	OwnerCheck steps.OwnerCheck `envconfig:"PLUGIN_OWNER_CHECK" default:"warn" desc:"rolling, bluegreen, canary: when the release was last deployed from another repository, warn or fail"`
}

// StepName names a deploy step.
type StepName string

// The known steps. Adding one: a constant here and a line in stepSpecs.
const (
	StepRolling  StepName = "rolling"
	StepRollback StepName = "rollback"
	StepApply    StepName = "apply"
	StepDiff     StepName = "diff"
	StepHistory  StepName = "history"
	// The blue/green steps: stage deploy, swap, stage scale down.
	StepBlueGreen      StepName = "bluegreen"
	StepSwap           StepName = "swap"
	StepStageScaleDown StepName = "stage_scale_down"
	// The canary steps: canary deploy and canary delete; a rolling deploy
	// completes the release.
	StepCanary       StepName = "canary"
	StepCanaryDelete StepName = "canary_delete"
	// The general steps of those pipelines: scale a workload, delete
	// objects.
	StepScale  StepName = "scale"
	StepDelete StepName = "delete"
)

// stepSpec is what a step requires of the settings.
type stepSpec struct {
	step           StepName
	needsRelease   bool
	needsManifests bool
	// readsManifests is for a step that may be given manifests without
	// needing them (needsManifests implies it).
	readsManifests bool
	// summary is the step's line in --help.
	summary string
}

// stepSpecs is a function, not a variable, so that no caller can change the
// table under another.
func stepSpecs() []stepSpec {
	return []stepSpec{
		{step: StepRolling, needsRelease: true, needsManifests: true, summary: "render, version config, apply, wait for steady state, record the release"},
		{step: StepRollback, needsRelease: true, summary: "return the workloads to the last successful release (swap back, delete a canary)"},
		{step: StepApply, needsManifests: true, summary: "apply manifests, optionally wait; no release bookkeeping"},
		{step: StepDiff, needsManifests: true, summary: "show what an apply would change (exit 3 with detailed_exitcode)"},
		{step: StepHistory, needsRelease: true, summary: "list the release history, both formats"},
		{step: StepBlueGreen, needsRelease: true, needsManifests: true, summary: "blue/green stage deploy of the one workload to the idle colour"},
		{step: StepSwap, needsRelease: true, summary: "route users to the stage colour: exchange the two Services' selectors"},
		{step: StepStageScaleDown, needsRelease: true, summary: "scale the stage colour to 0 and delete its HPAs and PDBs"},
		{step: StepCanary, needsRelease: true, needsManifests: true, summary: "deploy <name>-canary beside the stable workload, sized by instances"},
		{step: StepCanaryDelete, needsRelease: true, summary: "delete the canary objects"},
		{step: StepScale, needsRelease: true, summary: "scale a workload of the release to instances, then wait"},
		{step: StepDelete, readsManifests: true, summary: "delete objects by name, by the release's history, or by manifests"},
	}
}

// KnownSteps returns the steps this build can run, in a stable order.
func KnownSteps() []StepName {
	specs := stepSpecs()
	steps := make([]StepName, len(specs))
	for i, spec := range specs {
		steps[i] = spec.step
	}
	return steps
}

func lookupStep(step StepName) (stepSpec, bool) {
	for _, spec := range stepSpecs() {
		if spec.step == step {
			return spec, true
		}
	}
	return stepSpec{}, false
}

func knownStepList() string {
	steps := KnownSteps()
	names := make([]string, len(steps))
	for i, step := range steps {
		names[i] = string(step)
	}
	return strings.Join(names, ", ")
}

// LogLevels returns the accepted values of LogLevel, least verbose first.
func LogLevels() []string {
	return []string{"error", "warn", "info", "debug", "trace"}
}

// DefaultSettings returns the settings with every default applied and nothing
// else set, as Load gives them for an empty environment.
func DefaultSettings() Settings {
	var s Settings
	for _, f := range settingFields() {
		if f.def == "" {
			continue
		}
		if err := decodeValue(f.value(&s), f.def); err != nil {
			// A default that does not parse is a bug in the tags above, which
			// the tests catch; failing loudly beats running with a zero value.
			panic(fmt.Sprintf("plugin: default of %s: %v", f.env, err))
		}
	}
	return s
}

// Bool is a boolean setting. CI systems and people write booleans many ways;
// it accepts true/false, 1/0, yes/no and on/off, in any case.
type Bool bool

// Decode implements envconfig.Decoder.
func (b *Bool) Decode(value string) error {
	switch strings.ToLower(strings.TrimSpace(value)) {
	case "true", "1", "yes", "on":
		*b = true
	case "false", "0", "no", "off":
		*b = false
	default:
		return fmt.Errorf("want true or false (or 1/0, yes/no)")
	}
	return nil
}

// List is a list setting. Drone and Harness join a YAML list with commas,
// while a Tekton param or a GitHub input is more naturally one item a line,
// so both separate items; blanks around items and empty items are dropped.
// Drone and Harness hand over a YAML map, or a list that holds one, as
// JSON instead: a JSON list gives its items, and a map its entries as
// key=value items (images: {web: web:1.2} means web=web:1.2).
type List []string

// Decode implements envconfig.Decoder.
func (l *List) Decode(value string) error {
	if items, isJSON, err := decodeJSONList(value); isJSON {
		if err != nil {
			return err
		}
		*l = items
		return nil
	}
	items := strings.FieldsFunc(value, func(r rune) bool { return r == ',' || r == '\n' })
	out := make(List, 0, len(items))
	for _, item := range items {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	if len(out) == 0 {
		out = nil
	}
	*l = out
	return nil
}

// Secret is a setting value that must never reach a log or an error. fmt and
// encoders print it as [redacted], so logging the Settings by mistake leaks
// nothing; convert with string(...) where the value is really needed.
type Secret string

const redacted = "[redacted]"

// String returns [redacted] for a set value, so a log shows that it is set.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// Format implements fmt.Formatter so that no verb (%s, %q, %x, %#v) prints the value.
func (s Secret) Format(f fmt.State, _ rune) {
	_, _ = io.WriteString(f, s.String())
}

// MarshalText keeps the value out of JSON and YAML dumps of the settings.
func (s Secret) MarshalText() ([]byte, error) {
	return []byte(s.String()), nil
}
