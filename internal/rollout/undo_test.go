package rollout

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kube-release/kube-release/internal/object"
	"github.com/kube-release/kube-release/internal/testcluster"
)

// For each kind: a second rollout is revision 2; Undo to revision 1 brings
// back revision 1's image, the workload becomes ready again (at revision 3,
// as kubectl's rollbacks number it), undoing to the current template again
// is skipped, and a revision that does not exist is an error listing those
// that do.
func TestRevisionAndUndo(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	for _, tc := range []struct {
		kind string
		obj  any
	}{
		{KindDeployment, testcluster.Deployment("web", testcluster.GoodImage, 2)},
		{KindStatefulSet, testcluster.StatefulSet("db", testcluster.GoodImage, 2)},
		{KindDaemonSet, testcluster.DaemonSet("agent", testcluster.GoodImage)},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			t.Parallel()
			ns := c.Namespace(t)
			cs := c.Typed(t)
			ctx := context.Background()
			w := create(t, cs, ns, tc.obj)[0]
			waiter := NewWaiter(cs, Options{Timeout: 30 * time.Second})
			wait := func(wantRevision string) {
				t.Helper()
				results, err := waiter.Wait(ctx, []object.Ref{w})
				if err != nil {
					t.Fatalf("wait: %v", err)
				}
				if got := results[0].Revision; got != wantRevision {
					t.Fatalf("revision after wait = %q, want %q", got, wantRevision)
				}
				if got, err := Revision(ctx, cs, w); err != nil || got != wantRevision {
					t.Fatalf("Revision = %q, %v; want %q", got, err, wantRevision)
				}
			}
			wait("1")

			setImage(t, cs, w, testcluster.GoodImage2)
			wait("2")

			msg, err := Undo(ctx, cs, w, 1)
			if err != nil {
				t.Fatalf("undo: %v", err)
			}
			if msg != "rolled back" {
				t.Errorf("undo message %q", msg)
			}
			if got := imageOf(t, cs, w); got != testcluster.GoodImage {
				t.Errorf("image after undo = %q, want %q", got, testcluster.GoodImage)
			}
			// The new number is known as soon as the controller saw the
			// undo, long before the rollout is done.
			if got, err := ObservedRevision(ctx, cs, w); err != nil || got != "3" {
				t.Errorf("ObservedRevision after undo = %q, %v; want 3", got, err)
			}
			if tc.kind == KindDeployment {
				// An undo run again with the number it was given finds
				// the ReplicaSet the first one renumbered.
				msg, err := Undo(ctx, cs, w, 1)
				if err != nil || !strings.HasPrefix(msg, "skipped rollback") {
					t.Errorf("undo to revision 1 again: %q, %v; want skipped", msg, err)
				}
			}
			wait("3")

			msg, err = Undo(ctx, cs, w, 3)
			if err != nil || !strings.HasPrefix(msg, "skipped rollback") {
				t.Errorf("undo to the current revision: %q, %v; want skipped", msg, err)
			}

			_, err = Undo(ctx, cs, w, 7)
			want := w.String() + ": undo to revision 7: revision not found (existing revisions: 2, 3)"
			if !errors.Is(err, ErrRevisionNotFound) || err.Error() != want {
				t.Errorf("undo to a missing revision: %v\nwant %s", err, want)
			}
		})
	}
}

func TestUndoRejects(t *testing.T) {
	for _, tc := range []struct {
		w        object.Ref
		revision int64
		want     string
	}{
		{object.Ref{Kind: KindJob, Namespace: "ns", Name: "migrate"}, 1, "Job/ns/migrate: undo: unsupported kind"},
		{object.Ref{Kind: "Pod", Namespace: "ns", Name: "p"}, 1, "Pod/ns/p: unsupported kind"},
		{object.Ref{Kind: KindDeployment, Namespace: "ns", Name: "web"}, 0, "Deployment/ns/web: undo: invalid revision 0"},
	} {
		_, err := Undo(context.Background(), nil, tc.w, tc.revision)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Undo(%s, %d) = %v, want %q", tc.w, tc.revision, err, tc.want)
		}
	}
}

// Undo leaves exactly the object `kubectl rollout undo --to-revision`
// leaves: the same workload, rolled out to v2 in two namespaces, is rolled
// back to revision 1 by kubectl in one and by Undo in the other, and the
// templates, annotations and generations compare equal.
func TestUndoMatchesKubectl(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	bin, err := testcluster.Binaries(context.Background(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	kubectl := filepath.Join(bin, "kubectl")
	for _, tc := range []struct {
		kind string
		obj  func() any
	}{
		{KindDeployment, func() any { return testcluster.Deployment("web", testcluster.GoodImage, 1) }},
		{KindStatefulSet, func() any { return testcluster.StatefulSet("db", testcluster.GoodImage, 1) }},
		{KindDaemonSet, func() any { return testcluster.DaemonSet("agent", testcluster.GoodImage) }},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			t.Parallel()
			cs := c.Typed(t)
			ctx := context.Background()
			waiter := NewWaiter(cs, Options{Timeout: 30 * time.Second})
			rolledBack := func(undo func(w object.Ref)) map[string]any {
				ns := c.Namespace(t)
				w := create(t, cs, ns, tc.obj())[0]
				for _, image := range []string{testcluster.GoodImage, testcluster.GoodImage2} {
					if image != testcluster.GoodImage {
						setImage(t, cs, w, image)
					}
					if _, err := waiter.Wait(ctx, []object.Ref{w}); err != nil {
						t.Fatalf("wait: %v", err)
					}
				}
				undo(w)
				// The controller renumbers the template it returns to:
				// compare once it has.
				if _, err := ObservedRevision(ctx, cs, w); err != nil {
					t.Fatal(err)
				}
				obj, err := Get(ctx, cs, w)
				if err != nil {
					t.Fatal(err)
				}
				m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
				if err != nil {
					t.Fatal(err)
				}
				meta := m["metadata"].(map[string]any)
				spec := m["spec"].(map[string]any)
				return map[string]any{
					"annotations": meta["annotations"],
					"generation":  meta["generation"],
					"template":    spec["template"],
				}
			}
			byKubectl := rolledBack(func(w object.Ref) {
				out, err := exec.Command(kubectl, "--kubeconfig", c.Kubeconfig, "-n", w.Namespace,
					"rollout", "undo", strings.ToLower(w.Kind)+"/"+w.Name, "--to-revision=1").CombinedOutput()
				if err != nil {
					t.Fatalf("kubectl rollout undo: %v\n%s", err, out)
				}
			})
			byUndo := rolledBack(func(w object.Ref) {
				if _, err := Undo(ctx, cs, w, 1); err != nil {
					t.Fatal(err)
				}
			})
			if !reflect.DeepEqual(byUndo, byKubectl) {
				t.Errorf("after Undo:\n%v\nafter kubectl rollout undo:\n%v", byUndo, byKubectl)
			}
		})
	}
}
