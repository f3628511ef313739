package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// Skip is asked about every file, however found, and a skipped file is
// neither read nor an error; Render runs on what is read, never on the
// files of a kustomization.
func TestLoadOptions(t *testing.T) {
	var asked, rendered []string
	opts := LoadOptions{
		Skip: func(path string) bool {
			asked = append(asked, path)
			return filepath.Base(path) == "config.json" || filepath.Base(path) == "job.yaml"
		},
		Render: func(path string, content []byte) ([]byte, error) {
			rendered = append(rendered, path)
			return bytes.ReplaceAll(content, []byte("nginx:1.25"), []byte("nginx:1.27")), nil
		},
	}
	nodes, err := opts.Load([]string{"testdata/load/app", "testdata/load/kustomized", "testdata/load/app/nested/job.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`testdata/load/app/deployment.yaml (document 1) Deployment apps/v1 "web"`,
		`testdata/load/app/deployment.yaml (document 2) Service v1 "web"`,
		`testdata/load/app/list.yaml (document 1, item 1) Secret v1 "web-secret"`,
		`testdata/load/app/list.yaml (document 1, item 2) Role rbac.authorization.k8s.io/v1 "web"`,
		`testdata/load/app/service.yml (document 1) ServiceAccount v1 "web"`,
		`testdata/load/kustomized (object 1) Deployment apps/v1 "kustomized"`,
	}
	if got := sources(nodes); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	wantAsked := "testdata/load/app/config.json testdata/load/app/deployment.yaml testdata/load/app/list.yaml " +
		"testdata/load/app/nested/job.yaml testdata/load/app/service.yml"
	if got := strings.Join(asked, " "); got != wantAsked {
		t.Errorf("Skip asked about %s\nwant %s", got, wantAsked)
	}
	wantRendered := "testdata/load/app/deployment.yaml testdata/load/app/list.yaml testdata/load/app/service.yml"
	if got := strings.Join(rendered, " "); got != wantRendered {
		t.Errorf("rendered %s\nwant %s", got, wantRendered)
	}
	if img := stringAt(nodes[0], "spec", "template", "spec", "containers", "[name=web]", "image"); img != "nginx:1.27" {
		t.Errorf("rendered image %q", img)
	}
}

// Render errors are reported with every other problem, and stop nothing
// else from being checked.
func TestLoadOptionsRenderErrors(t *testing.T) {
	opts := LoadOptions{Render: func(path string, content []byte) ([]byte, error) {
		if strings.HasSuffix(path, ".yml") {
			return nil, fmt.Errorf("%s: line 1: template: boom", path)
		}
		return content, nil
	}}
	_, err := opts.Load([]string{"testdata/load/app/service.yml", "testdata/load/bad/missing.yaml"})
	want := `testdata/load/app/service.yml: line 1: template: boom
testdata/load/bad/missing.yaml: document 2: missing metadata.name
testdata/load/bad/missing.yaml: document 3: missing apiVersion, kind
testdata/load/bad/missing.yaml: document 4: not a Kubernetes object`
	if err == nil || err.Error() != want {
		t.Errorf("error\n%v\nwant\n%s", err, want)
	}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		t.Errorf("error is not a joined error")
	}
}
