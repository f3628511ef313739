package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kube-release/kube-release/internal/testcluster"
)

// badInput is one bad input, run end to end: the binary must exit with
// code and print the error err (or one containing every part of
// errParts, where the API server words part of it), and write nothing to
// the cluster.
type badInput struct {
	name string
	// args are the command-line arguments.
	args []string
	// env is laid over the defaults (step rolling, release app, the
	// test's namespace, the manifests in deploy/, the admin kubeconfig);
	// an empty value unsets the setting. Values, files and expectations
	// may use the placeholders of badInputFixture.expand.
	env map[string]string
	// files are written into the workspace, the directory the step runs
	// in, by path relative to it.
	files map[string]string
	// history seeds a legacy history (release 1 Failed, release 2
	// Succeeded) and the versioned ConfigMaps it records, so that a run
	// that went as far as its cleanup would show.
	history bool
	// setup creates further objects before the run (a corrupted history).
	setup func(t *testing.T, f *badInputFixture)

	code int
	// err is the error exactly as printed, after "error: ": the output
	// ends with it.
	err string
	// errParts are substrings of the last line, in order, for an error
	// that quotes the API server.
	errParts []string
	// hidden must appear nowhere in the output: a secret value.
	hidden []string
	// absentNamespaces must still not exist after the run.
	absentNamespaces []string
}

// badInputFixture is what a case runs against.
type badInputFixture struct {
	c      *testcluster.Cluster
	cs     kubernetes.Interface
	ns     string
	dir    string
	closed string // a loopback port nothing listens on
}

// expand replaces the placeholders {ns}, {absent} (a namespace that does
// not exist), {dir}, {server}, {ca}, {kubeconfig} and {closed}.
func (f *badInputFixture) expand(s string) string {
	return strings.NewReplacer(
		"{ns}", f.ns,
		// The test namespace's random suffix keeps it unique, and short.
		"{absent}", "absent-"+f.ns[strings.LastIndex(f.ns, "-")+1:],
		"{dir}", f.dir,
		"{server}", f.c.Server,
		"{ca}", base64.StdEncoding.EncodeToString(f.c.CAData),
		"{kubeconfig}", f.c.Kubeconfig,
		"{closed}", f.closed,
	).Replace(s)
}

func (f *badInputFixture) configMap(t *testing.T, cm *corev1.ConfigMap) {
	t.Helper()
	if _, err := f.cs.CoreV1().ConfigMaps(f.ns).Create(context.Background(), cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (f *badInputFixture) secret(t *testing.T, s *corev1.Secret) {
	t.Helper()
	if _, err := f.cs.CoreV1().Secrets(f.ns).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// historyConfigMap creates the legacy history ConfigMap of release app.
func historyConfigMap(data map[string]string) func(t *testing.T, f *badInputFixture) {
	return func(t *testing.T, f *badInputFixture) {
		f.configMap(t, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app"}, Data: data})
	}
}

// compressedHistory creates the legacy history ConfigMap with payload as
// the compressed history.
func compressedHistory(payload string) func(t *testing.T, f *badInputFixture) {
	return historyConfigMap(map[string]string{"releaseHistory": payload, "isReleaseHistoryCompressed": "true"})
}

// releaseSecret creates release 1 of app in declarative format, with the
// labels given over the right ones and data as the release key.
func releaseSecret(labels map[string]string, data []byte) func(t *testing.T, f *badInputFixture) {
	return func(t *testing.T, f *badInputFixture) {
		l := map[string]string{"owner": "harness", "release": "app", "release-number": "1", "status": "Succeeded"}
		for k, v := range labels {
			l[k] = v
		}
		f.secret(t, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "harness.release.app.1", Labels: l},
			Type:       "harness.io/release/v2",
			Data:       map[string][]byte{"release": data},
		})
	}
}

func gzipped(t testing.TB, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// seededHistory is the history the history option seeds: a rolling deploy
// reaching its cleanup would delete release 1 and its settings-1.
const seededHistory = `version: v1
releases:
- number: 2
  status: Succeeded
  resources:
  - {kind: ConfigMap, name: settings-2, namespace: NS, versioned: true}
- number: 1
  status: Failed
  resources:
  - {kind: ConfigMap, name: settings-1, namespace: NS, versioned: true}
`

// threeReleases is a legacy history to roll back in: 3 and 2 Failed, 1
// Succeeded.
const threeReleases = `version: v1
releases:
- number: 3
  status: Failed
- number: 2
  status: Failed
- number: 1
  status: Succeeded
`

const settingsManifest = `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  color: blue
`

// badInputs is the table. Exit 2 is invalid settings, found before the
// cluster is asked anything; exit 1 a step that failed, here always
// before it changed anything.
func badInputs() []badInput {
	app := map[string]string{"deploy/app.yaml": settingsManifest}
	const dns1123 = `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', ` +
		`and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is ` +
		`'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`
	const repairConfigMap = "to repair, fix the key or delete the ConfigMap (kubectl -n {ns} delete configmap app), which starts a new history at release 1"
	const repairSecret = "to repair, fix it or delete the Secret (kubectl -n {ns} delete secret harness.release.app.1), which removes this release from the history"
	const noSuchResource = "unknown kind: the cluster serves no such resource (check apiVersion and kind; " +
		"a custom resource needs its CustomResourceDefinition installed, or in the same manifests)"
	pruning := map[string]string{"PLUGIN_ENABLE_DECLARATIVE_ROLLBACK": "true", "PLUGIN_PRUNING": "true"}
	const mayBePruned = "pruning removes what the last successful release has and this one does not, and release 1, which may be that release, cannot be read: "
	const newestUnreadable = "release 1, the newest release, cannot be read, so it cannot be rolled back (give release_number to roll back another): "
	rollback := func(kv ...string) map[string]string {
		env := map[string]string{"PLUGIN_STEP": "rollback", "PLUGIN_MANIFESTS": ""}
		for i := 0; i+1 < len(kv); i += 2 {
			env[kv[i]] = kv[i+1]
		}
		return env
	}
	kubeconfigWithContexts := `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "{server}", certificate-authority-data: "{ca}"}
users:
- name: u
  user: {token: s3cret-kubeconfig-token}
contexts:
- name: ci
  context: {cluster: c, user: u}
- name: prod
  context: {cluster: c, user: u}
current-context: ci
`

	return []badInput{
		// --- Settings: exit 2, nothing asked of the cluster.
		{name: "release name not DNS-1123", env: map[string]string{"PLUGIN_RELEASE": "My_App"}, files: app, code: 2,
			err: "invalid settings:\n  PLUGIN_RELEASE: \"My_App\" is not a valid release name: " + dns1123},
		{name: "release name too long", env: map[string]string{"PLUGIN_RELEASE": strings.Repeat("a", 64)}, files: app, code: 2,
			err: "invalid settings:\n  PLUGIN_RELEASE: \"" + strings.Repeat("a", 64) + "\" is not a valid release name: must be no more than 63 characters (it is used as a label value)"},
		{name: "negative timeout", env: map[string]string{"PLUGIN_TIMEOUT": "-5m"}, files: app, code: 2,
			err: "invalid settings:\n  PLUGIN_TIMEOUT: must be greater than 0"},
		{name: "zero timeout", env: map[string]string{"PLUGIN_TIMEOUT": "0s"}, files: app, code: 2,
			err: "invalid settings:\n  PLUGIN_TIMEOUT: must be greater than 0"},
		{name: "garbled timeout", env: map[string]string{"PLUGIN_TIMEOUT": "ten minutes"}, files: app, code: 2,
			err: "invalid settings:\n  PLUGIN_TIMEOUT: invalid value \"ten minutes\": want a duration such as 90s, 10m or 1h30m"},
		{name: "timeout without unit", env: map[string]string{"PLUGIN_TIMEOUT": "600"}, files: app, code: 2,
			err: "invalid settings:\n  PLUGIN_TIMEOUT: invalid value \"600\": want a duration such as 90s, 10m or 1h30m"},
		{name: "unknown step", env: map[string]string{"PLUGIN_STEP": "deploy"}, files: app, code: 2,
			err: "invalid settings:\n  PLUGIN_STEP: unknown step \"deploy\": want one of rolling, rollback, apply, diff, history, bluegreen, swap, stage_scale_down, canary, canary_delete, scale, delete"},
		{name: "step given twice, differently", args: []string{"rollback"}, files: app, code: 2,
			err: "invalid settings:\n  PLUGIN_STEP: \"rolling\" conflicts with the command-line argument \"rollback\": give the step once"},
		{name: "manifests not set", env: map[string]string{"PLUGIN_MANIFESTS": ""}, code: 2,
			err: "invalid settings:\n  PLUGIN_MANIFESTS: required for step \"rolling\""},
		{name: "namespace not DNS-1123", env: map[string]string{"PLUGIN_NAMESPACE": "Prod_EU"}, files: app, code: 2,
			err: "invalid settings:\n  PLUGIN_NAMESPACE: \"Prod_EU\" is not a valid namespace: a lowercase RFC 1123 label must consist of lower case " +
				"alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', " +
				"regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"},
		{name: "malformed image override", env: map[string]string{"PLUGIN_IMAGES": "registry.local/web=:::bad"}, files: app, code: 2,
			err: "invalid settings:\n  PLUGIN_IMAGES: image override registry.local/web=:::bad: invalid image reference \":::bad\": bad repository \"::\""},
		{name: "image override without a name", env: map[string]string{"PLUGIN_IMAGES": "=nginx:1.27"}, files: app, code: 2,
			err: "invalid settings:\n  PLUGIN_IMAGES: image override =nginx:1.27: empty image reference"},
		{name: "pruning without declarative mode", env: map[string]string{"PLUGIN_PRUNING": "true"}, files: app, code: 2,
			err: "invalid settings:\n  PLUGIN_PRUNING: needs PLUGIN_ENABLE_DECLARATIVE_ROLLBACK: pruning compares with the manifests a declarative release stores"},
		{name: "values with skip_rendering", env: map[string]string{"PLUGIN_VALUES": "values.yaml", "PLUGIN_SKIP_RENDERING": "true"},
			files: map[string]string{"deploy/app.yaml": settingsManifest, "values.yaml": "a: 1\n"}, code: 2,
			err: "invalid settings:\n  PLUGIN_VALUES: not used with PLUGIN_SKIP_RENDERING: the manifests are not rendered as templates"},
		{name: "release_number zero", env: rollback("PLUGIN_RELEASE_NUMBER", "0"), code: 2,
			err: "invalid settings:\n  PLUGIN_RELEASE_NUMBER: must be greater than 0"},
		{name: "release_number garbled", env: rollback("PLUGIN_RELEASE_NUMBER", "latest"), code: 2,
			err: "invalid settings:\n  PLUGIN_RELEASE_NUMBER: invalid value \"latest\": want a whole number"},
		{name: "rollback_to not older than release_number", env: rollback("PLUGIN_RELEASE_NUMBER", "2", "PLUGIN_ROLLBACK_TO", "3"), code: 2,
			err: "invalid settings:\n  PLUGIN_ROLLBACK_TO: 3 must be lower than PLUGIN_RELEASE_NUMBER (2): a rollback returns to an older release"},
		{name: "server not an https URL", env: map[string]string{"PLUGIN_KUBECONFIG": "", "PLUGIN_SERVER": "ftp://k8s.example.com", "PLUGIN_TOKEN": "s3cret-token"}, files: app, code: 2,
			err: "invalid settings:\n  PLUGIN_SERVER: \"ftp://k8s.example.com\" is not an http or https URL: want https://host[:port]", hidden: []string{"s3cret-token"}},
		{name: "CA data not base64", env: map[string]string{"PLUGIN_CERTIFICATE_AUTHORITY_DATA": "%%not-base64%%"}, files: app, code: 2,
			err: "invalid settings:\n  PLUGIN_CERTIFICATE_AUTHORITY_DATA: not base64: want the base64 of PEM certificates, as in a kubeconfig's certificate-authority-data"},
		{name: "kubeconfig data neither base64 nor YAML", env: map[string]string{"PLUGIN_KUBECONFIG": "", "PLUGIN_KUBECONFIG_DATA": "s3cret-kubeconfig-value !!"}, files: app, code: 2,
			err:    "invalid settings:\n  PLUGIN_KUBECONFIG_DATA: not a kubeconfig (raw YAML or base64 of it): the content is a YAML string, not a mapping",
			hidden: []string{"s3cret-kubeconfig-value"}},
		{name: "kubeconfig data base64 of broken YAML",
			env:   map[string]string{"PLUGIN_KUBECONFIG": "", "PLUGIN_KUBECONFIG_DATA": b64([]byte("apiVersion: v1\nusers: [{name: u, user: {token: s3cret-kc-token}\n"))},
			files: app, code: 2,
			err:    "invalid settings:\n  PLUGIN_KUBECONFIG_DATA: not a kubeconfig (raw YAML or base64 of it): yaml: line 2: did not find expected ',' or '}'",
			hidden: []string{"s3cret-kc-token"}},
		{name: "kubeconfig and kubeconfig data both", env: map[string]string{"PLUGIN_KUBECONFIG_DATA": kubeconfigWithContexts}, files: app, code: 2,
			err: "invalid settings:\n  PLUGIN_KUBECONFIG_DATA: cannot be combined with PLUGIN_KUBECONFIG: give one of them", hidden: []string{"s3cret-kubeconfig-token"}},
		{name: "kubeconfig file that does not parse", env: map[string]string{"PLUGIN_KUBECONFIG": "ci/kubeconfig"},
			files: map[string]string{"deploy/app.yaml": settingsManifest, "ci/kubeconfig": "apiVersion: v1\nusers:\n- name: u\n  user:\n    token: s3cret-file-token\n   bad: indentation\n"},
			code:  2, err: "PLUGIN_KUBECONFIG: ci/kubeconfig: yaml: line 6: did not find expected key", hidden: []string{"s3cret-file-token"}},
		{name: "kubeconfig file missing", env: map[string]string{"PLUGIN_KUBECONFIG": "ci/kubeconfig"}, files: app, code: 2,
			err: "PLUGIN_KUBECONFIG: ci/kubeconfig: no such file or directory"},
		{name: "context that does not exist", env: map[string]string{"PLUGIN_KUBECONFIG": "", "PLUGIN_KUBECONFIG_DATA": kubeconfigWithContexts, "PLUGIN_CONTEXT": "staging"},
			files: app, code: 2,
			err: "PLUGIN_CONTEXT: context \"staging\" not found in PLUGIN_KUBECONFIG_DATA (it has ci, prod)", hidden: []string{"s3cret-kubeconfig-token"}},

		// The plugin's own status (7) is not kube-release's exit code.
		{name: "exec credential plugin that fails", env: map[string]string{"PLUGIN_KUBECONFIG": "ci/kubeconfig"},
			files: map[string]string{"deploy/app.yaml": settingsManifest, "ci/kubeconfig": `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "{server}", certificate-authority-data: "{ca}"}
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: /bin/sh
      args: [-c, "exit 7"]
      interactiveMode: Never
contexts:
- name: ci
  context: {cluster: c, user: u}
current-context: ci
`},
			code: 2, err: "the kubeconfig user's exec credential plugin (/bin/sh): getting credentials: exec: executable /bin/sh failed with exit code 7"},

		// --- Connection: exit 1.
		{name: "unreachable server", env: map[string]string{"PLUGIN_KUBECONFIG": "", "PLUGIN_SERVER": "https://{closed}", "PLUGIN_TOKEN": "s3cret-token",
			"PLUGIN_CERTIFICATE_AUTHORITY_DATA": "{ca}", "PLUGIN_TIMEOUT": "10s"}, files: app, code: 1,
			errParts: []string{"rolling: ", "dial tcp {closed}: connect: connection refused"}, hidden: []string{"s3cret-token"}},
		{name: "invalid token", env: map[string]string{"PLUGIN_KUBECONFIG": "", "PLUGIN_SERVER": "{server}", "PLUGIN_TOKEN": "s3cret-expired-token",
			"PLUGIN_CERTIFICATE_AUTHORITY_DATA": "{ca}"}, files: app, code: 1,
			errParts: []string{"rolling: ", ": Unauthorized: the API server did not accept the credentials; check the token or the kubeconfig's user, and whether they have expired"},
			hidden:   []string{"s3cret-expired-token"}},

		// --- Manifests: exit 1, before anything is written.
		{name: "YAML with bad indentation", history: true,
			files: map[string]string{"deploy/app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n   namespace: x\n"},
			code:  1, err: "rolling: deploy/app.yaml: document 1: line 5: mapping values are not allowed in this context"},
		{name: "YAML indented with a tab",
			files: map[string]string{"deploy/app.yaml": settingsManifest + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: other\n"},
			code:  1, err: "rolling: deploy/app.yaml: document 2: line 11: found character that cannot start any token"},
		{name: "YAML with an unclosed quote",
			files: map[string]string{"deploy/app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"settings\ndata:\n  color: blue\n"},
			code:  1, err: "rolling: deploy/app.yaml: document 1: line 4: found unexpected end of stream"},
		{name: "YAML flow list not closed", history: true,
			files: map[string]string{"deploy/app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  labels: {a: b\ndata: {}\n"},
			code:  1, err: "rolling: deploy/app.yaml: document 1: line 5: did not find expected ',' or '}'"},
		{name: "document without kind",
			files: map[string]string{"deploy/app.yaml": "apiVersion: v1\nmetadata:\n  name: settings\n"},
			code:  1, err: "rolling: deploy/app.yaml: document 1: missing kind"},
		{name: "document without apiVersion", history: true,
			files: map[string]string{"deploy/app.yaml": "kind: ConfigMap\nmetadata:\n  name: settings\n"},
			code:  1, err: "rolling: deploy/app.yaml: document 1: missing apiVersion"},
		{name: "document without metadata.name",
			files: map[string]string{"deploy/app.yaml": settingsManifest + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels: {app: web}\n"},
			code:  1, err: "rolling: deploy/app.yaml: document 2: missing metadata.name"},
		// kyaml's getters panicked on this one (found by FuzzLoad).
		{name: "metadata that is a list", history: true,
			files: map[string]string{"deploy/app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n- name: settings\n"},
			code:  1, err: "rolling: deploy/app.yaml: document 1: metadata is not a mapping"},
		{name: "namespace that is not a string", history: true,
			files: map[string]string{"deploy/app.yaml": strings.Replace(settingsManifest, "  name: settings\n", "  name: settings\n  namespace: [{ns}]\n", 1)},
			code:  1, err: "rolling: deploy/app.yaml: document 1: metadata.namespace is not a string"},
		{name: "annotations that are not a mapping",
			files: map[string]string{"deploy/app.yaml": strings.Replace(settingsManifest, "  name: settings\n", "  name: settings\n  annotations: owner=web\n", 1)},
			code:  1, err: "rolling: deploy/app.yaml: document 1: metadata.annotations is not a mapping"},
		{name: "document that is a list",
			files: map[string]string{"deploy/app.yaml": "- apiVersion: v1\n  kind: ConfigMap\n"},
			code:  1, err: "rolling: deploy/app.yaml: document 1: not a Kubernetes object"},
		{name: "duplicate key",
			files: map[string]string{"deploy/app.yaml": settingsManifest + "  color: green\n"},
			code:  1, err: "rolling: deploy/app.yaml: document 1: line 7: mapping key \"color\" already defined at line 6"},
		{name: "unknown kind", history: true,
			files: map[string]string{"deploy/app.yaml": settingsManifest + "---\napiVersion: v1\nkind: Gadget\nmetadata:\n  name: g\n"},
			code:  1, err: "rolling: deploy/app.yaml (document 2): Gadget v1 \"g\": " + noSuchResource},
		{name: "custom resource without its CRD",
			files: map[string]string{"deploy/app.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  size: 3\n"},
			code:  1, err: "rolling: deploy/app.yaml (document 1): Widget example.com/v1 \"w\": " + noSuchResource},
		{name: "kind in a version the cluster does not serve",
			files: map[string]string{"deploy/app.yaml": "apiVersion: apps/v2\nkind: Deployment\nmetadata:\n  name: web\n"},
			code:  1, err: "rolling: deploy/app.yaml (document 1): Deployment apps/v2 \"web\": " + noSuchResource},
		// An object may name another namespace than the target (kubectl
		// apply -n does not override it either), but one that does not
		// exist fails the dry run, which names it: nothing is created,
		// not even the namespace.
		{name: "object in a namespace that does not exist", history: true,
			files: map[string]string{"deploy/app.yaml": strings.Replace(settingsManifest, "  name: settings\n", "  name: settings\n  namespace: {absent}\n", 1)},
			code:  1, err: "rolling: dry run (nothing was changed): ConfigMap {absent}/settings-3: namespaces \"{absent}\" not found",
			absentNamespaces: []string{"{absent}"}},
		// The target namespace is not created either: a typo in it must
		// not deploy a release somewhere new.
		{name: "target namespace that does not exist", env: map[string]string{"PLUGIN_NAMESPACE": "{absent}"}, files: app,
			code: 1, err: "rolling: namespace {absent} does not exist and the manifests do not hold it: " +
				"add a Namespace named {absent} to the manifests, set create_namespace: true, or create the namespace before deploying",
			absentNamespaces: []string{"{absent}"}},
		{name: "duplicate object in two files",
			files: map[string]string{"deploy/a.yaml": settingsManifest, "deploy/b.yaml": settingsManifest},
			code:  1, err: "rolling: ConfigMap v1 \"{ns}/settings\": defined more than once: deploy/a.yaml (document 1), deploy/b.yaml (document 1)"},
		{name: "duplicate object, once with the namespace explicit", history: true,
			files: map[string]string{"deploy/app.yaml": settingsManifest + "---\n" + strings.Replace(settingsManifest, "  name: settings\n", "  name: settings\n  namespace: {ns}\n", 1)},
			code:  1, err: "rolling: ConfigMap v1 \"{ns}/settings\": defined more than once: deploy/app.yaml (document 1), deploy/app.yaml (document 2)"},
		{name: "ConfigMap over 1 MiB", history: true,
			files: map[string]string{"deploy/app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  blob: " + strings.Repeat("x", 1<<20+1) + "\n"},
			code:  1, err: "rolling: dry run (nothing was changed): ConfigMap {ns}/big-3: ConfigMap \"big-3\" is invalid: []: Too long: may not be more than 1048576 bytes"},
		{name: "Secret data not base64",
			files: map[string]string{"deploy/app.yaml": settingsManifest + "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\ndata:\n  password: hunter2-s3cret!\n"},
			code:  1, errParts: []string{"rolling: dry run (nothing was changed): Secret {ns}/creds-1: ", "illegal base64 data at input byte 7"},
			hidden: []string{"hunter2-s3cret"}},
		{name: "Secret data that is a string, not a map", env: map[string]string{"PLUGIN_LOG_LEVEL": "trace"},
			files: map[string]string{"deploy/app.yaml": settingsManifest + "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\ndata: hunter2-s3cret-string\n"},
			code:  1, errParts: []string{"rolling: dry run (nothing was changed): Secret {ns}/creds-1: ", ".data: expected map, got &{[redacted]}"},
			hidden: []string{"hunter2-s3cret"}},
		{name: "Secret stringData that is a list", env: map[string]string{"PLUGIN_LOG_LEVEL": "trace", "PLUGIN_STEP": "apply", "PLUGIN_RELEASE": ""},
			files: map[string]string{"deploy/app.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n- hunter2-s3cret-one\n- hunter2-s3cret-two\n"},
			code:  1, errParts: []string{"apply: dry run (nothing was changed): Secret {ns}/creds: ", ".stringData: expected map, got &{[[redacted] [redacted]]}"},
			hidden: []string{"hunter2-s3cret"}},
		{name: "template calling int on a Secret's value", env: map[string]string{"PLUGIN_LOG_LEVEL": "trace", "PLUGIN_VALUES": "values/prod.yaml"},
			files: map[string]string{
				"deploy/app.yaml":  "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  pin: \"{{ int .Values.db.pin }}\"\n",
				"values/prod.yaml": "db:\n  pin: hunter2-s3cret-pin\n",
			},
			code: 1, err: "rolling: deploy/app.yaml: line 6: template: int .Values.db.pin: error calling int: int: the string is not a whole number (value hidden)",
			hidden: []string{"hunter2-s3cret"}},
		{name: "Secret value that does not fit its tag", env: map[string]string{"PLUGIN_LOG_LEVEL": "debug"},
			files: map[string]string{"deploy/app.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\ntype: Opaque\nstringData:\n  user: admin\n  password: !!int hunter2-s3cret\n"},
			code:  1, err: "rolling: deploy/app.yaml: document 1: line 8: cannot decode !!str (value hidden) as a !!int",
			hidden: []string{"hunter2-s3cret"}},
		{name: "Service the API server rejects",
			files: map[string]string{"deploy/app.yaml": settingsManifest + "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector: {app: web}\n  ports:\n  - port: 99999\n"},
			code:  1, err: "rolling: dry run (nothing was changed): Service {ns}/web: Service \"web\" is invalid: " +
				"[spec.ports[0].port: Invalid value: 99999: must be between 1 and 65535, inclusive, " +
				"spec.ports[0].targetPort: Invalid value: 99999: must be between 1 and 65535, inclusive]"},
		{name: "manifests path missing", env: map[string]string{"PLUGIN_MANIFESTS": "deploy/,k8s/"}, files: app,
			code: 1, err: "rolling: k8s/: no such file or directory"},
		{name: "glob matching nothing", env: map[string]string{"PLUGIN_MANIFESTS": "deploy/*.yml"}, files: app,
			code: 1, err: "rolling: deploy/*.yml: no manifest files match"},
		{name: "directory without manifests", files: map[string]string{"deploy/README.md": "# manifests go here\n"},
			code: 1, err: "rolling: deploy: no .yaml, .yml or .json files in directory"},
		{name: "only empty documents", files: map[string]string{"deploy/app.yaml": "# nothing yet\n---\n---\n"},
			code: 1, err: "rolling: manifests deploy/: no objects found"},
		{name: "kustomization naming a missing file",
			files: map[string]string{"deploy/kustomization.yaml": "resources:\n- app.yaml\n- missing.yaml\n", "deploy/app.yaml": settingsManifest},
			code:  1, errParts: []string{"rolling: deploy: kustomize build: ", "missing.yaml"}},
		// kustomize clones a remote base with git, whose exit status (128)
		// is not kube-release's to give: a failed step exits 1. .invalid
		// never resolves, with or without a network.
		{name: "kustomization with a remote base that cannot be fetched", history: true,
			files: map[string]string{"deploy/kustomization.yaml": "resources:\n- app.yaml\n- https://kube-release.invalid/org/repo//base?ref=v1\n", "deploy/app.yaml": settingsManifest},
			code:  1, errParts: []string{"rolling: deploy/kustomization.yaml: remote resource https://kube-release.invalid/org/repo//base?ref=v1 could not be fetched (", "git"}},
		{name: "kustomization with a remote base without a scheme",
			files: map[string]string{"deploy/kustomization.yaml": "resources:\n- kube-release.invalid/org/repo/base?ref=v1\n"},
			code:  1, errParts: []string{"rolling: deploy/kustomization.yaml: remote resource kube-release.invalid/org/repo/base?ref=v1 could not be fetched ("}},
		{name: "template with a missing value", history: true, env: map[string]string{"PLUGIN_VALUES": "values/prod.yaml"},
			files: map[string]string{
				"deploy/app.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  tag: {{ .Values.image.tag }}\n",
				"values/prod.yaml": "image:\n  repository: registry.local/web\n",
			},
			code: 1, err: "rolling: deploy/app.yaml: line 6: template: .Values.image.tag: map has no entry for key \"tag\""},
		{name: "template that does not parse",
			files: map[string]string{"deploy/app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  tag: {{ .Values.tag\n"},
			code:  1, err: "rolling: deploy/app.yaml: line 7: template: unclosed action started at deploy/app.yaml:6"},
		{name: "template calling env",
			files: map[string]string{"deploy/app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  home: {{ env \"HOME\" }}\n"},
			code:  1, err: "rolling: deploy/app.yaml: line 6: template: function \"env\" not defined"},
		{name: "values file that does not parse", env: map[string]string{"PLUGIN_VALUES": "values/prod.yaml"},
			files: map[string]string{"deploy/app.yaml": settingsManifest, "values/prod.yaml": "image:\n  tag: [1.4.2\nreplicas: 3\n"},
			code:  1, err: "rolling: values values/prod.yaml: line 2: did not find expected ',' or ']'"},
		{name: "values file holding a password that does not fit its tag", env: map[string]string{"PLUGIN_VALUES": "values/prod.yaml"},
			files: map[string]string{"deploy/app.yaml": settingsManifest, "values/prod.yaml": "db:\n  password: !!float hunter2-s3cret\n"},
			code:  1, err: "rolling: values values/prod.yaml: line 2: cannot decode !!str (value hidden) as a !!float",
			hidden: []string{"hunter2-s3cret"}},
		{name: "values file missing", env: map[string]string{"PLUGIN_VALUES": "values/prod.yaml"}, files: app,
			code: 1, err: "rolling: values values/prod.yaml: no such file or directory"},
		{name: "values file that is a list", env: map[string]string{"PLUGIN_VALUES": "values/prod.yaml"},
			files: map[string]string{"deploy/app.yaml": settingsManifest, "values/prod.yaml": "- a\n- b\n"},
			code:  1, err: "rolling: values values/prod.yaml: a values file is a mapping (key: value), not a list"},
		{name: "apply step, Service the API server rejects", env: map[string]string{"PLUGIN_STEP": "apply", "PLUGIN_RELEASE": ""},
			files: map[string]string{"deploy/app.yaml": settingsManifest + "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  type: NodeIdentity\n  ports:\n  - port: 80\n"},
			code:  1, errParts: []string{"apply: dry run (nothing was changed): Service {ns}/web: Service \"web\" is invalid: spec.type: Unsupported value: \"NodeIdentity\""}},

		// --- Corrupted history: refuse, say how to repair, never rewrite.
		{name: "history not base64", setup: compressedHistory("!!not base64!!"), files: app,
			code: 1, err: "rolling: release history: configmap {ns}/app: key releaseHistory: invalid base64: illegal base64 data at input byte 0; " + repairConfigMap},
		{name: "history not gzip", setup: compressedHistory(b64([]byte("version: v1\nreleases: []\n"))), files: app,
			code: 1, err: "rolling: release history: configmap {ns}/app: key releaseHistory: invalid gzip: gzip: invalid header; " + repairConfigMap},
		{name: "history gzip cut short", setup: func(t *testing.T, f *badInputFixture) {
			z := gzipped(t, threeReleases)
			compressedHistory(b64(z[:len(z)/2]))(t, f)
		}, files: app,
			code: 1, err: "rolling: release history: configmap {ns}/app: key releaseHistory: invalid gzip: unexpected EOF; " + repairConfigMap},
		{name: "history not YAML", setup: func(t *testing.T, f *badInputFixture) {
			compressedHistory(b64(gzipped(t, "version: v1\nreleases: [\n")))(t, f)
		}, files: app,
			code: 1, err: "rolling: release history: configmap {ns}/app: key releaseHistory: line 2: did not find expected node content; " + repairConfigMap},
		{name: "history with an unknown status", setup: func(t *testing.T, f *badInputFixture) {
			compressedHistory(b64(gzipped(t, "version: v1\nreleases:\n- number: 1\n  status: Deployed\n")))(t, f)
		}, files: app,
			code: 1, err: "rolling: release history: configmap {ns}/app: key releaseHistory: releases[0]: status: \"Deployed\" is not InProgress, Succeeded or Failed (line 4); " + repairConfigMap},
		{name: "plain history of another version", setup: historyConfigMap(map[string]string{"releaseHistory": "version: v2\nreleases: []\n"}), files: app,
			code: 1, err: "rolling: release history: configmap {ns}/app: key releaseHistory: version: \"v2\" is not v1, the only version kube-release reads (line 1); " + repairConfigMap},
		{name: "plain history with a number that is not one", setup: historyConfigMap(map[string]string{"releaseHistory": "version: v1\nreleases:\n- number: two\n  status: Succeeded\n"}), files: app,
			code: 1, err: "rolling: release history: configmap {ns}/app: key releaseHistory: releases[0]: number: \"two\" is not a release number (line 3); " + repairConfigMap},
		{name: "history metadata not JSON", setup: historyConfigMap(map[string]string{"releaseHistory": threeReleases, "kubeReleaseMetadata": "{not json"}), files: app,
			code: 1, err: "rolling: release history: configmap {ns}/app: key kubeReleaseMetadata: invalid JSON: invalid character 'n' looking for beginning of object key string; " +
				"to repair, fix or remove that key; it holds only kube-release's own metadata, the release history reads fine"},
		{name: "corrupted history, rollback", env: rollback(), setup: compressedHistory("!!not base64!!"),
			code: 1, err: "rollback: release history: configmap {ns}/app: key releaseHistory: invalid base64: illegal base64 data at input byte 0; " + repairConfigMap},
		{name: "corrupted history, apply with a release", env: map[string]string{"PLUGIN_STEP": "apply"}, setup: compressedHistory(b64([]byte("this is not gzip at all"))), files: app,
			code: 1, err: "apply: legacy release history: configmap {ns}/app: key releaseHistory: invalid gzip: gzip: invalid header; " + repairConfigMap},
		// An unreadable release stops a deploy only when it needs it:
		// pruning works against the last successful release, which this
		// one may be.
		{name: "release Secret not gzip", env: pruning, setup: releaseSecret(nil, []byte("apiVersion: v1\nkind: ConfigMap\n")), files: app,
			code: 1, err: "rolling: release history: " + mayBePruned + "secret {ns}/harness.release.app.1: key release: invalid gzip: gzip: invalid header; " + repairSecret},
		{name: "release Secret with a bad number label", env: rollback(), setup: func(t *testing.T, f *badInputFixture) {
			releaseSecret(map[string]string{"release-number": "one"}, gzipped(t, settingsManifest))(t, f)
		},
			code: 1, err: "rollback: " + newestUnreadable + "secret {ns}/harness.release.app.1: label release-number: \"one\" is not a release number; " + repairSecret},
		{name: "release Secret with an unknown status", env: pruning, setup: func(t *testing.T, f *badInputFixture) {
			releaseSecret(map[string]string{"status": "Deployed"}, gzipped(t, settingsManifest))(t, f)
		}, files: app,
			code: 1, err: "rolling: release history: " + mayBePruned + "secret {ns}/harness.release.app.1: label status: \"Deployed\" is not InProgress, Succeeded or Failed; " + repairSecret},
		{name: "release Secret whose manifests are not YAML", env: rollback(), setup: func(t *testing.T, f *badInputFixture) {
			releaseSecret(nil, gzipped(t, "apiVersion: v1\nkind: [ConfigMap\n"))(t, f)
		},
			code: 1, err: "rollback: " + newestUnreadable + "secret {ns}/harness.release.app.1: key release: manifest 1: line 2: did not find expected ',' or ']'; " + repairSecret},
		// Rollback panicked re-reading these manifests, and left its lock.
		{name: "release Secret whose manifests have metadata that is a list", env: rollback(), setup: func(t *testing.T, f *badInputFixture) {
			releaseSecret(map[string]string{"status": "Failed"}, gzipped(t, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n- name: web\n"))(t, f)
		},
			code: 1, err: "rollback: " + newestUnreadable + "secret {ns}/harness.release.app.1: key release: manifest 1: metadata is a list, not a mapping (line 4); " + repairSecret},

		// --- Rollback targets.
		{name: "rollback_to a release that does not exist", env: rollback("PLUGIN_ROLLBACK_TO", "7"),
			setup: historyConfigMap(map[string]string{"releaseHistory": threeReleases}),
			code:  1, err: "rollback: rollback_to 7: release app has no such release (it has 3,2,1)"},
		{name: "rollback_to a Failed release", env: rollback("PLUGIN_ROLLBACK_TO", "2"),
			setup: historyConfigMap(map[string]string{"releaseHistory": threeReleases}),
			code:  1, err: "rollback: rollback_to 2: release 2 is Failed; only a Succeeded release can be returned to"},
		{name: "release_number that does not exist", env: rollback("PLUGIN_RELEASE_NUMBER", "9"),
			setup: historyConfigMap(map[string]string{"releaseHistory": threeReleases}),
			code:  1, err: "rollback: release_number 9: release app has no such release (it has 3,2,1)"},
		{name: "release_number without any history", env: rollback("PLUGIN_RELEASE_NUMBER", "4"),
			code: 1, err: "rollback: release_number 4: release app has no history in namespace {ns}"},
		{name: "rollback_to without any history", env: rollback("PLUGIN_ROLLBACK_TO", "1"),
			code: 1, err: "rollback: rollback_to 1: release app has no history in namespace {ns}"},
	}
}

// TestBadInput runs every bad input against the built binary and checks
// the exit code, the error, and that the cluster is exactly as before:
// same objects at the same resourceVersion and content, so no object of
// the manifests, no history record, no rewritten history and no lock left.
func TestBadInput(t *testing.T) {
	c := testcluster.Shared(t)
	closed := closedLoopbackPort(t)
	cases := badInputs()
	names := map[string]bool{}
	for _, tc := range cases {
		if names[tc.name] {
			t.Fatalf("two cases named %q", tc.name)
		}
		names[tc.name] = true
	}
	if len(cases) < 40 {
		t.Fatalf("%d bad inputs, want at least 40", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &badInputFixture{c: c, cs: c.Clientset(t), ns: c.Namespace(t), dir: t.TempDir(), closed: closed}
			for name, content := range tc.files {
				path := filepath.Join(f.dir, name)
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(f.expand(content)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tc.history {
				seedHistory(t, f)
			}
			if tc.setup != nil {
				tc.setup(t, f)
			}

			env := map[string]string{
				"PLUGIN_STEP":       "rolling",
				"PLUGIN_RELEASE":    "app",
				"PLUGIN_NAMESPACE":  f.ns,
				"PLUGIN_MANIFESTS":  "deploy/",
				"PLUGIN_KUBECONFIG": c.Kubeconfig,
			}
			for k, v := range tc.env {
				if v == "" {
					delete(env, k)
					continue
				}
				env[k] = f.expand(v)
			}

			before := takeClusterSnapshot(t, f.cs, f.ns)
			start := time.Now()
			r := runStep(t, f.dir, env, tc.args...)
			elapsed := time.Since(start)
			out := r.stdout + r.stderr

			if r.code != tc.code {
				t.Errorf("exit %d, want %d", r.code, tc.code)
			}
			if tc.err != "" {
				want := "error: " + f.expand(tc.err) + "\n"
				if !strings.HasSuffix(out, want) {
					t.Errorf("the output does not end with the error\n%s", want)
				}
			}
			if len(tc.errParts) > 0 {
				lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
				last := lines[len(lines)-1]
				rest, ok := strings.CutPrefix(last, "error: ")
				if !ok {
					t.Errorf("last line %q is no error", last)
				}
				for _, part := range tc.errParts {
					part = f.expand(part)
					i := strings.Index(rest, part)
					if i < 0 {
						t.Errorf("the error lacks %q (in this order)", part)
						break
					}
					rest = rest[i+len(part):]
				}
			}
			if n := strings.Count(out, "error: "); n != 1 {
				t.Errorf("%d error lines, want the error printed once", n)
			}
			for _, secret := range tc.hidden {
				if strings.Contains(out, secret) {
					t.Errorf("the output shows the secret %q", secret)
				}
			}
			if limit := time.Minute; elapsed > limit {
				t.Errorf("took %s, over %s", elapsed.Round(time.Second), limit)
			}

			for _, d := range before.diff(takeClusterSnapshot(t, f.cs, f.ns)) {
				t.Error(d)
			}
			for _, ns := range tc.absentNamespaces {
				ns = f.expand(ns)
				_, err := f.cs.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
				if !apierrors.IsNotFound(err) {
					t.Errorf("namespace %s: %v, want it never created", ns, err)
				}
			}
			if t.Failed() {
				t.Logf("output:\n%s", out)
			}
		})
	}
}

// seedHistory records releases 1 (Failed) and 2 (Succeeded) of app with
// their versioned ConfigMaps.
func seedHistory(t *testing.T, f *badInputFixture) {
	t.Helper()
	for _, n := range []int{1, 2} {
		f.configMap(t, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "settings-" + strconv.Itoa(n)},
			Data:       map[string]string{"color": "blue"},
		})
	}
	historyConfigMap(map[string]string{"releaseHistory": strings.ReplaceAll(seededHistory, "NS", f.ns)})(t, f)
}

// closedLoopbackPort is host:port on the loopback interface where nothing
// listens: connecting is refused at once.
func closedLoopbackPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// clusterSnapshot maps every object a step could write in a namespace
// (Kind/name) to its resourceVersion and a digest of its content.
type clusterSnapshot map[string]string

func takeClusterSnapshot(t *testing.T, cs kubernetes.Interface, ns string) clusterSnapshot {
	t.Helper()
	ctx := context.Background()
	s := clusterSnapshot{}
	add := func(kind string, meta metav1.ObjectMeta, content ...any) {
		b, err := json.Marshal(append(content, meta.Labels, meta.Annotations))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		s[kind+"/"+meta.Name] = meta.ResourceVersion + " " + hex.EncodeToString(sum[:8])
	}
	cms, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range cms.Items {
		// The controller manager publishes this one in every namespace,
		// possibly while a case runs.
		if cm.Name != "kube-root-ca.crt" {
			add("ConfigMap", cm.ObjectMeta, cm.Data, cm.BinaryData)
		}
	}
	secrets, err := cs.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, sec := range secrets.Items {
		add("Secret", sec.ObjectMeta, sec.Type, sec.Data)
	}
	services, err := cs.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range services.Items {
		add("Service", svc.ObjectMeta, svc.Spec)
	}
	deployments, err := cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deployments.Items {
		add("Deployment", d.ObjectMeta, d.Spec)
	}
	leases, err := cs.CoordinationV1().Leases(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leases.Items {
		add("Lease", l.ObjectMeta, l.Spec)
	}
	return s
}

// diff lists every object created, changed or deleted since s.
func (s clusterSnapshot) diff(after clusterSnapshot) []string {
	var keys []string
	for k := range s {
		keys = append(keys, k)
	}
	for k := range after {
		if _, ok := s[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var diffs []string
	for _, k := range keys {
		was, wasOK := s[k]
		now, nowOK := after[k]
		switch {
		case !wasOK:
			diffs = append(diffs, k+" was written: nothing may be, for a bad input")
		case !nowOK:
			diffs = append(diffs, k+" was deleted")
		case was != now:
			diffs = append(diffs, fmt.Sprintf("%s was changed (resourceVersion and digest %s, now %s): it must stay byte-identical", k, was, now))
		}
	}
	return diffs
}

// The snapshot sees what it must, so that a passing table means something.
func TestBadInputSnapshotSeesWrites(t *testing.T) {
	c := testcluster.Shared(t)
	cs := c.Clientset(t)
	ns := c.Namespace(t)
	ctx := context.Background()
	before := takeClusterSnapshot(t, cs, ns)
	cm, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app"}, Data: map[string]string{"a": "1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created := takeClusterSnapshot(t, cs, ns)
	cm.Data["a"] = "2"
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	changed := takeClusterSnapshot(t, cs, ns)
	for _, tt := range []struct {
		name string
		a, b clusterSnapshot
		want string
	}{
		{"same", before, before, ""},
		{"created", before, created, "ConfigMap/app was written"},
		{"changed", created, changed, "ConfigMap/app was changed"},
		{"deleted", created, before, "ConfigMap/app was deleted"},
	} {
		got := strings.Join(tt.a.diff(tt.b), "\n")
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("%s: diff %q, want %q", tt.name, got, tt.want)
		}
	}
}
