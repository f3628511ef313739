package lock

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/kube-release/kube-release/internal/testcluster"

	"github.com/kube-release/kube-release/internal/kube/typed"
)

func TestMain(m *testing.M) { os.Exit(testcluster.Run(m)) }

func TestAcquireHeldRelease(t *testing.T) {
	c := testcluster.Shared(t)
	cs, ns := c.Typed(t), c.Namespace(t)
	ctx := context.Background()

	first, err := Acquire(ctx, cs, ns, "web", Options{Holder: "build 1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(ctx, cs, ns, "web", Options{Holder: "build 2"})
	var held *HeldError
	if !errors.As(err, &held) || !errors.Is(err, ErrHeld) {
		t.Fatalf("second acquire: %v, want HeldError", err)
	}
	if held.Holder != "build 1" || !strings.Contains(err.Error(), "locked by build 1 since") {
		t.Errorf("error = %v", err)
	}
	if err := first.Release(ctx); err != nil {
		t.Fatal(err)
	}
	second, err := Acquire(ctx, cs, ns, "web", Options{Holder: "build 2"})
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	second.Release(ctx)
}

func TestAcquireWaits(t *testing.T) {
	c := testcluster.Shared(t)
	cs, ns := c.Typed(t), c.Namespace(t)
	ctx := context.Background()
	first, err := Acquire(ctx, cs, ns, "web", Options{Holder: "build 1"})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(1500 * time.Millisecond)
		first.Release(ctx)
	}()
	var waited *HeldError
	start := time.Now()
	second, err := Acquire(ctx, cs, ns, "web", Options{Holder: "build 2", Wait: 30 * time.Second, OnWait: func(h *HeldError) { waited = h }})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Release(ctx)
	if waited == nil || waited.Holder != "build 1" {
		t.Errorf("OnWait got %v", waited)
	}
	if time.Since(start) < time.Second {
		t.Error("acquired while the first still held it")
	}
}

// A run that died without releasing leaves a lease that expires by itself.
func TestExpiredLeaseIsTakenOver(t *testing.T) {
	c := testcluster.Shared(t)
	cs, ns := c.Typed(t), c.Namespace(t)
	ctx := context.Background()
	past := metav1.NewMicroTime(time.Now().Add(-5 * time.Minute))
	dead := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: Name("web")},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity: ptr.To("killed build"), LeaseDurationSeconds: ptr.To[int32](120),
			AcquireTime: &past, RenewTime: &past,
		},
	}
	if _, err := cs.CoordinationV1().Leases(ns).Create(ctx, dead, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	l, err := Acquire(ctx, cs, ns, "web", Options{Holder: "next build"})
	if err != nil {
		t.Fatalf("expired lease not taken over: %v", err)
	}
	l.Release(ctx)
}

// force_unlock takes a held lock; the run that held it learns it lost it.
func TestForceAndLost(t *testing.T) {
	c := testcluster.Shared(t)
	cs, ns := c.Typed(t), c.Namespace(t)
	ctx := context.Background()
	first, err := Acquire(ctx, cs, ns, "web", Options{Holder: "build 1", TTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	second, err := Acquire(ctx, cs, ns, "web", Options{Holder: "build 2", Force: true})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-first.Lost():
		var lost *LostError
		if !errors.Is(first.Err(), ErrLost) || !errors.As(first.Err(), &lost) || lost.Holder != "build 2" ||
			!strings.HasPrefix(first.Err().Error(), "deploy lock lost: another run holds it now: build 2 since ") {
			t.Errorf("lost error = %v", first.Err())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("first run never learned it lost the lock")
	}
	if err := first.Release(ctx); err != nil {
		t.Errorf("release of a lost lock: %v", err)
	}
	if _, err := cs.CoordinationV1().Leases(ns).Get(ctx, Name("web"), metav1.GetOptions{}); err != nil {
		t.Errorf("the lost lock's release deleted the new holder's lease: %v", err)
	}
	second.Release(ctx)
}

// Many runs at once: exactly one holds the lock at any time.
func TestMutualExclusion(t *testing.T) {
	c := testcluster.Shared(t)
	cs, ns := c.Typed(t), c.Namespace(t)
	ctx := context.Background()
	var holding, maxHolding, done atomic.Int32
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := Acquire(ctx, cs, ns, "web", Options{Holder: fmt.Sprintf("build %d", i), Wait: time.Minute})
			if err != nil {
				t.Error(err)
				return
			}
			n := holding.Add(1)
			for {
				m := maxHolding.Load()
				if n <= m || maxHolding.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(50 * time.Millisecond)
			holding.Add(-1)
			if err := l.Release(ctx); err != nil {
				t.Error(err)
			}
			done.Add(1)
		}()
	}
	wg.Wait()
	if maxHolding.Load() != 1 || done.Load() != 10 {
		t.Errorf("max holders at once = %d, runs done = %d; want 1 and 10", maxHolding.Load(), done.Load())
	}
}

// A free lock costs one request to take and one to give back; only a lease
// that exists is read.
func TestAcquireRequests(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	ctx := context.Background()
	var mu sync.Mutex
	var requests []string
	cfg := c.Config()
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			requests = append(requests, r.Method)
			mu.Unlock()
			return rt.RoundTrip(r)
		})
	})
	cs, err := typed.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	seen := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := requests
		requests = nil
		return out
	}

	first, err := Acquire(ctx, cs, ns, "web", Options{Holder: "build 1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := seen(); !slices.Equal(got, []string{http.MethodPost}) {
		t.Errorf("acquiring a free lock: %v, want one create", got)
	}
	if _, err := Acquire(ctx, cs, ns, "web", Options{Holder: "build 2"}); !errors.Is(err, ErrHeld) {
		t.Fatalf("second acquire: %v, want ErrHeld", err)
	}
	if got := seen(); !slices.Equal(got, []string{http.MethodPost, http.MethodGet}) {
		t.Errorf("finding the lock held: %v, want a create refused, then a read", got)
	}
	if err := first.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if got := seen(); !slices.Equal(got, []string{http.MethodDelete}) {
		t.Errorf("releasing: %v, want one delete", got)
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Check refuses writes once the last successful renewal is older than the
// TTL less its margin, even before the renewal loop has noticed (a runner
// frozen past lock_ttl wakes up with its timers overdue), and the lock then
// counts as lost.
func TestCheckAfterOverdueRenewal(t *testing.T) {
	c := testcluster.Shared(t)
	cs, ns := c.Typed(t), c.Namespace(t)
	ctx := context.Background()
	var mu sync.Mutex
	clock := time.Now()
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return clock
	}
	advance := func(d time.Duration) {
		mu.Lock()
		clock = clock.Add(d)
		mu.Unlock()
	}
	// A TTL far longer than the test, so that the renewal loop never runs:
	// only the clock Check reads moves.
	l, err := Acquire(ctx, cs, ns, "web", Options{Holder: "build 1", TTL: time.Hour, now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	if err := l.Check(); err != nil {
		t.Fatalf("check right after acquire: %v", err)
	}
	advance(52 * time.Minute)
	if err := l.Check(); err != nil {
		t.Fatalf("check 52 minutes after the renewal of a 1h lease: %v", err)
	}
	advance(3 * time.Minute)
	err = l.Check()
	if !errors.Is(err, ErrLost) || !strings.Contains(err.Error(), "its last renewal was 55m0s ago") {
		t.Fatalf("check 55 minutes after the renewal: %v, want ErrLost", err)
	}
	select {
	case <-l.Lost():
	default:
		t.Error("a failed check does not mark the lock lost")
	}
}

// An API server that refuses every renewal for longer than the TTL loses
// the lock, and the error says so: it could not be renewed, and why; not
// that another run took it, since none did.
func TestLostWhenRenewalsFail(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	ctx := context.Background()
	var down atomic.Bool
	cfg := c.Config()
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(r *http.Request) (*http.Response, error) {
			if down.Load() {
				return nil, errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")
			}
			return rt.RoundTrip(r)
		})
	})
	cs, err := typed.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Acquire(ctx, cs, ns, "web", Options{Holder: "build 1", TTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	down.Store(true)
	select {
	case <-l.Lost():
	case <-time.After(time.Minute):
		t.Fatal("the lock was never lost")
	}
	err = l.Err()
	var lost *LostError
	if !errors.Is(err, ErrLost) || !errors.As(err, &lost) || lost.Holder != "" {
		t.Fatalf("lost error %#v, want a LostError without a holder", err)
	}
	msg := err.Error()
	for _, want := range []string{"deploy lock lost: it could not be renewed for ", "(last error: ", "connection refused", "so it expired"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "another run holds") {
		t.Errorf("message %q blames another run", msg)
	}
	down.Store(false)
	if err := l.Release(ctx); err != nil {
		t.Errorf("release: %v", err)
	}
}
