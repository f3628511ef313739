package plugin

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCA is a throwaway certificate authority for kubeconfig fixtures.
type testCA struct {
	pem []byte
}

func newTestCA(t *testing.T) testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kube-release test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return testCA{pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// kubeconfigYAML has two contexts: "one" (current, namespace team-one,
// token auth, CA data) and "two" (no namespace, its own server and token).
func kubeconfigYAML(ca testCA, server, token string) string {
	caData := base64.StdEncoding.EncodeToString(ca.pem)
	return fmt.Sprintf(`apiVersion: v1
kind: Config
current-context: one
clusters:
- name: one
  cluster:
    server: %s
    certificate-authority-data: %s
- name: two
  cluster:
    server: https://two.test:6443
    insecure-skip-tls-verify: true
contexts:
- name: one
  context: {cluster: one, user: one, namespace: team-one}
- name: two
  context: {cluster: two, user: two}
users:
- name: one
  user: {token: %s}
- name: two
  user: {token: tok-two}
`, server, caData, token)
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// isolateEnv keeps the machine's own kubeconfig and cluster out of a test:
// an empty home, no KUBECONFIG, and not in a cluster.
func isolateEnv(t *testing.T) (home string) {
	t.Helper()
	home = t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("KUBECONFIG", "")
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	return home
}

func TestClientConfig(t *testing.T) {
	ca := newTestCA(t)
	caData := base64.StdEncoding.EncodeToString(ca.pem)
	yaml := kubeconfigYAML(ca, "https://one.test:6443", "tok-one")
	b64 := base64.StdEncoding.EncodeToString([]byte(yaml))
	// CI secrets often hold base64 wrapped at 76 columns, as base64(1) writes it.
	var wrapped strings.Builder
	for i := 0; i < len(b64); i += 76 {
		wrapped.WriteString(b64[i:min(i+76, len(b64))])
		wrapped.WriteString("\n")
	}

	type want struct {
		host      string
		token     string
		caData    []byte
		insecure  bool
		namespace string
	}
	fromOne := want{host: "https://one.test:6443", token: "tok-one", caData: ca.pem, namespace: "team-one"}
	fromTwo := want{host: "https://two.test:6443", token: "tok-two", insecure: true, namespace: "default"}

	tests := []struct {
		name string
		// setup prepares the environment and returns the settings.
		setup func(t *testing.T, home string) Settings
		want  want
	}{
		{name: "kubeconfig file", want: fromOne, setup: func(t *testing.T, home string) Settings {
			return Settings{Kubeconfig: writeFile(t, filepath.Join(t.TempDir(), "config"), yaml)}
		}},
		{name: "kubeconfig data raw", want: fromOne, setup: func(t *testing.T, home string) Settings {
			return Settings{KubeconfigData: Secret(yaml)}
		}},
		{name: "kubeconfig data base64", want: fromOne, setup: func(t *testing.T, home string) Settings {
			return Settings{KubeconfigData: Secret(b64)}
		}},
		{name: "kubeconfig data base64 wrapped", want: fromOne, setup: func(t *testing.T, home string) Settings {
			return Settings{KubeconfigData: Secret(wrapped.String())}
		}},
		{name: "kubeconfig data wins over KUBECONFIG", want: fromOne, setup: func(t *testing.T, home string) Settings {
			t.Setenv("KUBECONFIG", writeFile(t, filepath.Join(t.TempDir(), "other"), kubeconfigYAML(ca, "https://other.test", "tok-other")))
			return Settings{KubeconfigData: Secret(yaml)}
		}},
		{name: "KUBECONFIG path list, first existing file wins",
			want: fromOne,
			setup: func(t *testing.T, home string) Settings {
				dir := t.TempDir()
				first := writeFile(t, filepath.Join(dir, "a"), yaml)
				second := writeFile(t, filepath.Join(dir, "b"), kubeconfigYAML(ca, "https://other.test", "tok-other"))
				t.Setenv("KUBECONFIG", strings.Join([]string{filepath.Join(dir, "missing"), first, second}, string(filepath.ListSeparator)))
				return Settings{}
			}},
		{name: "home kubeconfig", want: fromOne, setup: func(t *testing.T, home string) Settings {
			writeFile(t, filepath.Join(home, ".kube", "config"), yaml)
			return Settings{}
		}},
		{name: "context selection", want: fromTwo, setup: func(t *testing.T, home string) Settings {
			return Settings{KubeconfigData: Secret(yaml), Context: "two"}
		}},
		{name: "context selection in home kubeconfig", want: fromTwo, setup: func(t *testing.T, home string) Settings {
			writeFile(t, filepath.Join(home, ".kube", "config"), yaml)
			return Settings{Context: "two"}
		}},
		{name: "namespace setting wins over the context's",
			want: want{host: fromOne.host, token: fromOne.token, caData: ca.pem, namespace: "prod"},
			setup: func(t *testing.T, home string) Settings {
				return Settings{KubeconfigData: Secret(yaml), Namespace: "prod"}
			}},
		{name: "overrides on a kubeconfig",
			want: want{host: "https://override.test", token: "tok-override", caData: ca.pem, namespace: "team-one"},
			setup: func(t *testing.T, home string) Settings {
				return Settings{KubeconfigData: Secret(yaml), Server: "https://override.test", Token: "tok-override"}
			}},
		{name: "insecure override drops the kubeconfig's CA",
			want: want{host: fromOne.host, token: fromOne.token, insecure: true, namespace: "team-one"},
			setup: func(t *testing.T, home string) Settings {
				return Settings{KubeconfigData: Secret(yaml), InsecureSkipTLSVerify: true}
			}},
		{name: "server, token and CA alone",
			want: want{host: "https://k8s.test:6443", token: "tok", caData: ca.pem, namespace: "default"},
			setup: func(t *testing.T, home string) Settings {
				return Settings{Server: "https://k8s.test:6443", Token: "tok", CertificateAuthorityData: caData}
			}},
		{name: "server, token and raw PEM CA alone",
			want: want{host: "https://k8s.test:6443", token: "tok", caData: ca.pem, namespace: "ns"},
			setup: func(t *testing.T, home string) Settings {
				return Settings{Server: "https://k8s.test:6443", Token: "tok", CertificateAuthorityData: string(ca.pem), Namespace: "ns"}
			}},
		{name: "server and insecure alone",
			want: want{host: "https://k8s.test:6443", token: "tok", insecure: true, namespace: "default"},
			setup: func(t *testing.T, home string) Settings {
				return Settings{Server: "https://k8s.test:6443", Token: "tok", InsecureSkipTLSVerify: true}
			}},
		{name: "server alone ignores the runner's kubeconfig",
			want: want{host: "https://k8s.test:6443", token: "tok", namespace: "default"},
			setup: func(t *testing.T, home string) Settings {
				writeFile(t, filepath.Join(home, ".kube", "config"), yaml)
				return Settings{Server: "https://k8s.test:6443", Token: "tok"}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := isolateEnv(t)
			s := tt.setup(t, home)
			cfg, namespace, err := s.ClientConfig("v1.2.3")
			if err != nil {
				t.Fatalf("ClientConfig: %v", err)
			}
			if cfg.Host != tt.want.host {
				t.Errorf("host = %q, want %q", cfg.Host, tt.want.host)
			}
			if cfg.BearerToken != tt.want.token {
				t.Errorf("token = %q, want %q", cfg.BearerToken, tt.want.token)
			}
			if !bytes.Equal(cfg.CAData, tt.want.caData) {
				t.Errorf("CA data = %q, want %q", cfg.CAData, tt.want.caData)
			}
			if cfg.Insecure != tt.want.insecure {
				t.Errorf("insecure = %v, want %v", cfg.Insecure, tt.want.insecure)
			}
			if namespace != tt.want.namespace {
				t.Errorf("namespace = %q, want %q", namespace, tt.want.namespace)
			}
			if cfg.QPS >= 0 {
				t.Errorf("QPS = %v, want negative: no client-side rate limit", cfg.QPS)
			}
			if cfg.UserAgent != "kube-release/v1.2.3" {
				t.Errorf("user agent = %q, want kube-release/v1.2.3", cfg.UserAgent)
			}
		})
	}
}

func TestClientConfigResolvesRelativePaths(t *testing.T) {
	isolateEnv(t)
	ca := newTestCA(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "certs", "ca.crt"), string(ca.pem))
	path := writeFile(t, filepath.Join(dir, "config"), `apiVersion: v1
kind: Config
current-context: c
clusters:
- name: c
  cluster: {server: "https://k8s.test", certificate-authority: certs/ca.crt}
contexts:
- name: c
  context: {cluster: c, user: u}
users:
- name: u
  user: {token: tok}
`)
	s := Settings{Kubeconfig: path}
	cfg, _, err := s.ClientConfig("")
	if err != nil {
		t.Fatalf("ClientConfig: %v", err)
	}
	if want := filepath.Join(dir, "certs", "ca.crt"); cfg.CAFile != want {
		t.Errorf("CA file = %q, want %q (relative to the kubeconfig)", cfg.CAFile, want)
	}
	if cfg.UserAgent != "kube-release/unknown" {
		t.Errorf("user agent = %q, want kube-release/unknown", cfg.UserAgent)
	}
}

func TestClientConfigErrors(t *testing.T) {
	const secret = "sEcReT-tOkEn"
	ca := newTestCA(t)
	yaml := kubeconfigYAML(ca, "https://one.test:6443", secret)
	noContext := `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://k8s.test"}
users:
- name: u
  user: {token: ` + secret + `}
`

	tests := []struct {
		name    string
		setup   func(t *testing.T, home string) Settings
		want    string // substring of the error
		wantIs  error
		wantAll []string // further substrings
	}{
		{name: "nothing anywhere",
			setup: func(t *testing.T, home string) Settings { return Settings{} },
			want:  "no cluster connection configured: no kubeconfig found (looked for ",
			wantAll: []string{"and not running in a cluster; set PLUGIN_KUBECONFIG or PLUGIN_KUBECONFIG_DATA, or PLUGIN_SERVER with PLUGIN_TOKEN",
				filepath.Join(".kube", "config")},
			wantIs: ErrNoClusterConfig},
		{name: "token alone, not in a cluster",
			setup:  func(t *testing.T, home string) Settings { return Settings{Token: secret} },
			want:   "no cluster connection configured",
			wantIs: ErrNoClusterConfig},
		{name: "KUBECONFIG names only missing files",
			setup: func(t *testing.T, home string) Settings {
				t.Setenv("KUBECONFIG", "/nonexistent/a"+string(filepath.ListSeparator)+"/nonexistent/b")
				return Settings{}
			},
			want:   "looked for /nonexistent/a, /nonexistent/b",
			wantIs: ErrNoClusterConfig},
		{name: "missing context",
			setup: func(t *testing.T, home string) Settings {
				return Settings{KubeconfigData: Secret(yaml), Context: "three"}
			},
			want: `PLUGIN_CONTEXT: context "three" not found in PLUGIN_KUBECONFIG_DATA (it has one, two)`},
		{name: "missing context in a file",
			setup: func(t *testing.T, home string) Settings {
				path := writeFile(t, filepath.Join(home, "kc"), yaml)
				return Settings{Kubeconfig: path, Context: "three"}
			},
			want: `PLUGIN_CONTEXT: context "three" not found in kubeconfig `},
		{name: "context without any kubeconfig",
			setup: func(t *testing.T, home string) Settings {
				return Settings{Context: "prod", Server: "https://k8s.test", Token: secret}
			},
			want:   `PLUGIN_CONTEXT: context "prod" given but no kubeconfig found`,
			wantIs: ErrNoClusterConfig},
		{name: "missing kubeconfig file",
			setup: func(t *testing.T, home string) Settings {
				return Settings{Kubeconfig: filepath.Join(home, "nope")}
			},
			want:    "nope: no such file or directory",
			wantAll: []string{"PLUGIN_KUBECONFIG: "},
			wantIs:  os.ErrNotExist},
		{name: "broken kubeconfig file",
			setup: func(t *testing.T, home string) Settings {
				return Settings{Kubeconfig: writeFile(t, filepath.Join(home, "kc"), "users:\n- name: u\n  user: {token: ["+secret+"]}\n")}
			},
			want: "kc: json: cannot unmarshal array into Go struct field AuthInfo.users.user.token of type string"},
		{name: "broken home kubeconfig",
			setup: func(t *testing.T, home string) Settings {
				writeFile(t, filepath.Join(home, ".kube", "config"), "users: [\n"+secret)
				return Settings{}
			},
			want: filepath.Join(".kube", "config") + ": yaml: line 2: "},
		{name: "broken kubeconfig data",
			setup: func(t *testing.T, home string) Settings {
				return Settings{KubeconfigData: Secret("{" + secret)}
			},
			want: "PLUGIN_KUBECONFIG_DATA: not a kubeconfig (raw YAML or base64 of it): "},
		{name: "kubeconfig data that is no mapping",
			setup: func(t *testing.T, home string) Settings {
				return Settings{KubeconfigData: Secret(base64.StdEncoding.EncodeToString([]byte(secret + " is no kubeconfig")))}
			},
			want: "PLUGIN_KUBECONFIG_DATA: not a kubeconfig (raw YAML or base64 of it): the content is a YAML string, not a mapping"},
		{name: "kubeconfig without current context",
			setup: func(t *testing.T, home string) Settings {
				return Settings{KubeconfigData: Secret(noContext)}
			},
			want: "PLUGIN_KUBECONFIG_DATA: no current context and no server: set PLUGIN_CONTEXT or PLUGIN_SERVER"},
		{name: "bad CA data",
			setup: func(t *testing.T, home string) Settings {
				return Settings{Server: "https://k8s.test", Token: secret, CertificateAuthorityData: "%%%"}
			},
			want: "PLUGIN_CERTIFICATE_AUTHORITY_DATA: not base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := isolateEnv(t)
			s := tt.setup(t, home)
			cfg, _, err := s.ClientConfig("dev")
			if err == nil {
				t.Fatalf("ClientConfig = %+v, want an error", cfg)
			}
			t.Log(err)
			for _, want := range append([]string{tt.want}, tt.wantAll...) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.wantIs)
			}
			if !errors.Is(err, ErrInvalidSettings) {
				t.Errorf("errors.Is(%v, ErrInvalidSettings) = false: main would not exit 2", err)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "BEGIN CERTIFICATE") {
				t.Errorf("error shows kubeconfig content or a token: %v", err)
			}
		})
	}
}

func TestDecodeKubeconfigData(t *testing.T) {
	raw := "apiVersion: v1\nkind: Config\n"
	b64 := base64.StdEncoding.EncodeToString([]byte(raw))
	tests := []struct {
		name, in, want string
	}{
		{name: "raw", in: raw, want: strings.TrimSpace(raw)},
		{name: "raw padded", in: "\n " + raw + "\n", want: strings.TrimSpace(raw)},
		{name: "base64", in: b64, want: raw},
		{name: "base64 without padding", in: strings.TrimRight(b64, "="), want: raw},
		{name: "base64 wrapped", in: b64[:10] + "\n" + b64[10:] + "\n", want: raw},
		{name: "json", in: `{"apiVersion":"v1"}`, want: `{"apiVersion":"v1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(decodeKubeconfigData(tt.in)); got != tt.want {
				t.Errorf("decodeKubeconfigData(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
