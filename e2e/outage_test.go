package e2e

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// background is a run of the binary whose stdout and stderr are kept
// apart and can be waited on for a line.
type background struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	lines  chan string
	done   chan struct{}
	code   int
}

func startBackground(t *testing.T, env map[string]string) *background {
	t.Helper()
	b := &background{cmd: exec.Command(binary), lines: make(chan string, 1024), done: make(chan struct{})}
	b.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range env {
		b.cmd.Env = append(b.cmd.Env, k+"="+v)
	}
	outR, outW := io.Pipe()
	b.cmd.Stdout = outW
	b.cmd.Stderr = &lockedWriter{mu: &b.mu, w: &b.stderr}
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.cmd.Process.Kill() })
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			b.mu.Lock()
			b.stdout.WriteString(sc.Text() + "\n")
			b.mu.Unlock()
			select {
			case b.lines <- sc.Text():
			default: // nobody is waiting for lines now
			}
		}
	}()
	go func() {
		err := b.cmd.Wait()
		outW.Close()
		<-read
		if exit, ok := err.(*exec.ExitError); ok {
			b.code = exit.ExitCode()
		}
		close(b.done)
	}()
	return b
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// waitLine returns once a line of stdout holds want, from now on.
func (b *background) waitLine(t *testing.T, want string, limit time.Duration) {
	t.Helper()
	timeout := time.After(limit)
	for {
		select {
		case line := <-b.lines:
			if strings.Contains(line, want) {
				return
			}
		case <-b.done:
			t.Fatalf("exited (%d) before a line with %q:\n%s", b.code, want, b.output())
		case <-timeout:
			t.Fatalf("no line with %q within %s:\n%s", want, limit, b.output())
		}
	}
}

func (b *background) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	go func() {
		for range b.lines { // keep the reader from ever blocking
		}
	}()
	select {
	case <-b.done:
		return b.code
	case <-time.After(limit):
		t.Fatalf("still running after %s:\n%s", limit, b.output())
		return -1
	}
}

func (b *background) output() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stdout.String() + b.stderr.String()
}

// klogHeader is how klog starts a line of its own: "E1207 10:04:05.123456
// 12345 reflector.go:561] ...".
var klogHeader = regexp.MustCompile(`(?m)^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ [^ ]+:\d+\] `)

// The API server stays down longer than lock_ttl in the middle of a wait:
// the run says that its lock could not be renewed and expired, not that
// another run took it over (none did), and every line it prints during
// the outage, client-go's included, is a line of its logger, with the
// timestamp log_timestamps asks for; nothing goes raw to stderr.
func TestAPIServerOutageLongerThanLockTTL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane of its own")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	c, cs := ownCluster(ctx, t)
	ownNamespace(ctx, t, cs, "outage")
	// minReadySeconds keeps the rollout waiting for the whole test.
	manifest := writeFile(t, "web.yaml", deploymentManifest("registry.local/web:1", "\n  minReadySeconds: 600\n  progressDeadlineSeconds: 1200"))
	run := startBackground(t, map[string]string{
		"PLUGIN_KUBECONFIG": c.Kubeconfig, "PLUGIN_NAMESPACE": "outage", "PLUGIN_RELEASE": "web",
		"PLUGIN_STEP": "rolling", "PLUGIN_MANIFESTS": manifest, "PLUGIN_TIMEOUT": "4m",
		"PLUGIN_LOCK_TTL": "5s", "PLUGIN_LOG_LEVEL": "debug", "PLUGIN_LOG_TIMESTAMPS": "true",
	})
	run.waitLine(t, "Waiting for", time.Minute)

	if err := c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	// Down until the run has given the lock up: longer than lock_ttl by
	// construction, however long its renewals take to fail.
	run.waitLine(t, "deploy lock lost", 3*time.Minute)
	if err := c.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	code := run.wait(t, 3*time.Minute)

	out := run.output()
	if code != 1 {
		t.Errorf("exit %d, want 1 (a failed step)", code)
	}
	for _, want := range []string{"deploy lock lost: it could not be renewed for ", "(last error: ", "so it expired"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for _, wrong := range []string{"taken over", "another run holds"} {
		if strings.Contains(out, wrong) {
			t.Errorf("output says %q, but no other run took the lock", wrong)
		}
	}
	if stderr := run.stderr.String(); stderr != "" {
		t.Errorf("lines on stderr, outside the logger:\n%s", stderr)
	}
	if raw := klogHeader.FindAllString(out, -1); len(raw) > 0 {
		t.Errorf("raw klog lines: %q", raw)
	}
	// Before the wait the log holds entries of several lines (the
	// resource table, the rendered manifests), and the step's error at
	// the end may join several errors, one a line; in between, during
	// the outage, each entry is one line with the timestamp.
	stamp := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ `)
	_, fromWait, _ := strings.Cut(run.stdout.String(), "Waiting for")
	lines := strings.Split(strings.TrimSuffix(fromWait, "\n"), "\n")[1:]
	last := len(lines) - 1
	for last >= 0 && !stamp.MatchString(lines[last]) {
		last--
	}
	if last < 0 || !strings.Contains(lines[last], " error: rolling: ") {
		t.Errorf("the run does not end with its error")
	}
	for _, line := range lines[:max(last, 0)] {
		if !stamp.MatchString(line) {
			t.Errorf("line without the logger's timestamp: %q", line)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}
