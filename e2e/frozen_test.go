package e2e

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kube-release/kube-release/internal/release"
	"github.com/kube-release/kube-release/internal/testcluster"
)

// frozenConfigMaps is how many ConfigMaps the frozen-run test deploys: an
// apply long enough to be frozen in the middle of.
const frozenConfigMaps = 300

func configMapsOf(run string) string {
	var b strings.Builder
	for i := range frozenConfigMaps {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: pad-%d}\ndata: {run: %s}\n", i, run)
	}
	return b.String()
}

// A runner frozen mid-apply (SIGSTOP) past lock_ttl: a second run takes
// the expired lock and deploys; when the first wakes up (SIGCONT) it must
// not write again, so the second run's objects and history stay as that
// run left them.
func TestFrozenRunStopsWriting(t *testing.T) {
	c := testcluster.Shared(t)
	cs, ns := c.Clientset(t), c.Namespace(t)
	env := func(run string, extra map[string]string) map[string]string {
		e := adminEnv(c, ns, map[string]string{
			"PLUGIN_STEP":                     "rolling",
			"PLUGIN_MANIFESTS":                writeFile(t, run+".yaml", configMapsOf(run)),
			"PLUGIN_SKIP_RESOURCE_VERSIONING": "true",
			"PLUGIN_LOCK_TTL":                 "5s",
		})
		for k, v := range extra {
			e[k] = v
		}
		return e
	}
	if r := kubeRelease(t, env("v0", nil)); r.code != 0 {
		t.Fatalf("first deploy: exit %d\n%s", r.code, r.out)
	}

	// Run A, frozen once its apply has written its first ConfigMap.
	r := &cellRun{c: c, cs: cs, ns: ns}
	w := r.watchData(t, "run", "a")
	a := start(t, env("a", nil), "Current release number is")
	waitFor(t, w, "ConfigMap of run A")
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.cmd.Process.Signal(syscall.SIGCONT) })

	// Run B waits for A's lease to expire, takes it and deploys.
	b := kubeRelease(t, env("b", map[string]string{"PLUGIN_LOCK_WAIT": "2m"}))
	if b.code != 0 {
		t.Fatalf("run B: exit %d\n%s", b.code, b.out)
	}
	historyVersion := func() string {
		t.Helper()
		cm, err := cs.CoreV1().ConfigMaps(ns).Get(context.Background(), "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return cm.ResourceVersion
	}
	afterB := historyVersion()

	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if code := a.wait(t, 2*time.Minute); code == 0 {
		t.Errorf("the frozen run exited 0 after losing its lock\n%s", a.output())
	}
	out := a.output()
	t.Logf("run A after waking up:\n%s", lineWith(out, "error"))
	if !strings.Contains(out, "this run stops writing") {
		t.Errorf("run A does not say why it stopped:\n%s", out)
	}

	list, err := cs.CoreV1().ConfigMaps(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var overwritten []string
	for _, cm := range list.Items {
		if strings.HasPrefix(cm.Name, "pad-") && cm.Data["run"] != "b" {
			overwritten = append(overwritten, cm.Name+"="+cm.Data["run"])
		}
	}
	if len(overwritten) > 0 {
		t.Errorf("%d of run B's ConfigMaps were overwritten after it finished: %v", len(overwritten), overwritten)
	}
	if now := historyVersion(); now != afterB {
		t.Errorf("the history was written after run B (resourceVersion %s, then %s)", afterB, now)
	}
	h := legacyHistory(t, cs, ns, "web")
	if latest := h.Latest(); latest == nil || latest.Status != release.Succeeded {
		t.Errorf("the newest release is %+v, want run B's, Succeeded", latest)
	}
}
