package versioning

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kube-release/kube-release/internal/manifest"
)

// FuzzFilter versions fuzzed manifests, read by manifest.Load as a step
// reads them, for a fuzzed release number. It must never panic; on success
// every ConfigMap and Secret not skipped is renamed <name>-<release> and
// marked versioned, and a second pass changes nothing. The seed corpus
// (testdata/fuzz/FuzzFilter) holds the repository's manifests;
// hack/fuzz.sh runs it for longer.
func FuzzFilter(f *testing.F) {
	f.Add([]byte(`apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
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
        envFrom:
        - configMapRef: {name: web-config}
      volumes:
      - name: config
        configMap: {name: web-config}
`), 4)
	dir := f.TempDir()
	path := filepath.Join(dir, "manifest.yaml")
	f.Fuzz(func(t *testing.T, content []byte, release int) {
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		nodes, err := manifest.Load([]string{path})
		if err != nil {
			return
		}
		type before struct {
			name      string
			versioned bool
		}
		was := make([]before, len(nodes))
		for i, n := range nodes {
			was[i] = before{n.GetName(), configKind(n) != "" && !Versioned(n) && !skipped(n)}
		}
		out, err := Filter{Release: release}.Filter(nodes)
		if err != nil {
			return
		}
		if release == 0 {
			return
		}
		for i, n := range out {
			switch {
			case was[i].versioned && (n.GetName() != Name(was[i].name, release) || !Versioned(n)):
				t.Fatalf("%s: %s not versioned for release %d", describe(n), was[i].name, release)
			case !was[i].versioned && n.GetName() != was[i].name:
				t.Fatalf("%s: renamed from %s though not versioned", describe(n), was[i].name)
			}
		}
		first, err := manifest.String(out)
		if err != nil {
			return
		}
		again, err := Filter{Release: release}.Filter(out)
		if err != nil {
			t.Fatalf("second pass: %v", err)
		}
		if second, err := manifest.String(again); err != nil || second != first {
			t.Fatalf("second pass changed the manifests (%v):\n%s\nbecame\n%s", err, first, second)
		}
	})
}
