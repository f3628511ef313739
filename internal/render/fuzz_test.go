package render

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzRender renders a fuzzed manifest with fuzzed values, as a step does:
// the values file is read with LoadValues (a file it refuses leaves no
// values), the manifest executed with them. It must never panic; content
// without "{{" comes back as it is; every error names the file. The seed
// corpus (testdata/fuzz/FuzzRender) holds the repository's manifests and
// templates made from them; hack/fuzz.sh runs it for longer.
func FuzzRender(f *testing.F) {
	f.Add([]byte("image: {{ .Values.image.repository }}:{{ .Values.image.tag | default \"latest\" }}\nreplicas: {{ int .Values.replicas }}\n"),
		[]byte("image:\n  repository: registry.local/web\n  tag: \"1.4\"\nreplicas: 3\n"))
	f.Add([]byte("{{- range $k, $v := .Values.env }}\n- name: {{ $k }}\n  value: {{ $v | quote }}\n{{- end }}\n"),
		[]byte("env: {A: x, B: \"y\"}\n"))
	dir := f.TempDir()
	path := filepath.Join(dir, "values.yaml")
	f.Fuzz(func(t *testing.T, manifest, values []byte) {
		if err := os.WriteFile(path, values, 0o600); err != nil {
			t.Fatal(err)
		}
		v, err := LoadValues([]string{path})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "values "+path+": ") {
				t.Fatalf("values error does not name the file: %v", err)
			}
			v = nil
		}
		out, err := New(v, Release{Name: "web", Namespace: "prod", Number: 3}).Render("app.yaml", manifest)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "app.yaml: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if !bytes.Contains(manifest, []byte("{{")) && !bytes.Equal(out, manifest) {
			t.Fatalf("content without a template changed:\n%q\nbecame\n%q", manifest, out)
		}
	})
}
