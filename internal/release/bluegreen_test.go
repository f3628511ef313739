package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A blue/green history exactly as Harness leaves it reads with its
// colours and environments, and comes back from kube-release as Harness
// wrote it; a swap recorded by kube-release changes bgEnvironment and
// nothing else, as Harness's swap does.
func TestHarnessBlueGreenHistory(t *testing.T) {
	cm := readConfigMap(t, "harness/legacy-bluegreen.configmap.yaml")
	original := historyYAML(t, cm)
	if want := readFile(t, "harness/legacy-bluegreen.history.yaml"); !bytes.Equal(original, want) {
		t.Fatalf("the ConfigMap holds another history than harness/legacy-bluegreen.history.yaml:\n%s", original)
	}
	h, err := DecodeConfigMap(cm)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "legacy-bluegreen.decoded.txt", dump(t, h))
	if got := bgListing(h); got != "3:S:blue:stage,2:S:green:primary" {
		t.Errorf("history %s", got)
	}
	for _, w := range []*Workload{h.Get(3).ManagedWorkload, &h.Get(3).Workloads[0]} {
		if *w != (Workload{ID: ResourceID{Kind: "Deployment", Name: "web-blue", Namespace: "default"}, Revision: "1"}) {
			t.Errorf("release 3's workload %+v", *w)
		}
	}
	if r := h.LatestIn(StageEnvironment); r == nil || r.Number != 3 {
		t.Errorf("LatestIn(stage) = %v, want 3", r)
	}
	if r := h.LastSuccessfulBlueGreen(); r == nil || r.Number != 3 {
		t.Errorf("LastSuccessfulBlueGreen() = %v, want 3", r)
	}

	// Rewritten as it is, as a deploy of another release name's would.
	written := cm.DeepCopy()
	if err := EncodeConfigMap(written, h); err != nil {
		t.Fatal(err)
	}
	rewritten := historyYAML(t, written)
	golden(t, "legacy-bluegreen.rewritten.yaml", rewritten)
	if want, got := harnessRead(t, original), harnessRead(t, rewritten); !reflect.DeepEqual(want, got) {
		t.Errorf("Harness reads a different history after kube-release rewrote it\nbefore: %+v\nafter:  %+v", want, got)
	}

	// The swap to blue.
	swapped := h.SwapEnvironments(Blue)
	if got := bgListing(swapped); got != "3:S:blue:primary,2:S:green:stage" {
		t.Fatalf("SwapEnvironments(blue) = %s", got)
	}
	if h.Get(3).Environment != StageEnvironment {
		t.Error("SwapEnvironments changed the history it was asked about")
	}
	after := slices.Clone(h)
	for _, r := range swapped {
		i := slices.IndexFunc(after, func(old *Release) bool { return old.Number == r.Number })
		after[i] = r
	}
	if err := EncodeConfigMap(written, after); err != nil {
		t.Fatal(err)
	}
	out := historyYAML(t, written)
	golden(t, "legacy-bluegreen.swapped.yaml", out)
	want := harnessRead(t, original)
	want.Releases[0].BgEnvironment, want.Releases[1].BgEnvironment = ptr("primary"), ptr("stage")
	if got := harnessRead(t, out); !reflect.DeepEqual(want, got) {
		t.Errorf("Harness reads after the swap\n%+v\nwant\n%+v", got, want)
	}
	again, err := DecodeConfigMap(written)
	if err != nil {
		t.Fatal(err)
	}
	if got := bgListing(again); got != "3:S:blue:primary,2:S:green:stage" {
		t.Errorf("after the swap: %s", got)
	}
	if more := again.SwapEnvironments(Blue); len(more) != 0 {
		t.Errorf("the same swap again changes %s", bgListing(more))
	}
	if back := again.SwapEnvironments(Green); bgListing(back) != "2:S:green:primary,3:S:blue:stage" {
		t.Errorf("the swap back changes %s", bgListing(back))
	}
}

func ptr[T any](v T) *T { return &v }

// bgListing describes releases as "number:status:colour:environment".
func bgListing(h []*Release) string {
	parts := make([]string, len(h))
	for i, r := range h {
		parts[i] = fmt.Sprintf("%d:%s:%s:%s", r.Number, string(r.Status)[:1], r.Color, r.Environment)
	}
	return strings.Join(parts, ",")
}

// A blue/green release kube-release records in the legacy format, in its
// own layout, binds to Harness's bean with the fields Harness's blue/green
// steps read: the coloured workload in managedWorkload, and bgEnvironment.
func TestMarshalLegacyBlueGreen(t *testing.T) {
	r := &Release{
		Number:    4,
		Status:    InProgress,
		Resources: []ResourceID{{Kind: "Deployment", Name: "web-green", Namespace: "default"}},
		ManagedWorkload: &Workload{
			ID: ResourceID{Kind: "Deployment", Name: "web-green", Namespace: "default"},
		},
		Color:       Green,
		Environment: StageEnvironment,
	}
	got, err := MarshalLegacy(History{r})
	if err != nil {
		t.Fatal(err)
	}
	want := `version: v1
releases:
- number: 4
  status: InProgress
  resources:
  - {kind: Deployment, name: web-green, namespace: default, versioned: false}
  managedWorkloads: []
  managedWorkload: {kind: Deployment, name: web-green, namespace: default, versioned: false}
  bgEnvironment: stage
  customWorkloads: []
  resourcesWithSpec: []
`
	if string(got) != want {
		t.Errorf("MarshalLegacy() =\n%s\nwant\n%s", got, want)
	}
	hr := harnessRead(t, got).Releases[0]
	if hr.ManagedWorkload == nil || hr.ManagedWorkload.Name != "web-green" || valueOf(hr.BgEnvironment) != "stage" {
		t.Errorf("Harness binds %+v", hr)
	}

	// Succeeded, at the revision the rollout reached.
	r.Status = Succeeded
	r.ManagedWorkload.Revision = "2"
	got, err = MarshalLegacy(History{r})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), "  managedWorkload: {kind: Deployment, name: web-green, namespace: default, versioned: false}\n  managedWorkloadRevision: \"2\"\n  bgEnvironment: stage\n") {
		t.Errorf("MarshalLegacy() =\n%s", got)
	}
	back, err := UnmarshalLegacy(got)
	if err != nil {
		t.Fatal(err)
	}
	if b := back[0]; b.Color != Green || b.Environment != StageEnvironment || *b.ManagedWorkload != *r.ManagedWorkload {
		t.Errorf("read back %+v", b)
	}

	// The legacy format cannot record a colour its workload's name does
	// not say.
	for _, tc := range []struct {
		name string
		w    *Workload
		want string
	}{
		{"another colour", &Workload{ID: ResourceID{Kind: "Deployment", Name: "web-blue"}},
			`release 4: colour "green": a legacy release records its colour only as the name of its managed workload, <name>-<colour>, and that is "web-blue"`},
		{"no workload", nil,
			`release 4: colour "green": a legacy release records its colour only as the name of its managed workload, <name>-<colour>, and that is none`},
		{"a workload without a name", &Workload{ID: ResourceID{Kind: "Deployment"}},
			`release 4: managed workload "Deployment " has no kind or no name`},
	} {
		bad := r.Clone()
		bad.ManagedWorkload = tc.w
		if _, err := MarshalLegacy(History{bad}); err == nil || err.Error() != tc.want {
			t.Errorf("%s: error\n%v\nwant\n%s", tc.name, err, tc.want)
		}
	}
}

// The legacy colour is what the workload's name ends in, as Harness's
// stage scale down reads it.
func TestLegacyColorOf(t *testing.T) {
	for name, want := range map[string]Color{
		"web-blue": Blue, "web-green": Green, "my-app-green": Green,
		"web": "", "webblue": "", "web-red": "", "web-blue-x": "", "-blue": Blue,
	} {
		if got := colorOf(&Workload{ID: ResourceID{Kind: "Deployment", Name: name}}); got != want {
			t.Errorf("colorOf(%s) = %q, want %q", name, got, want)
		}
	}
	if colorOf(nil) != "" {
		t.Error("colorOf(nil) is not empty")
	}
}

// A release whose update says nothing of blue/green keeps what the
// history holds, in either format: a status change written by a step that
// did not copy the release must not take it out of blue/green.
func TestUpdateKeepsBlueGreen(t *testing.T) {
	ctx := context.Background()
	stored := &Release{Number: 3, Status: InProgress, Color: Blue, Environment: StageEnvironment,
		ManagedWorkload: &Workload{ID: ResourceID{Kind: "Deployment", Name: "web-blue", Namespace: "default"}}}
	b := readBook(t, NewMemoryStore(stored), NewMemoryStore())
	if err := b.Update(ctx, &Release{Number: 3, Status: Succeeded}); err != nil {
		t.Fatal(err)
	}
	r := b.History().Get(3)
	if r.Status != Succeeded || r.Color != Blue || r.Environment != StageEnvironment || r.ManagedWorkload == nil {
		t.Errorf("the book's release after the update: %+v", r)
	}
	if r, _ := b.stores[Legacy].Get(ctx, 3); r.Color != Blue || r.Environment != StageEnvironment || r.ManagedWorkload == nil {
		t.Errorf("the store's release after the update: %+v", r)
	}

	// The legacy writer too, for a history Harness wrote.
	cm := readConfigMap(t, "harness/legacy-bluegreen.configmap.yaml")
	h, err := DecodeConfigMap(cm)
	if err != nil {
		t.Fatal(err)
	}
	bare := &Release{Number: 3, Status: Failed, Resources: h.Get(3).Resources}
	bare.harness = h.Get(3).harness // as ConfigMapStore.Update keeps it
	h[0] = bare
	if err := EncodeConfigMap(cm, h); err != nil {
		t.Fatal(err)
	}
	back, err := DecodeConfigMap(cm)
	if err != nil {
		t.Fatal(err)
	}
	if got := bgListing(back); got != "3:F:blue:stage,2:S:green:primary" {
		t.Errorf("after an update without the blue/green fields: %s", got)
	}

	// The declarative Secret keeps its labels.
	secret, err := EncodeSecret("default", "web", &Release{Number: 5, Status: InProgress, Color: Green, Environment: StageEnvironment})
	if err != nil {
		t.Fatal(err)
	}
	if err := applyRelease(secret, "web", &Release{Number: 5, Status: Succeeded}, MaxObjectSize); err != nil {
		t.Fatal(err)
	}
	if secret.Labels[LabelColor] != "green" || secret.Labels[LabelEnvironment] != "stage" || secret.Labels[LabelStatus] != "Succeeded" {
		t.Errorf("labels after a status update: %v", secret.Labels)
	}
}

// A declarative blue/green release is its Secret's labels, as Harness
// writes and reads them; other labels Harness sets survive.
func TestSecretBlueGreenLabels(t *testing.T) {
	harness := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "harness.release.web.8", Namespace: "default", Labels: map[string]string{
			"owner": "harness", "release": "web", "release-number": "8", "status": "Succeeded",
			"harness.io/pruning-enabled": "false", "color": "blue", "harness.io/bg-environment": "stage",
			"harness.io/manifest-hash": "0a1b2c",
		}},
		Type: SecretType,
		Data: map[string][]byte{ManifestsKey: mustGzip(t, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config-blue\n")},
	}
	r, err := DecodeSecret(harness)
	if err != nil {
		t.Fatal(err)
	}
	if r.Color != Blue || r.Environment != StageEnvironment {
		t.Fatalf("decoded colour %q environment %q", r.Color, r.Environment)
	}
	// The swap.
	r.Environment = PrimaryEnvironment
	if err := applyRelease(harness, "web", r, MaxObjectSize); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"owner": "harness", "release": "web", "release-number": "8", "status": "Succeeded",
		"harness.io/pruning-enabled": "false", "color": "blue", "harness.io/bg-environment": "primary",
		"harness.io/manifest-hash": "0a1b2c",
	}
	if !reflect.DeepEqual(harness.Labels, want) {
		t.Errorf("labels %v\nwant %v", harness.Labels, want)
	}

	s, err := EncodeSecret("default", "web", &Release{Number: 9, Status: InProgress, Color: Green, Environment: StageEnvironment})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "bluegreen.secret.txt", viewSecret(t, s))

	if _, err := EncodeSecret("default", "web", &Release{Number: 9, Status: InProgress, Color: "not/a value"}); err == nil ||
		err.Error() != `secret default/harness.release.web.9: label color: "not/a value" is not a label value: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')` {
		t.Errorf("error %v", err)
	}
}

// bg builds blue/green releases from "number:status:colour:environment".
func bg(specs ...string) History {
	var h History
	for _, s := range specs {
		parts := strings.Split(s, ":")
		r := hist(parts[0] + ":" + parts[1])[0]
		r.Color, r.Environment = Color(parts[2]), Environment(parts[3])
		h = append(h, r)
	}
	return NewHistory(h...)
}

func TestBlueGreenQueries(t *testing.T) {
	h := bg("7:F:blue:stage", "6:S:green:primary", "5:S:blue:stage", "4:S:blue:primary", "3:S::", "2:P:green:stage")
	for _, tc := range []struct {
		name string
		got  *Release
		want int
	}{
		{"last successful blue", h.LastSuccessfulOfColor(Blue), 5},
		{"last successful green", h.LastSuccessfulOfColor(Green), 6},
		{"last successful of no colour", h.LastSuccessfulOfColor(""), 0},
		{"latest in stage, Failed or not", h.LatestIn(StageEnvironment), 7},
		{"latest in primary", h.LatestIn(PrimaryEnvironment), 6},
		{"latest in no environment", h.LatestIn(""), 0},
		{"last successful blue/green", h.LastSuccessfulBlueGreen(), 6},
		{"last successful blue/green of none", bg("2:F:blue:stage", "1:S::").LastSuccessfulBlueGreen(), 0},
	} {
		got := 0
		if tc.got != nil {
			got = tc.got.Number
		}
		if got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	if got := numbers(h.OfColor(Blue)); !slices.Equal(got, []int{7, 5, 4}) {
		t.Errorf("OfColor(blue) = %v", got)
	}
	if got := numbers(h.OfColor("")); len(got) != 0 {
		t.Errorf("OfColor(none) = %v", got)
	}
}

func TestBlueGreenCleanup(t *testing.T) {
	h := bg("8:P:blue:stage", "7:F:blue:stage", "6:S:green:primary", "5:S:blue:primary", "4:F:green:stage", "3:S::")
	keep, drop := h.BlueGreenCleanup(Blue, 8)
	if got := numbers(keep); !slices.Equal(got, []int{8, 6, 4, 3}) {
		t.Errorf("keep %v, want 8 6 4 3 (the primary colour's, Failed or not, and those of no colour)", got)
	}
	if got := numbers(drop); !slices.Equal(got, []int{7, 5}) {
		t.Errorf("drop %v, want 7 5", got)
	}
	if keep, drop := h.BlueGreenCleanup("", 8); len(drop) != 0 || len(keep) != len(h) {
		t.Errorf("no colour drops %v", numbers(drop))
	}
}

func TestStaleConfig(t *testing.T) {
	cm := func(name string, versioned bool) ResourceID {
		return ResourceID{Kind: "ConfigMap", Name: name, Namespace: "prod", Versioned: versioned}
	}
	secret := ResourceID{Kind: "Secret", Name: "creds-5", Namespace: "prod", Versioned: true}
	deploy := ResourceID{Kind: "Deployment", Name: "web-blue", Namespace: "prod"}
	legacy := &Release{Number: 5, Resources: []ResourceID{cm("web-config-5", true), secret, cm("shared", false), deploy}}
	legacyOlder := &Release{Number: 3, Resources: []ResourceID{cm("web-config-3", true), cm("shared", false), secret}}
	declarative := &Release{Number: 7, Manifests: []byte(`---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config-blue
  namespace: prod
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: removed-blue
  namespace: prod
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: shared
  namespace: prod
  annotations:
    harness.io/skip-versioning: "TRUE"
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Secret
  metadata:
    name: token
    namespace: prod
    annotations: {harness.io/skip-versioning: "true"}
- apiVersion: v1
  kind: Secret
  metadata:
    name: creds-blue
    namespace: prod
`)}
	var err error
	if declarative.Resources, err = manifestResources(declarative.Manifests); err != nil {
		t.Fatal(err)
	}
	kept := &Release{Number: 6, Resources: []ResourceID{cm("web-config-green", false), cm("shared", false)}}
	next := []ResourceID{cm("web-config-blue", false), deploy}

	got := StaleConfig(History{declarative, legacy, legacyOlder}, History{kept}, next)
	var names []string
	for _, id := range got {
		names = append(names, id.Kind+"/"+id.Name)
	}
	want := []string{
		"ConfigMap/removed-blue", "Secret/creds-blue", // declarative: unsuffixed by skip-versioning, or brought back by next, stay
		"ConfigMap/web-config-5", "Secret/creds-5", // legacy: versioned only
		"ConfigMap/web-config-3", // each once
	}
	if !slices.Equal(names, want) {
		t.Errorf("StaleConfig = %v\nwant %v", names, want)
	}
}

// A swap is recorded one release at a time; one interrupted halfway is
// finished by the next, which changes nothing more.
func TestBookSwapEnvironments(t *testing.T) {
	ctx := context.Background()
	legacy := NewMemoryStore(bg("3:S:green:primary", "2:S:blue:stage")...)
	declarative := NewMemoryStore(bg("5:S:blue:stage", "4:F:green:stage")...)
	// 5 (declarative, blue) becomes primary, then 3 (legacy, green) stage:
	// the legacy store fails, so the first update goes through and the
	// second does not.
	failingLegacy := &flakyStore{MemoryStore: legacy, fail: true}
	b := readBook(t, failingLegacy, declarative)
	done, err := b.SwapEnvironments(ctx, Blue)
	if err == nil || !strings.Contains(err.Error(), "release 3: record environment stage: ") {
		t.Fatalf("interrupted swap: %v", err)
	}
	if got := bgListing(done); got != "5:S:blue:primary" {
		t.Errorf("recorded before the interruption: %s", got)
	}
	if got := bgListing(b.History()); got != "5:S:blue:primary,4:F:green:stage,3:S:green:primary,2:S:blue:stage" {
		t.Errorf("half-recorded: %s", got)
	}

	failingLegacy.fail = false
	b = readBook(t, failingLegacy, declarative)
	done, err = b.SwapEnvironments(ctx, Blue)
	if err != nil {
		t.Fatal(err)
	}
	if got := bgListing(done); got != "3:S:green:stage" {
		t.Errorf("the second run records %s, want only what was left", got)
	}
	want := "5:S:blue:primary,4:F:green:stage,3:S:green:stage,2:S:blue:stage"
	if got := bgListing(b.History()); got != want {
		t.Errorf("after the swap: %s\nwant %s", got, want)
	}
	if done, err := b.SwapEnvironments(ctx, Blue); err != nil || len(done) != 0 {
		t.Errorf("a third run records %s, %v", bgListing(done), err)
	}
	if r := b.LatestIn(StageEnvironment); r == nil || r.Number != 4 {
		t.Errorf("LatestIn(stage) = %v, want 4", r)
	}
	if r := b.LastSuccessfulOfColor(Green); r == nil || r.Number != 3 {
		t.Errorf("LastSuccessfulOfColor(green) = %v, want 3", r)
	}
	if _, err := b.SwapEnvironments(ctx, "red"); err == nil || err.Error() != `swap environments: colour "red" is not blue or green` {
		t.Errorf("swap to red: %v", err)
	}
}

// flakyStore fails its updates while fail is set.
type flakyStore struct {
	*MemoryStore
	fail bool
}

func (s *flakyStore) Update(ctx context.Context, r *Release) error {
	if s.fail {
		return errors.New("the API server went away")
	}
	return s.MemoryStore.Update(ctx, r)
}

func TestColor(t *testing.T) {
	if Blue.Other() != Green || Green.Other() != Blue || Color("red").Other() != "" || Color("").Other() != "" {
		t.Error("Other")
	}
	if !Blue.Valid() || !Green.Valid() || Color("Blue").Valid() || Color("").Valid() {
		t.Error("Valid")
	}
}
