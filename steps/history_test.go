package steps

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kube-release/kube-release/internal/logging"
	"github.com/kube-release/kube-release/internal/release"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or writes it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it):\ngot\n%s\nwant\n%s", path, got, want)
	}
}

// historyFixture is a release name with history in both formats: legacy
// releases 1 to 3 (the first two written by Harness, so without
// kube-release's metadata), then declarative releases 4 and 5, numbered on
// from the legacy history as a move to declarative mode does.
func historyFixture() (legacy, declarative release.Store) {
	at := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	web := release.ResourceID{Kind: "Deployment", Name: "web", Namespace: "prod"}
	cache := release.ResourceID{Kind: "StatefulSet", Name: "cache", Namespace: "prod"}
	legacy = release.NewMemoryStore(
		&release.Release{Number: 1, Status: release.Succeeded,
			Resources: []release.ResourceID{{Kind: "ConfigMap", Name: "web-config-1", Namespace: "prod", Versioned: true}, web},
			Workloads: []release.Workload{{ID: web, Revision: "1"}}},
		&release.Release{Number: 2, Status: release.Failed,
			Resources: []release.ResourceID{web},
			Workloads: []release.Workload{{ID: web}}},
		&release.Release{Number: 3, Status: release.Succeeded,
			Resources: []release.ResourceID{{Kind: "ConfigMap", Name: "web-config-3", Namespace: "prod", Versioned: true}, web, cache},
			Workloads: []release.Workload{{ID: web, Revision: "3"}, {ID: cache, Revision: "2"}},
			Metadata: release.Metadata{
				Created: at("2025-03-01T10:00:00Z"),
				Images:  []string{"registry.local/web:1.3.0", "registry.local/cache:7"},
				Pipeline: release.Pipeline{Repository: "acme/web", Branch: "main", Commit: "3f2a1b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a",
					Build: "9001", BuildLink: "https://github.com/acme/web/actions/runs/9001", Event: "push", Actor: "octocat"},
			}},
	)
	declarative = release.NewMemoryStore(
		&release.Release{Number: 4, Status: release.Succeeded,
			Resources: []release.ResourceID{web, cache, {Kind: "Service", Name: "web", Namespace: "prod"}},
			Metadata: release.Metadata{
				Created:  at("2025-03-02T11:30:00Z"),
				Images:   []string{"registry.local/web:1.4.0", "registry.local/cache:7"},
				Pipeline: release.Pipeline{Repository: "acme/web", Commit: "77aa", Build: "412", BuildLink: "https://drone.acme.test/acme/web/412", Event: "tag", Actor: "dev"},
			}},
		&release.Release{Number: 5, Status: release.Failed,
			Resources: []release.ResourceID{web},
			Metadata: release.Metadata{
				Created:       at("2025-03-03T09:15:00Z"),
				FailureReason: "fail_fast",
				Images:        []string{"registry.local/web:1.5.0-rc.1"},
				Pipeline:      release.Pipeline{Build: "deploy-web-run-x7k2"},
			}},
	)
	return legacy, declarative
}

func runHistory(t *testing.T, output OutputFormat, legacy, declarative release.Store) (string, Result) {
	t.Helper()
	var buf bytes.Buffer
	no := false
	log := logging.New(&buf, logging.Options{Level: logrus.InfoLevel, Color: &no})
	env := Env{Log: log, Out: log.Out, Book: func(string, string) *release.Book { return release.NewBook(legacy, declarative) }}
	h := NewHistory(HistoryConfig{Release: "web", Namespace: "prod", Output: output, Timeout: time.Minute}, env)
	res, err := h.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return buf.String(), res
}

func TestHistoryText(t *testing.T) {
	legacy, declarative := historyFixture()
	out, res := runHistory(t, OutputText, legacy, declarative)
	golden(t, "history.txt", out)
	for key, want := range map[string]string{
		OutputRelease: "web", OutputReleaseNumber: "5", OutputStatus: "Failed",
		OutputPreviousReleaseNumber: "4", OutputReleases: "5",
	} {
		if got := output(res, key); got != want {
			t.Errorf("output %s = %q, want %q", key, got, want)
		}
	}
}

func TestHistoryJSON(t *testing.T) {
	legacy, declarative := historyFixture()
	out, _ := runHistory(t, OutputJSON, legacy, declarative)
	golden(t, "history.json", out)
	var doc HistoryJSON
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("output is not one JSON document: %v", err)
	}
	var formats []string
	for _, r := range doc.Releases {
		formats = append(formats, r.Format)
	}
	if got := strings.Join(formats, ","); got != "declarative,declarative,legacy,legacy,legacy" {
		t.Errorf("formats newest first = %s", got)
	}
}

// Each format alone, and none at all.
func TestHistoryOneFormatOrNone(t *testing.T) {
	legacy, declarative := historyFixture()
	empty := release.NewMemoryStore()

	out, res := runHistory(t, OutputText, legacy, empty)
	if !strings.Contains(out, "newest first (3)") || strings.Contains(out, "declarative") {
		t.Errorf("legacy only:\n%s", out)
	}
	if output(res, OutputPreviousReleaseNumber) != "1" {
		t.Errorf("previous of legacy 3 = %q, want 1", output(res, OutputPreviousReleaseNumber))
	}
	out, _ = runHistory(t, OutputText, empty, declarative)
	if !strings.Contains(out, "newest first (2)") || strings.Contains(out, "legacy") {
		t.Errorf("declarative only:\n%s", out)
	}
	out, res = runHistory(t, OutputText, empty, empty)
	golden(t, "history-empty.txt", out)
	if output(res, OutputReleaseNumber) != "" || output(res, OutputReleases) != "0" {
		t.Errorf("empty history outputs %v", res.Outputs)
	}
	out, _ = runHistory(t, OutputJSON, empty, empty)
	if strings.TrimSpace(out) != "{\n  \"release\": \"web\",\n  \"namespace\": \"prod\",\n  \"releases\": []\n}" {
		t.Errorf("empty JSON history:\n%s", out)
	}
}

// The history step against the cluster: two legacy releases written by
// rolling deploys, then a declarative one, read back in both formats
// without writing anything.
func TestHistoryAgainstCluster(t *testing.T) {
	f := newFixture(t)
	f.env.Pipeline = release.Pipeline{Repository: "acme/web", Commit: "0123456789abcdef", Build: "77", BuildLink: "https://ci.acme.test/77"}
	for _, dir := range []string{sampleV1, sampleV2} {
		if _, err := f.rolling(RollingConfig{Manifests: []string{dir}}); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	store := release.NewSecretStore(f.env.Clients.Typed, f.namespace, "sample")
	manifests := release.JoinManifests([]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: " + f.namespace + "}\n"))
	if err := store.Create(ctx, &release.Release{Number: 3, Status: release.Failed, Manifests: manifests,
		Metadata: release.Metadata{FailureReason: "timeout", Images: []string{"registry.local/web:3.0.0"}}}); err != nil {
		t.Fatal(err)
	}
	before, err := f.configMap("sample")
	if err != nil {
		t.Fatal(err)
	}

	f.resetLog()
	res, err := NewHistory(HistoryConfig{Release: "sample", Namespace: f.namespace, Output: OutputJSON, Timeout: time.Minute}, f.env).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var doc HistoryJSON
	if err := json.Unmarshal([]byte(f.log.String()), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, f.log.String())
	}
	var got []string
	for _, r := range doc.Releases {
		got = append(got, strconv.Itoa(r.Number)+" "+r.Status+" "+r.Format)
	}
	if want := "3 Failed declarative,2 Succeeded legacy,1 Succeeded legacy"; strings.Join(got, ",") != want {
		t.Errorf("releases %s, want %s", strings.Join(got, ","), want)
	}
	legacy2 := doc.Releases[1]
	if legacy2.Pipeline == nil || legacy2.Pipeline.Commit != "0123456789abcdef" || legacy2.Created == "" {
		t.Errorf("release 2 pipeline %+v created %q", legacy2.Pipeline, legacy2.Created)
	}
	if len(legacy2.Workloads) != 3 || legacy2.Workloads[0].Revision != "2" {
		t.Errorf("release 2 workloads %+v", legacy2.Workloads)
	}
	if doc.Releases[0].FailureReason != "timeout" || len(doc.Releases[0].Resources) != 1 {
		t.Errorf("release 3 %+v", doc.Releases[0])
	}
	if output(res, OutputPreviousReleaseNumber) != "2" {
		t.Errorf("previous %q", output(res, OutputPreviousReleaseNumber))
	}

	f.resetLog()
	if _, err := NewHistory(HistoryConfig{Release: "sample", Namespace: f.namespace, Output: OutputText, Timeout: time.Minute}, f.env).Run(ctx); err != nil {
		t.Fatal(err)
	}
	f.assertLog("newest first (3)", "declarative", "legacy", "failure:     timeout",
		"deployed by: acme/web@0123456789ab, build 77 https://ci.acme.test/77", "revision 2")

	after, err := f.configMap("sample")
	if err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != before.ResourceVersion {
		t.Error("the history step wrote the legacy history")
	}
}
