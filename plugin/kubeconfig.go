package plugin

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sirupsen/logrus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/homedir"

	"github.com/kube-release/kube-release/internal/kube"
	"github.com/kube-release/kube-release/internal/yamlerr"
)

// ErrNoClusterConfig is matched (errors.Is) when the settings and the
// environment name no cluster at all.
var ErrNoClusterConfig = errors.New("no cluster connection configured")

// No client-side rate limit (a negative QPS turns client-go's off). Its
// defaults (5 requests/s, bursts of 10), and even 50/s, make a deploy of a
// thousand objects queue in the client for tens of seconds while the API
// server idles. What bounds the load instead: kube-release never has more
// than apply.DefaultConcurrency requests of a stage in flight, and the API
// server's priority and fairness answers an overloaded moment with 429
// and Retry-After, which the client waits out and retries (kube.Backoff).
const (
	clientQPS   = -1
	clientBurst = 0
)

// ClientConfig builds the Kubernetes client configuration and the target
// namespace from the settings. The sources, first found wins:
//
//  1. kubeconfig_data (raw YAML or base64 of it);
//  2. the kubeconfig file;
//  3. server (with token, certificate_authority_data, insecure_skip_tls_verify)
//     alone, when no context is asked for;
//  4. $KUBECONFIG (a path list), else ~/.kube/config, as kubectl reads them;
//  5. the in-cluster service account.
//
// server, token, certificate_authority_data and insecure_skip_tls_verify
// override what a kubeconfig says; context picks one of its contexts. The
// namespace is the namespace setting, else the context's, else "default".
//
// TLS is verified unless insecure_skip_tls_verify (or the kubeconfig) says
// otherwise; the returned config's Insecure field tells the caller to warn.
// version goes into the User-Agent. Errors never hold the token or any
// kubeconfig content, and match ErrInvalidSettings: whatever went wrong
// lies in the connection settings or the kubeconfig they lead to, as when
// Validate finds kubeconfig_data broken.
func (s *Settings) ClientConfig(version string) (*rest.Config, string, error) {
	cfg, namespace, err := s.clientConfig()
	if err != nil {
		return nil, "", &connectionError{err: err}
	}
	cfg.QPS = clientQPS
	cfg.Burst = clientBurst
	cfg.UserAgent = userAgent(version)
	return cfg, namespace, nil
}

// NewClients builds the clients of the cluster cfg names. Their retries
// are logged at info, one line each from the second attempt: without
// them, a step against an API server that is down or restarting says
// nothing for as long as the retries last.
func NewClients(cfg *rest.Config, log logrus.FieldLogger) (*kube.Clients, error) {
	clients, err := kube.NewClients(cfg)
	if err != nil {
		return nil, err
	}
	clients.OnRetry = func(r kube.Retry) { log.Info(r.String()) }
	return clients, nil
}

// CheckCredentials runs the kubeconfig user's exec credential plugin (aws
// eks get-token, gke-gcloud-auth-plugin, kubelogin, ...) once, before the
// step, without a request to the API server, so that a plugin that is
// missing or fails is what it is: a kubeconfig that cannot be used (exit
// 2), said before the step begins, rather than the first request of the
// step failing. client-go keeps the credentials it got for the clients
// built afterwards, so the plugin does not run twice. The error, like
// ClientConfig's, matches ErrInvalidSettings; it never holds the plugin's
// output (the credentials), only client-go's account of the failure.
func CheckCredentials(cfg *rest.Config) error {
	// A token or a password given as well takes precedence: client-go then
	// never runs the plugin.
	if cfg.ExecProvider == nil || cfg.BearerToken != "" || cfg.BearerTokenFile != "" || cfg.Username != "" {
		return nil
	}
	err := func() error {
		tc, err := cfg.TransportConfig()
		if err != nil {
			return err
		}
		if tc.WrapTransport == nil {
			return nil
		}
		req, err := http.NewRequest(http.MethodGet, cfg.Host, nil)
		if err != nil {
			return err
		}
		resp, err := tc.WrapTransport(noRequest{}).RoundTrip(req)
		if err != nil {
			return err
		}
		return resp.Body.Close()
	}()
	if err != nil {
		err = fmt.Errorf("the kubeconfig user's exec credential plugin (%s): %w", cfg.ExecProvider.Command, err)
		if strings.Contains(err.Error(), "executable "+cfg.ExecProvider.Command+" not found") {
			// client-go says so only in words.
			err = fmt.Errorf("%w\n%s", err, missingPluginHint)
		}
		return &connectionError{err: err}
	}
	return nil
}

// missingPluginHint is what to do when the credential plugin is not
// there, as it never is in the kube-release image: a scratch image holds
// no aws, gcloud or kubelogin.
const missingPluginHint = `hint: the kube-release image holds no cloud CLIs. Get a token in an earlier step ` +
	`(aws eks get-token, gcloud auth print-access-token, kubelogin get-token) and pass server, token and ` +
	`certificate_authority_data instead of the kubeconfig; see "Cloud clusters" in ` + DocsURL

// noRequest answers in place of the API server, so CheckCredentials gets
// the credentials without sending them anywhere.
type noRequest struct{}

func (noRequest) RoundTrip(*http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
}

// connectionError is an error of the connection settings. Its message is
// err's; it matches ErrInvalidSettings besides what err matches.
type connectionError struct{ err error }

func (e *connectionError) Error() string   { return e.err.Error() }
func (e *connectionError) Unwrap() []error { return []error{e.err, ErrInvalidSettings} }

// explainCredentials says what the API server's bare "Unauthorized" means:
// it refused the credentials themselves, not a permission (that is
// "Forbidden", with its own explanation).
func explainCredentials(err error) error {
	if !apierrors.IsUnauthorized(err) {
		return err
	}
	return fmt.Errorf("%w: the API server did not accept the credentials; check the token or the kubeconfig's user, and whether they have expired", err)
}

func userAgent(version string) string {
	if version == "" {
		version = "unknown"
	}
	return "kube-release/" + version
}

func (s *Settings) clientConfig() (*rest.Config, string, error) {
	overrides, err := s.overrides()
	if err != nil {
		return nil, "", err
	}

	switch {
	case s.KubeconfigData != "":
		raw, err := parseKubeconfigData(s.KubeconfigData)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", envKubeconfigData, err)
		}
		return s.fromKubeconfig(raw, envKubeconfigData, overrides)

	case s.Kubeconfig != "":
		raw, err := loadKubeconfigFiles([]string{s.Kubeconfig}, true)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", envKubeconfig, err)
		}
		return s.fromKubeconfig(raw, "kubeconfig "+s.Kubeconfig, overrides)

	case s.Server != "" && s.Context == "":
		// The connection is complete without a kubeconfig. An ambient one
		// (a runner's ~/.kube/config) is ignored rather than mixed in, since
		// its user's credentials or CA would meet a server they were not for.
		return s.fromKubeconfig(clientcmdapi.NewConfig(), envServer, overrides)
	}

	files, searched := ambientKubeconfigs()
	if len(files) > 0 {
		raw, err := loadKubeconfigFiles(files, false)
		if err != nil {
			return nil, "", fmt.Errorf("kubeconfig %w", err)
		}
		return s.fromKubeconfig(raw, "kubeconfig "+strings.Join(files, string(filepath.ListSeparator)), overrides)
	}
	if s.Context != "" {
		return nil, "", fmt.Errorf("%s: context %q given but no kubeconfig found (looked for %s): %w",
			envContext, s.Context, strings.Join(searched, ", "), ErrNoClusterConfig)
	}
	return s.inCluster(searched)
}

// overrides turns the connection settings into what clientcmd lays over a
// kubeconfig, as kubectl's --server, --token and similar flags do.
func (s *Settings) overrides() (*clientcmd.ConfigOverrides, error) {
	o := &clientcmd.ConfigOverrides{}
	o.ClusterInfo.Server = s.Server
	o.ClusterInfo.InsecureSkipTLSVerify = bool(s.InsecureSkipTLSVerify)
	if s.CertificateAuthorityData != "" {
		ca, err := decodeCertificateAuthority(s.CertificateAuthorityData)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", envCertificateAuthorityData, err)
		}
		o.ClusterInfo.CertificateAuthorityData = ca
	}
	o.AuthInfo.Token = string(s.Token)
	o.Context.Namespace = s.Namespace
	o.CurrentContext = s.Context
	return o, nil
}

// fromKubeconfig builds the client configuration from a loaded kubeconfig,
// source naming it in errors.
func (s *Settings) fromKubeconfig(raw *clientcmdapi.Config, source string, overrides *clientcmd.ConfigOverrides) (*rest.Config, string, error) {
	if s.Context != "" {
		if _, ok := raw.Contexts[s.Context]; !ok {
			names := make([]string, 0, len(raw.Contexts))
			for name := range raw.Contexts {
				names = append(names, name)
			}
			slices.Sort(names)
			available := "it has none"
			if len(names) > 0 {
				available = "it has " + strings.Join(names, ", ")
			}
			return nil, "", fmt.Errorf("%s: context %q not found in %s (%s)", envContext, s.Context, source, available)
		}
	}

	cc := clientcmd.NewNonInteractiveClientConfig(*raw, "", overrides, nil)
	cfg, err := cc.ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			// clientcmd's own message points at KUBERNETES_MASTER, which
			// is no setting of this step.
			return nil, "", fmt.Errorf("%s: no current context and no server: set %s or %s", source, envContext, envServer)
		}
		return nil, "", fmt.Errorf("%s: %w", source, err)
	}
	namespace, _, err := cc.Namespace()
	if err != nil {
		return nil, "", fmt.Errorf("%s: namespace: %w", source, err)
	}
	return cfg, namespace, nil
}

// inCluster uses the pod's service account. Its namespace is not taken from
// the service account: a deploy step's target is rarely the namespace the
// CI pod runs in, so the default is "default", as for a kubeconfig.
func (s *Settings) inCluster(searched []string) (*rest.Config, string, error) {
	cfg, err := rest.InClusterConfig()
	if errors.Is(err, rest.ErrNotInCluster) {
		return nil, "", fmt.Errorf("%w: no kubeconfig found (looked for %s) and not running in a cluster; set %s or %s, or %s with %s",
			ErrNoClusterConfig, strings.Join(searched, ", "), envKubeconfig, envKubeconfigData, envServer, envToken)
	}
	if err != nil {
		return nil, "", fmt.Errorf("in-cluster config: %w", err)
	}
	if s.Token != "" {
		cfg.BearerToken = string(s.Token)
		cfg.BearerTokenFile = ""
	}
	if s.CertificateAuthorityData != "" {
		ca, err := decodeCertificateAuthority(s.CertificateAuthorityData)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", envCertificateAuthorityData, err)
		}
		cfg.CAData = ca
		cfg.CAFile = ""
	}
	if s.InsecureSkipTLSVerify {
		cfg.Insecure = true
		cfg.CAData = nil
		cfg.CAFile = ""
	}
	namespace := s.Namespace
	if namespace == "" {
		namespace = "default"
	}
	return cfg, namespace, nil
}

// ambientKubeconfigs returns the kubeconfig files kubectl would read that
// exist, and every place looked at for the error message. It reads KUBECONFIG
// and the home directory now rather than using clientcmd's
// RecommendedHomeFile, which is fixed when the process starts.
func ambientKubeconfigs() (existing, searched []string) {
	if list := os.Getenv(clientcmd.RecommendedConfigPathEnvVar); list != "" {
		for _, path := range filepath.SplitList(list) {
			if path != "" && !slices.Contains(searched, path) {
				searched = append(searched, path)
			}
		}
	} else if home := homedir.HomeDir(); home != "" {
		searched = append(searched, filepath.Join(home, clientcmd.RecommendedHomeDir, clientcmd.RecommendedFileName))
	}
	for _, path := range searched {
		if _, err := os.Stat(path); err == nil {
			existing = append(existing, path)
		}
	}
	return existing, searched
}

// loadKubeconfigFiles loads and merges kubeconfig files as kubectl does
// (relative paths resolved against each file's directory). Each file is
// parsed once first so that a broken one is reported by name and without its
// content, which clientcmd's own errors could quote.
func loadKubeconfigFiles(paths []string, explicit bool) (*clientcmdapi.Config, error) {
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			var pathErr *fs.PathError
			if errors.As(err, &pathErr) {
				return nil, fmt.Errorf("%s: %w", path, pathErr.Err)
			}
			return nil, fmt.Errorf("%s: cannot read it", path)
		}
		if _, err := clientcmd.Load(data); err != nil {
			return nil, fmt.Errorf("%s: %s", path, describeKubeconfigError(err, data))
		}
	}
	rules := &clientcmd.ClientConfigLoadingRules{}
	if explicit {
		rules.ExplicitPath = paths[0]
	} else {
		rules.Precedence = paths
	}
	// MigrationRules stay nil: a deploy step must not copy files around the
	// runner's home directory the way kubectl's migration does.
	raw, err := rules.Load()
	if err != nil {
		// Every file parsed above, so what is left is about files and
		// paths, which name no content.
		return nil, fmt.Errorf("%s: %w", strings.Join(paths, string(filepath.ListSeparator)), err)
	}
	return raw, nil
}

// parseKubeconfigData decodes kubeconfig_data, which CI secrets hold either
// as the YAML itself or base64-encoded (often line-wrapped) so that it fits
// a one-line secret field.
func parseKubeconfigData(data Secret) (*clientcmdapi.Config, error) {
	content := decodeKubeconfigData(string(data))
	if len(bytes.TrimSpace(content)) == 0 {
		return nil, errors.New("is empty")
	}
	raw, err := clientcmd.Load(content)
	if err != nil {
		return nil, fmt.Errorf("not a kubeconfig (raw YAML or base64 of it): %s", describeKubeconfigError(err, content))
	}
	// clientcmd takes any YAML map as a kubeconfig; one that defines
	// nothing is some other secret pasted by mistake.
	if len(raw.Clusters) == 0 && len(raw.Contexts) == 0 && len(raw.AuthInfos) == 0 {
		return nil, errors.New("not a kubeconfig (raw YAML or base64 of it): it defines no clusters, contexts or users")
	}
	return raw, nil
}

// decodeKubeconfigData tells base64 from YAML by trying to decode: YAML of a
// kubeconfig always holds ':', which base64 cannot.
func decodeKubeconfigData(data string) []byte {
	data = strings.TrimSpace(data)
	compact := strings.Join(strings.Fields(data), "")
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
		if decoded, err := enc.DecodeString(compact); err == nil {
			return decoded
		}
	}
	return []byte(data)
}

// describeKubeconfigError keeps the parts of a kubeconfig parse error that
// locate the problem (YAML line numbers, the field whose type is wrong) and
// drops the rest, which might quote the content: tokens, keys. content is
// what failed to parse.
func describeKubeconfigError(err error, content []byte) string {
	msg := err.Error()
	for _, safe := range []string{"yaml: line ", "json: cannot unmarshal ", "illegal base64 data at input byte "} {
		if i := strings.Index(msg, safe); i >= 0 {
			line, _, _ := strings.Cut(msg[i:], "\n")
			if safe == "yaml: line " {
				// go-yaml counts some lines from 0.
				return "yaml: " + yamlerr.Message(errors.New(line), content, 1)
			}
			// The document itself is no mapping: json's message names the
			// anonymous struct it wanted, which tells a user nothing.
			if what, ok := strings.CutPrefix(line, "json: cannot unmarshal "); ok && strings.Contains(what, " into Go value of type ") {
				what, _, _ = strings.Cut(what, " ")
				if what == "array" {
					what = "list"
				}
				return "the content is a YAML " + what + ", not a mapping"
			}
			return line
		}
	}
	return "not a valid kubeconfig"
}

// decodeCertificateAuthority returns the PEM of certificate_authority_data,
// which a kubeconfig holds base64-encoded; the PEM itself is accepted too,
// since people paste it.
func decodeCertificateAuthority(data string) ([]byte, error) {
	data = strings.TrimSpace(data)
	pemData := []byte(data + "\n")
	if !strings.HasPrefix(data, "-----BEGIN") {
		decoded, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(data), ""))
		if err != nil {
			return nil, errors.New("not base64: want the base64 of PEM certificates, as in a kubeconfig's certificate-authority-data")
		}
		pemData = decoded
	}
	remaining, found := pemData, false
	for {
		var block *pem.Block
		block, remaining = pem.Decode(remaining)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return nil, fmt.Errorf("holds a certificate that does not parse: %w", err)
		}
		found = true
	}
	if !found {
		return nil, errors.New("holds no PEM certificate: want the base64 of PEM certificates (-----BEGIN CERTIFICATE-----)")
	}
	return pemData, nil
}
