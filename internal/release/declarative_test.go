package release

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSecretNamingAndSelectors(t *testing.T) {
	if got := SecretName("web", 7); got != "harness.release.web.7" {
		t.Errorf("SecretName = %q", got)
	}
	opts := SecretListOptions("web")
	if opts.LabelSelector != "owner=harness,release=web" || opts.FieldSelector != "type=harness.io/release/v2" {
		t.Errorf("SecretListOptions = %+v", opts)
	}
}

// harnessSplit splits stored manifests as Harness's
// ObjectYamlUtils.splitYamlFile does: on lines starting with "---".
func harnessSplit(manifests []byte) []string {
	var docs []string
	var cur strings.Builder
	for _, line := range strings.Split(strings.TrimRight(string(manifests), "\n"), "\n") {
		if strings.HasPrefix(line, "---") {
			if cur.Len() > 0 {
				docs = append(docs, cur.String())
			}
			cur.Reset()
			continue
		}
		cur.WriteString(line + "\n")
	}
	if cur.Len() > 0 {
		docs = append(docs, cur.String())
	}
	return docs
}

// A release Secret exactly as Harness leaves it decodes, continues its
// numbering, and is updated without losing anything Harness reads.
func TestHarnessDeclarativeSecret(t *testing.T) {
	secret := readSecret(t, "harness/declarative.secret.yaml")
	r, err := DecodeSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "declarative.decoded.txt", dump(t, History{r}))
	if want := readFile(t, "harness/declarative.manifests.yaml"); !bytes.Equal(r.Manifests, want) {
		t.Errorf("manifests differ from harness/declarative.manifests.yaml:\n%s", r.Manifests)
	}
	legacy, err := DecodeConfigMap(readConfigMap(t, "harness/legacy-compressed.configmap.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := NextDeclarativeNumber(History{r}, legacy); got != 8 {
		t.Errorf("NextDeclarativeNumber = %d, want 8 (the declarative history wins)", got)
	}

	// A rollback marks it Failed.
	updated := secret.DeepCopy()
	r.Status = Failed
	if err := applyRelease(updated, "web", r, MaxObjectSize); err != nil {
		t.Fatal(err)
	}
	wantLabels := map[string]string{
		"harness.io/pruning-enabled": "false",
		"owner":                      "harness",
		"release":                    "web",
		"release-number":             "7",
		"status":                     "Failed",
	}
	if !reflect.DeepEqual(updated.Labels, wantLabels) {
		t.Errorf("labels %v, want %v", updated.Labels, wantLabels)
	}
	if updated.Type != SecretType || updated.Name != "harness.release.web.7" {
		t.Errorf("type %q name %q changed", updated.Type, updated.Name)
	}
	if _, ok := updated.Data[MetadataKey]; ok {
		t.Errorf("%s added to a Harness release that has no kube-release metadata", MetadataKey)
	}
	// What Harness reads back: the same documents.
	before, err := gunzip(secret.Data[ManifestsKey])
	if err != nil {
		t.Fatal(err)
	}
	after, err := gunzip(updated.Data[ManifestsKey])
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(harnessSplit(before), harnessSplit(after)) || len(harnessSplit(after)) != 3 {
		t.Errorf("Harness splits %d documents after the update, %d before", len(harnessSplit(after)), len(harnessSplit(before)))
	}
	back, err := DecodeSecret(updated)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, r) {
		t.Errorf("decode(update) = %+v, want %+v", back, r)
	}
}

func TestEncodeSecretGolden(t *testing.T) {
	docs := [][]byte{
		[]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\n  namespace: shop\ndata:\n  GREETING: hello\n"),
		[]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  replicas: 2\n"),
		[]byte("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata:\n    name: web\n    namespace: shop\n"),
	}
	r := &Release{
		Number:    12,
		Status:    InProgress,
		Manifests: JoinManifests(docs...),
		Metadata: Metadata{
			Created:        time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
			Pipeline:       Pipeline{Repository: "acme/web", Commit: "9f2c1e7", Build: "118", Event: "push", Actor: "dana"},
			Images:         []string{"registry.example.com/web:1.5.0"},
			CreatedObjects: []ObjectRef{{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "web-config"}},
		},
	}
	s, err := EncodeSecret("shop", "web", r)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "kube-release.secret.txt", viewSecret(t, s))

	back, err := DecodeSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	r.Resources = []ResourceID{
		{Kind: "ConfigMap", Name: "web-config", Namespace: "shop"},
		{Kind: "Deployment", Name: "web", Namespace: "shop"},
		{Kind: "Service", Name: "web", Namespace: "shop"},
	}
	if !reflect.DeepEqual(back, r) {
		t.Errorf("decode(encode(r)) = %+v\nwant %+v", back, r)
	}
}

func TestJoinManifests(t *testing.T) {
	for _, tc := range []struct {
		name string
		docs []string
		want string
	}{
		{"none", nil, ""},
		{"one", []string{"kind: A\n"}, "---\nkind: A\n"},
		{"adds the newline", []string{"kind: A", "kind: B"}, "---\nkind: A\n---\nkind: B\n"},
		{"keeps a leading separator", []string{"---\nkind: A\n"}, "---\nkind: A\n"},
		{"drops blank documents", []string{"kind: A\n", " \n", "kind: B\n"}, "---\nkind: A\n---\nkind: B\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var docs [][]byte
			for _, d := range tc.docs {
				docs = append(docs, []byte(d))
			}
			if got := string(JoinManifests(docs...)); got != tc.want {
				t.Errorf("JoinManifests = %q, want %q", got, tc.want)
			}
		})
	}
}

func releaseSecret(mutate func(*corev1.Secret)) *corev1.Secret {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "harness.release.web.3", Namespace: "default", Labels: map[string]string{
			LabelOwner: OwnerHarness, LabelRelease: "web", LabelNumber: "3", LabelStatus: "Succeeded",
		}},
		Type: SecretType,
		Data: map[string][]byte{},
	}
	mutate(s)
	return s
}

const secretRepair = "; to repair, fix it or delete the Secret (kubectl -n default delete secret harness.release.web.3), " +
	"which removes this release from the history"

func TestDecodeSecretCorrupt(t *testing.T) {
	gz, err := gzipBytes([]byte("kind: ConfigMap\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*corev1.Secret)
		want   string
	}{
		{"wrong type", func(s *corev1.Secret) { s.Type = corev1.SecretTypeOpaque },
			`secret default/harness.release.web.3: type: "Opaque" is not harness.io/release/v2` + secretRepair},
		{"number missing", func(s *corev1.Secret) { delete(s.Labels, LabelNumber) },
			"secret default/harness.release.web.3: label release-number: missing" + secretRepair},
		{"number not a number", func(s *corev1.Secret) { s.Labels[LabelNumber] = "three" },
			`secret default/harness.release.web.3: label release-number: "three" is not a release number` + secretRepair},
		{"status missing", func(s *corev1.Secret) { delete(s.Labels, LabelStatus) },
			"secret default/harness.release.web.3: label status: missing" + secretRepair},
		{"status unknown", func(s *corev1.Secret) { s.Labels[LabelStatus] = "Done" },
			`secret default/harness.release.web.3: label status: "Done" is not InProgress, Succeeded or Failed` + secretRepair},
		{"manifests not gzip", func(s *corev1.Secret) { s.Data[ManifestsKey] = []byte("kind: ConfigMap\n") },
			"secret default/harness.release.web.3: key release: invalid gzip: gzip: invalid header" + secretRepair},
		{"manifests truncated", func(s *corev1.Secret) { s.Data[ManifestsKey] = gz[:len(gz)-4] },
			"secret default/harness.release.web.3: key release: invalid gzip: unexpected EOF" + secretRepair},
		{"manifests not YAML", func(s *corev1.Secret) {
			s.Data[ManifestsKey] = mustGzip(t, "kind: [ConfigMap\n")
		}, "secret default/harness.release.web.3: key release: manifest 1: line 1: did not find expected ',' or ']'" + secretRepair},
		{"manifest metadata a list", func(s *corev1.Secret) {
			s.Data[ManifestsKey] = mustGzip(t, "---\nkind: ConfigMap\nmetadata: {name: a}\n---\nkind: Deployment\nmetadata:\n- name: web\n")
		}, "secret default/harness.release.web.3: key release: manifest 2: metadata is a list, not a mapping (line 7)" + secretRepair},
		{"manifest List item metadata a list", func(s *corev1.Secret) {
			s.Data[ManifestsKey] = mustGzip(t, "kind: List\nitems:\n- kind: Service\n  metadata: [web]\n")
		}, "secret default/harness.release.web.3: key release: manifest 1: item 1: metadata is a list, not a mapping (line 4)" + secretRepair},
		{"manifest not an object", func(s *corev1.Secret) {
			s.Data[ManifestsKey] = mustGzip(t, "---\nkind: ConfigMap\n---\n- a\n")
		}, "secret default/harness.release.web.3: key release: manifest 2 is a list, not an object (line 4)" + secretRepair},
		{"bad metadata", func(s *corev1.Secret) { s.Data[MetadataKey] = []byte("{") },
			"secret default/harness.release.web.3: key kubeReleaseMetadata: invalid JSON: unexpected end of JSON input" + secretRepair},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := DecodeSecret(releaseSecret(tc.mutate))
			if err == nil {
				t.Fatalf("no error; release %+v", r)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n%s\nwant\n%s", err, tc.want)
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Error("errors.Is(err, ErrCorrupt) is false")
			}
		})
	}
}

// A Secret without the release key is a release without manifests, not an
// error: the step that needs them says so.
func TestDecodeSecretWithoutManifests(t *testing.T) {
	r, err := DecodeSecret(releaseSecret(func(*corev1.Secret) {}))
	if err != nil {
		t.Fatal(err)
	}
	if r.Number != 3 || r.Status != Succeeded || r.Manifests != nil || r.Resources != nil {
		t.Errorf("release %+v", r)
	}
}

// incompressible returns n bytes of YAML that gzip cannot shrink much.
func incompressible(n int) []byte {
	var b bytes.Buffer
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n")
	for i := 0; b.Len() < n; i++ {
		sum := sha256.Sum256([]byte(strconv.Itoa(i)))
		b.WriteString("  k" + strconv.Itoa(i) + ": \"")
		for _, c := range sum {
			b.WriteByte(' ' + c%94)
			if c%94 == '"'-' ' || c%94 == '\\'-' ' {
				b.Truncate(b.Len() - 1)
				b.WriteByte('x')
			}
		}
		b.WriteString("\"\n")
	}
	return b.Bytes()
}

func TestEncodeSecretTooLarge(t *testing.T) {
	r := &Release{Number: 4, Status: InProgress, Manifests: incompressible(2 << 20)}
	_, err := EncodeSecret("default", "web", r)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error %v, want ErrTooLarge", err)
	}
	t.Log(err)
	want := "secret default/harness.release.web.4: too large: release 4, whose manifests are 2.0 MiB ("
	if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), ") before gzip, would make its data 1.4 MiB (") ||
		!strings.HasSuffix(err.Error(), " bytes over the 1.0 MiB (1048576 bytes) limit of a Secret") {
		t.Errorf("error %q", err)
	}
	var size *SizeError
	if !errors.As(err, &size) || size.Limit != MaxObjectSize || size.Over() != size.Size-MaxObjectSize || size.Over() <= 0 {
		t.Errorf("size error %+v", size)
	}

	// Just under the limit is fine.
	r.Manifests = incompressible(700 << 10)
	if _, err := EncodeSecret("default", "web", r); err != nil {
		t.Errorf("700 KiB of manifests: %v", err)
	}
}

func TestEncodeSecretRejectsBadNames(t *testing.T) {
	r := &Release{Number: 1, Status: InProgress}
	long := strings.Repeat("a", 64)
	if _, err := EncodeSecret("default", long, r); err == nil || !strings.Contains(err.Error(), "cannot be a label value") {
		t.Errorf("a 64-character release name: %v", err)
	}
	if _, err := EncodeSecret("default", "web", &Release{Number: 0, Status: InProgress}); err == nil ||
		err.Error() != "secret default/harness.release.web.0: release number 0: must be 1 or more" {
		t.Errorf("release number 0: %v", err)
	}
}

func TestManifestResources(t *testing.T) {
	m := []byte(`# leading comment
---
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
# only a comment
---
apiVersion: v1
kind: ConfigMapList
items:
- kind: ConfigMap
  metadata: {name: a, namespace: shop}
- kind: ConfigMap
  metadata: {name: b, namespace: shop}
---
`)
	got, err := manifestResources(m)
	if err != nil {
		t.Fatal(err)
	}
	want := []ResourceID{
		{Kind: "Namespace", Name: "shop"},
		{Kind: "ConfigMap", Name: "a", Namespace: "shop"},
		{Kind: "ConfigMap", Name: "b", Namespace: "shop"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("manifestResources = %v, want %v", got, want)
	}
}
