package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kube-release/kube-release/internal/testcluster"
)

// A release that moves to declarative rollback keeps its legacy releases:
// legacy releases 1 and 2 succeed, enable_declarative_rollback is turned
// on, and releases 3 and 4 fail. Deploy, history and rollback then agree
// that release 2 is the last success, what a rollback returns to; release
// 4's deploy used to report none, as it read only the Secrets.
func TestMixedHistoryPreviousRelease(t *testing.T) {
	c := testcluster.Shared(t)
	r := &cellRun{cell: cell{failure: failFast, shape: oneReplica}, c: c, cs: c.Clientset(t), ns: c.Namespace(t)}
	r.deployGood(t, 1)
	r.deployGood(t, 2)

	r.declarative = true
	for v := 3; v <= 4; v++ {
		outputs := writeFile(t, fmt.Sprintf("deploy-%d.env", v), "")
		path := writeFile(t, fmt.Sprintf("v%d.yaml", v), appManifests(r.shape, v, brokenImage, false, 0, ""))
		res := kubeRelease(t, r.env("rolling", path, map[string]string{"PLUGIN_FAIL_FAST_AFTER": "2s", "DRONE_OUTPUT": outputs}))
		if res.code != 1 {
			t.Fatalf("deploy of broken version %d: exit %d, want 1\n%s", v, res.code, res.out)
		}
		got := readOutput(t, outputs)
		for _, want := range []string{fmt.Sprintf("release_number=%d\n", v), "previous_release_number=2\n", "status=Failed\n"} {
			if !strings.Contains(got, want) {
				t.Errorf("deploy of version %d: outputs lack %q:\n%s", v, want, got)
			}
		}
		for _, want := range []string{fmt.Sprintf("Current release number is: %d", v), "Previous Successful Release is 2"} {
			if !strings.Contains(res.out, want) {
				t.Errorf("deploy of version %d: log lacks %q:\n%s", v, want, res.out)
			}
		}
		if strings.Contains(res.out, "No previous successful release found.") {
			t.Errorf("deploy of version %d says it found no previous successful release", v)
		}
	}

	outputs := writeFile(t, "history.env", "")
	res := kubeRelease(t, r.env("history", "", map[string]string{"DRONE_OUTPUT": outputs}))
	if res.code != 0 {
		t.Fatalf("history: exit %d\n%s", res.code, res.out)
	}
	if got := readOutput(t, outputs); !strings.Contains(got, "release_number=4\n") || !strings.Contains(got, "previous_release_number=2\n") {
		t.Errorf("history outputs:\n%s", got)
	}

	outputs = writeFile(t, "rollback.env", "")
	res = kubeRelease(t, r.env("rollback", "", map[string]string{"DRONE_OUTPUT": outputs}))
	if res.code != 0 {
		t.Fatalf("rollback: exit %d\n%s", res.code, res.out)
	}
	if got := readOutput(t, outputs); !strings.Contains(got, "release_number=2\n") || !strings.Contains(got, "rolled_back_release_number=4\n") {
		t.Errorf("rollback outputs:\n%s", got)
	}
	if !strings.Contains(res.out, "Previous eligible Release is 2 with status Succeeded.") {
		t.Errorf("rollback log lacks its target:\n%s", res.out)
	}
	// Release 2 is legacy: its workloads are undone to its revisions, and
	// read its versioned config again.
	r.declarative = false
	r.assertOn(t, 2)
}
