package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kube-release/kube-release/internal/bluegreen"
	"github.com/kube-release/kube-release/internal/manifest"
	"github.com/kube-release/kube-release/internal/release"
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

// TestColorByHand checks that the kubectl run of case f applies what
// kube-release's stage deploy does: the Deployment under the same name,
// with the same selector and pod labels, and both Services selecting the
// same colours.
func TestColorByHand(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	app, err := writeApp(filepath.Join(dir, "app"), root)
	if err != nil {
		t.Fatal(err)
	}
	bg, err := writeBlueGreenApp(filepath.Join(dir, "bluegreen"), app)
	if err != nil {
		t.Fatal(err)
	}
	for _, primary := range []release.Color{release.Green, release.Blue} {
		hand := filepath.Join(dir, "by-hand-"+string(primary))
		if err := writeBlueGreenVersion(hand, bg, "t1", primary); err != nil {
			t.Fatal(err)
		}
		got := colored(t, readNodes(t, hand))
		nodes := readNodes(t, bg)
		services, nodes, err := bluegreen.PickServices(nodes)
		if err != nil {
			t.Fatal(err)
		}
		live := bluegreen.LiveService{Name: primaryService, Exists: true, Selector: map[string]string{"app": "web", manifest.ColorLabel: string(primary)}}
		stage, err := bluegreen.PrepareStage(nodes, services, live, false)
		if err != nil {
			t.Fatal(err)
		}
		if want := colored(t, stage.Nodes); !reflect.DeepEqual(got, want) {
			t.Errorf("primary %s: by hand\n%v\nkube-release\n%v", primary, got, want)
		}
		data, err := os.ReadFile(filepath.Join(hand, "web.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), "image: registry.local/web:t1") {
			t.Errorf("primary %s: the image is not retagged:\n%s", primary, data)
		}
	}
}

func readNodes(t *testing.T, dir string) []*yaml.RNode {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var nodes []*yaml.RNode
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		n, err := kio.FromBytes(data)
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		nodes = append(nodes, n...)
	}
	return nodes
}

// colored is what the colours change of the Deployments and Services:
// their names, and their selectors and pod labels.
func colored(t *testing.T, nodes []*yaml.RNode) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, n := range nodes {
		var paths [][]string
		switch n.GetKind() {
		case "Deployment":
			paths = [][]string{{"spec", "selector", "matchLabels"}, {"spec", "template", "metadata", "labels"}}
		case "Service":
			paths = [][]string{{"spec", "selector"}}
		default:
			continue
		}
		var fields []string
		for _, p := range paths {
			v, err := n.Pipe(yaml.Lookup(p...))
			if err != nil || v == nil {
				t.Fatalf("%s/%s: no %v: %v", n.GetKind(), n.GetName(), p, err)
			}
			fields = append(fields, strings.TrimSpace(v.MustString()))
		}
		out[n.GetKind()+"/"+n.GetName()] = fields
	}
	return out
}
