package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kube-release/kube-release/internal/release"
	"github.com/kube-release/kube-release/internal/testcluster"
)

// rollback_to when the newest release succeeded: the explicit rollback is
// done (a release that passed its checks but is wrong), the newest release
// is marked Failed, and the outputs say so. Without rollback_to the same
// rollback is skipped, and its outputs name no rolled-back release.
func TestRollbackToFromSucceededRelease(t *testing.T) {
	c := testcluster.Shared(t)
	for _, declarative := range []bool{false, true} {
		t.Run(fmt.Sprintf("declarative=%t", declarative), func(t *testing.T) {
			t.Parallel()
			r := &cellRun{cell: cell{declarative: declarative, shape: oneReplica}, c: c, cs: c.Clientset(t), ns: c.Namespace(t)}
			r.deployGood(t, 1)
			r.deployGood(t, 2)

			outputs := writeFile(t, "skipped.env", "")
			res := kubeRelease(t, r.env("rollback", "", map[string]string{"DRONE_OUTPUT": outputs}))
			if res.code != 0 || !strings.Contains(res.out, "No failed release found. Skipping rollback.") {
				t.Fatalf("rollback without rollback_to: exit %d\n%s", res.code, res.out)
			}
			if got := readOutput(t, outputs); !strings.Contains(got, "rolled_back_release_number=\n") || !strings.Contains(got, "status=Skipped\n") {
				t.Errorf("outputs of the skipped rollback:\n%s", got)
			}
			r.assertOn(t, 2)

			outputs = writeFile(t, "explicit.env", "")
			res = kubeRelease(t, r.env("rollback", "", map[string]string{"PLUGIN_ROLLBACK_TO": "1", "DRONE_OUTPUT": outputs}))
			if res.code != 0 {
				t.Fatalf("rollback_to 1: exit %d\n%s", res.code, res.out)
			}
			r.assertOn(t, 1)
			if got := readOutput(t, outputs); !strings.Contains(got, "release_number=1\n") || !strings.Contains(got, "rolled_back_release_number=2\n") || !strings.Contains(got, "status=Succeeded\n") {
				t.Errorf("outputs of rollback_to 1:\n%s", got)
			}
			if latest := r.history(t).Latest(); latest.Number != 2 || latest.Status != release.Failed {
				t.Errorf("after rollback_to 1 release %d is %s, want 2 Failed", latest.Number, latest.Status)
			}
			// The next deploy succeeds on top.
			r.deployGood(t, 3)
			r.assertOn(t, 3)
		})
	}
}
