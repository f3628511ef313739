package plugin

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kube-release/kube-release/steps"
)

// ErrInvalidSettings is matched (errors.Is) by every error that the settings
// themselves cause, so that main can exit with the usage status (2) for them.
var ErrInvalidSettings = errors.New("invalid settings")

// Problem is one thing wrong with the settings.
type Problem struct {
	// Setting is the environment name (PLUGIN_RELEASE); empty for the command line.
	Setting string
	// Message says what is wrong; it never holds a secret value.
	Message string
}

func (p Problem) String() string {
	if p.Setting == "" {
		return p.Message
	}
	return p.Setting + ": " + p.Message
}

// SettingsError lists every problem found at once, so that a user fixes a
// pipeline in one round instead of one problem per CI run.
type SettingsError struct {
	Problems []Problem
}

func (e *SettingsError) Error() string {
	var b strings.Builder
	b.WriteString("invalid settings:")
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrInvalidSettings) hold.
func (e *SettingsError) Unwrap() error { return ErrInvalidSettings }

// newSettingsError returns nil for no problems, and otherwise the problems
// sorted by setting in the order of the Settings struct.
func newSettingsError(problems []Problem) error {
	if len(problems) == 0 {
		return nil
	}
	order := fieldOrder()
	sorted := slices.Clone(problems)
	sort.SliceStable(sorted, func(i, j int) bool {
		return order[sorted[i].Setting] < order[sorted[j].Setting]
	})
	return &SettingsError{Problems: sorted}
}

// Validate reports every problem with the settings as one *SettingsError
// (errors.Is(err, ErrInvalidSettings)), each naming the setting by its
// environment name. It rejects only what is certainly wrong: whether a
// kubeconfig will be found, for instance, is for ClientConfig to tell.
func (s *Settings) Validate() error {
	return newSettingsError(s.check())
}

func (s *Settings) check() []Problem {
	var problems []Problem
	add := func(setting, format string, args ...any) {
		problems = append(problems, Problem{Setting: setting, Message: fmt.Sprintf(format, args...)})
	}

	spec, known := lookupStep(s.Step)
	switch {
	case s.Step == "":
		add(envStep, "required: set it or pass the step as the first argument (one of %s)", knownStepList())
	case !known:
		add(envStep, "unknown step %q: want one of %s", s.Step, knownStepList())
	}
	if known && spec.needsRelease && s.Release == "" {
		add(envRelease, "required for step %q", s.Step)
	}
	if known && spec.needsManifests && len(s.Manifests) == 0 {
		add(envManifests, "required for step %q", s.Step)
	}

	if s.Release != "" {
		if msgs := releaseNameErrors(s.Release); len(msgs) > 0 {
			add(envRelease, "%q is not a valid release name: %s", s.Release, strings.Join(msgs, "; "))
		}
	}
	if s.Namespace != "" {
		if msgs := validation.IsDNS1123Label(s.Namespace); len(msgs) > 0 {
			add(envNamespace, "%q is not a valid namespace: %s", s.Namespace, strings.Join(msgs, "; "))
		}
	}

	if s.Timeout <= 0 {
		add(envTimeout, "must be greater than 0")
	}
	if s.FailFastAfter <= 0 {
		add(envFailFastAfter, "must be greater than 0")
	}

	for _, n := range []struct {
		env   string
		value int
	}{{envReleaseNumber, s.ReleaseNumber}, {envRollbackTo, s.RollbackTo}} {
		switch {
		case n.value < 0:
			add(n.env, "must be greater than 0")
		case n.value > 0 && known && s.Step != StepRollback:
			add(n.env, "applies only to step %q, not %q", StepRollback, s.Step)
		}
	}
	if s.ReleaseNumber > 0 && s.RollbackTo >= s.ReleaseNumber {
		add(envRollbackTo, "%d must be lower than %s (%d): a rollback returns to an older release",
			s.RollbackTo, envReleaseNumber, s.ReleaseNumber)
	}
	if s.LockTTL < 5*time.Second {
		// Renewal runs every quarter of the TTL; shorter leases expire
		// under a run that is merely slow.
		add(envLockTTL, "must be at least 5s")
	}
	if s.LockWait < 0 {
		add(envLockWait, "must not be negative")
	}
	switch s.OwnerCheck {
	case "", steps.OwnerCheckWarn, steps.OwnerCheckFail:
	default:
		add(envOwnerCheck, "unknown value %q: want warn or fail", s.OwnerCheck)
	}
	if s.Pruning && s.Step == StepRolling && !s.EnableDeclarativeRollback {
		// Pruning compares with the manifests of the last successful
		// release, which only a declarative release stores.
		add(envPruning, "needs %s: pruning compares with the manifests a declarative release stores", envEnableDeclarativeRollback)
	}
	deploys := s.Step == StepRolling || s.Step == StepBlueGreen || s.Step == StepCanary || s.Step == StepApply
	if known && bool(s.CreateNamespace) && !deploys {
		add(envCreateNamespace, "applies only to steps %q, %q, %q and %q, not %q", StepRolling, StepBlueGreen, StepCanary, StepApply, s.Step)
	}
	if known && bool(s.TakeOwnership) && !deploys {
		add(envTakeOwnership, "applies only to steps %q, %q, %q and %q, not %q", StepRolling, StepBlueGreen, StepCanary, StepApply, s.Step)
	}
	if bool(s.Pruning) && (s.Step == StepBlueGreen || s.Step == StepCanary) {
		// The release before a stage deploy is the other colour's: its
		// objects are what users are served by.
		add(envPruning, "does not apply to step %q: the rolling deploy prunes; the last successful release before a blue/green or canary deploy keeps serving", s.Step)
	}
	switch s.OnFirstFailure {
	case "", steps.OnFirstFailureKeep, steps.OnFirstFailureDelete:
	default:
		add(envOnFirstFailure, "unknown value %q: want %s or %s", s.OnFirstFailure, steps.OnFirstFailureKeep, steps.OnFirstFailureDelete)
	}
	if s.LogLevel != "" && !slices.Contains(LogLevels(), s.LogLevel) {
		add(envLogLevel, "unknown level %q: want one of %s", s.LogLevel, strings.Join(LogLevels(), ", "))
	}

	if s.Kubeconfig != "" && s.KubeconfigData != "" {
		add(envKubeconfigData, "cannot be combined with %s: give one of them", envKubeconfig)
	}
	if s.KubeconfigData != "" {
		if _, err := parseKubeconfigData(s.KubeconfigData); err != nil {
			add(envKubeconfigData, "%v", err)
		}
	}
	if s.Server != "" {
		if err := checkServerURL(s.Server); err != nil {
			add(envServer, "%v", err)
		}
	}
	if s.CertificateAuthorityData != "" {
		if _, err := decodeCertificateAuthority(s.CertificateAuthorityData); err != nil {
			add(envCertificateAuthorityData, "%v", err)
		}
	}
	if s.InsecureSkipTLSVerify && s.CertificateAuthorityData != "" {
		// client-go refuses the pair, and the user's intent is unclear.
		add(envInsecureSkipTLSVerify, "cannot be combined with %s: verify the server with the CA, or skip verification",
			envCertificateAuthorityData)
	}
	problems = append(problems, s.checkRendering(spec, known)...)
	if known {
		problems = append(problems, s.checkStrategySteps()...)
	}
	return problems
}

// releaseNameErrors checks a release name. It is a DNS-1123 subdomain because
// the legacy history ConfigMap is named exactly like it and the declarative
// history Secrets are harness.release.<release>.<n>; it is at most 63
// characters because it is also a label value (release, and
// harness.io/release-name on every managed pod template).
func releaseNameErrors(name string) []string {
	msgs := validation.IsDNS1123Subdomain(name)
	if len(name) > validation.LabelValueMaxLength {
		tooLong := validation.MaxLenError(validation.DNS1123SubdomainMaxLength)
		msgs = slices.DeleteFunc(msgs, func(m string) bool { return m == tooLong })
		msgs = append([]string{validation.MaxLenError(validation.LabelValueMaxLength) +
			" (it is used as a label value)"}, msgs...)
	}
	return msgs
}

// checkServerURL rejects a server that no client could reach. The URL is
// shown without its user info, which could hold a password.
func checkServerURL(server string) error {
	u, err := url.Parse(server)
	if err != nil {
		return errors.New("not a URL: want https://host[:port]")
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return fmt.Errorf("%q is not an http or https URL: want https://host[:port]", u.Redacted())
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host: want https://host[:port]", u.Redacted())
	}
	return nil
}
