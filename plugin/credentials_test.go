package plugin

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

func TestExplainCredentials(t *testing.T) {
	unauthorized := fmt.Errorf("deploy lock: %w", apierrors.NewUnauthorized("Unauthorized"))
	err := explainCredentials(unauthorized)
	want := "deploy lock: Unauthorized: the API server did not accept the credentials; check the token or the kubeconfig's user, and whether they have expired"
	if err.Error() != want {
		t.Errorf("error %q\nwant %q", err, want)
	}
	if !apierrors.IsUnauthorized(err) {
		t.Error("the explained error is no longer Unauthorized")
	}
	other := errors.New("connection refused")
	if got := explainCredentials(other); got != other {
		t.Errorf("another error changed: %v", got)
	}
}

// An exec credential plugin runs once before the step, with no request to
// the API server; one that fails is a kubeconfig that cannot be used.
func TestCheckCredentials(t *testing.T) {
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	script := func(name, body string) string {
		return writeFile(t, filepath.Join(dir, name), "#!/bin/sh\necho run >> "+runs+"\n"+body+"\n")
	}
	ok := script("ok", `echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"exec-t0ken"}}'`)
	failing := script("failing", "echo 'no session, run login' >&2; exit 7")
	for _, f := range []string{ok, failing} {
		if err := os.Chmod(f, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	config := func(command string) *rest.Config {
		// Nothing listens on the server: a request would fail.
		return &rest.Config{Host: "https://127.0.0.1:1", ExecProvider: &clientcmdapi.ExecConfig{
			APIVersion: "client.authentication.k8s.io/v1", Command: command, InteractiveMode: clientcmdapi.NeverExecInteractiveMode,
		}}
	}
	countRuns := func() int {
		data, _ := os.ReadFile(runs)
		return strings.Count(string(data), "run\n")
	}

	if err := CheckCredentials(config(ok)); err != nil {
		t.Fatalf("working plugin: %v", err)
	}
	if n := countRuns(); n != 1 {
		t.Errorf("the plugin ran %d times, want once", n)
	}

	err := CheckCredentials(config(failing))
	if !errors.Is(err, ErrInvalidSettings) {
		t.Errorf("failing plugin: %v, want an invalid-settings error", err)
	}
	want := "the kubeconfig user's exec credential plugin (" + failing + "): getting credentials: exec: executable " + failing + " failed with exit code 7"
	if err == nil || err.Error() != want {
		t.Errorf("error %q\nwant  %q", err, want)
	}
	var coder interface{ ExitCode() int }
	if errors.As(err, &coder) {
		t.Errorf("the error carries the plugin's exit code %d", coder.ExitCode())
	}

	// A plugin that is not installed, as none is in the image: exit 2,
	// with what to do instead.
	err = CheckCredentials(config("kubelogin-not-installed"))
	if !errors.Is(err, ErrInvalidSettings) || err == nil || !strings.Contains(err.Error(), "executable kubelogin-not-installed not found") ||
		!strings.Contains(err.Error(), "pass server, token and certificate_authority_data") {
		t.Errorf("missing plugin: %v", err)
	}

	before := countRuns()
	withToken := config(failing)
	withToken.BearerToken = "given-token"
	if err := CheckCredentials(withToken); err != nil {
		t.Errorf("a token given: %v, want the plugin not run", err)
	}
	if countRuns() != before {
		t.Error("the plugin ran although a token was given")
	}
	if err := CheckCredentials(&rest.Config{Host: "https://127.0.0.1:1", BearerToken: "t"}); err != nil {
		t.Errorf("no plugin: %v", err)
	}
}
