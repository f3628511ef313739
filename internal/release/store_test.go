package release

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kube-release/kube-release/internal/kube/typed/typedtest"
)

// The fake clientset checks the mapping of API calls and errors, nothing
// about concurrency: it does not enforce resourceVersion. The concurrency
// tests are in store_integration_test.go, against a real API server.

var fixedNow = time.Date(2025, 6, 1, 8, 30, 0, 0, time.UTC)

type storeCase struct {
	name string
	new  func(t *testing.T) Store
}

func storeCases() []storeCase {
	return []storeCase{
		{"memory", func(*testing.T) Store {
			s := NewMemoryStore()
			s.now = func() time.Time { return fixedNow }
			return s
		}},
		{"configmap", func(*testing.T) Store {
			s := NewConfigMapStore(typedtest.Wrap(fake.NewClientset()), "default", "web")
			s.now = func() time.Time { return fixedNow }
			return s
		}},
		{"secret", func(*testing.T) Store {
			s := NewSecretStore(typedtest.Wrap(fake.NewClientset()), "default", "web")
			s.now = func() time.Time { return fixedNow }
			return s
		}},
	}
}

// Every store behaves the same through the Store interface.
func TestStoreContract(t *testing.T) {
	ctx := context.Background()
	for _, tc := range storeCases() {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.new(t)
			h, err := s.List(ctx)
			if err != nil || len(h) != 0 {
				t.Fatalf("List of nothing = %v, %v; want an empty history", numbers(h), err)
			}
			if _, err := s.Get(ctx, 1); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get of a missing release: %v, want ErrNotFound", err)
			}

			r := &Release{
				Number:    1,
				Status:    InProgress,
				Resources: []ResourceID{{Kind: "Deployment", Name: "web", Namespace: "default"}},
				Manifests: JoinManifests([]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: default\n")),
				Metadata:  Metadata{Pipeline: Pipeline{Repository: "acme/web", Build: "7"}, Images: []string{"web:1"}},
			}
			if err := s.Create(ctx, r); err != nil {
				t.Fatal(err)
			}
			if !r.Metadata.Created.Equal(fixedNow) {
				t.Errorf("Create left Created %v, want %v", r.Metadata.Created, fixedNow)
			}
			if err := s.Create(ctx, &Release{Number: 1, Status: InProgress}); !errors.Is(err, ErrExists) {
				t.Errorf("Create of a taken number: %v, want ErrExists", err)
			}
			if err := s.Create(ctx, &Release{Number: 0, Status: InProgress}); err == nil {
				t.Error("Create of release number 0 succeeded")
			}

			got, err := s.Get(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != InProgress || !reflect.DeepEqual(got.Metadata, r.Metadata) {
				t.Errorf("Get(1) = %+v, want %+v", got, r)
			}

			got.Status = Succeeded
			got.Metadata.FailureReason = ""
			if err := s.Update(ctx, got); err != nil {
				t.Fatal(err)
			}
			if err := s.Update(ctx, &Release{Number: 9, Status: Failed}); !errors.Is(err, ErrNotFound) {
				t.Errorf("Update of a missing release: %v, want ErrNotFound", err)
			}

			second := &Release{Number: 0, Status: InProgress}
			if err := CreateNext(ctx, s, second, nil); err != nil {
				t.Fatal(err)
			}
			if second.Number != 2 {
				t.Errorf("CreateNext numbered %d, want 2", second.Number)
			}

			h, err = s.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(numbers(h), []int{2, 1}) || h[1].Status != Succeeded || !h[1].Metadata.Created.Equal(fixedNow) {
				t.Errorf("List = %s", dump(t, h))
			}

			if err := s.Delete(ctx, 1, 42); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(ctx, 1); err != nil {
				t.Errorf("Delete of a deleted release: %v", err)
			}
			h, err = s.List(ctx)
			if err != nil || !slices.Equal(numbers(h), []int{2}) {
				t.Errorf("List after Delete = %v, %v", numbers(h), err)
			}
		})
	}
}

// Callers get copies: changing what a store returned changes nothing stored.
func TestStoresReturnCopies(t *testing.T) {
	ctx := context.Background()
	for _, tc := range storeCases() {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.new(t)
			r := &Release{Number: 1, Status: InProgress, Metadata: Metadata{Images: []string{"web:1"}}}
			if err := s.Create(ctx, r); err != nil {
				t.Fatal(err)
			}
			r.Metadata.Images[0] = "changed"
			h, err := s.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			h[0].Metadata.Images[0] = "changed too"
			got, err := s.Get(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if got.Metadata.Images[0] != "web:1" {
				t.Errorf("stored image %q", got.Metadata.Images[0])
			}
		})
	}
}

func configMapClient(objects ...runtime.Object) *fake.Clientset {
	return fake.NewClientset(objects...)
}

// The ConfigMap store reads what Harness left, adds to it, and keeps every
// key, label and annotation it does not own.
func TestConfigMapStoreOnHarnessHistory(t *testing.T) {
	ctx := context.Background()
	cm := readConfigMap(t, "harness/legacy-compressed.configmap.yaml")
	cm.Labels = map[string]string{"team": "checkout"}
	cm.Annotations = map[string]string{"note": "do not remove"}
	cm.Data["someone-else"] = "kept"
	client := configMapClient(cm)
	s := NewConfigMapStore(typedtest.Wrap(client), "default", "web")

	h, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, drop := h.LegacyCleanup()
	if err := s.Delete(ctx, numbers(drop)...); err != nil {
		t.Fatal(err)
	}
	r := &Release{Number: h.NextNumber(), Status: InProgress, Metadata: Metadata{FailureReason: ""}}
	if err := s.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	if r.Number != 47 {
		t.Errorf("new release %d, want 47", r.Number)
	}

	stored, err := client.CoreV1().ConfigMaps("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if stored.Labels["team"] != "checkout" || stored.Annotations["note"] != "do not remove" || stored.Data["someone-else"] != "kept" {
		t.Errorf("lost what others put on the ConfigMap: %+v", stored.ObjectMeta)
	}
	after, err := DecodeConfigMap(stored)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(numbers(after), []int{47, 45}) {
		t.Errorf("history %v, want [47 45]", numbers(after))
	}
	harnessRead(t, historyYAML(t, stored))
}

// A corrupt history stops every write: nothing is overwritten.
func TestConfigMapStoreLeavesCorruptHistoryAlone(t *testing.T) {
	ctx := context.Background()
	cm := cmWith(map[string]string{HistoryKey: "not*base64", CompressedKey: "true"})
	client := configMapClient(cm)
	s := NewConfigMapStore(typedtest.Wrap(client), "default", "web")
	for name, err := range map[string]error{
		"List":   func() error { _, err := s.List(ctx); return err }(),
		"Create": s.Create(ctx, &Release{Number: 1, Status: InProgress}),
		"Update": s.Update(ctx, &Release{Number: 1, Status: InProgress}),
		"Delete": s.Delete(ctx, 1),
	} {
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
	for _, a := range client.Actions() {
		if a.GetVerb() != "get" {
			t.Errorf("%s on a corrupt history", a.GetVerb())
		}
	}
}

func TestConfigMapStoreCreatesTheConfigMap(t *testing.T) {
	ctx := context.Background()
	client := configMapClient()
	s := NewConfigMapStore(typedtest.Wrap(client), "shop", "web")
	if err := s.Update(ctx, &Release{Number: 1, Status: Failed}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Update without a ConfigMap: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, 1); err != nil {
		t.Errorf("Delete without a ConfigMap: %v", err)
	}
	if n := len(client.Actions()); n != 2 {
		t.Errorf("%d calls, want 2 reads and no writes: %v", n, client.Actions())
	}
	if err := s.Create(ctx, &Release{Number: 1, Status: InProgress}); err != nil {
		t.Fatal(err)
	}
	cm, err := client.CoreV1().ConfigMaps("shop").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data[CompressedKey] != "true" || cm.Data[HistoryKey] == "" {
		t.Errorf("ConfigMap data %v", cm.Data)
	}
}

// The Secret store lists with one call, selected as Harness selects, and
// skips anything the server should not have returned.
func TestSecretStoreList(t *testing.T) {
	ctx := context.Background()
	harness := readSecret(t, "harness/declarative.secret.yaml")
	other := releaseSecret(func(s *corev1.Secret) { s.Name = "harness.release.api.3"; s.Labels[LabelRelease] = "api" })
	opaque := releaseSecret(func(s *corev1.Secret) { s.Name = "harness.release.web.5"; s.Type = corev1.SecretTypeOpaque })
	client := fake.NewClientset(harness, other, opaque)
	s := NewSecretStore(typedtest.Wrap(client), "default", "web")

	h, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(numbers(h), []int{7}) {
		t.Errorf("List = %v, want [7]", numbers(h))
	}
	var lists []k8stesting.ListActionImpl
	for _, a := range client.Actions() {
		if l, ok := a.(k8stesting.ListActionImpl); ok {
			lists = append(lists, l)
		} else {
			t.Errorf("unexpected %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}
	if len(lists) != 1 {
		t.Fatalf("%d list calls, want 1", len(lists))
	}
	restrictions := lists[0].GetListRestrictions()
	if restrictions.Labels.String() != "owner=harness,release=web" || restrictions.Fields.String() != "type=harness.io/release/v2" {
		t.Errorf("selectors %q %q", restrictions.Labels, restrictions.Fields)
	}
}

func TestSecretStoreDuplicateNumber(t *testing.T) {
	copied := releaseSecret(func(s *corev1.Secret) { s.Name = "harness.release.web.3.backup" })
	s := NewSecretStore(typedtest.Wrap(fake.NewClientset(releaseSecret(func(*corev1.Secret) {}), copied)), "default", "web")
	_, err := s.List(context.Background())
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("error %v, want ErrCorrupt", err)
	}
}

// Update changes what kube-release owns and keeps what Harness or others
// added to the Secret.
func TestSecretStoreUpdateKeepsForeignData(t *testing.T) {
	ctx := context.Background()
	harness := readSecret(t, "harness/declarative.secret.yaml")
	harness.Annotations = map[string]string{"note": "kept"}
	client := fake.NewClientset(harness)
	s := NewSecretStore(typedtest.Wrap(client), "default", "web")

	r, err := s.Get(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	r.Status = Failed
	r.Manifests = nil // a status change needs no manifests
	r.Metadata.FailureReason = "interrupted"
	if err := s.Update(ctx, r); err != nil {
		t.Fatal(err)
	}
	stored, err := client.CoreV1().Secrets("default").Get(ctx, "harness.release.web.7", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if stored.Labels[LabelStatus] != "Failed" || stored.Labels["harness.io/pruning-enabled"] != "false" || stored.Annotations["note"] != "kept" {
		t.Errorf("stored %+v", stored.ObjectMeta)
	}
	if string(stored.Data[ManifestsKey]) != string(harness.Data[ManifestsKey]) {
		t.Error("the manifests changed")
	}
	back, err := DecodeSecret(stored)
	if err != nil {
		t.Fatal(err)
	}
	if back.Metadata.FailureReason != "interrupted" || !back.Metadata.Created.Equal(harness.CreationTimestamp.Time) {
		t.Errorf("metadata %+v", back.Metadata)
	}
}

func TestSecretStoreCreate(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset()
	s := NewSecretStore(typedtest.Wrap(client), "shop", "web")
	if err := s.Create(ctx, &Release{Number: 5, Status: InProgress, Manifests: []byte("---\nkind: A\n")}); err != nil {
		t.Fatal(err)
	}
	stored, err := client.CoreV1().Secrets("shop").Get(ctx, "harness.release.web.5", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"owner": "harness", "release": "web", "release-number": "5", "status": "InProgress"}
	if stored.Type != SecretType || !reflect.DeepEqual(stored.Labels, want) {
		t.Errorf("created %s %v", stored.Type, stored.Labels)
	}

	// Too large: refused before any write.
	before := len(client.Actions())
	err = s.Create(ctx, &Release{Number: 6, Status: InProgress, Manifests: incompressible(2 << 20)})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("error %v, want ErrTooLarge", err)
	}
	if len(client.Actions()) != before {
		t.Errorf("API calls for a release that cannot be stored: %v", client.Actions()[before:])
	}
}

func TestSecretStoreDeleteByName(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(releaseSecret(func(*corev1.Secret) {}))
	s := NewSecretStore(typedtest.Wrap(client), "default", "web")
	if err := s.Delete(ctx, 3, 4); err != nil {
		t.Fatal(err)
	}
	var deleted []string
	for _, a := range client.Actions() {
		if d, ok := a.(k8stesting.DeleteActionImpl); ok {
			deleted = append(deleted, d.GetName())
		}
	}
	if !slices.Equal(deleted, []string{"harness.release.web.3", "harness.release.web.4"}) {
		t.Errorf("deleted %v", deleted)
	}
}

// API errors other than the mapped ones reach the caller, named.
func TestStoreAPIErrors(t *testing.T) {
	ctx := context.Background()
	forbid := func(c *fake.Clientset) *fake.Clientset {
		c.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, errors.New("forbidden by the test")
		})
		return c
	}
	_, err := NewConfigMapStore(typedtest.Wrap(forbid(fake.NewClientset())), "default", "web").List(ctx)
	if err == nil || err.Error() != "configmap default/web: forbidden by the test" {
		t.Errorf("ConfigMapStore.List: %v", err)
	}
	_, err = NewSecretStore(typedtest.Wrap(forbid(fake.NewClientset())), "default", "web").List(ctx)
	if err == nil || err.Error() != "secrets of release web in namespace default: forbidden by the test" {
		t.Errorf("SecretStore.List: %v", err)
	}
	err = NewSecretStore(typedtest.Wrap(forbid(fake.NewClientset())), "default", "web").Delete(ctx, 3)
	if err == nil || err.Error() != "secret default/harness.release.web.3: forbidden by the test" {
		t.Errorf("SecretStore.Delete: %v", err)
	}
}

// A deploy reads the history once; each write after that costs one
// request, because the store writes on top of what it read.
func TestStoresWriteWithoutRereading(t *testing.T) {
	ctx := context.Background()
	verbs := func(c *fake.Clientset) []string {
		var out []string
		for _, a := range c.Actions() {
			out = append(out, a.GetVerb())
		}
		return out
	}
	t.Run("configmap", func(t *testing.T) {
		client := configMapClient(cmWith(nil))
		s := NewConfigMapStore(typedtest.Wrap(client), "default", "web")
		if _, err := s.List(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Create(ctx, &Release{Number: 1, Status: Succeeded}); err != nil {
			t.Fatal(err)
		}
		if err := s.Create(ctx, &Release{Number: 2, Status: InProgress}); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if err := s.Update(ctx, &Release{Number: 2, Status: Succeeded}); err != nil {
			t.Fatal(err)
		}
		if got, want := verbs(client), []string{"get", "update", "update", "update", "update"}; !slices.Equal(got, want) {
			t.Errorf("requests %v, want %v", got, want)
		}
		h, err := NewConfigMapStore(typedtest.Wrap(client), "default", "web").List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(numbers(h), []int{2}) || h[0].Status != Succeeded {
			t.Errorf("history %v (%s), want release 2 Succeeded", numbers(h), h[0].Status)
		}
	})
	t.Run("configmap cleanup and create in one write", func(t *testing.T) {
		client := configMapClient(cmWith(nil))
		s := NewConfigMapStore(typedtest.Wrap(client), "default", "web")
		for _, r := range []*Release{{Number: 1, Status: Failed}, {Number: 2, Status: Succeeded}} {
			if err := s.Create(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		client.ClearActions()
		if err := CreateDropping(ctx, s, &Release{Number: 3, Status: InProgress}, 1, 7); err != nil {
			t.Fatal(err)
		}
		if got, want := verbs(client), []string{"update"}; !slices.Equal(got, want) {
			t.Errorf("requests %v, want %v", got, want)
		}
		h, err := NewConfigMapStore(typedtest.Wrap(client), "default", "web").List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(numbers(h), []int{3, 2}) {
			t.Errorf("history %v, want 3, 2", numbers(h))
		}
		// A taken number refuses the whole write: the cleanup is not
		// recorded either.
		if err := CreateDropping(ctx, s, &Release{Number: 3, Status: InProgress}, 2); !errors.Is(err, ErrExists) {
			t.Errorf("number taken: %v, want ErrExists", err)
		}
		if h, _ := s.List(ctx); !slices.Equal(numbers(h), []int{3, 2}) {
			t.Errorf("history after the refused write %v, want 3, 2", numbers(h))
		}
	})
	t.Run("secret store deletes, then creates", func(t *testing.T) {
		client := fake.NewClientset()
		s := NewSecretStore(typedtest.Wrap(client), "default", "web")
		if err := s.Create(ctx, &Release{Number: 1, Status: Failed, Manifests: []byte("---\nkind: A\n")}); err != nil {
			t.Fatal(err)
		}
		if err := CreateDropping(ctx, s, &Release{Number: 2, Status: InProgress, Manifests: []byte("---\nkind: A\n")}, 1); err != nil {
			t.Fatal(err)
		}
		h, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(numbers(h), []int{2}) {
			t.Errorf("history %v, want 2", numbers(h))
		}
	})
	t.Run("configmap decisions are made on a fresh read", func(t *testing.T) {
		client := configMapClient(cmWith(nil))
		s := NewConfigMapStore(typedtest.Wrap(client), "default", "web")
		if _, err := s.List(ctx); err != nil {
			t.Fatal(err)
		}
		// The remembered history has no release 1: the update is not
		// refused on its word, but on the server's.
		if err := s.Update(ctx, &Release{Number: 1, Status: Failed}); !errors.Is(err, ErrNotFound) {
			t.Errorf("Update of a missing release: %v, want ErrNotFound", err)
		}
		if got, want := verbs(client), []string{"get", "get"}; !slices.Equal(got, want) {
			t.Errorf("requests %v, want %v", got, want)
		}
	})
	t.Run("secret", func(t *testing.T) {
		client := fake.NewClientset()
		s := NewSecretStore(typedtest.Wrap(client), "default", "web")
		if _, err := s.List(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Create(ctx, &Release{Number: 1, Status: InProgress, Manifests: []byte("---\nkind: A\n")}); err != nil {
			t.Fatal(err)
		}
		if err := s.Update(ctx, &Release{Number: 1, Status: Succeeded, Manifests: []byte("---\nkind: A\n")}); err != nil {
			t.Fatal(err)
		}
		if got, want := verbs(client), []string{"list", "create", "update"}; !slices.Equal(got, want) {
			t.Errorf("requests %v, want %v", got, want)
		}
		r, err := NewSecretStore(typedtest.Wrap(client), "default", "web").Get(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != Succeeded || string(r.Manifests) != "---\nkind: A\n" {
			t.Errorf("stored %s %q", r.Status, r.Manifests)
		}
	})
}
