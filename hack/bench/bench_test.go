package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestSmoke runs the harness once on case a (one run of each tool) and
// case e, so that a change that breaks it fails with the other tests. It
// checks that every number was measured, not what it is: the test suite
// shares the machine with other packages' clusters.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds kube-release and starts the local control plane; runs without -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	opts, err := parseFlags([]string{"-runs", "1", "-cases", "e,a"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var out, progress bytes.Buffer
	all, err := run(ctx, opts, &out, &progress)
	if err != nil {
		t.Fatalf("the benchmark harness failed: %v\nits progress:\n%s", err, progress.String())
	}

	want := map[string]string{
		deployLegacy: "a", deploySkipDryRun: "a", deployDeclarative: "a", peerDeploy: "a",
		startVersion: "e", peerVersion: "e", startInvalid: "e", peerBadUsage: "e",
	}
	for _, s := range all {
		c, ok := want[s.Name]
		if !ok || c != s.Case {
			t.Errorf("unexpected series %q of case %s", s.Name, s.Case)
			continue
		}
		delete(want, s.Name)
		if len(s.Samples) != 1 {
			t.Errorf("%s: %d samples, want 1", s.Name, len(s.Samples))
			continue
		}
		x := s.Samples[0]
		if x.Wall <= 0 || x.CPU <= 0 || x.MaxRSS < 1<<20 {
			t.Errorf("%s: not measured: wall %s, CPU %s, RSS %d bytes", s.Name, x.Wall, x.CPU, x.MaxRSS)
		}
		switch {
		case s.Case == "e" && x.Requests != 0:
			t.Errorf("%s: %d API requests without a cluster", s.Name, x.Requests)
		case s.Case == "a" && x.Requests < appObjects:
			t.Errorf("%s: %d API requests counted, want at least one per object (%v)", s.Name, x.Requests, x.ByType)
		case s.Case == "a" && x.ByType["watch deployments"] == 0:
			t.Errorf("%s: no watch of the Deployment among its requests: %v", s.Name, x.ByType)
		}
	}
	for name := range want {
		t.Errorf("no series %q", name)
	}
	for _, part := range []string{"### (a) rolling deploy", "### (e) start-up", "### Targets", "| " + peerDeploy + " | 1 |"} {
		if !strings.Contains(out.String(), part) {
			t.Errorf("the report has no %q:\n%s", part, out.String())
		}
	}
}
