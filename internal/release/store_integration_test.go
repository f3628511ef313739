package release

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kube-release/kube-release/internal/testcluster"

	"github.com/kube-release/kube-release/internal/kube/typed"
)

// These tests run against a real API server (internal/testcluster), because
// only a real one enforces resourceVersion: the fake clientset would let
// every racing writer "win". go test -short skips them.

func TestMain(m *testing.M) { os.Exit(testcluster.Run(m)) }

func cluster(t *testing.T) (typed.Interface, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the local control plane; runs without -short")
	}
	c := testcluster.Shared(t)
	return c.Typed(t), c.Namespace(t)
}

type clusterStore struct {
	name string
	new  func(client typed.Interface, namespace string) Store
}

func clusterStores() []clusterStore {
	return []clusterStore{
		{"configmap", func(c typed.Interface, ns string) Store { return NewConfigMapStore(c, ns, "web") }},
		{"secret", func(c typed.Interface, ns string) Store { return NewSecretStore(c, ns, "web") }},
	}
}

// Twenty writers each record the next release at once: every one gets a
// number, the numbers are unique and consecutive, and the history holds
// each writer's own release under the number it was told.
func TestConcurrentCreateNext(t *testing.T) {
	for _, st := range clusterStores() {
		t.Run(st.name, func(t *testing.T) {
			client, ns := cluster(t)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()

			const writers = 20
			got := make([]int, writers)
			errs := make([]error, writers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range writers {
				wg.Go(func() {
					s := st.new(client, ns) // one store per writer, as separate CI jobs
					r := &Release{Status: InProgress, Metadata: Metadata{Pipeline: Pipeline{Build: strconv.Itoa(i)}}}
					<-start
					errs[i] = CreateNext(ctx, s, r, nil)
					got[i] = r.Number
				})
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("writer %d: %v", i, err)
				}
			}

			numbers := slices.Sorted(slices.Values(got))
			for i, n := range numbers {
				if n != i+1 {
					t.Fatalf("numbers %v, want 1 to %d each once", numbers, writers)
				}
			}
			h, err := st.new(client, ns).List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(h) != writers {
				t.Fatalf("history holds %d releases, want %d: lost or duplicated releases", len(h), writers)
			}
			for i, n := range got {
				r := h.Get(n)
				if r == nil || r.Metadata.Pipeline.Build != strconv.Itoa(i) {
					t.Errorf("release %d is not writer %d's: %+v", n, i, r)
				}
			}
		})
	}
}

// Writers updating different releases of one ConfigMap at once lose none
// of each other's changes.
func TestConcurrentUpdates(t *testing.T) {
	for _, st := range clusterStores() {
		t.Run(st.name, func(t *testing.T) {
			client, ns := cluster(t)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			s := st.new(client, ns)
			const releases = 12
			for n := 1; n <= releases; n++ {
				if err := s.Create(ctx, &Release{Number: n, Status: InProgress}); err != nil {
					t.Fatal(err)
				}
			}
			var wg sync.WaitGroup
			errs := make([]error, releases+1)
			for n := 1; n <= releases; n++ {
				wg.Go(func() {
					errs[n] = st.new(client, ns).Update(ctx, &Release{Number: n, Status: Succeeded,
						Metadata: Metadata{FailureReason: fmt.Sprintf("note %d", n)}})
				})
			}
			wg.Wait()
			for n, err := range errs {
				if err != nil {
					t.Errorf("update %d: %v", n, err)
				}
			}
			h, err := s.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for n := 1; n <= releases; n++ {
				r := h.Get(n)
				if r == nil || r.Status != Succeeded || r.Metadata.FailureReason != fmt.Sprintf("note %d", n) {
					t.Errorf("release %d lost its update: %+v", n, r)
				}
			}
		})
	}
}

// The API server, unlike the fake, applies the field selector: a Secret
// that looks like a release but is not of the release type is not listed.
func TestSecretStoreSelectorsOnServer(t *testing.T) {
	client, ns := cluster(t)
	ctx := context.Background()
	s := NewSecretStore(client, ns, "web")
	if err := s.Create(ctx, &Release{Number: 1, Status: Succeeded, Manifests: []byte("---\nkind: A\n")}); err != nil {
		t.Fatal(err)
	}
	lookalike := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "lookalike", Labels: map[string]string{
			LabelOwner: OwnerHarness, LabelRelease: "web", LabelNumber: "1", LabelStatus: "nonsense"}},
		Type: corev1.SecretTypeOpaque,
	}
	if _, err := client.CoreV1().Secrets(ns).Create(ctx, lookalike, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	h, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(numbers(h), []int{1}) {
		t.Errorf("List = %v, want [1]", numbers(h))
	}
	if err := s.Create(ctx, &Release{Number: 1, Status: InProgress}); err == nil {
		t.Error("a second release 1 was created")
	}
}

// A store writes on top of the history it last read; when another writer
// changed it since, the server refuses that write and the store decides
// again on a fresh read: nothing is lost, no number is taken twice, and a
// release deleted meanwhile is not written back.
func TestStaleStoreMemory(t *testing.T) {
	for _, st := range clusterStores() {
		t.Run(st.name, func(t *testing.T) {
			client, ns := cluster(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			mine, other := st.new(client, ns), st.new(client, ns)
			for n := 1; n <= 2; n++ {
				if err := mine.Create(ctx, &Release{Number: n, Status: InProgress}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := mine.List(ctx); err != nil {
				t.Fatal(err)
			}

			if err := other.Create(ctx, &Release{Number: 3, Status: InProgress}); err != nil {
				t.Fatal(err)
			}
			if err := mine.Create(ctx, &Release{Number: 3, Status: InProgress}); !errors.Is(err, ErrExists) {
				t.Errorf("second release 3: %v, want ErrExists", err)
			}
			if err := other.Update(ctx, &Release{Number: 1, Status: Failed, Metadata: Metadata{FailureReason: "other"}}); err != nil {
				t.Fatal(err)
			}
			// Release 2 as mine remembers it is out of date: its write is
			// refused, and made again on what other wrote.
			if err := other.Update(ctx, &Release{Number: 2, Status: Failed}); err != nil {
				t.Fatal(err)
			}
			if err := mine.Update(ctx, &Release{Number: 2, Status: Succeeded}); err != nil {
				t.Fatal(err)
			}
			if err := other.Delete(ctx, 3); err != nil {
				t.Fatal(err)
			}
			if err := mine.Update(ctx, &Release{Number: 3, Status: Failed}); !errors.Is(err, ErrNotFound) {
				t.Errorf("update of release 3 deleted meanwhile: %v, want ErrNotFound", err)
			}

			h, err := st.new(client, ns).List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(numbers(h), []int{2, 1}) {
				t.Fatalf("history %v, want [2 1]", numbers(h))
			}
			if r := h.Get(1); r.Status != Failed || r.Metadata.FailureReason != "other" {
				t.Errorf("release 1 lost the other writer's update: %s %q", r.Status, r.Metadata.FailureReason)
			}
			if r := h.Get(2); r.Status != Succeeded {
				t.Errorf("release 2 is %s, want Succeeded", r.Status)
			}
		})
	}
}
