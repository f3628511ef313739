package e2e

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/kube-release/kube-release/internal/release"
	"github.com/kube-release/kube-release/internal/testcluster"
)

// A CI runner that loses the log stream closes the pipe the step writes
// to, here while the step waits for its workload. The step must carry on
// as if nothing happened: record the release Succeeded, free the lock and
// exit 0, so that the next deploy goes through at once.
func TestLogPipeClosedMidDeploy(t *testing.T) {
	c := testcluster.Shared(t)
	cs, ns := c.Clientset(t), c.Namespace(t)
	ctx := context.Background()

	// The pods wait for a node label that the test sets only once the pipe
	// is closed, so the step's last lines (ready, Succeeded) are written
	// to a pipe nobody reads, whatever the timing.
	label := "e2e.kube-release/logpipe-" + rand.String(6)
	manifest := writeFile(t, "web.yaml", `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      nodeSelector: {`+label+`: "yes"}
      containers: [{name: web, image: `+testcluster.GoodImage+`}]
`)
	labelNodes := func(patch string) {
		t.Helper()
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes.Items {
			if _, err := cs.CoreV1().Nodes().Patch(ctx, n.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(func() { labelNodes(`{"metadata":{"labels":{"` + label + `":null}}}`) })

	output := filepath.Join(t.TempDir(), "drone.env")
	env := adminEnv(c, ns, map[string]string{
		"PLUGIN_STEP": "rolling", "PLUGIN_MANIFESTS": manifest, "PLUGIN_FAIL_FAST": "false", "PLUGIN_TIMEOUT": "5m",
		"DRONE_OUTPUT": output,
	})
	logs, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// The write end itself, not a copy through a goroutine: the child's
	// fds 1 and 2 are the pipe, as under a CI runner.
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var seen []string
	sc := bufio.NewScanner(logs)
	for sc.Scan() {
		seen = append(seen, sc.Text())
		if strings.HasPrefix(sc.Text(), "Waiting for") {
			break
		}
	}
	logs.Close()
	if len(seen) == 0 || !strings.HasPrefix(seen[len(seen)-1], "Waiting for") {
		cmd.Process.Kill()
		t.Fatalf("the step never waited:\n%s", strings.Join(seen, "\n"))
	}
	labelNodes(`{"metadata":{"labels":{"` + label + `":"yes"}}}`)

	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				t.Fatalf("killed by %s after the log pipe closed", ws.Signal())
			}
			t.Fatalf("exit %d after the log pipe closed, want 0", exit.ExitCode())
		}
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		t.Fatal("still running 3 minutes after the log pipe closed")
	}

	h := legacyHistory(t, cs, ns, "web")
	if latest := h.Latest(); latest == nil || latest.Number != 1 || latest.Status != release.Succeeded {
		t.Fatalf("history after the run: %+v, want release 1 Succeeded", h)
	}
	if got := readOutput(t, output); !strings.Contains(got, "status=Succeeded\n") {
		t.Errorf("outputs:\n%s", got)
	}
	assertUnlocked(t, cs, ns, "web")

	r := kubeRelease(t, env)
	if r.code != 0 {
		t.Fatalf("next deploy: exit %d:\n%s", r.code, r.out)
	}
	if latest := legacyHistory(t, cs, ns, "web").Latest(); latest.Number != 2 || latest.Status != release.Succeeded {
		t.Errorf("next deploy recorded release %d %s", latest.Number, latest.Status)
	}
}
