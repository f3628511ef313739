package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kube-release/kube-release/internal/testcluster"
)

// The diff step as a CI runs it: exit 3 with detailed_exitcode when there
// are changes, and no error line for it; 0 once applied. Then the history
// step prints one JSON document on stdout, nothing else.
func TestDiffApplyHistory(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cm.yaml"), []byte(configMapManifest), 0o644); err != nil {
		t.Fatal(err)
	}
	env := func(kv ...string) map[string]string {
		m := map[string]string{"PLUGIN_KUBECONFIG": c.Kubeconfig, "PLUGIN_NAMESPACE": ns, "PLUGIN_MANIFESTS": "."}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}

	r := runStep(t, dir, env("PLUGIN_DETAILED_EXITCODE", "true"), "diff")
	if r.code != 3 {
		t.Fatalf("diff with changes: exit %d, want 3\n%s%s", r.code, r.stdout, r.stderr)
	}
	out := r.stdout + r.stderr
	if !strings.Contains(out, "Diff: 1 to create, 0 to change, 0 unchanged") || strings.Contains(out, "error") {
		t.Errorf("diff output:\n%s", out)
	}

	runStep(t, dir, env(), "apply").mustSucceed(t)
	r = runStep(t, dir, env("PLUGIN_DETAILED_EXITCODE", "true"), "diff")
	r.mustSucceed(t)
	if !strings.Contains(r.stdout, "Diff: 0 to create, 0 to change, 1 unchanged") {
		t.Errorf("diff after apply:\n%s", r.stdout)
	}

	runStep(t, dir, env("PLUGIN_RELEASE", "app", "DRONE_BUILD_NUMBER", "12", "DRONE_REPO", "acme/app"), "rolling").mustSucceed(t)
	r = runStep(t, dir, env("PLUGIN_RELEASE", "app", "PLUGIN_OUTPUT", "json", "PLUGIN_MANIFESTS", ""), "history")
	r.mustSucceed(t)
	var doc struct {
		Releases []struct {
			Number   int    `json:"number"`
			Status   string `json:"status"`
			Format   string `json:"format"`
			Pipeline struct {
				Repository string `json:"repository"`
				Build      string `json:"build"`
			} `json:"pipeline"`
		} `json:"releases"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("history stdout is not one JSON document: %v\n%s", err, r.stdout)
	}
	if len(doc.Releases) != 1 || doc.Releases[0].Number != 1 || doc.Releases[0].Format != "legacy" ||
		doc.Releases[0].Pipeline.Repository != "acme/app" || doc.Releases[0].Pipeline.Build != "12" {
		t.Errorf("history %+v", doc)
	}
}
