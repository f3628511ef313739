package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A step against an API server that is down is not silent while it
// retries: from the second attempt, each retry is a line at info (the
// default level) saying what it retries, which attempt of how many, the
// wait and why; then the step fails with the error, once, at the end.
func TestAPIServerDownSaysWhatItRetries(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane of its own")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, _ := ownCluster(ctx, t)
	if err := c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}

	r := kubeRelease(t, map[string]string{
		"PLUGIN_KUBECONFIG": c.Kubeconfig, "PLUGIN_NAMESPACE": "default", "PLUGIN_RELEASE": "web",
		"PLUGIN_STEP": "rolling", "PLUGIN_MANIFESTS": writeFile(t, "cm.yaml", configMapManifest),
	})
	if t.Failed() {
		return
	}
	defer func() {
		if t.Failed() {
			t.Logf("output:\n%s", r.out)
		}
	}()
	if r.code != 1 {
		t.Errorf("exit %d, want 1 (a failed step)", r.code)
	}
	lines := strings.Split(strings.TrimRight(r.out, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "error: rolling: ") || !strings.Contains(last, "connection refused") {
		t.Errorf("the run does not end with its error, the connection refused: %q", last)
	}
	if n := strings.Count(r.out, "error: "); n != 1 {
		t.Errorf("%d error lines, want the error printed once", n)
	}

	// The first request the step makes: every retry of it, in turn.
	retry := regexp.MustCompile(`^retrying ([A-Z]+ [^ ]+) \(attempt (\d+) of 7, next in \d+(\.\d+)?m?s\): dial tcp [^ ]+: connect: connection refused$`)
	var first string
	next := 2
	for _, line := range lines[:len(lines)-1] {
		m := retry.FindStringSubmatch(line)
		if m == nil {
			if strings.HasPrefix(line, "retrying ") {
				t.Errorf("retry line %q, want it to match %s", line, retry)
			}
			continue
		}
		if first == "" {
			first = m[1]
		}
		if m[1] == first && next <= 7 {
			if m[2] != fmt.Sprint(next) {
				t.Errorf("retry of %s: %q, want attempt %d", first, line, next)
			}
			next++
		}
		if strings.Contains(line, "?") {
			t.Errorf("retry line shows a query: %q", line)
		}
	}
	if next != 8 {
		t.Errorf("retries of the first request (%q): attempts 2 to %d told, want 2 to 7", first, next-1)
	}
}
