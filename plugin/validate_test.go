package plugin

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kube-release/kube-release/steps"
)

func TestValidate(t *testing.T) {
	ca := newTestCA(t)
	caData := base64.StdEncoding.EncodeToString(ca.pem)
	kubeconfig := kubeconfigYAML(ca, "https://one.test:6443", "tok-one")

	tests := []validateCase{
		{name: "rolling minimal", modify: func(s *Settings) {}},
		{name: "rolling needs release and manifests",
			modify: func(s *Settings) { s.Release, s.Manifests = "", nil },
			want: []string{
				`PLUGIN_RELEASE: required for step "rolling"`,
				`PLUGIN_MANIFESTS: required for step "rolling"`,
			}},
		{name: "rollback needs release only",
			modify: func(s *Settings) { s.Step, s.Release, s.Manifests = StepRollback, "", nil },
			want:   []string{`PLUGIN_RELEASE: required for step "rollback"`}},
		{name: "rollback without manifests",
			modify: func(s *Settings) { s.Step, s.Manifests = StepRollback, nil }},
		{name: "apply needs manifests only",
			modify: func(s *Settings) { s.Step, s.Release, s.Manifests = StepApply, "", nil },
			want:   []string{`PLUGIN_MANIFESTS: required for step "apply"`}},
		{name: "apply without release",
			modify: func(s *Settings) { s.Step, s.Release = StepApply, "" }},
		{name: "missing step",
			modify: func(s *Settings) { s.Step = "" },
			want:   []string{`PLUGIN_STEP: required: set it or pass the step as the first argument (one of rolling, rollback, apply, diff, history, bluegreen, swap, stage_scale_down, canary, canary_delete, scale, delete)`}},
		{name: "unknown step lists known ones and skips requirements",
			modify: func(s *Settings) { s.Step, s.Release, s.Manifests = "recreate", "", nil },
			want:   []string{`PLUGIN_STEP: unknown step "recreate": want one of rolling, rollback, apply, diff, history, bluegreen, swap, stage_scale_down, canary, canary_delete, scale, delete`}},

		{name: "release with dots", modify: func(s *Settings) { s.Release = "web.frontend" }},
		{name: "release uppercase",
			modify: func(s *Settings) { s.Release = "Web" },
			want:   []string{`PLUGIN_RELEASE: "Web" is not a valid release name: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`}},
		{name: "release of 63 characters", modify: func(s *Settings) { s.Release = strings.Repeat("a", 63) }},
		{name: "release too long for a label value",
			modify: func(s *Settings) { s.Release = strings.Repeat("a", 64) },
			want:   []string{`PLUGIN_RELEASE: "` + strings.Repeat("a", 64) + `" is not a valid release name: must be no more than 63 characters (it is used as a label value)`}},
		{name: "release far too long, said once",
			modify: func(s *Settings) { s.Release = strings.Repeat("a", 300) },
			want:   []string{`PLUGIN_RELEASE: "` + strings.Repeat("a", 300) + `" is not a valid release name: must be no more than 63 characters (it is used as a label value)`}},
		{name: "namespace with a dot",
			modify: func(s *Settings) { s.Namespace = "team.prod" },
			want:   []string{`PLUGIN_NAMESPACE: "team.prod" is not a valid namespace: must not contain dots`}},

		{name: "create_namespace on rolling and apply",
			modify: func(s *Settings) { s.CreateNamespace = true }},
		{name: "create_namespace on rollback",
			modify: func(s *Settings) { s.Step, s.Manifests, s.CreateNamespace = StepRollback, nil, true },
			want:   []string{`PLUGIN_CREATE_NAMESPACE: applies only to steps "rolling", "bluegreen", "canary" and "apply", not "rollback"`}},

		{name: "zero timeout",
			modify: func(s *Settings) { s.Timeout = 0 },
			want:   []string{`PLUGIN_TIMEOUT: must be greater than 0`}},
		{name: "negative fail fast after",
			modify: func(s *Settings) { s.FailFastAfter = -1 },
			want:   []string{`PLUGIN_FAIL_FAST_AFTER: must be greater than 0`}},

		{name: "rollback numbers",
			modify: func(s *Settings) { s.Step, s.ReleaseNumber, s.RollbackTo = StepRollback, 5, 4 }},
		{name: "rollback to a newer release",
			modify: func(s *Settings) { s.Step, s.ReleaseNumber, s.RollbackTo = StepRollback, 5, 5 },
			want:   []string{`PLUGIN_ROLLBACK_TO: 5 must be lower than PLUGIN_RELEASE_NUMBER (5): a rollback returns to an older release`}},
		{name: "negative rollback numbers",
			modify: func(s *Settings) { s.Step, s.ReleaseNumber, s.RollbackTo = StepRollback, -1, -2 },
			want: []string{
				`PLUGIN_RELEASE_NUMBER: must be greater than 0`,
				`PLUGIN_ROLLBACK_TO: must be greater than 0`,
			}},
		{name: "rollback numbers on another step",
			modify: func(s *Settings) { s.ReleaseNumber, s.RollbackTo = 3, 2 },
			want: []string{
				`PLUGIN_RELEASE_NUMBER: applies only to step "rollback", not "rolling"`,
				`PLUGIN_ROLLBACK_TO: applies only to step "rollback", not "rolling"`,
			}},
		{name: "on first failure delete", modify: func(s *Settings) { s.OnFirstFailure = steps.OnFirstFailureDelete }},
		{name: "on first failure unknown",
			modify: func(s *Settings) { s.OnFirstFailure = "purge" },
			want:   []string{`PLUGIN_ON_FIRST_FAILURE: unknown value "purge": want keep or delete`}},
		{name: "log level trace", modify: func(s *Settings) { s.LogLevel = "trace" }},
		{name: "log level unknown",
			modify: func(s *Settings) { s.LogLevel = "warning" },
			want:   []string{`PLUGIN_LOG_LEVEL: unknown level "warning": want one of error, warn, info, debug, trace`}},

		{name: "kubeconfig path", modify: func(s *Settings) { s.Kubeconfig = "/nonexistent/is/for/ClientConfig" }},
		{name: "kubeconfig data raw", modify: func(s *Settings) { s.KubeconfigData = Secret(kubeconfig) }},
		{name: "kubeconfig data base64",
			modify: func(s *Settings) { s.KubeconfigData = Secret(base64.StdEncoding.EncodeToString([]byte(kubeconfig))) }},
		{name: "kubeconfig path and data",
			modify: func(s *Settings) { s.Kubeconfig, s.KubeconfigData = "/k", Secret(kubeconfig) },
			want:   []string{`PLUGIN_KUBECONFIG_DATA: cannot be combined with PLUGIN_KUBECONFIG: give one of them`}},
		{name: "kubeconfig data broken",
			modify: func(s *Settings) { s.KubeconfigData = "apiVersion: v1\nclusters: {\n" },
			want:   []string{`PLUGIN_KUBECONFIG_DATA: not a kubeconfig (raw YAML or base64 of it): yaml: line 2: did not find expected node content`}},
		{name: "kubeconfig data base64 of nothing",
			modify: func(s *Settings) { s.KubeconfigData = "ICAg" },
			want:   []string{`PLUGIN_KUBECONFIG_DATA: is empty`}},
		{name: "kubeconfig data of some other YAML",
			modify: func(s *Settings) { s.KubeconfigData = "password: hunter2\n" },
			want:   []string{`PLUGIN_KUBECONFIG_DATA: not a kubeconfig (raw YAML or base64 of it): it defines no clusters, contexts or users`}},
		{name: "server, token and CA", modify: func(s *Settings) {
			s.Server, s.Token, s.CertificateAuthorityData = "https://k8s.test:6443", "tok", caData
		}},
		{name: "server over http", modify: func(s *Settings) { s.Server = "http://127.0.0.1:8001" }},
		{name: "server without scheme",
			modify: func(s *Settings) { s.Server = "k8s.test:6443" },
			want:   []string{`PLUGIN_SERVER: "k8s.test:6443" is not an http or https URL: want https://host[:port]`}},
		{name: "server without host",
			modify: func(s *Settings) { s.Server = "https:///api" },
			want:   []string{`PLUGIN_SERVER: "https:///api" has no host: want https://host[:port]`}},
		{name: "token without server is left to ClientConfig", modify: func(s *Settings) { s.Token = "tok" }},
		{name: "CA as raw PEM", modify: func(s *Settings) { s.CertificateAuthorityData = string(ca.pem) }},
		{name: "CA not base64",
			modify: func(s *Settings) { s.CertificateAuthorityData = "not base64!" },
			want:   []string{`PLUGIN_CERTIFICATE_AUTHORITY_DATA: not base64: want the base64 of PEM certificates, as in a kubeconfig's certificate-authority-data`}},
		{name: "CA base64 of no PEM",
			modify: func(s *Settings) { s.CertificateAuthorityData = base64.StdEncoding.EncodeToString([]byte("hello")) },
			want:   []string{`PLUGIN_CERTIFICATE_AUTHORITY_DATA: holds no PEM certificate: want the base64 of PEM certificates (-----BEGIN CERTIFICATE-----)`}},
		{name: "CA with a broken certificate",
			modify: func(s *Settings) {
				s.CertificateAuthorityData = base64.StdEncoding.EncodeToString([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
			},
			want: []string{`PLUGIN_CERTIFICATE_AUTHORITY_DATA: holds a certificate that does not parse: x509: malformed certificate`}},
		{name: "lock ttl too short", modify: func(s *Settings) { s.LockTTL = time.Second },
			want: []string{`PLUGIN_LOCK_TTL: must be at least 5s`}},
		{name: "negative lock wait", modify: func(s *Settings) { s.LockWait = -time.Second },
			want: []string{`PLUGIN_LOCK_WAIT: must not be negative`}},
		{name: "lock wait", modify: func(s *Settings) { s.LockWait = time.Minute }},
		{name: "owner check fail", modify: func(s *Settings) { s.OwnerCheck = "fail" }},
		{name: "owner check unknown", modify: func(s *Settings) { s.OwnerCheck = "maybe" },
			want: []string{`PLUGIN_OWNER_CHECK: unknown value "maybe": want warn or fail`}},
		{name: "insecure", modify: func(s *Settings) { s.Server, s.InsecureSkipTLSVerify = "https://k8s.test", true }},
		{name: "insecure with CA",
			modify: func(s *Settings) { s.InsecureSkipTLSVerify, s.CertificateAuthorityData = true, caData },
			want:   []string{`PLUGIN_INSECURE_SKIP_TLS_VERIFY: cannot be combined with PLUGIN_CERTIFICATE_AUTHORITY_DATA: verify the server with the CA, or skip verification`}},
	}
	runValidateCases(t, tests)
}

func TestValidateEverythingAtOnce(t *testing.T) {
	s := Settings{Step: StepRolling, Namespace: "A", LogLevel: "loud", Kubeconfig: "/k", KubeconfigData: "x: y"}
	err := s.Validate()
	want := `invalid settings:
  PLUGIN_NAMESPACE: "A" is not a valid namespace: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')
  PLUGIN_RELEASE: required for step "rolling"
  PLUGIN_MANIFESTS: required for step "rolling"
  PLUGIN_TIMEOUT: must be greater than 0
  PLUGIN_KUBECONFIG_DATA: cannot be combined with PLUGIN_KUBECONFIG: give one of them
  PLUGIN_KUBECONFIG_DATA: not a kubeconfig (raw YAML or base64 of it): it defines no clusters, contexts or users
  PLUGIN_LOG_LEVEL: unknown level "loud": want one of error, warn, info, debug, trace
  PLUGIN_FAIL_FAST_AFTER: must be greater than 0
  PLUGIN_LOCK_TTL: must be at least 5s`
	if err == nil || err.Error() != want {
		t.Errorf("Validate:\n%v\nwant:\n%s", err, want)
	}
	if !errors.Is(err, ErrInvalidSettings) {
		t.Error("errors.Is(err, ErrInvalidSettings) = false")
	}
	wrapped := errors.Join(errors.New("other"), err)
	if !errors.Is(wrapped, ErrInvalidSettings) {
		t.Error("errors.Is through a wrapper = false")
	}
}

func TestValidateSecretsNeverShown(t *testing.T) {
	const secret = "sEcReT-vAlUe"
	s := DefaultSettings()
	s.Step = StepRolling
	s.Token = secret
	s.Kubeconfig = "/k"
	s.KubeconfigData = Secret("apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    token: {" + secret + ": 1}\n")
	err := s.Validate()
	if err == nil {
		t.Fatal("Validate succeeded, want an error")
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error shows a secret:\n%v", err)
	}
}

// validateCase is one change to a valid rolling deploy's settings, and the
// problems Validate must report for it (none: still valid).
type validateCase struct {
	name   string
	modify func(*Settings)
	want   []string
}

func runValidateCases(t *testing.T, tests []validateCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := DefaultSettings()
			s.Step, s.Release, s.Manifests = StepRolling, "web", List{"k8s/"}
			tt.modify(&s)
			err := s.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			wantProblems(t, err, tt.want...)
		})
	}
}
