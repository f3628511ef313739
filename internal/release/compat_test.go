package release

import (
	"context"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kube-release/kube-release/internal/kube/typed/typedtest"
)

// The metadata of a release that created many objects lists each of them,
// so it is stored compressed; what kube-release wrote before, plain JSON,
// still reads the same.
func TestMetadataCompressedAndPlain(t *testing.T) {
	meta := Metadata{
		Created:        time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		FailureReason:  "interrupted",
		CreatedObjects: []ObjectRef{{APIVersion: "v1", Kind: "ConfigMap", Namespace: "default", Name: "web-config-5"}},
	}
	r := &Release{Number: 5, Status: Failed,
		Resources: []ResourceID{{Kind: "ConfigMap", Name: "web-config-5", Namespace: "default", Versioned: true}},
		Metadata:  meta,
	}
	history := "version: v1\nreleases:\n- number: 5\n  status: Failed\n  resources:\n  - {kind: ConfigMap, name: web-config-5, namespace: default, versioned: true}\n"
	plainJSON := `{"version":"v1","releases":[{"number":5,"fingerprint":"` + fingerprint(r) +
		`","created":"2025-03-01T12:00:00Z","failureReason":"interrupted","createdObjects":[{"apiVersion":"v1","kind":"ConfigMap","namespace":"default","name":"web-config-5"}]}]}`

	written := cmWith(nil)
	if err := EncodeConfigMap(written, History{r}); err != nil {
		t.Fatal(err)
	}
	if v := written.Data[MetadataKey]; !strings.HasPrefix(v, "H4sI") {
		t.Errorf("%s = %.40q..., want base64 of gzip", MetadataKey, v)
	}
	secret, err := EncodeSecret("default", "web", r)
	if err != nil {
		t.Fatal(err)
	}
	if v := secret.Data[MetadataKey]; len(v) < 2 || v[0] != 0x1f || v[1] != 0x8b {
		t.Errorf("secret %s = %q, want gzip", MetadataKey, v)
	}

	for _, tc := range []struct {
		name string
		cm   *corev1.ConfigMap
	}{
		{"compressed, as written now", written},
		{"plain JSON, as written before", cmWith(map[string]string{HistoryKey: history, MetadataKey: plainJSON})},
		{"plain JSON with spaces around it", cmWith(map[string]string{HistoryKey: history, MetadataKey: "\n  " + plainJSON + "\n"})},
		{"compressed, broken over lines", cmWith(map[string]string{HistoryKey: history, MetadataKey: wrap(written.Data[MetadataKey], 40)})},
	} {
		t.Run("configmap: "+tc.name, func(t *testing.T) {
			h, err := DecodeConfigMap(tc.cm)
			if err != nil {
				t.Fatal(err)
			}
			if got := h.Get(5).Metadata; !reflect.DeepEqual(got, meta) {
				t.Errorf("metadata %+v, want %+v", got, meta)
			}
		})
	}

	plainSecret := secret.DeepCopy()
	plainSecret.Data[MetadataKey] = []byte(`{"version":"v1","created":"2025-03-01T12:00:00Z","failureReason":"interrupted",` +
		`"createdObjects":[{"apiVersion":"v1","kind":"ConfigMap","namespace":"default","name":"web-config-5"}]}`)
	for _, tc := range []struct {
		name string
		s    *corev1.Secret
	}{
		{"compressed, as written now", secret},
		{"plain JSON, as written before", plainSecret},
	} {
		t.Run("secret: "+tc.name, func(t *testing.T) {
			got, err := DecodeSecret(tc.s)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Metadata, meta) {
				t.Errorf("metadata %+v, want %+v", got.Metadata, meta)
			}
		})
	}
}

// Compressed metadata that is damaged is reported like plain metadata that
// is, with the same repair.
func TestCompressedMetadataCorrupt(t *testing.T) {
	gz := mustGzip(t, `{"version":"v1","releases":[]}`)
	const repair = "; to repair, fix or remove that key; it holds only kube-release's own metadata, the release history reads fine"
	for _, tc := range []struct {
		name, meta, want string
	}{
		{"not base64", "H4sI*", "configmap default/web: key kubeReleaseMetadata: invalid base64: illegal base64 data at input byte 4" + repair},
		{"not gzip", base64.StdEncoding.EncodeToString([]byte("version: v1, not gzip")), "configmap default/web: key kubeReleaseMetadata: invalid gzip: gzip: invalid header" + repair},
		{"truncated gzip", base64.StdEncoding.EncodeToString(gz[:len(gz)-6]), "configmap default/web: key kubeReleaseMetadata: invalid gzip: unexpected EOF" + repair},
		{"gzip of something else", base64.StdEncoding.EncodeToString(mustGzip(t, "releases: []")),
			"configmap default/web: key kubeReleaseMetadata: invalid JSON: invalid character 'r' looking for beginning of value" + repair},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeConfigMap(cmWith(map[string]string{HistoryKey: "releases: []\n", MetadataKey: tc.meta}))
			if err == nil || err.Error() != tc.want {
				t.Errorf("error\n%v\nwant\n%s", err, tc.want)
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Error("errors.Is(err, ErrCorrupt) is false")
			}
		})
	}
}

// Harness binds the history by field name and ignores what it does not
// know, so a newer Harness may add keys, beside version and releases or in
// a release. kube-release rewrites the history on every deploy and must
// hand them back: reading and writing keep them, verbatim.
func TestLegacyKeepsUnknownKeys(t *testing.T) {
	in := `releases:
- number: 2
  status: Succeeded
  releaseColor: blue
  resources:
  - {kind: ConfigMap, name: web-config-2, namespace: default, versioned: true}
- number: 1
  status: Failed
rollbackPolicy:
  keep: 3
  tags: [a, b]
version: v1
zone: eu-1
`
	cm := cmWith(map[string]string{HistoryKey: in})
	h, err := DecodeConfigMap(cm)
	if err != nil {
		t.Fatal(err)
	}
	// A deploy: release 1 is cleaned up, release 3 recorded.
	h = append(h[:1], &Release{Number: 3, Status: InProgress})
	if err := EncodeConfigMap(cm, h); err != nil {
		t.Fatal(err)
	}
	want := `version: v1
releases:
- number: 3
  status: InProgress
  resources: []
  managedWorkloads: []
  customWorkloads: []
  resourcesWithSpec: []
- number: 2
  status: Succeeded
  resources:
  - {kind: ConfigMap, name: web-config-2, namespace: default, versioned: true}
  managedWorkloads: []
  releaseColor: blue
  customWorkloads: []
  resourcesWithSpec: []
rollbackPolicy:
  keep: 3
  tags: [a, b]
zone: eu-1
`
	if got := string(historyYAML(t, cm)); got != want {
		t.Errorf("rewritten history\n%s\nwant\n%s", got, want)
	}

	// And again, as the next deploy does: nothing is lost or doubled.
	again, err := DecodeConfigMap(cm)
	if err != nil {
		t.Fatal(err)
	}
	if err := EncodeConfigMap(cm, again); err != nil {
		t.Fatal(err)
	}
	if got := string(historyYAML(t, cm)); got != want {
		t.Errorf("history rewritten twice\n%s\nwant\n%s", got, want)
	}

	// An empty history keeps them too.
	if err := EncodeConfigMap(cm, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := string(historyYAML(t, cm)), "version: v1\nreleases: []\nrollbackPolicy:\n  keep: 3\n  tags: [a, b]\nzone: eu-1\n"; got != want {
		t.Errorf("emptied history\n%s\nwant\n%s", got, want)
	}
}

// A top-level key that refers to an anchor of the releases is written as
// the value it stands for: the releases are written anew, without the
// anchor, and the history must read back.
func TestLegacyUnknownKeyAlias(t *testing.T) {
	in := "releases:\n- number: 1\n  status: &s Succeeded\nlastStatus: *s\n"
	cm := cmWith(map[string]string{HistoryKey: in})
	h, err := DecodeConfigMap(cm)
	if err != nil {
		t.Fatal(err)
	}
	if err := EncodeConfigMap(cm, h); err != nil {
		t.Fatal(err)
	}
	out := string(historyYAML(t, cm))
	if !strings.HasSuffix(out, "\nlastStatus: &s Succeeded\n") {
		t.Errorf("rewritten history\n%s", out)
	}
	if _, err := DecodeConfigMap(cm); err != nil {
		t.Errorf("the rewritten history does not read back: %v\n%s", err, out)
	}
}

// The store's writes (cleanup and create in one, update) keep the unknown
// top-level keys too.
func TestConfigMapStoreKeepsUnknownKeys(t *testing.T) {
	ctx := context.Background()
	client := configMapClient(cmWith(map[string]string{HistoryKey: "version: v1\nreleases:\n- number: 1\n  status: Failed\nzone: eu-1\n"}))
	s := NewConfigMapStore(typedtest.Wrap(client), "default", "web")
	if err := CreateDropping(ctx, s, &Release{Number: 2, Status: InProgress}, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, &Release{Number: 2, Status: Succeeded}); err != nil {
		t.Fatal(err)
	}
	stored, err := client.CoreV1().ConfigMaps("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if y := string(historyYAML(t, stored)); !strings.HasSuffix(y, "\nzone: eu-1\n") || !strings.Contains(y, "- number: 2\n  status: Succeeded\n") {
		t.Errorf("history after the store's writes:\n%s", y)
	}
}
