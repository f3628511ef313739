package release

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The fuzz targets decode what a cluster may hold, whoever wrote it. They
// must never panic, and what they accept must survive being written back
// and read again: a deploy rewrites the history it read. Their seed
// corpora (testdata/fuzz/Fuzz*) come from testdata/harness and the golden
// files; hack/fuzz.sh runs them for longer.

// model is what kube-release reads of a release, for comparing two reads.
func model(h History) string {
	var b bytes.Buffer
	for _, r := range h {
		meta, err := json.Marshal(r.Metadata)
		if err != nil {
			meta = []byte(err.Error())
		}
		fmt.Fprintf(&b, "%d %s %q %q %q %s\n", r.Number, r.Status, r.Resources, r.Workloads, r.Manifests, meta)
	}
	return b.String()
}

func FuzzUnmarshalLegacy(f *testing.F) {
	f.Add([]byte("version: v1\nreleases:\n- number: 2\n  status: Failed\n- number: 1\n  status: Succeeded\n  resources:\n  - {kind: ConfigMap, name: web-1, namespace: prod, versioned: true}\n  managedWorkloads:\n  - revision: \"4\"\n    workload: {kind: Deployment, name: web, namespace: prod}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := UnmarshalLegacy(data)
		if err != nil {
			return
		}
		out, err := MarshalLegacy(h)
		if err != nil {
			t.Fatalf("a history read cannot be written back: %v", err)
		}
		again, err := UnmarshalLegacy(out)
		if err != nil {
			t.Fatalf("a history written cannot be read back: %v\n%s", err, out)
		}
		if model(again) != model(h) {
			t.Fatalf("written and read back, the history changed:\n%s\nbecame\n%s", model(h), model(again))
		}
		if out2, err := MarshalLegacy(again); err != nil || !bytes.Equal(out2, out) {
			t.Fatalf("writing is not stable (%v):\n%s\nthen\n%s", err, out, out2)
		}
	})
}

func FuzzDecodeConfigMap(f *testing.F) {
	f.Add([]byte("version: v1\nreleases:\n- number: 1\n  status: Succeeded\n"), "true", "", true)
	f.Add([]byte("version: v1\nreleases:\n- number: 1\n  status: InProgress\n"), "", `{"version":"v1","releases":[{"number":1,"fingerprint":"x"}]}`, false)
	f.Fuzz(func(t *testing.T, history []byte, compressed, metadata string, pack bool) {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "prod"}, Data: map[string]string{}}
		if pack {
			packed, err := gzipBytes(history)
			if err != nil {
				t.Fatal(err)
			}
			cm.Data[HistoryKey] = base64.StdEncoding.EncodeToString(packed)
		} else {
			cm.Data[HistoryKey] = string(history)
		}
		if compressed != "" {
			cm.Data[CompressedKey] = compressed
		}
		if metadata != "" {
			cm.Data[MetadataKey] = metadata
		}
		h, err := DecodeConfigMap(cm)
		if err != nil {
			return
		}
		if err := EncodeConfigMap(cm, h); err != nil {
			return // too large: refused before anything is written
		}
		again, err := DecodeConfigMap(cm)
		if err != nil {
			t.Fatalf("a history written cannot be read back: %v", err)
		}
		if model(again) != model(h) {
			t.Fatalf("written and read back, the history changed:\n%s\nbecame\n%s", model(h), model(again))
		}
	})
}

func FuzzDecodeSecret(f *testing.F) {
	f.Add("7", "Succeeded", []byte("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\n"), true, []byte(nil))
	f.Add("2", "Failed", []byte("---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Service, metadata: {name: web}}\n"), true,
		[]byte(`{"version":"v1","failureReason":"timeout","images":["web:1"]}`))
	f.Fuzz(func(t *testing.T, number, status string, manifests []byte, pack bool, metadata []byte) {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "harness.release.web." + number, Namespace: "prod", Labels: map[string]string{
				LabelOwner: OwnerHarness, LabelRelease: "web", LabelNumber: number, LabelStatus: status,
			}},
			Type: SecretType,
			Data: map[string][]byte{ManifestsKey: manifests},
		}
		if pack {
			packed, err := gzipBytes(manifests)
			if err != nil {
				t.Fatal(err)
			}
			s.Data[ManifestsKey] = packed
		}
		if metadata != nil {
			s.Data[MetadataKey] = metadata
		}
		r, err := DecodeSecret(s)
		if err != nil {
			return
		}
		written, err := EncodeSecret("prod", "web", r)
		if err != nil {
			return // too large: refused before anything is written
		}
		again, err := DecodeSecret(written)
		if err != nil {
			t.Fatalf("a release written cannot be read back: %v", err)
		}
		if model(History{again}) != model(History{r}) {
			t.Fatalf("written and read back, the release changed:\n%s\nbecame\n%s", model(History{r}), model(History{again}))
		}
	})
}
