package rollout

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
)

// A watch that cannot be opened is opened again when kube.Transient says
// the failure passes (and for a few auth failures, which pass while an API
// server restarts), from scratch when its resourceVersion expired, and
// given up at once otherwise.
func TestWatchReconnects(t *testing.T) {
	gr := schema.GroupResource{Group: "apps", Resource: "deployments"}
	refused := &url.Error{Op: "Get", URL: "https://127.0.0.1:6443/apis/apps/v1/deployments",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	forbidden := apierrors.NewForbidden(gr, "", errors.New("no"))
	for _, tc := range []struct {
		name  string
		fails []error // the failed opens before one that works
		// giveUp is the error the watch ends with; nil: it reconnects.
		giveUp error
	}{
		{"connection refused, 503, 429, etcd leader change", []error{refused, apierrors.NewServiceUnavailable("down"), apierrors.NewTooManyRequests("busy", 0),
			apierrors.NewInternalError(errors.New("etcdserver: leader changed"))}, nil},
		{"forbidden while the authorizer warms up", []error{forbidden, forbidden}, nil},
		{"forbidden for good", []error{forbidden, forbidden, forbidden, forbidden, forbidden, forbidden}, forbidden},
		{"not found", []error{apierrors.NewNotFound(gr, "web")}, apierrors.NewNotFound(gr, "web")},
		{"certificate", []error{&url.Error{Op: "Get", URL: "https://x", Err: x509.UnknownAuthorityError{}}}, x509.UnknownAuthorityError{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var opened []metav1.ListOptions
			live := watch.NewFake()
			open := func(_ context.Context, opts metav1.ListOptions) (watch.Interface, error) {
				opened = append(opened, opts)
				if n := len(opened); n <= len(tc.fails) {
					return nil, tc.fails[n-1]
				}
				return live, nil
			}
			out := make(chan update)
			go watchWorkload(ctx, open, "web", 0, out)
			if tc.giveUp == nil {
				go live.Add(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", ResourceVersion: "8"}})
			}
			u := <-out
			switch {
			case tc.giveUp != nil:
				if u.err == nil || u.err.Error() != tc.giveUp.Error() && !errors.Is(u.err, tc.giveUp) {
					t.Errorf("update %+v, want the watch given up with %v", u, tc.giveUp)
				}
				if len(opened) != len(tc.fails) {
					t.Errorf("%d opens, want %d", len(opened), len(tc.fails))
				}
			case u.err != nil || u.obj == nil:
				t.Errorf("update %+v, want the object after reconnecting", u)
			case len(opened) != len(tc.fails)+1:
				t.Errorf("%d opens, want %d", len(opened), len(tc.fails)+1)
			}
		})
	}
}

// A watch that cannot resume from the last resourceVersion it saw, since
// it expired (410), starts over from the current state.
func TestWatchStartsOverWhenExpired(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type opening struct {
		rv string
		w  *watch.FakeWatcher
	}
	opens := make(chan opening)
	calls := 0
	open := func(_ context.Context, opts metav1.ListOptions) (watch.Interface, error) {
		calls++
		if calls == 2 {
			return nil, apierrors.NewResourceExpired("too old resource version: 5 (9)")
		}
		w := watch.NewFake()
		opens <- opening{opts.ResourceVersion, w}
		return w, nil
	}
	out := make(chan update)
	go watchWorkload(ctx, open, "web", 0, out)

	first := <-opens
	go func() {
		first.w.Add(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", ResourceVersion: "5"}})
		first.w.Stop() // the API server ends the watch
	}()
	<-out
	again := <-opens
	if first.rv != "" || again.rv != "" || calls != 3 {
		t.Errorf("opened from %q, then %q after %d opens; want the current state each time, after the expired one", first.rv, again.rv, calls)
	}
	go again.w.Add(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", ResourceVersion: "9"}})
	if u := <-out; u.err != nil || resourceVersion(u.obj, "") != "9" {
		t.Errorf("update %+v, want the current object", u)
	}
}
