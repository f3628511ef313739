// Package e2e runs the built kube-release binary against the local control
// plane with the environment a CI system gives it.
package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kube-release/kube-release/internal/testcluster"
)

// binary is the kube-release built for this test run.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kube-release-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "kube-release")
	build := exec.Command("go", "build", "-o", binary, "..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build kube-release:", err)
		os.Exit(1)
	}
	code := testcluster.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// run is one invocation of the binary.
type run struct {
	out  string
	code int
}

// kubeRelease runs the binary with exactly env (plus PATH and a HOME with no
// kubeconfig), as a CI step would.
func kubeRelease(t *testing.T, env map[string]string, args ...string) run {
	t.Helper()
	cmd := exec.CommandContext(context.Background(), binary, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	r := run{out: out.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return r
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const configMapManifest = `
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  color: blue
`

// Every way of reaching the cluster works: a kubeconfig file, kubeconfig
// data raw and base64, and server + token + CA.
func TestConnectionVariants(t *testing.T) {
	c := testcluster.Shared(t)
	kubeconfig, err := os.ReadFile(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	manifest := writeFile(t, "cm.yaml", configMapManifest)
	for name, auth := range map[string]map[string]string{
		"kubeconfig file":        {"PLUGIN_KUBECONFIG": c.Kubeconfig},
		"KUBECONFIG":             {"KUBECONFIG": c.Kubeconfig},
		"kubeconfig data raw":    {"PLUGIN_KUBECONFIG_DATA": string(kubeconfig)},
		"kubeconfig data base64": {"PLUGIN_KUBECONFIG_DATA": base64.StdEncoding.EncodeToString(kubeconfig)},
		"server token CA": {
			"PLUGIN_SERVER":                     c.Server,
			"PLUGIN_TOKEN":                      c.Token,
			"PLUGIN_CERTIFICATE_AUTHORITY_DATA": base64.StdEncoding.EncodeToString(c.CAData),
		},
	} {
		t.Run(name, func(t *testing.T) {
			ns := c.Namespace(t)
			env := map[string]string{
				"PLUGIN_STEP":      "rolling",
				"PLUGIN_RELEASE":   "app",
				"PLUGIN_NAMESPACE": ns,
				"PLUGIN_MANIFESTS": manifest,
			}
			for k, v := range auth {
				env[k] = v
			}
			r := kubeRelease(t, env)
			if r.code != 0 {
				t.Fatalf("exit %d:\n%s", r.code, r.out)
			}
			if !strings.Contains(r.out, "ConfigMap/"+ns+"/settings-1 created") {
				t.Errorf("output lacks the change set:\n%s", r.out)
			}
			if strings.Contains(r.out, c.Token) {
				t.Error("the token appears in the output")
			}
		})
	}

	t.Run("no TLS verification without the CA", func(t *testing.T) {
		r := kubeRelease(t, map[string]string{
			"PLUGIN_STEP": "rolling", "PLUGIN_RELEASE": "app", "PLUGIN_NAMESPACE": "default",
			"PLUGIN_MANIFESTS": manifest, "PLUGIN_SERVER": c.Server, "PLUGIN_TOKEN": c.Token,
		})
		if r.code != 1 || !strings.Contains(r.out, "certificate") {
			t.Errorf("exit %d, want 1 with a certificate error:\n%s", r.code, r.out)
		}
	})
}

// Invalid settings exit 2 and name every problem at once; unknown settings
// get a warning with the closest name.
func TestInvalidSettings(t *testing.T) {
	r := kubeRelease(t, map[string]string{
		"PLUGIN_STEP":      "rolling",
		"PLUGIN_RELEASE":   "Not_A_Name",
		"PLUGIN_TIMEOUT":   "soon",
		"PLUGIN_NAMESAPCE": "x",
	})
	if r.code != 2 {
		t.Fatalf("exit %d, want 2:\n%s", r.code, r.out)
	}
	for _, want := range []string{"PLUGIN_RELEASE", "PLUGIN_TIMEOUT", "PLUGIN_MANIFESTS", "did you mean PLUGIN_NAMESPACE"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("output lacks %q:\n%s", want, r.out)
		}
	}
}

func TestVersion(t *testing.T) {
	r := kubeRelease(t, nil, "--version")
	if r.code != 0 || !strings.HasPrefix(r.out, "kube-release ") {
		t.Errorf("--version: exit %d: %s", r.code, r.out)
	}
}

// A kubeconfig whose user gets its token from an exec credential plugin
// (as EKS, GKE and AKS kubeconfigs do) works, and the plugin runs once
// per step: the check before the step and the step share its credentials.
func TestExecCredentialPlugin(t *testing.T) {
	c := testcluster.Shared(t)
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	plugin := filepath.Join(dir, "get-token")
	script := "#!/bin/sh\necho run >> " + runs + "\n" +
		`echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"` + c.Token + `"}}'` + "\n"
	if err := os.WriteFile(plugin, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	kubeconfig := writeFile(t, "kubeconfig", fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: %q, certificate-authority-data: %q}
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: %s
      interactiveMode: Never
contexts:
- name: ci
  context: {cluster: c, user: u}
current-context: ci
`, c.Server, base64.StdEncoding.EncodeToString(c.CAData), plugin))
	ns := c.Namespace(t)
	r := kubeRelease(t, map[string]string{
		"PLUGIN_STEP":       "rolling",
		"PLUGIN_RELEASE":    "app",
		"PLUGIN_NAMESPACE":  ns,
		"PLUGIN_MANIFESTS":  writeFile(t, "cm.yaml", configMapManifest),
		"PLUGIN_KUBECONFIG": kubeconfig,
	})
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s", r.code, r.out)
	}
	data, err := os.ReadFile(runs)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "run\n"); n != 1 {
		t.Errorf("the plugin ran %d times, want once", n)
	}
	if strings.Contains(r.out, c.Token) {
		t.Error("the token appears in the output")
	}
}
