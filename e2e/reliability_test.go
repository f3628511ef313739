package e2e

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kube-release/kube-release/internal/lock"
	"github.com/kube-release/kube-release/internal/release"
	"github.com/kube-release/kube-release/internal/testcluster"

	"github.com/kube-release/kube-release/internal/kube/typed/typedtest"
)

// soak says whether to run the long loops in full (hack/soak.sh sets it);
// .ci/run runs them shortened.
func soak() bool { return os.Getenv("KUBE_RELEASE_SOAK") != "" }

func deploymentManifest(image string, extra string) string {
	return `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1` + extra + `
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: ` + image + `}]}
`
}

func adminEnv(c *testcluster.Cluster, ns string, extra map[string]string) map[string]string {
	env := map[string]string{
		"PLUGIN_KUBECONFIG": c.Kubeconfig,
		"PLUGIN_NAMESPACE":  ns,
		"PLUGIN_RELEASE":    "web",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// started is a kube-release run in the background.
type started struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	code int
}

// start runs the binary in the background and returns once a line of its
// output contains until.
func start(t *testing.T, env map[string]string, until string) *started {
	t.Helper()
	s := &started{cmd: exec.Command(binary), done: make(chan struct{})}
	s.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range env {
		s.cmd.Env = append(s.cmd.Env, k+"="+v)
	}
	pr, pw := io.Pipe()
	s.cmd.Stdout, s.cmd.Stderr = pw, pw
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	seen := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		once := sync.Once{}
		for sc.Scan() {
			s.mu.Lock()
			s.out.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if strings.Contains(sc.Text(), until) {
				once.Do(func() { close(seen) })
			}
		}
	}()
	go func() {
		err := s.cmd.Wait()
		pw.Close()
		if exit, ok := err.(*exec.ExitError); ok {
			s.code = exit.ExitCode()
		}
		close(s.done)
	}()
	select {
	case <-seen:
	case <-s.done:
		t.Fatalf("exited (%d) before %q:\n%s", s.code, until, s.output())
	case <-time.After(time.Minute):
		s.cmd.Process.Kill()
		t.Fatalf("no %q within a minute:\n%s", until, s.output())
	}
	return s
}

func (s *started) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

func (s *started) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-s.done:
		return s.code
	case <-time.After(limit):
		s.cmd.Process.Kill()
		t.Fatalf("still running after %s:\n%s", limit, s.output())
		return -1
	}
}

func legacyHistory(t *testing.T, cs kubernetes.Interface, ns, name string) release.History {
	t.Helper()
	h, err := release.NewConfigMapStore(typedtest.Wrap(cs), ns, name).List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func assertUnlocked(t *testing.T, cs kubernetes.Interface, ns, name string) {
	t.Helper()
	_, err := cs.CoordinationV1().Leases(ns).Get(context.Background(), lock.Name(name), metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("deploy lock still there after the run ended: %v", err)
	}
}

// SIGTERM during the wait: the run stops waiting, records the release
// Failed (interrupted), frees the lock and exits non-zero, every time; the
// next deploy then succeeds.
func TestInterruptDuringWait(t *testing.T) {
	c := testcluster.Shared(t)
	cs, ns := c.Clientset(t), c.Namespace(t)
	stuck := writeFile(t, "stuck.yaml", deploymentManifest("registry.local/web:does-not-exist", ""))
	good := writeFile(t, "good.yaml", deploymentManifest("registry.local/web:1", ""))

	rounds := 3
	if soak() {
		rounds = 20
	}
	for i := 1; i <= rounds; i++ {
		run := start(t, adminEnv(c, ns, map[string]string{
			"PLUGIN_STEP": "rolling", "PLUGIN_MANIFESTS": stuck, "PLUGIN_FAIL_FAST": "false", "PLUGIN_TIMEOUT": "5m",
		}), "Waiting for")
		sent := time.Now()
		if err := run.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		code := run.wait(t, 30*time.Second)
		if took := time.Since(sent); took > 10*time.Second {
			t.Errorf("round %d: took %s to stop after SIGTERM", i, took)
		}
		if code == 0 {
			t.Fatalf("round %d: exit 0 after SIGTERM:\n%s", i, run.output())
		}
		if !strings.Contains(run.output(), "recorded as Failed (interrupted)") {
			t.Errorf("round %d: output lacks the Failed record:\n%s", i, run.output())
		}
		h := legacyHistory(t, cs, ns, "web")
		if latest := h.Latest(); latest.Status != release.Failed || latest.Metadata.FailureReason != "interrupted" {
			t.Errorf("round %d: release %d is %s (%s), want Failed (interrupted)", i, latest.Number, latest.Status, latest.Metadata.FailureReason)
		}
		assertUnlocked(t, cs, ns, "web")
	}

	r := kubeRelease(t, adminEnv(c, ns, map[string]string{"PLUGIN_STEP": "rolling", "PLUGIN_MANIFESTS": good}))
	if r.code != 0 {
		t.Fatalf("deploy after the interrupted ones: exit %d\n%s", r.code, r.out)
	}
	if h := legacyHistory(t, cs, ns, "web"); h.Latest().Status != release.Succeeded || h.Latest().Number != rounds+1 {
		t.Errorf("history after recovery: newest %d %s", h.Latest().Number, h.Latest().Status)
	}
}

// A run killed outright (no chance to record anything) leaves its release
// InProgress and its lock until the lock expires; the next run then
// treats that release as failed and deploys.
func TestKilledRunIsRecoveredAfterLockExpiry(t *testing.T) {
	c := testcluster.Shared(t)
	cs, ns := c.Clientset(t), c.Namespace(t)
	defer assertUnlocked(t, cs, ns, "web")
	stuck := writeFile(t, "stuck.yaml", deploymentManifest("registry.local/web:does-not-exist", ""))
	good := writeFile(t, "good.yaml", deploymentManifest("registry.local/web:1", ""))

	run := start(t, adminEnv(c, ns, map[string]string{
		"PLUGIN_STEP": "rolling", "PLUGIN_MANIFESTS": stuck, "PLUGIN_FAIL_FAST": "false", "PLUGIN_LOCK_TTL": "5s",
	}), "Waiting for")
	run.cmd.Process.Kill()
	run.wait(t, 10*time.Second)

	held := kubeRelease(t, adminEnv(c, ns, map[string]string{"PLUGIN_STEP": "rolling", "PLUGIN_MANIFESTS": good}))
	if held.code != 1 || !strings.Contains(held.out, "is locked by") || !strings.Contains(held.out, "lock_wait") {
		t.Errorf("deploy while the dead run's lock is fresh: exit %d, want 1 naming the holder:\n%s", held.code, held.out)
	}

	r := kubeRelease(t, adminEnv(c, ns, map[string]string{"PLUGIN_STEP": "rolling", "PLUGIN_MANIFESTS": good, "PLUGIN_LOCK_WAIT": "30s"}))
	if r.code != 0 {
		t.Fatalf("deploy after the lock expired: exit %d\n%s", r.code, r.out)
	}
	for _, want := range []string{"Waiting up to 30s for the deploy lock", "Release 1 was left InProgress", "Cleaned up releases 1"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("output lacks %q:\n%s", want, r.out)
		}
	}
}

// Twenty deploys of one release at once. With lock_wait they queue and
// every one succeeds with its own number; without, one proceeds and the
// others fail at once naming the holder. Numbers are unique and
// consecutive either way: no release is lost or duplicated.
func TestConcurrentDeploys(t *testing.T) {
	c := testcluster.Shared(t)
	manifest := writeFile(t, "cm.yaml", configMapManifest)

	deployAll := func(t *testing.T, ns string, n int, extra map[string]string) []run {
		env := adminEnv(c, ns, map[string]string{"PLUGIN_STEP": "rolling", "PLUGIN_MANIFESTS": manifest})
		for k, v := range extra {
			env[k] = v
		}
		runs := make([]run, n)
		var wg sync.WaitGroup
		for i := range runs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runs[i] = kubeRelease(t, env)
			}()
		}
		wg.Wait()
		return runs
	}
	numbers := func(runs []run) []int {
		var n []int
		for _, r := range runs {
			if r.code == 0 {
				line := lineWith(r.out, "Current release number is: ")
				v, err := strconv.Atoi(strings.TrimPrefix(line, "Current release number is: "))
				if err != nil {
					t.Errorf("no release number in:\n%s", r.out)
				}
				n = append(n, v)
			}
		}
		sort.Ints(n)
		return n
	}

	t.Run("lock_wait", func(t *testing.T) {
		ns := c.Namespace(t)
		runs := deployAll(t, ns, 20, map[string]string{"PLUGIN_LOCK_WAIT": "3m"})
		got := numbers(runs)
		for i, n := range got {
			if n != i+1 {
				t.Fatalf("release numbers %v, want 1..20", got)
			}
		}
		if len(got) != 20 {
			for _, r := range runs {
				if r.code != 0 {
					t.Errorf("exit %d:\n%s", r.code, r.out)
				}
			}
			t.Fatalf("%d of 20 succeeded", len(got))
		}
		assertUnlocked(t, c.Clientset(t), ns, "web")
	})

	t.Run("fail at once", func(t *testing.T) {
		ns := c.Namespace(t)
		runs := deployAll(t, ns, 20, nil)
		got := numbers(runs)
		if len(got) == 0 {
			t.Fatal("no deploy succeeded")
		}
		for i, n := range got {
			if n != i+1 {
				t.Errorf("release numbers %v are not consecutive from 1", got)
			}
		}
		for _, r := range runs {
			if r.code != 0 && (r.code != 1 || !strings.Contains(r.out, "is locked by")) {
				t.Errorf("a refused deploy: exit %d, want 1 naming the lock holder:\n%s", r.code, r.out)
			}
		}
		h := legacyHistory(t, c.Clientset(t), ns, "web")
		if h.Latest().Number != got[len(got)-1] {
			t.Errorf("history's newest release %d, want %d", h.Latest().Number, got[len(got)-1])
		}
	})
}

func lineWith(out, prefix string) string {
	for _, l := range strings.Split(out, "\n") {
		if i := strings.Index(l, prefix); i >= 0 {
			return l[i:]
		}
	}
	return ""
}

// The API server goes away for several seconds in the middle of a wait and
// comes back: the deploy completes (or fails with a clear message), and
// the history is consistent either way: never left InProgress.
func TestAPIServerRestartDuringWait(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane of its own")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, cs := ownCluster(ctx, t)
	ownNamespace(ctx, t, cs, "restart")
	// minReadySeconds keeps the rollout going long enough to take the API
	// server away under it.
	manifest := writeFile(t, "web.yaml", deploymentManifest("registry.local/web:1", "\n  minReadySeconds: 12"))
	run := start(t, map[string]string{
		"PLUGIN_KUBECONFIG": c.Kubeconfig, "PLUGIN_NAMESPACE": "restart", "PLUGIN_RELEASE": "web",
		"PLUGIN_STEP": "rolling", "PLUGIN_MANIFESTS": manifest, "PLUGIN_TIMEOUT": "3m",
	}, "Waiting for")

	if err := c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(7 * time.Second)
	if err := c.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	code := run.wait(t, 3*time.Minute)
	out := run.output()
	h := legacyHistory(t, cs, "restart", "web")
	latest := h.Latest()
	switch {
	case code == 0 && latest.Status == release.Succeeded:
	case code != 0 && latest.Status == release.Failed && strings.Contains(out, "error"):
		t.Logf("the deploy failed cleanly: %s", lineWith(out, "error"))
	default:
		t.Errorf("exit %d with release %d %s: history inconsistent with the outcome\n%s", code, latest.Number, latest.Status, out)
	}
	if _, err := cs.CoordinationV1().Leases("restart").Get(ctx, lock.Name("web"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("lock left behind: %v", err)
	}
}

// ownCluster starts a control plane of the test's own, stopped when the
// test ends: for tests that take the API server down, which the shared
// cluster must not go through under other tests.
func ownCluster(ctx context.Context, t *testing.T) (*testcluster.Cluster, kubernetes.Interface) {
	t.Helper()
	c, err := testcluster.Start(ctx, testcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })
	cs, err := kubernetes.NewForConfig(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	return c, cs
}

// ownNamespace creates a namespace in a cluster of the test's own and
// waits until pods can be created in it.
func ownNamespace(ctx context.Context, t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, newNamespace(name), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := testcluster.WaitForServiceAccount(ctx, cs, name); err != nil {
		t.Fatal(err)
	}
}

func newNamespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}
