package render

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRender(t *testing.T) {
	values := map[string]any{
		"name":     "web",
		"replicas": 3,
		"image":    map[string]any{"repository": "registry.local/web", "tag": "1.2.3"},
		"empty":    "",
		"unset":    nil,
		"resources": map[string]any{
			"limits": map[string]any{"cpu": "500m", "memory": "256Mi"},
		},
		"args":     []any{"--port", 8080},
		"password": "s3cret",
		"count":    "4",
	}
	rel := Release{Name: "shop", Namespace: "prod", Number: 7}
	tests := []struct {
		name, in, want string
	}{
		{name: "no template is left alone", in: "a: b\nc: '{ not a template }'\n", want: "a: b\nc: '{ not a template }'\n"},
		{name: "values", in: "name: {{ .Values.name }}\nimage: {{ .Values.image.repository }}:{{ .Values.image.tag }}\n",
			want: "name: web\nimage: registry.local/web:1.2.3\n"},
		{name: "release", in: "{{ .Release.Name }} {{ .Release.Namespace }} {{ .Release.Number }}", want: "shop prod 7"},
		{name: "release number in a name", in: "name: config-{{ .Release.Number }}", want: "name: config-7"},
		{name: "null renders as nothing, as in Helm", in: "a: {{ .Values.unset }}", want: "a: "},
		{name: "int, as Harness's examples use it", in: "replicas: {{int .Values.replicas}} {{ int .Values.count }}", want: "replicas: 3 4"},
		{name: "default for an empty value", in: `{{ .Values.empty | default "x" }} {{ .Values.name | default "x" }}`, want: "x web"},
		{name: "dig for an optional value",
			in:   `{{ dig "image" "pullPolicy" "IfNotPresent" .Values }} {{ dig "image" "tag" "latest" .Values }} {{ dig "no" "such" 1 .Values }}`,
			want: "IfNotPresent 1.2.3 1"},
		{name: "quote and squote", in: `{{ quote .Values.name }} {{ squote "it's" }} {{ .Values.count | quote }} {{ quote "a\"b" }}`,
			want: `"web" 'it''s' "4" "a\"b"`},
		{name: "toYaml with nindent",
			in:   "resources:{{ .Values.resources | toYaml | nindent 2 }}\n",
			want: "resources:\n  limits:\n    cpu: 500m\n    memory: 256Mi\n"},
		{name: "indent", in: "x:\n{{ \"a\\nb\" | indent 4 }}", want: "x:\n    a\n    b"},
		{name: "toJson", in: "args: {{ toJson .Values.args }}", want: `args: ["--port",8080]`},
		{name: "b64enc and b64dec", in: `{{ b64enc .Values.password }} {{ "czNjcmV0" | b64dec }}`, want: "czNjcmV0 s3cret"},
		{name: "upper lower trim", in: `{{ upper "a" }}{{ lower "B" }}{{ trim "  c  " }}`, want: "Abc"},
		{name: "required with a value", in: `{{ required "set name" .Values.name }}`, want: "web"},
		{name: "range and if", in: "{{ range .Values.args }}- {{ . }}\n{{ end }}{{ if .Values.empty }}no{{ else }}yes{{ end }}",
			want: "- --port\n- 8080\nyes"},
	}
	r := New(values, rel)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Render("app.yaml", []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// No error quotes a value: a values file holds what goes into Secrets.
// The template's own expression names the value instead.
func TestRenderErrorsHideValues(t *testing.T) {
	const secret = "hunter2-s3cret"
	values := map[string]any{
		"password": secret,
		"pin":      1234.5,
		"big":      uint64(1) << 63,
		"list":     []any{secret},
		"db":       map[string]any{"password": secret},
	}
	for _, in := range []string{
		`{{ int .Values.password }}`,
		`{{ int .Values.pin }}`,
		`{{ int .Values.big }}`,
		`{{ .Values.password | int }}`,
		`{{ b64dec .Values.password }}`,
		`{{ range .Values.password }}{{ end }}`,
		`{{ range $i, $v := .Values.pin }}{{ end }}`,
		`{{ eq .Values.db .Values.db }}`,
		`{{ ne .Values.list .Values.list }}`,
		`{{ index .Values.password 99 }}`,
		`{{ len .Values.pin }}`,
	} {
		_, err := New(values, Release{}).Render("app.yaml", []byte(in))
		if err == nil {
			t.Errorf("%s: no error", in)
			continue
		}
		for _, v := range []string{secret, "1234.5", "9223372036854775808"} {
			if strings.Contains(err.Error(), v) {
				t.Errorf("%s: the error shows the value %q: %v", in, v, err)
			}
		}
		if !strings.HasPrefix(err.Error(), "app.yaml: line 1: template: ") {
			t.Errorf("%s: the error lost its place: %v", in, err)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	values := map[string]any{"name": "web", "image": map[string]any{"tag": "1"}, "empty": ""}
	tests := []struct {
		name, in, want string
	}{
		{name: "missing value names file and line",
			in:   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.nmae }}\n",
			want: `manifests/app.yaml: line 4: template: .Values.nmae: map has no entry for key "nmae"`},
		{name: "missing nested value",
			in:   "a: 1\nb: {{ .Values.image.repository }}",
			want: `manifests/app.yaml: line 2: template: .Values.image.repository: map has no entry for key "repository"`},
		{name: "default does not hide a missing key",
			in:   `{{ .Values.replicas | default 1 }}`,
			want: `manifests/app.yaml: line 1: template: .Values.replicas: map has no entry for key "replicas"`},
		{name: "misspelt release field",
			in:   "\n\n{{ .Release.Nmae }}",
			want: `manifests/app.yaml: line 3: template: .Release.Nmae: map has no entry for key "Nmae"`},
		{name: "parse error",
			in:   "a: 1\nb: {{ .Values.name }\n",
			want: `manifests/app.yaml: line 2: template: unexpected "}" in operand`},
		{name: "unknown function",
			in:   "a: {{ env \"HOME\" }}",
			want: `manifests/app.yaml: line 1: template: function "env" not defined`},
		{name: "required",
			in:   "a: 1\n\nb: {{ required \"values: empty must be set\" .Values.empty }}",
			want: `manifests/app.yaml: line 3: template: required "values: empty must be set" .Values.empty: error calling required: values: empty must be set`},
		{name: "int of a word",
			in:   `{{ int .Values.name }}`,
			want: `manifests/app.yaml: line 1: template: int .Values.name: error calling int: int: the string is not a whole number (value hidden)`},
	}
	r := New(values, Release{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Render("manifests/app.yaml", []byte(tt.in))
			if err == nil {
				t.Fatalf("no error; rendered %q", got)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n%s\nwant\n%s", err, tt.want)
			}
		})
	}
}

func TestLoadValues(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	base := write("values.yaml", `
name: web
replicas: 1
image:
  repository: registry.local/web
  tag: "1.0"
env:
  config: {LOG_LEVEL: info, MODE: base}
ports: [80, 443]
`)
	prod := write("prod.yaml", `
replicas: 3
image:
  tag: "2.0"
env:
  config: {LOG_LEVEL: warn}
ports: [8080]
`)
	last := write("last.yaml", `
replicas: 5
env: {config: {MODE: last}}
`)
	empty := write("empty.yaml", "# nothing yet\n")

	tests := []struct {
		name  string
		files []string
		want  map[string]any
	}{
		{name: "none", want: map[string]any{}},
		{name: "empty file", files: []string{empty}, want: map[string]any{}},
		{name: "later wins, maps merged deeply, lists replaced", files: []string{base, prod},
			want: map[string]any{
				"name":     "web",
				"replicas": 3,
				"image":    map[string]any{"repository": "registry.local/web", "tag": "2.0"},
				"env":      map[string]any{"config": map[string]any{"LOG_LEVEL": "warn", "MODE": "base"}},
				"ports":    []any{8080},
			}},
		{name: "order matters", files: []string{prod, base},
			want: map[string]any{
				"name":     "web",
				"replicas": 1,
				"image":    map[string]any{"repository": "registry.local/web", "tag": "1.0"},
				"env":      map[string]any{"config": map[string]any{"LOG_LEVEL": "info", "MODE": "base"}},
				"ports":    []any{80, 443},
			}},
		{name: "three files", files: []string{base, prod, empty, last},
			want: map[string]any{
				"name":     "web",
				"replicas": 5,
				"image":    map[string]any{"repository": "registry.local/web", "tag": "2.0"},
				"env":      map[string]any{"config": map[string]any{"LOG_LEVEL": "warn", "MODE": "last"}},
				"ports":    []any{8080},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadValues(tt.files)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestLoadValuesErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	list := write("list.yaml", "- a\n- b\n")
	broken := write("broken.yaml", "a: 1\nb: c: d\n")
	// go-yaml counts this parser error's line from 0.
	flow := write("flow.yaml", "image:\n  tag: [1\n")
	// A value that does not fit its tag is not printed: it may be a password.
	tagged := write("tagged.yaml", "db:\n  password: !!int s3cret-pw\n")
	two := write("two.yaml", "a: 1\n---\nb: 2\n")
	missing := filepath.Join(dir, "missing.yaml")
	_, err := LoadValues([]string{list, broken, flow, tagged, two, missing})
	if err == nil {
		t.Fatal("no error")
	}
	want := strings.Join([]string{
		"values " + list + ": a values file is a mapping (key: value), not a list",
		"values " + broken + ": line 2: mapping values are not allowed in this context",
		"values " + flow + ": line 2: did not find expected ',' or ']'",
		"values " + tagged + ": line 2: cannot decode !!str (value hidden) as a !!int",
		"values " + two + ": more than one YAML document: merge them into one, or list each file in values",
		"values " + missing + ": no such file or directory",
	}, "\n")
	if err.Error() != want {
		t.Errorf("error\n%s\nwant\n%s", err, want)
	}
}

// A template that never ends neither wedges the step nor fills the
// runner's memory: its output is bounded, and the step's context ends
// rendering.
func TestRenderBounded(t *testing.T) {
	r := New(nil, Release{Name: "web"})

	_, err := r.Render("loop.yaml", []byte("{{range 1000000000}}0123456789abcdef{{end}}"))
	want := "loop.yaml: template: renders to more than 64 MiB: does a range loop without end?"
	if err == nil || err.Error() != want {
		t.Errorf("endless output: %v\nwant %s", err, want)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = r.RenderContext(ctx, "spin.yaml", []byte("{{range 1000000000000}}{{end}}"))
	want = "spin.yaml: template: rendering did not finish: context deadline exceeded"
	if err == nil || err.Error() != want {
		t.Errorf("endless loop: %v\nwant %s", err, want)
	}
}

// A template written for Harness (or Helm) with Sprig's functions and
// Helm's include, tpl, fromYaml and required renders as it does there.
func TestRenderSprigAndHelmFunctions(t *testing.T) {
	content, err := os.ReadFile(filepath.Join("testdata", "harness-sprig.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]any{
		"name": "storefront-web", "mode": "live", "image": "registry.local/web:1.4", "replicas": 2,
		"kubeVersion": "1.34.4", "hostTemplate": "{{ .Release.Name }}.{{ .Release.Namespace }}.svc",
		"extraConfig": "minReady: 5\n",
	}
	out, err := New(values, Release{Name: "shop", Namespace: "prod", Number: 3}).Render("harness-sprig.yaml", content)
	if err != nil {
		t.Fatal(err)
	}
	want := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: storefront
  labels:
    app: storefront
    release: shop
  annotations:
    checksum/config: 01ed106f5864
    image: registry.local/web-1.4
spec:
  replicas: 2
  minReadySeconds: 5
  template:
    spec:
      containers:
      - name: storefront
        image: registry.local/web:1.4
        ports:
        - containerPort: 80
        - containerPort: 443
        env:
        - {name: HOST, value: "shop.prod.svc"}
        - {name: MODE, value: "LIVE"}
`
	if string(out) != want {
		t.Errorf("rendered:\n%s\nwant:\n%s", out, want)
	}
}

// What a deploy step must not offer is not there: the runner's
// environment (its secrets) and the network. A template that includes
// itself fails instead of exhausting the stack.
func TestRenderRefusesUnsafeFunctions(t *testing.T) {
	r := New(nil, Release{Name: "shop"})
	for _, name := range []string{"env", "expandenv", "getHostByName"} {
		_, err := r.Render("t.yaml", []byte(`a: {{ `+name+` "HOME" }}`))
		if err == nil || !strings.Contains(err.Error(), `function "`+name+`" not defined`) {
			t.Errorf("%s: %v", name, err)
		}
	}
	_, err := r.Render("t.yaml", []byte(`{{ define "loop" }}{{ include "loop" . }}{{ end }}{{ include "loop" . }}`))
	if err == nil || !strings.Contains(err.Error(), "nested more than 1000 deep") {
		t.Errorf("self-include: %v", err)
	}
	_, err = New(map[string]any{"image": ""}, Release{Name: "shop"}).Render("t.yaml", []byte(`a: {{ required "set .Values.image" .Values.image }}`))
	if err == nil || !strings.Contains(err.Error(), "set .Values.image") {
		t.Errorf("required: %v", err)
	}
}
