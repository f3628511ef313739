package plugin

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/kube-release/kube-release/steps"
)

// settingPrefix starts every setting's environment name.
const settingPrefix = "PLUGIN_"

// Environment names that the code below refers to by name.
const (
	envStep                      = "PLUGIN_STEP"
	envNamespace                 = "PLUGIN_NAMESPACE"
	envRelease                   = "PLUGIN_RELEASE"
	envManifests                 = "PLUGIN_MANIFESTS"
	envTimeout                   = "PLUGIN_TIMEOUT"
	envKubeconfig                = "PLUGIN_KUBECONFIG"
	envKubeconfigData            = "PLUGIN_KUBECONFIG_DATA"
	envServer                    = "PLUGIN_SERVER"
	envToken                     = "PLUGIN_TOKEN"
	envCertificateAuthorityData  = "PLUGIN_CERTIFICATE_AUTHORITY_DATA"
	envInsecureSkipTLSVerify     = "PLUGIN_INSECURE_SKIP_TLS_VERIFY"
	envContext                   = "PLUGIN_CONTEXT"
	envLogLevel                  = "PLUGIN_LOG_LEVEL"
	envFailFastAfter             = "PLUGIN_FAIL_FAST_AFTER"
	envReleaseNumber             = "PLUGIN_RELEASE_NUMBER"
	envInstances                 = "PLUGIN_INSTANCES"
	envWorkload                  = "PLUGIN_WORKLOAD"
	envResources                 = "PLUGIN_RESOURCES"
	envDeleteReleaseObjects      = "PLUGIN_DELETE_RELEASE_OBJECTS"
	envDeleteNamespace           = "PLUGIN_DELETE_NAMESPACE"
	envCanaryWorkload            = "PLUGIN_CANARY_WORKLOAD"
	envSkipSteadyStateCheck      = "PLUGIN_SKIP_STEADY_STATE_CHECK"
	envRollbackTo                = "PLUGIN_ROLLBACK_TO"
	envOnFirstFailure            = "PLUGIN_ON_FIRST_FAILURE"
	envPruning                   = "PLUGIN_PRUNING"
	envEnableDeclarativeRollback = "PLUGIN_ENABLE_DECLARATIVE_ROLLBACK"
	envValues                    = "PLUGIN_VALUES"
	envSkipRendering             = "PLUGIN_SKIP_RENDERING"
	envImages                    = "PLUGIN_IMAGES"
	envImagePullSecrets          = "PLUGIN_IMAGE_PULL_SECRETS"
	envSkipDryRun                = "PLUGIN_SKIP_DRY_RUN"
	envCreateNamespace           = "PLUGIN_CREATE_NAMESPACE"
	envTakeOwnership             = "PLUGIN_TAKE_OWNERSHIP"
	envDiff                      = "PLUGIN_DIFF"
	envDetailedExitcode          = "PLUGIN_DETAILED_EXITCODE"
	envOutput                    = "PLUGIN_OUTPUT"
	envLockTTL                   = "PLUGIN_LOCK_TTL"
	envLockWait                  = "PLUGIN_LOCK_WAIT"
	envOwnerCheck                = "PLUGIN_OWNER_CHECK"
)

// Load reads the settings from environ (os.Environ's "KEY=value" form) and
// args (the command-line arguments after the program name; the first one may
// name the step), then validates them.
//
// It reads the tags that envconfig reads (envconfig, default) and decodes
// through envconfig.Decoder, but does not call envconfig.Process: that reads
// only the process environment, stops at the first bad value, and takes a
// set-but-empty variable as set, whereas CI systems pass omitted settings as
// empty strings and a user should see every problem in one run.
//
// The warnings (unknown PLUGIN_* names) are returned even when the error is
// not nil. The error, if any, is a *SettingsError listing every problem,
// parse errors and validation errors together; errors.Is(err,
// ErrInvalidSettings) holds for it. Neither ever holds a secret value.
func Load(environ, args []string) (*Settings, []string, error) {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		if key, value, ok := strings.Cut(kv, "="); ok {
			env[key] = value
		}
	}

	s := &Settings{}
	fields := settingFields()
	var problems []Problem
	// A setting that failed to parse holds its zero value; validating that
	// value too would report the same setting twice, the second time wrongly.
	failed := make(map[string]bool)
	var warnings []string
	for _, f := range fields {
		raw := strings.TrimSpace(env[f.env])
		if unresolved(raw, f.value(s).Kind() == reflect.Int) {
			warnings = append(warnings, fmt.Sprintf("%s is %s, an expression the CI did not resolve: taken as unset", f.env, f.quote(raw)))
			raw = ""
			env[f.env] = ""
		}
		if raw == "" {
			raw = f.def
		}
		if raw == "" {
			continue
		}
		if err := decodeValue(f.value(s), raw); err != nil {
			failed[f.env] = true
			problems = append(problems, Problem{
				Setting: f.env,
				Message: fmt.Sprintf("invalid value %s: %v", f.quote(raw), err),
			})
		}
	}

	// Enumerations are matched case-insensitively, like booleans.
	s.Step = StepName(strings.ToLower(string(s.Step)))
	s.LogLevel = strings.ToLower(s.LogLevel)
	s.OnFirstFailure = steps.OnFirstFailure(strings.ToLower(string(s.OnFirstFailure)))
	s.Output = steps.OutputFormat(strings.ToLower(string(s.Output)))
	s.OwnerCheck = steps.OwnerCheck(strings.ToLower(string(s.OwnerCheck)))

	// Zero cannot be told from unset once decoded, yet an explicit 0 is as
	// wrong as a negative number, so it is caught here.
	for name, value := range map[string]int{envReleaseNumber: s.ReleaseNumber, envRollbackTo: s.RollbackTo} {
		if !failed[name] && strings.TrimSpace(env[name]) != "" && value == 0 {
			failed[name] = true
			problems = append(problems, Problem{Setting: name, Message: "must be greater than 0"})
		}
	}

	problems = append(problems, s.stepFromArgs(args)...)

	for _, p := range s.check() {
		if !failed[p.Setting] {
			problems = append(problems, p)
		}
	}

	warnings = append(warnings, unknownSettingWarnings(env, fields)...)
	if err := newSettingsError(problems); err != nil {
		return nil, warnings, err
	}
	return s, warnings, nil
}

// stepFromArgs takes the step from the first argument, which is how a Tekton
// step or a shell (`kube-release rolling`) naturally names it.
func (s *Settings) stepFromArgs(args []string) []Problem {
	if len(args) == 0 {
		return nil
	}
	var problems []Problem
	if arg := StepName(strings.ToLower(strings.TrimSpace(args[0]))); arg != "" {
		switch s.Step {
		case "":
			s.Step = arg
		case arg:
		default:
			problems = append(problems, Problem{
				Setting: envStep,
				Message: fmt.Sprintf("%q conflicts with the command-line argument %q: give the step once", s.Step, arg),
			})
		}
	}
	if len(args) > 1 {
		problems = append(problems, Problem{
			Message: fmt.Sprintf("unexpected command-line arguments %q: only the step may be given", args[1:]),
		})
	}
	return problems
}

// settingField is one field of Settings as the loader sees it.
type settingField struct {
	index  int
	env    string
	def    string
	secret bool
}

func (f settingField) value(s *Settings) reflect.Value {
	return reflect.ValueOf(s).Elem().Field(f.index)
}

// quote shows a bad value in an error, never a secret one, and never so much
// of a long one that it buries the message.
func (f settingField) quote(raw string) string {
	if f.secret {
		return "(hidden)"
	}
	const max = 64
	if len(raw) > max {
		return strconv.Quote(raw[:max]) + "..."
	}
	return strconv.Quote(raw)
}

// settingFields lists the fields of Settings in declaration order.
func settingFields() []settingField {
	t := reflect.TypeFor[Settings]()
	secret := reflect.TypeFor[Secret]()
	fields := make([]settingField, 0, t.NumField())
	for i := range t.NumField() {
		sf := t.Field(i)
		env := sf.Tag.Get("envconfig")
		if env == "" || !sf.IsExported() {
			continue
		}
		fields = append(fields, settingField{
			index:  i,
			env:    env,
			def:    sf.Tag.Get("default"),
			secret: sf.Type == secret,
		})
	}
	return fields
}

// fieldOrder ranks environment names by their field's position, so that
// problems are listed in the order of the Settings struct (and of the README).
func fieldOrder() map[string]int {
	order := make(map[string]int)
	for i, f := range settingFields() {
		order[f.env] = i + 1
	}
	return order
}

// decodeValue sets v from raw the way envconfig would for the types Settings
// uses, with error messages that say what was wanted.
func decodeValue(v reflect.Value, raw string) error {
	if d, ok := v.Addr().Interface().(envconfig.Decoder); ok {
		return d.Decode(raw)
	}
	switch {
	case v.Type() == reflect.TypeFor[time.Duration]():
		d, err := time.ParseDuration(raw)
		if err != nil {
			return fmt.Errorf("want a duration such as 90s, 10m or 1h30m")
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(raw)
	case v.Kind() == reflect.Int:
		n, err := strconv.ParseInt(raw, 10, strconv.IntSize)
		if err != nil {
			return fmt.Errorf("want a whole number")
		}
		v.SetInt(n)
	default:
		return fmt.Errorf("settings of type %s are not supported", v.Type())
	}
	return nil
}

// unresolved reports whether raw is an expression the CI left as it was:
// Harness's <+...> when it resolves nothing (a step output of a step that
// never ran), Tekton's $(...) outside a Task that binds it, and, for a
// number, the null Harness gives an expression of no value. A rollback in
// a failure path must then skip as if the setting were unset, not exit 2.
func unresolved(raw string, number bool) bool {
	switch {
	case strings.HasPrefix(raw, "<+") && strings.HasSuffix(raw, ">"):
		return true
	case strings.HasPrefix(raw, "$(") && strings.HasSuffix(raw, ")"):
		return true
	}
	return number && (raw == "null" || raw == "<nil>")
}

// runnerSettings are PLUGIN_* variables a CI runner sets for every plugin
// step, whatever the plugin: Harness CI's file for a step's artifact
// metadata. They are no setting of kube-release, and not a user's typo.
var runnerSettings = map[string]bool{"PLUGIN_ARTIFACT_FILE": true}

// unknownSettingWarnings names every PLUGIN_* variable that is no setting,
// with the closest known name when one is close enough to be a typo. A
// misspelt setting otherwise silently takes its default.
func unknownSettingWarnings(env map[string]string, fields []settingField) []string {
	known := make(map[string]bool, len(fields))
	for _, f := range fields {
		known[f.env] = true
	}
	var unknown []string
	for name := range env {
		if strings.HasPrefix(name, settingPrefix) && !known[name] && !runnerSettings[name] {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)

	warnings := make([]string, 0, len(unknown))
	for _, name := range unknown {
		if best := closestSetting(name, fields); best != "" {
			warnings = append(warnings, fmt.Sprintf("unknown setting %s, did you mean %s?", name, best))
		} else {
			warnings = append(warnings, fmt.Sprintf("unknown setting %s is ignored", name))
		}
	}
	return warnings
}

// closestSetting returns the known name nearest to name, or "" when none is
// near enough that suggesting it would help more than it confuses.
func closestSetting(name string, fields []settingField) string {
	suffix := strings.TrimPrefix(name, settingPrefix)
	limit := max(2, len(suffix)/3)
	best, bestDistance := "", limit+1
	for _, f := range fields {
		d := editDistance(suffix, strings.TrimPrefix(f.env, settingPrefix))
		if d < bestDistance {
			best, bestDistance = f.env, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and transpositions of neighbours each cost one,
// since swapped letters (NAMESAPCE) are the commonest typo.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rows suffice: the current one, the previous one, and the one
	// before it for transpositions.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
