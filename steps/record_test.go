package steps

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kube-release/kube-release/internal/apply"
	"github.com/kube-release/kube-release/internal/kube/typed/typedtest"
	"github.com/kube-release/kube-release/internal/object"
	"github.com/kube-release/kube-release/internal/release"
)

func configMapObject(name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind("ConfigMap")
	u.SetNamespace("prod")
	u.SetName(name)
	return u
}

// The InProgress record lists what the dry run found new, so that a run
// killed outright leaves it behind; the size check counts what the final
// record may list, which without a dry run is every object.
func TestPlannedCreations(t *testing.T) {
	objs := []*unstructured.Unstructured{configMapObject("new"), configMapObject("old"), configMapObject("in-new-namespace")}
	baseline := &apply.Result{
		Changes: []apply.Change{
			{Ref: object.Of(objs[0]), Action: apply.Created, Object: objs[0]},
			{Ref: object.Of(objs[1]), Action: apply.Configured, Object: objs[1]},
		},
		Skipped: []apply.Skip{{Ref: object.Of(objs[2]), Reason: "Namespace prod is created by the same set"}},
	}
	names := func(refs []release.ObjectRef) []string {
		var s []string
		for _, r := range refs {
			s = append(s, r.APIVersion+" "+r.String())
		}
		return s
	}
	for _, tc := range []struct {
		name              string
		p                 *rollingPlan
		planned, mayBeNew []string
	}{
		{"with a dry run", &rollingPlan{objects: objs, baseline: baseline},
			[]string{"v1 ConfigMap prod/new", "v1 ConfigMap prod/in-new-namespace"},
			[]string{"v1 ConfigMap prod/new", "v1 ConfigMap prod/in-new-namespace"}},
		{"without", &rollingPlan{objects: objs}, nil,
			[]string{"v1 ConfigMap prod/new", "v1 ConfigMap prod/old", "v1 ConfigMap prod/in-new-namespace"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := names(plannedCreations(tc.p)); !slices.Equal(got, tc.planned) {
				t.Errorf("planned %v, want %v", got, tc.planned)
			}
			if got := names(mayCreate(tc.p)); !slices.Equal(got, tc.mayBeNew) {
				t.Errorf("may create %v, want %v", got, tc.mayBeNew)
			}
		})
	}
}

// The final record is at least as large as any record of the deploy.
func TestFinalRecord(t *testing.T) {
	p := &rollingPlan{objects: []*unstructured.Unstructured{configMapObject("a")}}
	rel := &release.Release{Number: 3, Status: release.InProgress, Workloads: []release.Workload{
		{ID: release.ResourceID{Kind: "Deployment", Name: "web"}}, {ID: release.ResourceID{Kind: "StatefulSet", Name: "db"}},
	}}
	f := finalRecord(rel, p)
	if f.Status != release.Succeeded || len(f.Metadata.CreatedObjects) != 1 || len(f.Metadata.FailureReason) < len("steady state not reached") {
		t.Errorf("final record %+v", f)
	}
	if a, b := f.Workloads[0].Revision, f.Workloads[1].Revision; len(a) != 19 || len(b) != 19 || a == b ||
		!regexp.MustCompile(`^[0-9]+$`).MatchString(a+b) {
		t.Errorf("revisions %q %q, want distinct 19-digit numbers", a, b)
	}
	if rel.Status != release.InProgress || rel.Workloads[0].Revision != "" {
		t.Error("finalRecord changed the release it was given")
	}
}

// bulkyRelease is a release of count versioned ConfigMaps whose names gzip
// cannot shrink much, each recorded as created.
func bulkyRelease(n, count int, status release.Status) (*release.Release, []*unstructured.Unstructured) {
	r := &release.Release{Number: n, Status: status}
	var objs []*unstructured.Unstructured
	for i := range count {
		sum := sha256.Sum256(fmt.Appendf(nil, "%d/%d", n, i))
		name := hex.EncodeToString(sum[:]) + "-" + fmt.Sprint(n)
		r.Resources = append(r.Resources, release.ResourceID{Kind: "ConfigMap", Name: name, Namespace: "prod", Versioned: true})
		r.Metadata.CreatedObjects = append(r.Metadata.CreatedObjects, release.ObjectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "prod", Name: name})
		objs = append(objs, configMapObject(name))
	}
	return r, objs
}

// Over the limit, the check fails before anything is written, saying by
// how much, what takes the room, and which fixes apply; under it, nothing.
func TestCheckRecordSize(t *testing.T) {
	ctx := context.Background()
	previous, _ := bulkyRelease(1, 6000, release.Succeeded)
	client := fake.NewClientset()
	store := release.NewConfigMapStore(typedtest.Wrap(client), "prod", "web")
	if err := store.Create(ctx, previous); err != nil {
		t.Fatal(err)
	}
	book := release.NewBook(store, release.NewMemoryStore())
	if err := book.Read(ctx); err != nil {
		t.Fatal(err)
	}
	writes := len(client.Actions())

	for _, tc := range []struct {
		name        string
		cfg         RollingConfig
		count       int
		want        []string // in the error, in order
		wantMissing []string
	}{
		{"fits", RollingConfig{Release: "web"}, 100, nil, nil},
		{"over, legacy", RollingConfig{Release: "web"}, 6000, []string{
			"release history: configmap prod/web: too large: the history of 2 releases would make its data 1.1 MiB (",
			" bytes over 1020.0 KiB (1044480 bytes) (the 1.0 MiB (1048576 bytes) limit of a ConfigMap, less 4.0 KiB (4096 bytes) kept free for the updates that follow); ",
			"release 2 takes 5", " KiB of it for 6000 resources (6000 of them new objects, each recorded as created), and release 1, kept beside it (a rollback returns to the last successful one), takes 5",
			" KiB; nothing was changed. To deploy, do one of: deploy at most about 4",
			" objects per release (split the manifests across several release names); or set skip_resource_versioning: true: each of the 6000 versioned",
			"; or set enable_declarative_rollback: true, which keeps each release in a Secret of its own, so that release 1 no longer shares its 1 MiB",
		}, nil},
		{"over, versioning already off", RollingConfig{Release: "web", SkipResourceVersioning: true}, 6000,
			[]string{"deploy at most about", "enable_declarative_rollback: true"}, []string{"skip_resource_versioning"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rel, objs := bulkyRelease(2, tc.count, release.InProgress)
			if tc.cfg.SkipResourceVersioning {
				for i := range rel.Resources {
					rel.Resources[i].Versioned = false
				}
			}
			rel.Metadata.CreatedObjects = nil
			p := &rollingPlan{book: book, number: 2, objects: objs}
			err := NewRolling(tc.cfg, Env{}).checkRecordSize(p, rel)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("does not fit: %v", err)
				}
				return
			}
			if !errors.Is(err, release.ErrTooLarge) {
				t.Fatalf("error %v, want ErrTooLarge", err)
			}
			t.Log(err)
			msg, at := err.Error(), 0
			for _, w := range tc.want {
				i := strings.Index(msg[at:], w)
				if i < 0 {
					t.Fatalf("error lacks %q after byte %d:\n%s", w, at, msg)
				}
				at += i + len(w)
			}
			for _, w := range tc.wantMissing {
				if strings.Contains(msg, w) {
					t.Errorf("error mentions %q:\n%s", w, msg)
				}
			}
		})
	}
	if n := len(client.Actions()); n != writes {
		t.Errorf("the check made %d requests", n-writes)
	}

	// Declarative: the release's own Secret, its manifests and metadata.
	t.Run("over, declarative", func(t *testing.T) {
		rel, objs := bulkyRelease(2, 20000, release.InProgress)
		var docs [][]byte
		for _, id := range rel.Resources {
			docs = append(docs, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "+id.Name+", namespace: prod}\n"))
		}
		rel.Manifests = release.JoinManifests(docs...)
		rel.Metadata.CreatedObjects = nil
		secrets := release.NewSecretStore(typedtest.Wrap(fake.NewClientset()), "prod", "web")
		book := release.NewBook(release.NewMemoryStore(), secrets)
		if err := book.Create(ctx, release.Declarative, &release.Release{Number: 1, Status: release.Succeeded}); err != nil {
			t.Fatal(err)
		}
		p := &rollingPlan{book: book, number: 2, objects: objs}
		err := NewRolling(RollingConfig{Release: "web", Declarative: true}, Env{}).checkRecordSize(p, rel)
		if !errors.Is(err, release.ErrTooLarge) {
			t.Fatalf("error %v, want ErrTooLarge", err)
		}
		t.Log(err)
		msg := err.Error()
		for _, w := range []string{
			"release history: secret prod/harness.release.web.2: too large: release 2, whose manifests are ",
			"for 20000 resources (20000 of them new objects, each recorded as created); nothing was changed",
			"deploy smaller manifests per release, or leave enable_declarative_rollback off",
		} {
			if !strings.Contains(msg, w) {
				t.Errorf("error lacks %q", w)
			}
		}
		if strings.Contains(msg, "kept beside it") || strings.Contains(msg, "skip_resource_versioning") {
			t.Errorf("error speaks of what a release Secret does not hold:\n%s", msg)
		}
	})
}

func TestPlural(t *testing.T) {
	for _, tc := range []struct {
		n    []int
		want string
	}{
		{[]int{4}, "release 4"},
		{[]int{3, 4}, "releases 3 and 4"},
		{[]int{2, 3, 4}, "releases 2, 3 and 4"},
	} {
		if got := plural(tc.n, "release"); got != tc.want {
			t.Errorf("plural(%v) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
