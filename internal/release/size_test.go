package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kube-release/kube-release/internal/kube/typed/typedtest"
)

// bulky is release n with count versioned ConfigMaps whose names gzip
// cannot shrink much, each also recorded as created.
func bulky(n, count int, status Status) *Release {
	r := &Release{Number: n, Status: status}
	for i := range count {
		sum := sha256.Sum256(fmt.Appendf(nil, "%d/%d", n, i))
		name := hex.EncodeToString(sum[:]) + "-" + fmt.Sprint(n)
		r.Resources = append(r.Resources, ResourceID{Kind: "ConfigMap", Name: name, Namespace: "default", Versioned: true})
		r.Metadata.CreatedObjects = append(r.Metadata.CreatedObjects, ObjectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "default", Name: name})
	}
	return r
}

func TestSizeErrorMessage(t *testing.T) {
	for _, tc := range []struct {
		err  SizeError
		want string
	}{
		{SizeError{Object: "configmap default/web", Kind: "ConfigMap", Content: "the history of 2 releases", Size: MaxObjectSize + 10, Limit: MaxObjectSize},
			"configmap default/web: too large: the history of 2 releases would make its data 1.0 MiB (1048586 bytes), " +
				"10 bytes over the 1.0 MiB (1048576 bytes) limit of a ConfigMap"},
		{SizeError{Object: "secret default/harness.release.web.3", Kind: "Secret", Content: "release 3", Size: MaxObjectSize, Limit: MaxObjectSize - Headroom},
			"secret default/harness.release.web.3: too large: release 3 would make its data 1.0 MiB (1048576 bytes), " +
				"4096 bytes over 1020.0 KiB (1044480 bytes) (the 1.0 MiB (1048576 bytes) limit of a Secret, less 4.0 KiB (4096 bytes) kept free for the updates that follow)"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("error\n%s\nwant\n%s", got, tc.want)
		}
		if !errors.Is(&tc.err, ErrTooLarge) {
			t.Error("errors.Is(err, ErrTooLarge) is false")
		}
	}
}

// Fits tells, before anything is written, whether a release in its final
// form can be recorded beside the releases a cleanup keeps, and by how
// much it cannot.
func TestConfigMapStoreFits(t *testing.T) {
	ctx := context.Background()
	previous := bulky(1, 6000, Succeeded)
	cm := cmWith(map[string]string{"someone-else": "kept"})
	if err := EncodeConfigMap(cm, History{previous, {Number: 2, Status: Failed}}); err != nil {
		t.Fatal(err)
	}
	stored := configMapSize(cm.Data, nil)
	client := fake.NewClientset(cm)
	s := NewConfigMapStore(typedtest.Wrap(client), "default", "web")
	if _, err := s.List(ctx); err != nil {
		t.Fatal(err)
	}
	reads := len(client.Actions())

	for _, tc := range []struct {
		name string
		r    *Release
		drop []int
		fits bool
	}{
		{"a small release", &Release{Number: 3, Status: Succeeded}, []int{2}, true},
		{"as large as the last success, beside it", bulky(3, 6000, Succeeded), []int{2}, false},
		{"as large, with the last success dropped", bulky(3, 6000, Succeeded), []int{1, 2}, true},
		{"a release replacing one of its number", bulky(1, 5800, Succeeded), nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Fits(s, tc.r, tc.drop...)
			if tc.fits {
				if err != nil {
					t.Fatalf("does not fit: %v", err)
				}
				return
			}
			size, ok := errors.AsType[*SizeError](err)
			if !ok {
				t.Fatalf("error %v, want a *SizeError", err)
			}
			t.Log(err)
			if size.Limit != MaxObjectSize-Headroom || size.Over() <= 0 || size.Object != "configmap default/web" ||
				size.Content != "the history of 2 releases" {
				t.Errorf("size error %+v", size)
			}
			// Without the new release the data is the last success and
			// the foreign key: about what was stored, less release 2.
			if size.Rest <= 0 || size.Rest > stored || size.Rest < stored-1024 {
				t.Errorf("rest %d, want a little under the %d stored", size.Rest, stored)
			}
		})
	}
	if n := len(client.Actions()); n != reads {
		t.Errorf("Fits made %d requests: %v", n-reads, client.Actions()[reads:])
	}
}

// A release checked in its final form by Fits is then recorded, InProgress
// first and final afterwards, without a size error, however close to the
// limit it is.
func TestFitsThenWrites(t *testing.T) {
	ctx := context.Background()
	// The largest count that fits, found by bisection; then the writes of
	// that release must all succeed.
	s := NewConfigMapStore(typedtest.Wrap(fake.NewClientset()), "default", "web")
	if _, err := s.List(ctx); err != nil {
		t.Fatal(err)
	}
	final := func(count int) *Release {
		r := bulky(1, count, Succeeded)
		r.Workloads = []Workload{{ID: ResourceID{Kind: "Deployment", Name: "web", Namespace: "default"}, Revision: "9223372036854775807"}}
		r.Metadata.FailureReason = strings.Repeat("x", 32)
		return r
	}
	lo, hi := 1, 20000
	if Fits(s, final(hi)) == nil {
		t.Fatalf("%d resources fit", hi)
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if Fits(s, final(mid)) == nil {
			lo = mid
		} else {
			hi = mid
		}
	}
	t.Logf("at most %d such resources fit", lo)

	inProgress := final(lo)
	inProgress.Status, inProgress.Workloads[0].Revision, inProgress.Metadata.FailureReason = InProgress, "", ""
	if err := s.Create(ctx, inProgress); err != nil {
		t.Fatalf("InProgress record: %v", err)
	}
	succeeded := inProgress.Clone()
	succeeded.Status, succeeded.Workloads[0].Revision = Succeeded, "42"
	if err := s.Update(ctx, succeeded); err != nil {
		t.Fatalf("Succeeded record: %v", err)
	}
	failed := succeeded.Clone()
	failed.Status, failed.Metadata.FailureReason = Failed, "rolled back"
	if err := s.Update(ctx, failed); err != nil {
		t.Fatalf("a rollback's record: %v", err)
	}
}

func TestSecretStoreFits(t *testing.T) {
	s := NewSecretStore(typedtest.Wrap(fake.NewClientset()), "default", "web")
	if err := Fits(s, &Release{Number: 4, Status: Succeeded, Manifests: incompressible(600 << 10)}); err != nil {
		t.Errorf("600 KiB of manifests: %v", err)
	}
	err := Fits(s, &Release{Number: 4, Status: Succeeded, Manifests: incompressible(2 << 20)})
	size, ok := errors.AsType[*SizeError](err)
	if !ok {
		t.Fatalf("error %v, want a *SizeError", err)
	}
	if size.Kind != "Secret" || size.Limit != MaxObjectSize-Headroom || size.Over() <= 0 || !strings.HasPrefix(size.Content, "release 4, whose manifests are 2.0 MiB") {
		t.Errorf("size error %+v", size)
	}
	if err := Fits(NewMemoryStore(), bulky(1, 10000, Succeeded)); err != nil {
		t.Errorf("memory store: %v", err)
	}
}

// One damaged release Secret does not hide the others: List returns them
// beside an *UnreadableError that says which release it is and why.
func TestSecretStoreListUnreadable(t *testing.T) {
	ctx := context.Background()
	good := func(n int, st Status) *corev1.Secret {
		s, err := EncodeSecret("default", "web", &Release{Number: n, Status: st, Manifests: []byte("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	badGzip := good(3, Succeeded)
	badGzip.Data[ManifestsKey] = []byte("not gzip at all")
	badLabel := good(5, Failed)
	badLabel.Labels[LabelNumber] = "five"
	badStatus := good(6, Failed)
	badStatus.Labels[LabelStatus] = "Unknown"
	client := fake.NewClientset(good(2, Succeeded), badGzip, good(4, Succeeded), badLabel, badStatus, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "odd", Namespace: "default", Labels: map[string]string{LabelOwner: OwnerHarness, LabelRelease: "web"}},
		Type:       SecretType,
	})
	h, err := NewSecretStore(typedtest.Wrap(client), "default", "web").List(ctx)
	if got := fmt.Sprint(numbers(h)); got != "[4 2]" {
		t.Errorf("readable releases %s, want [4 2]", got)
	}
	unreadable, ok := errors.AsType[*UnreadableError](err)
	if !ok {
		t.Fatalf("error %v, want an *UnreadableError", err)
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Error("errors.Is(err, ErrCorrupt) is false")
	}
	var got []string
	for _, u := range unreadable.Releases {
		got = append(got, fmt.Sprintf("%d %q %s: %v", u.Number, u.Status, u.Secret, u.Err))
	}
	want := []string{
		`6 "" secret default/harness.release.web.6: secret default/harness.release.web.6: label status: "Unknown" is not InProgress, Succeeded or Failed` + secretRepair6,
		`5 "Failed" secret default/harness.release.web.5: secret default/harness.release.web.5: label release-number: "five" is not a release number` + secretRepair5,
		`3 "Succeeded" secret default/harness.release.web.3: secret default/harness.release.web.3: key release: invalid gzip: gzip: invalid header` + secretRepair3,
		`0 "" secret default/odd: secret default/odd: label release-number: missing; to repair, fix it or delete the Secret (kubectl -n default delete secret odd), which removes this release from the history`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("unreadable\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if unreadable.Highest() != 6 || unreadable.Get(3) == nil || unreadable.Get(4) != nil {
		t.Errorf("highest %d, get(3) %v, get(4) %v", unreadable.Highest(), unreadable.Get(3), unreadable.Get(4))
	}
}

const (
	secretRepair3 = "; to repair, fix it or delete the Secret (kubectl -n default delete secret harness.release.web.3), which removes this release from the history"
	secretRepair5 = "; to repair, fix it or delete the Secret (kubectl -n default delete secret harness.release.web.5), which removes this release from the history"
	secretRepair6 = "; to repair, fix it or delete the Secret (kubectl -n default delete secret harness.release.web.6), which removes this release from the history"
)
