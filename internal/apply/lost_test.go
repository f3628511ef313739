package apply

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/kube-release/kube-release/internal/kube"
	"github.com/kube-release/kube-release/internal/object"
	"github.com/kube-release/kube-release/internal/testcluster"
)

const lostSet = `
apiVersion: v1
kind: ConfigMap
metadata: {name: existing, namespace: NS}
data: {a: "2"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: lost-new, namespace: NS}
data: {a: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: answered-new, namespace: NS}
data: {a: "1"}
`

// objectName is the name in an object's URL path.
func objectName(r *http.Request) string { return r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:] }

func isApply(r *http.Request) bool {
	return r.Method == http.MethodPatch && r.URL.Query().Get("dryRun") == ""
}

// The server applies a request and its answer is lost: the retry gets 200
// for an object the lost attempt created. With the dry run's baseline
// that said it was new, it is still reported created; an object that
// existed is not, lost answer or not; without a baseline nothing can tell,
// and the object is listed as unproven rather than taken for created.
func TestApplyLostAnswer(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	for _, tc := range []struct {
		name         string
		baseline     bool
		want         map[string]Action
		wantUnproven []string
	}{
		{"with a baseline", true,
			map[string]Action{"existing": Configured, "lost-new": Created, "answered-new": Created}, nil},
		{"without a baseline", false,
			map[string]Action{"existing": Configured, "lost-new": Configured, "answered-new": Created}, []string{"existing", "lost-new"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := c.Namespace(t)
			ctx := context.Background()
			plain := newApplier(t, c.Config(), Config{})
			if _, err := plain.Apply(ctx, manifests(t, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: existing, namespace: NS}\ndata: {a: \"1\"}\n"), Options{}); err != nil {
				t.Fatal(err)
			}

			var mu sync.Mutex
			lost := map[string]bool{}
			rec := &recorder{}
			rec.fault = func(r *http.Request) (*http.Response, error) {
				name := objectName(r)
				if !isApply(r) || name == "answered-new" {
					return nil, nil
				}
				mu.Lock()
				first := !lost[name]
				lost[name] = true
				mu.Unlock()
				if !first {
					return nil, nil
				}
				// The server acts on the request; its answer never arrives.
				resp, err := rec.next.RoundTrip(r)
				if err != nil {
					return nil, err
				}
				resp.Body.Close()
				return nil, &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
			}
			a := newApplier(t, recordingConfig(c, rec), Config{Retry: kube.Backoff{Initial: 1}})
			objs := manifests(t, ns, lostSet)
			var opts Options
			if tc.baseline {
				dry, err := a.Apply(ctx, objs, Options{DryRun: true})
				if err != nil {
					t.Fatal(err)
				}
				opts.Baseline = dry
			}
			res, err := a.Apply(ctx, objs, opts)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]Action{}
			for _, ch := range res.Changes {
				got[ch.Ref.Name] = ch.Action
			}
			if !mapsEqual(got, tc.want) {
				t.Errorf("actions %v, want %v", got, tc.want)
			}
			var unproven []string
			for _, ref := range res.Unproven {
				unproven = append(unproven, ref.Name)
			}
			slices.Sort(unproven)
			if !slices.Equal(unproven, tc.wantUnproven) {
				t.Errorf("unproven %v, want %v", unproven, tc.wantUnproven)
			}
			if len(res.MaybeCreated) > 0 {
				t.Errorf("maybe created %v: every outcome is known", res.MaybeCreated)
			}
		})
	}
}

// The context ends while requests are in flight (a cancelled step): the
// server may have applied them, but no answer says so. An object the
// baseline found new is listed as maybe created; one that existed never.
func TestApplyCancelledInFlight(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	for _, baseline := range []bool{true, false} {
		name := "without a baseline"
		if baseline {
			name = "with a baseline"
		}
		t.Run(name, func(t *testing.T) {
			ns := c.Namespace(t)
			plain := newApplier(t, c.Config(), Config{})
			if _, err := plain.Apply(context.Background(), manifests(t, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: existing, namespace: NS}\ndata: {a: \"1\"}\n"), Options{}); err != nil {
				t.Fatal(err)
			}

			// existing and lost-new reach the server and are held there
			// until the context ends; answered-new is answered.
			held := make(chan string, 2)
			answered := make(chan struct{})
			rec := &recorder{}
			rec.fault = func(r *http.Request) (*http.Response, error) {
				if !isApply(r) {
					return nil, nil
				}
				resp, err := rec.next.RoundTrip(r)
				if err != nil {
					return nil, err
				}
				if objectName(r) == "answered-new" {
					// Answered once the client has read it all.
					resp.Body = notifyClose{resp.Body, func() { close(answered) }}
					return resp, nil
				}
				resp.Body.Close()
				held <- objectName(r)
				<-r.Context().Done()
				return nil, r.Context().Err()
			}
			a := newApplier(t, recordingConfig(c, rec), Config{})
			objs := manifests(t, ns, lostSet)
			var opts Options
			if baseline {
				dry, err := a.Apply(context.Background(), objs, Options{DryRun: true})
				if err != nil {
					t.Fatal(err)
				}
				opts.Baseline = dry
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				<-held
				<-held
				<-answered
				cancel()
			}()
			res, err := a.Apply(ctx, objs, opts)
			if err == nil {
				t.Fatal("no error from an apply cancelled in flight")
			}
			var maybe, unproven []string
			for _, ch := range res.MaybeCreated {
				maybe = append(maybe, ch.Ref.Name+" "+string(ch.Action)+" "+ch.Object.GetAPIVersion())
			}
			for _, ref := range res.Unproven {
				unproven = append(unproven, ref.Name)
			}
			slices.Sort(unproven)
			wantMaybe, wantUnproven := []string{"lost-new created v1"}, []string(nil)
			if !baseline {
				wantMaybe, wantUnproven = nil, []string{"existing", "lost-new"}
			}
			if !slices.Equal(maybe, wantMaybe) || !slices.Equal(unproven, wantUnproven) {
				t.Errorf("maybe created %v, unproven %v; want %v, %v", maybe, unproven, wantMaybe, wantUnproven)
			}
			if got := actions(res); !mapsEqual(got, map[string]Action{"ConfigMap/" + ns + "/answered-new": Created}) {
				t.Errorf("changes %v, want answered-new created", got)
			}
		})
	}
}

// A dry run found new what a Namespace of the same set holds, and skipped
// it: that counts as new too.
func TestApplyLostAnswerInNewNamespace(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := "lost-" + rand.String(6)
	plain := newApplier(t, c.Config(), Config{})
	t.Cleanup(func() {
		plain.Delete(context.Background(), []object.Ref{{Kind: "Namespace", Name: ns}}, DeleteOptions{})
	})
	objs := manifests(t, ns, "apiVersion: v1\nkind: Namespace\nmetadata: {name: NS, labels: {a: b}}\n---\n"+
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lost-new, namespace: NS}\ndata: {a: \"1\"}\n")
	var once sync.Once
	rec := &recorder{}
	rec.fault = func(r *http.Request) (*http.Response, error) {
		if !isApply(r) || objectName(r) != "lost-new" {
			return nil, nil
		}
		var lose bool
		once.Do(func() { lose = true })
		if !lose {
			return nil, nil
		}
		resp, err := rec.next.RoundTrip(r)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		return nil, &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	}
	a := newApplier(t, recordingConfig(c, rec), Config{Retry: kube.Backoff{Initial: 1}})
	dry, err := a.Apply(context.Background(), objs, Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(dry.Skipped) != 1 {
		t.Fatalf("dry run skipped %v, want the ConfigMap", dry.Skipped)
	}
	res, err := a.Apply(context.Background(), objs, Options{Baseline: dry})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(res); got["ConfigMap/"+ns+"/lost-new"] != Created {
		t.Errorf("changes %v, want the ConfigMap created", got)
	}
}

// notifyClose calls done once when the body is closed.
type notifyClose struct {
	io.ReadCloser
	done func()
}

func (n notifyClose) Close() error {
	err := n.ReadCloser.Close()
	n.done()
	return err
}
