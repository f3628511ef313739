package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/kube-release/kube-release/internal/testcluster"
)

// A dry run the API server fails still leaves the step's outputs and
// summary, as every other failure does: status Failed, and for rolling no
// release number, since no release was recorded.
func TestDryRunFailureWritesOutputs(t *testing.T) {
	c := testcluster.Shared(t)
	cs, ns := c.Clientset(t), c.Namespace(t)
	invalid := writeFile(t, "app.yaml", configMapManifest+"---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 99999\n")

	for _, tc := range []struct {
		step string
		want string // the dotenv outputs
	}{
		{"rolling", "release=web\nrelease_number=\nprevious_release_number=\nstatus=Failed\nworkloads=\nimages=\n"},
		{"apply", "status=Failed\napplied=0\nchanges=\nimages=\n"},
	} {
		t.Run(tc.step, func(t *testing.T) {
			files := t.TempDir()
			drone, github, summary := filepath.Join(files, "drone.env"), filepath.Join(files, "github_output"), filepath.Join(files, "summary.md")
			r := kubeRelease(t, adminEnv(c, ns, map[string]string{
				"PLUGIN_STEP":         tc.step,
				"PLUGIN_MANIFESTS":    invalid,
				"DRONE_OUTPUT":        drone,
				"GITHUB_OUTPUT":       github,
				"GITHUB_STEP_SUMMARY": summary,
			}))
			if r.code != 1 || !strings.Contains(r.out, "error: "+tc.step+": dry run (nothing was changed): Service "+ns+"/web") {
				t.Fatalf("exit %d, want 1 with the dry run's error:\n%s", r.code, r.out)
			}
			wantFile(t, drone, tc.want)
			wantFile(t, github, tc.want)
			md := readOutput(t, summary)
			for _, want := range []string{"❌ kube-release " + tc.step, "Failed", "dry run (nothing was changed)"} {
				if !strings.Contains(md, want) {
					t.Errorf("summary lacks %q:\n%s", want, md)
				}
			}
			if h := legacyHistory(t, cs, ns, "web"); len(h) != 0 {
				t.Errorf("history written despite the failed dry run: %+v", h)
			}
			assertUnlocked(t, cs, ns, "web")
		})
	}
}
