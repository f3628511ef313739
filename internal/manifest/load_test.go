package manifest

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

func sources(nodes []*yaml.RNode) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, Source(n)+" "+ID(n))
	}
	return out
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		want     []string
	}{
		{
			name:     "directory: recursive, sorted, hidden and non-manifest files skipped, lists expanded",
			patterns: []string{"testdata/load/app"},
			want: []string{
				`testdata/load/app/config.json (document 1) ConfigMap v1 "web-config"`,
				`testdata/load/app/deployment.yaml (document 1) Deployment apps/v1 "web"`,
				`testdata/load/app/deployment.yaml (document 2) Service v1 "web"`,
				`testdata/load/app/list.yaml (document 1, item 1) Secret v1 "web-secret"`,
				`testdata/load/app/list.yaml (document 1, item 2) Role rbac.authorization.k8s.io/v1 "web"`,
				`testdata/load/app/nested/job.yaml (document 1) Job batch/v1 "migrate"`,
				`testdata/load/app/service.yml (document 1) ServiceAccount v1 "web"`,
			},
		},
		{
			name:     "files in the order given, each read once",
			patterns: []string{"testdata/load/app/service.yml", "testdata/load/app/nested/job.yaml", "./testdata/load/app/service.yml"},
			want: []string{
				`testdata/load/app/service.yml (document 1) ServiceAccount v1 "web"`,
				`testdata/load/app/nested/job.yaml (document 1) Job batch/v1 "migrate"`,
			},
		},
		{
			name:     "glob: sorted, hidden files and non-manifests skipped, directories walked",
			patterns: []string{"testdata/load/app/*"},
			want: []string{
				`testdata/load/app/config.json (document 1) ConfigMap v1 "web-config"`,
				`testdata/load/app/deployment.yaml (document 1) Deployment apps/v1 "web"`,
				`testdata/load/app/deployment.yaml (document 2) Service v1 "web"`,
				`testdata/load/app/list.yaml (document 1, item 1) Secret v1 "web-secret"`,
				`testdata/load/app/list.yaml (document 1, item 2) Role rbac.authorization.k8s.io/v1 "web"`,
				`testdata/load/app/nested/job.yaml (document 1) Job batch/v1 "migrate"`,
				`testdata/load/app/service.yml (document 1) ServiceAccount v1 "web"`,
			},
		},
		{
			name:     "glob by extension",
			patterns: []string{"testdata/load/app/*.json", "testdata/load/app/*.yml"},
			want: []string{
				`testdata/load/app/config.json (document 1) ConfigMap v1 "web-config"`,
				`testdata/load/app/service.yml (document 1) ServiceAccount v1 "web"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes, err := Load(tt.patterns)
			if err != nil {
				t.Fatal(err)
			}
			if got := sources(nodes); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestLoadContent checks what the objects hold: JSON in block style with
// strings still quoted, empty documents and comments gone, no annotations
// left once cleaned.
func TestLoadContent(t *testing.T) {
	nodes, err := Load([]string{"testdata/load/app/config.json", "testdata/load/app/deployment.yaml", "testdata/load/app/list.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	want := `apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  enabled: "true"
  port: "8080"
  motd: |
    line 1
    line 2
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - name: web
        image: nginx:1.25
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports:
  - port: 80
---
apiVersion: v1
kind: Secret
metadata:
  name: web-secret
stringData:
  password: hunter2
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: web
`
	got, err := String(nodes)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		want     string
	}{
		{
			name:     "missing path",
			patterns: []string{"testdata/load/missing.yaml"},
			want:     "testdata/load/missing.yaml: no such file or directory",
		},
		{
			name:     "glob without match",
			patterns: []string{"testdata/load/app/*.txt"},
			want:     "testdata/load/app/*.txt: no manifest files match",
		},
		{
			name:     "glob matching only other files",
			patterns: []string{"testdata/load/app/*.md"},
			want:     "testdata/load/app/*.md: no manifest files match",
		},
		{
			name:     "bad glob",
			patterns: []string{"testdata/load/[*"},
			want:     "testdata/load/[*: syntax error in pattern",
		},
		{
			name:     "empty pattern",
			patterns: []string{""},
			want:     "empty manifest path",
		},
		{
			name:     "directory without manifests",
			patterns: []string{"testdata/load/nomanifests"},
			want:     "testdata/load/nomanifests: no .yaml, .yml or .json files in directory",
		},
		{
			name:     "kustomization that does not build",
			patterns: []string{"testdata/load/kustomize-broken"},
			want:     "testdata/load/kustomize-broken: kustomize build: " + brokenKustomization,
		},
		{
			name:     "an explicit file is read, hidden or not",
			patterns: []string{"testdata/load/app/.gitlab-ci.yml"},
			want:     "testdata/load/app/.gitlab-ci.yml: document 1: missing apiVersion, kind, metadata.name",
		},
		{
			name:     "missing fields, every document",
			patterns: []string{"testdata/load/bad/missing.yaml"},
			want: `testdata/load/bad/missing.yaml: document 2: missing metadata.name
testdata/load/bad/missing.yaml: document 3: missing apiVersion, kind
testdata/load/bad/missing.yaml: document 4: not a Kubernetes object`,
		},
		{
			name:     "malformed YAML with lines of the file, duplicate keys, list items",
			patterns: []string{"testdata/load/bad/malformed.yaml"},
			want: `testdata/load/bad/malformed.yaml: document 2: line 10: mapping values are not allowed in this context
testdata/load/bad/malformed.yaml: document 3: line 18: mapping key "key" already defined at line 17
testdata/load/bad/malformed.yaml: document 4: item 2: missing apiVersion, metadata.name`,
		},
		{
			name:     "malformed JSON",
			patterns: []string{"testdata/load/bad/malformed.json"},
			want:     "testdata/load/bad/malformed.json: line 4: invalid JSON: invalid character ',' looking for beginning of object key string",
		},
		{
			name:     "a trailing comma, which YAML would take, in JSON",
			patterns: []string{"testdata/load/bad/trailing-comma.json"},
			want:     "testdata/load/bad/trailing-comma.json: line 4: invalid JSON: invalid character '}' looking for beginning of object key string",
		},
		{
			name: "every problem at once, in pattern order",
			patterns: []string{
				"testdata/load/missing.yaml",
				"testdata/load/bad",
				"testdata/load/app",
				"testdata/load/kustomized",
				"testdata/load/kustomize-broken",
				"testdata/load/none/*.yaml",
			},
			want: `testdata/load/missing.yaml: no such file or directory
testdata/load/bad/malformed.json: line 4: invalid JSON: invalid character ',' looking for beginning of object key string
testdata/load/bad/malformed.yaml: document 2: line 10: mapping values are not allowed in this context
testdata/load/bad/malformed.yaml: document 3: line 18: mapping key "key" already defined at line 17
testdata/load/bad/malformed.yaml: document 4: item 2: missing apiVersion, metadata.name
testdata/load/bad/missing.yaml: document 2: missing metadata.name
testdata/load/bad/missing.yaml: document 3: missing apiVersion, kind
testdata/load/bad/missing.yaml: document 4: not a Kubernetes object
testdata/load/bad/trailing-comma.json: line 4: invalid JSON: invalid character '}' looking for beginning of object key string
testdata/load/kustomize-broken: kustomize build: ` + brokenKustomization + `
testdata/load/none/*.yaml: no manifest files match`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes, err := Load(tt.patterns)
			if err == nil {
				t.Fatalf("no error; loaded %v", sources(nodes))
			}
			if nodes != nil {
				t.Errorf("nodes returned with an error: %v", sources(nodes))
			}
			if err.Error() != tt.want {
				t.Errorf("error\n%s\nwant\n%s", err, tt.want)
			}
		})
	}
}

func TestLoadErrorsWrap(t *testing.T) {
	_, err := Load([]string{"testdata/load/missing.yaml", "testdata/load/kustomized"})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%v: does not wrap fs.ErrNotExist", err)
	}
}

func TestLoadSymlinkedDirectory(t *testing.T) {
	abs, err := filepath.Abs("testdata/load/app/nested")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	if err := os.Symlink(abs, "linked"); err != nil {
		t.Skip("symlinks unsupported:", err)
	}
	nodes, err := Load([]string{"linked"})
	if err != nil {
		t.Fatal(err)
	}
	want := `linked/job.yaml (document 1) Job batch/v1 "migrate"`
	if got := strings.Join(sources(nodes), "\n"); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestParseFile(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // sources, or errors
	}{
		{
			name: "empty file",
			in:   "",
		},
		{
			name: "only comments, separators and null",
			in:   "# nothing\n---\n---\n# still nothing\n---\nnull\n---\n",
		},
		{
			name: "documents counted from 1, empty ones skipped",
			in: `---
# header
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a}
---

---
apiVersion: v1
kind: ConfigMap
metadata: {name: b}
`,
			want: []string{`f.yaml (document 1) ConfigMap v1 "a"`, `f.yaml (document 2) ConfigMap v1 "b"`},
		},
		{
			name: "content on the separator line",
			in:   "--- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n--- # comment\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
			want: []string{`f.yaml (document 1) ConfigMap v1 "a"`, `f.yaml (document 2) ConfigMap v1 "b"`},
		},
		{
			name: "windows line endings",
			in:   "apiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: a\r\n---\r\napiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: b\r\n",
			want: []string{`f.yaml (document 1) ConfigMap v1 "a"`, `f.yaml (document 2) ConfigMap v1 "b"`},
		},
		{
			name: "empty list",
			in:   "apiVersion: v1\nkind: List\nitems: []\n",
		},
		{
			name: "list of another apiVersion is an object",
			in:   "apiVersion: example.com/v1\nkind: List\nmetadata: {name: l}\nitems: []\n",
			want: []string{`f.yaml (document 1) List example.com/v1 "l"`},
		},
		{
			name: "list with bad items",
			in:   "apiVersion: v1\nkind: List\nitems:\n- just a string\n- apiVersion: v1\n  kind: ConfigMap\n",
			want: []string{"f.yaml: document 1: item 1: not a Kubernetes object", "f.yaml: document 1: item 2: missing metadata.name"},
		},
		{
			name: "list items not a sequence",
			in:   "apiVersion: v1\nkind: List\nitems: {a: b}\n",
			want: []string{"f.yaml: document 1: List items is not a sequence"},
		},
		{
			name: "a sequence is not an object",
			in:   "- a\n- b\n",
			want: []string{"f.yaml: document 1: not a Kubernetes object"},
		},
		{
			name: "empty name is missing",
			in:   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"\"\n",
			want: []string{"f.yaml: document 1: missing metadata.name"},
		},
		{
			name: "parser error after a valid document",
			in:   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [a, b\n",
			want: []string{"f.yaml: document 2: line 8: did not find expected ',' or ']'"},
		},
		{
			name: "error without a line",
			in:   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: *nothing\n",
			want: []string{"f.yaml: document 1: unknown anchor 'nothing' referenced"},
		},
		{
			name: "anchors are resolved",
			in:   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: &n a\ndata:\n  name: *n\n",
			want: []string{`f.yaml (document 1) ConfigMap v1 "a"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes, errs := parseFile("f.yaml", []byte(tt.in))
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if len(errs) == 0 {
				got = sources(nodes)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
