package release

import (
	"bytes"
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// go test ./internal/release/ -update rewrites testdata/golden.
var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/release/ -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./internal/release/ -update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readConfigMap(t *testing.T, path string) *corev1.ConfigMap {
	t.Helper()
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(readFile(t, path), &cm); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &cm
}

func readSecret(t *testing.T, path string) *corev1.Secret {
	t.Helper()
	var s corev1.Secret
	if err := yaml.UnmarshalStrict(readFile(t, path), &s); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &s
}

// dump writes a history as plain text for golden files: every modelled
// field, the kept Harness fields and the metadata.
func dump(t *testing.T, h History) []byte {
	t.Helper()
	var b bytes.Buffer
	if len(h) == 0 {
		b.WriteString("(empty history)\n")
	}
	for _, r := range h {
		fmt.Fprintf(&b, "release %d %s\n", r.Number, r.Status)
		for _, id := range r.Resources {
			v := ""
			if id.Versioned {
				v = " (versioned)"
			}
			fmt.Fprintf(&b, "  resource %s%s\n", id, v)
		}
		for _, w := range r.Workloads {
			fmt.Fprintf(&b, "  workload %s revision %q\n", w.ID, w.Revision)
		}
		if w := r.ManagedWorkload; w != nil {
			fmt.Fprintf(&b, "  managed workload %s revision %q\n", w.ID, w.Revision)
		}
		if r.Color != "" || r.Environment != "" {
			fmt.Fprintf(&b, "  blue/green: colour %q, environment %q\n", r.Color, r.Environment)
		}
		if r.Manifests != nil {
			fmt.Fprintf(&b, "  manifests: %d bytes\n", len(r.Manifests))
		}
		for _, f := range r.harness {
			var fb bytes.Buffer
			if err := writeField(&fb, "    ", f); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "  harness field:\n%s", fb.String())
		}
		if !r.Metadata.IsZero() {
			m, err := yaml.Marshal(r.Metadata)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "  metadata:\n%s", indent(string(m), "    "))
		}
	}
	return b.Bytes()
}

// viewConfigMap shows a ConfigMap as kube-release wrote it, the history
// unpacked, so the golden file does not depend on the gzip implementation.
func viewConfigMap(t *testing.T, cm *corev1.ConfigMap) []byte {
	t.Helper()
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n", configMapName(cm))
	for _, k := range sortedKeys(cm.Data) {
		v := cm.Data[k]
		if k == HistoryKey && cm.Data[CompressedKey] == "true" || k == MetadataKey {
			packed, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				t.Fatal(err)
			}
			y, err := gunzip(packed)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s: (standard base64 of the gzip of)\n%s", k, indent(strings.TrimSuffix(string(y), "\n")+"\n", "  "))
			continue
		}
		if k == CompressedKey {
			v = fmt.Sprintf("%q", v)
		}
		fmt.Fprintf(&b, "%s: %s\n", k, v)
	}
	return b.Bytes()
}

// viewSecret shows a Secret as kube-release wrote it, the manifests unpacked.
func viewSecret(t *testing.T, s *corev1.Secret) []byte {
	t.Helper()
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\ntype: %s\nlabels:\n", secretName(s), s.Type)
	for _, k := range sortedKeys(s.Labels) {
		fmt.Fprintf(&b, "  %s: %s\n", k, s.Labels[k])
	}
	b.WriteString("data:\n")
	for _, k := range sortedKeys(s.Data) {
		v := s.Data[k]
		if k == ManifestsKey || k == MetadataKey {
			m, err := gunzip(v)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "  %s: (gzip of)\n%s", k, indent(strings.TrimSuffix(string(m), "\n")+"\n", "    "))
			continue
		}
		fmt.Fprintf(&b, "  %s: %s\n", k, v)
	}
	return b.Bytes()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func indent(s, prefix string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		if line != "" && line != "\n" {
			b.WriteString(prefix)
		}
		b.WriteString(line)
	}
	return b.String()
}
