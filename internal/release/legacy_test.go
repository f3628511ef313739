package release

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The layout of docs/semantics.md, byte for byte.
func TestMarshalLegacySemanticsExample(t *testing.T) {
	h := History{{
		Number: 45,
		Status: Succeeded,
		Resources: []ResourceID{
			{Kind: "ConfigMap", Name: "web-config-45", Namespace: "default", Versioned: true},
			{Kind: "Deployment", Name: "web", Namespace: "default"},
		},
		Workloads: []Workload{{ID: ResourceID{Kind: "Deployment", Name: "web", Namespace: "default"}, Revision: "13"}},
	}}
	got, err := MarshalLegacy(h)
	if err != nil {
		t.Fatal(err)
	}
	want := `version: v1
releases:
- number: 45
  status: Succeeded
  resources:
  - {kind: ConfigMap, name: web-config-45, namespace: default, versioned: true}
  - {kind: Deployment, name: web, namespace: default, versioned: false}
  managedWorkloads:
  - revision: "13"
    workload: {kind: Deployment, name: web, namespace: default, versioned: false}
  customWorkloads: []
  resourcesWithSpec: []
`
	if string(got) != want {
		t.Errorf("MarshalLegacy() =\n%s\nwant\n%s", got, want)
	}
}

func TestMarshalLegacyEmpty(t *testing.T) {
	got, err := MarshalLegacy(nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "version: v1\nreleases: []\n" {
		t.Errorf("MarshalLegacy(nil) = %q", got)
	}
	h, err := UnmarshalLegacy(got)
	if err != nil || len(h) != 0 {
		t.Errorf("UnmarshalLegacy(%q) = %v, %v", got, h, err)
	}
}

// harnessHistory mirrors the Java beans Harness binds the legacy YAML to
// (ReleaseHistory, K8sLegacyRelease, KubernetesResourceId,
// KubernetesResourceIdRevision). Decoding with KnownFields proves that a
// history holds nothing Harness could not bind, and comparing two decodes
// proves Harness reads the same thing from both.
type harnessHistory struct {
	Version  string           `yaml:"version"`
	Releases []harnessRelease `yaml:"releases"`
}

type harnessRelease struct {
	Number                  int                 `yaml:"number"`
	Status                  string              `yaml:"status"`
	Resources               []harnessResourceID `yaml:"resources"`
	ManagedWorkload         *harnessResourceID  `yaml:"managedWorkload"`
	ManagedWorkloadRevision *string             `yaml:"managedWorkloadRevision"`
	ManagedWorkloads        []struct {
		Workload harnessResourceID `yaml:"workload"`
		Revision string            `yaml:"revision"`
	} `yaml:"managedWorkloads"`
	CustomWorkloads   []any   `yaml:"customWorkloads"`
	ResourcesWithSpec []any   `yaml:"resourcesWithSpec"`
	ManifestHash      *string `yaml:"manifestHash"`
	BgEnvironment     *string `yaml:"bgEnvironment"`
	HelmChartName     *string `yaml:"helmChartName"`
	HarnessMeta       any     `yaml:"harnessMeta"`
}

type harnessResourceID struct {
	Kind      string `yaml:"kind"`
	Name      string `yaml:"name"`
	Namespace string `yaml:"namespace"`
	Versioned bool   `yaml:"versioned"`
}

func harnessRead(t *testing.T, data []byte) harnessHistory {
	t.Helper()
	var h harnessHistory
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&h); err != nil {
		t.Fatalf("Harness's model cannot bind:\n%s\n%v", data, err)
	}
	// Harness binds customWorkloads: [] and an absent key alike: no custom
	// workloads. And it rolls back the list of managed workloads, or the
	// single one older delegates wrote when the list is empty
	// (K8sRollingRollbackBaseHandler), so that is what it acts on.
	for i := range h.Releases {
		r := &h.Releases[i]
		if len(r.ManagedWorkloads) == 0 && r.ManagedWorkload != nil {
			r.ManagedWorkloads = append(r.ManagedWorkloads, struct {
				Workload harnessResourceID `yaml:"workload"`
				Revision string            `yaml:"revision"`
			}{*r.ManagedWorkload, valueOf(r.ManagedWorkloadRevision)})
		}
		if len(r.CustomWorkloads) == 0 {
			r.CustomWorkloads = nil
		}
		if len(r.ResourcesWithSpec) == 0 {
			r.ResourcesWithSpec = nil
		}
		if len(r.Resources) == 0 {
			r.Resources = nil
		}
		if len(r.ManagedWorkloads) == 0 {
			r.ManagedWorkloads = nil
		}
	}
	return h
}

func valueOf[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// historyYAML returns the history YAML inside a ConfigMap, unpacked.
func historyYAML(t *testing.T, cm *corev1.ConfigMap) []byte {
	t.Helper()
	raw := cm.Data[HistoryKey]
	if !strings.EqualFold(cm.Data[CompressedKey], "true") {
		return []byte(raw)
	}
	packed, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		t.Fatal(err)
	}
	y, err := gunzip(packed)
	if err != nil {
		t.Fatal(err)
	}
	return y
}

// Histories exactly as Harness leaves them decode, continue their
// numbering, and come back from kube-release as Harness reads them.
func TestHarnessLegacyHistories(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		next    int
		last    int
	}{
		{"legacy-plain", 14, 12},
		{"legacy-compressed", 47, 45},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			cm := readConfigMap(t, "harness/"+tc.fixture+".configmap.yaml")
			original := historyYAML(t, cm)
			if !bytes.Contains(original, []byte("releases: \n")) {
				t.Fatal("the fixture lost the trailing spaces YamlBeans writes; restore it")
			}
			h, err := DecodeConfigMap(cm)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.fixture+".decoded.txt", dump(t, h))

			if got := h.NextNumber(); got != tc.next {
				t.Errorf("NextNumber() = %d, want %d", got, tc.next)
			}
			if got := NextDeclarativeNumber(nil, h); got != tc.next {
				t.Errorf("NextDeclarativeNumber(none, legacy) = %d, want %d", got, tc.next)
			}
			if got := h.LastSuccessful(tc.next); got == nil || got.Number != tc.last {
				t.Errorf("LastSuccessful(%d) = %v, want %d", tc.next, got, tc.last)
			}

			// kube-release writes it back; Harness must read what it wrote.
			written := cm.DeepCopy()
			if err := EncodeConfigMap(written, h); err != nil {
				t.Fatal(err)
			}
			if written.Data[CompressedKey] != "true" {
				t.Errorf("%s = %q, want \"true\"", CompressedKey, written.Data[CompressedKey])
			}
			if _, ok := written.Data[MetadataKey]; ok {
				t.Errorf("%s written for a history without kube-release metadata", MetadataKey)
			}
			rewritten := historyYAML(t, written)
			golden(t, tc.fixture+".rewritten.yaml", rewritten)
			if want, got := harnessRead(t, original), harnessRead(t, rewritten); !reflect.DeepEqual(want, got) {
				t.Errorf("Harness reads a different history after kube-release rewrote it\nbefore: %+v\nafter:  %+v", want, got)
			}

			again, err := DecodeConfigMap(written)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := dump(t, again), dump(t, h); !bytes.Equal(got, want) {
				t.Errorf("decode(encode(h)) != h:\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// What kube-release writes for a history of its own, metadata included.
func TestEncodeConfigMapGolden(t *testing.T) {
	created := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	h := History{
		{
			Number: 3,
			Status: Failed,
			Resources: []ResourceID{
				{Kind: "ConfigMap", Name: "web-config-3", Namespace: "shop", Versioned: true},
				{Kind: "Deployment", Name: "web", Namespace: "shop"},
				{Kind: "Namespace", Name: "shop"},
				{Kind: "ClusterRole", Name: "system:web"},
			},
			Workloads: []Workload{{ID: ResourceID{Kind: "Deployment", Name: "web", Namespace: "shop"}, Revision: "4"}},
			Metadata: Metadata{
				Created:       created.Add(time.Hour),
				Pipeline:      Pipeline{Repository: "acme/web", Branch: "main", Commit: "9f2c1e7", Build: "118", BuildLink: "https://ci.example.com/acme/web/118", Event: "push", Actor: "dana"},
				FailureReason: "ProgressDeadlineExceeded",
				Images:        []string{"registry.example.com/web:1.5.0"},
			},
		},
		{
			Number: 2,
			Status: Succeeded,
			Resources: []ResourceID{
				{Kind: "ConfigMap", Name: "web-config-2", Namespace: "shop", Versioned: true},
				{Kind: "Deployment", Name: "web", Namespace: "shop"},
				{Kind: "Namespace", Name: "shop"},
			},
			Workloads: []Workload{{ID: ResourceID{Kind: "Deployment", Name: "web", Namespace: "shop"}, Revision: "3"}},
			Metadata: Metadata{
				Created:        created,
				Pipeline:       Pipeline{Repository: "acme/web", Commit: "77d0a1b", Build: "117", Event: "tag"},
				Images:         []string{"registry.example.com/web:1.4.2"},
				CreatedObjects: []ObjectRef{{APIVersion: "v1", Kind: "Namespace", Name: "shop"}},
			},
		},
		{Number: 1, Status: InProgress},
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", Labels: map[string]string{"team": "checkout"}},
		Data:       map[string]string{"owner-notes": "kept as is"},
	}
	if err := EncodeConfigMap(cm, h); err != nil {
		t.Fatal(err)
	}
	golden(t, "kube-release.configmap.txt", viewConfigMap(t, cm))
	if cm.Data["owner-notes"] != "kept as is" || cm.Labels["team"] != "checkout" {
		t.Error("EncodeConfigMap lost a key or label it does not own")
	}
	// What Harness would bind from it.
	harnessRead(t, historyYAML(t, cm))

	got, err := DecodeConfigMap(cm)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, NewHistory(h...)) {
		t.Errorf("decode(encode(h)) != h\n%s\nwant\n%s", dump(t, got), dump(t, h))
	}
}

// Harness fields kube-release does not model survive a rewrite.
func TestLegacyKeepsHarnessFields(t *testing.T) {
	in := []byte(`releases:
- bgEnvironment: primary
  customWorkloads:
  - resourceId: {kind: Rollout, name: web, namespace: default}
    spec: |
      apiVersion: argoproj.io/v1alpha1
      kind: Rollout

      metadata:
        name: web
  harnessMeta: {serviceId: svc, envId: prod}
  manifestHash: 0a1b2c
  number: 9
  status: Succeeded
version: v1
`)
	h, err := UnmarshalLegacy(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := MarshalLegacy(h)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "harness-fields.rewritten.yaml", out)
	if want, got := harnessRead(t, in), harnessRead(t, out); !reflect.DeepEqual(want, got) {
		t.Errorf("Harness reads a different release after the rewrite\nbefore: %+v\nafter:  %+v", want, got)
	}
	again, err := UnmarshalLegacy(out)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := dump(t, again), dump(t, h); !bytes.Equal(got, want) {
		t.Errorf("the kept fields changed:\n%s\nwant\n%s", got, want)
	}
}

func TestDecodeConfigMapEmptyAndPlain(t *testing.T) {
	plain := "version: v1\nreleases:\n- number: 1\n  status: Succeeded\n"
	for _, tc := range []struct {
		name string
		cm   *corev1.ConfigMap
		want []int
	}{
		{"no ConfigMap", nil, []int{}},
		{"no history key", cmWith(map[string]string{"other": "x"}), []int{}},
		{"empty history key", cmWith(map[string]string{HistoryKey: ""}), []int{}},
		{"plain without the flag", cmWith(map[string]string{HistoryKey: plain}), []int{1}},
		{"plain with the flag false", cmWith(map[string]string{HistoryKey: plain, CompressedKey: "false"}), []int{1}},
		{"the flag is read as Java's Boolean.parseBoolean", cmWith(map[string]string{
			HistoryKey: base64.StdEncoding.EncodeToString(mustGzip(t, plain)), CompressedKey: "TRUE"}), []int{1}},
		{"base64 broken over lines", cmWith(map[string]string{
			HistoryKey: wrap(base64.StdEncoding.EncodeToString(mustGzip(t, plain)), 20), CompressedKey: "true"}), []int{1}},
		{"compressed empty history", cmWith(map[string]string{
			HistoryKey: base64.StdEncoding.EncodeToString(mustGzip(t, "version: v1\nreleases: []\n")), CompressedKey: "true"}), []int{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := DecodeConfigMap(tc.cm)
			if err != nil {
				t.Fatal(err)
			}
			if got := numbers(h); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("releases %v, want %v", got, tc.want)
			}
		})
	}
}

func cmWith(data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}, Data: data}
}

func mustGzip(t *testing.T, s string) []byte {
	t.Helper()
	b, err := gzipBytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wrap(s string, width int) string {
	var b strings.Builder
	for len(s) > width {
		b.WriteString(s[:width] + "\n")
		s = s[width:]
	}
	return b.String() + s
}

const cmRepair = "; to repair, fix the key or delete the ConfigMap (kubectl -n default delete configmap web), which starts a new history at release 1"

// Every way a stored history can be damaged is an error that names the
// object and the repair; none is a panic or an empty history.
func TestDecodeConfigMapCorrupt(t *testing.T) {
	compressed := func(s string) map[string]string {
		return map[string]string{HistoryKey: base64.StdEncoding.EncodeToString(mustGzip(t, s)), CompressedKey: "true"}
	}
	plain := func(s string) map[string]string { return map[string]string{HistoryKey: s} }
	gz := mustGzip(t, "version: v1\nreleases: []\n")
	for _, tc := range []struct {
		name string
		data map[string]string
		want string
	}{
		{"bad base64", map[string]string{HistoryKey: "not*base64", CompressedKey: "true"},
			"configmap default/web: key releaseHistory: invalid base64: illegal base64 data at input byte 3" + cmRepair},
		{"not gzip", map[string]string{HistoryKey: base64.StdEncoding.EncodeToString([]byte("version: v1")), CompressedKey: "true"},
			"configmap default/web: key releaseHistory: invalid gzip: gzip: invalid header" + cmRepair},
		{"truncated gzip", map[string]string{HistoryKey: base64.StdEncoding.EncodeToString(gz[:len(gz)-6]), CompressedKey: "true"},
			"configmap default/web: key releaseHistory: invalid gzip: unexpected EOF" + cmRepair},
		{"compressed flag on plain YAML", map[string]string{HistoryKey: "version: v1\nreleases: []\n", CompressedKey: "true"},
			"configmap default/web: key releaseHistory: invalid base64: illegal base64 data at input byte 7" + cmRepair},
		{"bad YAML", compressed("version: v1\nreleases: [\n"),
			"configmap default/web: key releaseHistory: line 2: did not find expected node content" + cmRepair},
		{"not a mapping", plain("- number: 1\n"),
			"configmap default/web: key releaseHistory: the history is a list, not a mapping (line 1)" + cmRepair},
		{"unknown version", plain("version: v2\nreleases: []\n"),
			"configmap default/web: key releaseHistory: version: \"v2\" is not v1, the only version kube-release reads (line 1)" + cmRepair},
		{"releases not a list", plain("version: v1\nreleases: {number: 1}\n"),
			"configmap default/web: key releaseHistory: releases: a mapping is not a list (line 2)" + cmRepair},
		{"release not a mapping", plain("releases:\n- 5\n"),
			"configmap default/web: key releaseHistory: releases[0]: \"5\" is not a mapping (line 2)" + cmRepair},
		{"number missing", plain("releases:\n- status: Succeeded\n"),
			"configmap default/web: key releaseHistory: releases[0]: number is missing (line 2)" + cmRepair},
		{"number not a number", plain("releases:\n- number: five\n  status: Succeeded\n"),
			"configmap default/web: key releaseHistory: releases[0]: number: \"five\" is not a release number (line 2)" + cmRepair},
		{"number zero", plain("releases:\n- number: 0\n  status: Succeeded\n"),
			"configmap default/web: key releaseHistory: releases[0]: number: \"0\" is not a release number (line 2)" + cmRepair},
		{"status missing", plain("releases:\n- number: 4\n"),
			"configmap default/web: key releaseHistory: releases[0]: release 4: status is missing (line 2)" + cmRepair},
		{"status unknown", plain("releases:\n- number: 4\n  status: RollbackSucceeded\n"),
			"configmap default/web: key releaseHistory: releases[0]: status: \"RollbackSucceeded\" is not InProgress, Succeeded or Failed (line 3)" + cmRepair},
		{"resource without kind", plain("releases:\n- number: 4\n  status: Failed\n  resources:\n  - {name: web}\n"),
			"configmap default/web: key releaseHistory: releases[0]: resources: [0]: kind is missing (line 5)" + cmRepair},
		{"versioned not a bool", plain("releases:\n- number: 4\n  status: Failed\n  resources:\n  - {kind: ConfigMap, name: c, versioned: maybe}\n"),
			"configmap default/web: key releaseHistory: releases[0]: resources: [0]: versioned: \"maybe\" is not true or false (line 5)" + cmRepair},
		{"workload missing", plain("releases:\n- number: 4\n  status: Failed\n  managedWorkloads:\n  - revision: '3'\n"),
			"configmap default/web: key releaseHistory: releases[0]: managedWorkloads: [0]: workload is missing (line 5)" + cmRepair},
		{"duplicate number", plain("releases:\n- number: 4\n  status: Failed\n- number: 4\n  status: Succeeded\n"),
			"configmap default/web: key releaseHistory: releases[1]: number 4 is also the number of the release on line 2 (line 4)" + cmRepair},
		{"bad metadata", map[string]string{HistoryKey: "releases: []\n", MetadataKey: "{"},
			"configmap default/web: key kubeReleaseMetadata: invalid JSON: unexpected end of JSON input; " +
				"to repair, fix or remove that key; it holds only kube-release's own metadata, the release history reads fine"},
		{"metadata of an unknown version", map[string]string{HistoryKey: "releases: []\n", MetadataKey: `{"version":"v9"}`},
			"configmap default/web: key kubeReleaseMetadata: version \"v9\" is not v1, the only version kube-release reads; " +
				"to repair, fix or remove that key; it holds only kube-release's own metadata, the release history reads fine"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := DecodeConfigMap(cmWith(tc.data))
			if err == nil {
				t.Fatalf("no error; history %v", numbers(h))
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

// Metadata is attached only to the release it was written for: Harness may
// drop a release and reuse its number for another.
func TestLegacyMetadataFollowsItsRelease(t *testing.T) {
	mine := &Release{Number: 5, Status: Failed,
		Resources: []ResourceID{{Kind: "ConfigMap", Name: "web-config-5", Namespace: "default", Versioned: true}},
		Metadata:  Metadata{FailureReason: "interrupted", CreatedObjects: []ObjectRef{{APIVersion: "v1", Kind: "ConfigMap", Namespace: "default", Name: "web-config-5"}}},
	}
	cm := cmWith(nil)
	if err := EncodeConfigMap(cm, History{mine, {Number: 4, Status: Succeeded}}); err != nil {
		t.Fatal(err)
	}
	meta := cm.Data[MetadataKey]

	// Harness dropped release 5 (Failed) and recorded its own release 5,
	// keeping the metadata key it does not know.
	harness := `releases: 
- number: 5
  resources: 
  - name: web-config-5
    kind: ConfigMap
    namespace: default
    versioned: true
  - name: web
    kind: Deployment
    namespace: default
  status: Succeeded
- number: 4
  status: Succeeded
version: v1
`
	h, err := DecodeConfigMap(cmWith(map[string]string{HistoryKey: harness, MetadataKey: meta}))
	if err != nil {
		t.Fatal(err)
	}
	if !h.Get(5).Metadata.IsZero() {
		t.Errorf("metadata of kube-release's release 5 attached to Harness's release 5: %+v", h.Get(5).Metadata)
	}

	// Harness only changed the status (a rollback marked it Succeeded
	// again, say): the metadata is still ours.
	h, err = DecodeConfigMap(cm)
	if err != nil {
		t.Fatal(err)
	}
	h.Get(5).Status = Succeeded
	relabelled := cmWith(nil)
	if err := EncodeConfigMap(relabelled, h); err != nil {
		t.Fatal(err)
	}
	back, err := DecodeConfigMap(relabelled)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.Get(5).Metadata; !reflect.DeepEqual(got, mine.Metadata) {
		t.Errorf("metadata after a status change = %+v, want %+v", got, mine.Metadata)
	}

	// Metadata of releases that left the history is not written again.
	back.Get(5).Status = Failed
	kept, _ := back.LegacyCleanup()
	pruned := cmWith(nil)
	if err := EncodeConfigMap(pruned, kept); err != nil {
		t.Fatal(err)
	}
	if meta, ok := pruned.Data[MetadataKey]; ok {
		t.Errorf("metadata of a dropped release written: %s", meta)
	}
}

func TestEncodeConfigMapTooLarge(t *testing.T) {
	var h History
	// Names that do not compress: base64 of hashes.
	for n := 1; n <= 800; n++ {
		r := &Release{Number: n, Status: Succeeded}
		for i := range 40 {
			sum := sha256.Sum256([]byte(strconv.Itoa(n*1000 + i)))
			r.Resources = append(r.Resources, ResourceID{Kind: "ConfigMap", Name: base64.RawURLEncoding.EncodeToString(sum[:]), Namespace: "default"})
		}
		h = append(h, r)
	}
	cm := cmWith(map[string]string{"keep": "me"})
	err := EncodeConfigMap(cm, h)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error %v, want ErrTooLarge", err)
	}
	t.Log(err)
	if !strings.HasPrefix(err.Error(), "configmap default/web: too large: the history of 800 releases would make its data ") ||
		!strings.Contains(err.Error(), "over the 1.0 MiB (1048576 bytes) limit of a ConfigMap") {
		t.Errorf("error %q", err)
	}
	if len(cm.Data) != 1 {
		t.Error("EncodeConfigMap changed the ConfigMap although it failed")
	}
}

func TestScalarQuoting(t *testing.T) {
	for in, want := range map[string]string{
		"web":            "web",
		"web-config-45":  "web-config-45",
		"my.app_v2":      "my.app_v2",
		"":               `""`,
		"123":            `"123"`,
		"1e5":            `"1e5"`,
		"0x1f":           `"0x1f"`,
		"true":           `"true"`,
		"No":             `"No"`,
		"null":           `"null"`,
		"system:metrics": `"system:metrics"`,
		"-dash":          `"-dash"`,
		"a b":            `"a b"`,
		"quote\"d":       `"quote\"d"`,
	} {
		if got := scalar(in); got != want {
			t.Errorf("scalar(%q) = %s, want %s", in, got, want)
		}
		// Whatever the style, YAML reads the string back.
		var back map[string]string
		if err := yaml.Unmarshal([]byte("{k: "+scalar(in)+"}"), &back); err != nil || back["k"] != in {
			t.Errorf("scalar(%q) reads back as %q (%v)", in, back["k"], err)
		}
	}
}

// MarshalLegacy never writes a history it could not read back.
func TestMarshalLegacyRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    History
		want string
	}{
		{"nil release", History{nil}, "release is nil"},
		{"number 0", History{{Status: Failed}}, "release number 0: must be 1 or more"},
		{"no status", History{{Number: 2}}, `release 2: status "" is not InProgress, Succeeded or Failed`},
		{"duplicate", History{{Number: 2, Status: Failed}, {Number: 2, Status: Succeeded}}, "release 2: number appears twice"},
		{"resource without name", History{{Number: 2, Status: Failed, Resources: []ResourceID{{Kind: "ConfigMap"}}}},
			`release 2: resource "ConfigMap " has no kind or no name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := MarshalLegacy(tc.h)
			if err == nil || err.Error() != tc.want {
				t.Errorf("error %v, want %s", err, tc.want)
			}
		})
	}
}
