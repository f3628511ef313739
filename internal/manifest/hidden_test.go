package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A value that does not fit its YAML tag is reported by its line, never
// printed: it may be a Secret's.
func TestLoadHidesValues(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.yaml")
	content := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: !!int hunter2-s3cret\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load([]string{path})
	want := path + ": document 2: line 11: cannot decode !!str (value hidden) as a !!int"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v\nwant %s", err, want)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Error("the value is in the error")
	}
}

// Metadata of the wrong shape is reported, not read as empty and then
// silently overwritten by the namespace or the bookkeeping annotations.
func TestLoadMalformedMetadata(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ name, meta, want string }{
		{"namespace list", "  name: a\n  namespace: [prod]\n", "metadata.namespace is not a string"},
		{"annotations scalar", "  name: a\n  annotations: team-web\n", "metadata.annotations is not a mapping"},
		{"labels list", "  name: a\n  labels: [web]\n", "metadata.labels is not a mapping"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".yaml")
			if err := os.WriteFile(path, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n"+tt.meta), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load([]string{path})
			if want := path + ": document 1: " + tt.want; err == nil || err.Error() != want {
				t.Errorf("error %v\nwant %s", err, want)
			}
		})
	}
}
