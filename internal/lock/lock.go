// Package lock serialises the deploy steps of one release: a
// coordination.k8s.io/v1 Lease per (namespace, release), held while a step
// runs, renewed in the background, and expiring by itself when the job that
// held it is killed, so a dead runner never blocks the next deploy for
// longer than the lease's duration.
package lock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/kube-release/kube-release/internal/kube/typed"
)

// Defaults of Options.
const (
	DefaultTTL = 2 * time.Minute
	// pollInterval paces waiting for a held lock.
	pollInterval = time.Second
)

// ErrHeld is wrapped by the error of Acquire when another run holds the lock.
var ErrHeld = errors.New("deploy lock is held")

// ErrLost is the cause of a lock's context when another run took it over
// (force_unlock) or it could not be renewed before it expired. Err then
// holds a *LostError that says which.
var ErrLost = errors.New("deploy lock lost")

// LostError says how a lock was lost: another run holds the lease now
// (Holder), or nobody took it and this run could not keep it (Reason: it
// could not be renewed in time, an API outage or a frozen runner, or the
// lease was deleted). The two call for different things, and an outage
// reported as a takeover sends people looking for a run that never was.
type LostError struct {
	// Holder is the run that holds the lease now, and Since when it took
	// it; empty when no other run did.
	Holder string
	Since  time.Time
	// Reason is what happened when no other run took the lease.
	Reason string
}

func (e *LostError) Error() string {
	if e.Holder != "" {
		return fmt.Sprintf("%v: another run holds it now: %s since %s", ErrLost, e.Holder, e.Since.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("%v: %s", ErrLost, e.Reason)
}

func (e *LostError) Unwrap() error { return ErrLost }

// Options configure Acquire.
type Options struct {
	// Holder identifies this run to the others (CI build, host, pid).
	Holder string
	// TTL is how long the lock outlives its last renewal (default 2m).
	TTL time.Duration
	// Wait is how long to wait for a lock another run holds; 0 fails at once.
	Wait time.Duration
	// Force takes the lock even when another run holds it.
	Force bool
	// OnWait is told once when Acquire starts waiting, for a log line.
	OnWait func(*HeldError)
	// now is the clock, replaced in tests.
	now func() time.Time
}

// Name is the Lease that locks release: named after it, and prefixed so it
// never collides with an application's own leases.
func Name(release string) string { return "kube-release." + release }

// HeldError says who holds the lock and since when.
type HeldError struct {
	Namespace, Release string
	Holder             string
	Since, Expires     time.Time
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("release %s in namespace %s is locked by %s since %s (lease %s expires %s if not renewed)",
		e.Release, e.Namespace, e.Holder, e.Since.UTC().Format(time.RFC3339), Name(e.Release), e.Expires.UTC().Format(time.RFC3339))
}

func (e *HeldError) Unwrap() error { return ErrHeld }

// Lock is a held deploy lock.
type Lock struct {
	client    typed.Interface
	namespace string
	release   string
	holder    string
	ttl       time.Duration
	now       func() time.Time

	mu    sync.Mutex
	lease *coordinationv1.Lease
	// validUntil is when the lease expires for the other runs, as this run
	// knows it: the time it sent its last successful renewal plus the TTL.
	validUntil time.Time
	// renewErr is the last renewal's error, nil once one succeeds.
	renewErr error

	stop   context.CancelFunc
	done   chan struct{}
	lostMu sync.Mutex
	lost   error
	lostCh chan struct{}
}

// Acquire takes the lock of release in namespace, waiting up to opts.Wait
// for another run to release it. A lease whose holder stopped renewing it
// for its TTL is taken over. The lock renews itself until Release.
func Acquire(ctx context.Context, client typed.Interface, namespace, release string, opts Options) (*Lock, error) {
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.now == nil {
		opts.now = time.Now
	}
	l := &Lock{
		client: client, namespace: namespace, release: release, holder: opts.Holder,
		ttl: opts.TTL, now: opts.now, done: make(chan struct{}), lostCh: make(chan struct{}),
	}
	deadline := opts.now().Add(opts.Wait)
	told := false
	// The last run deleted the lease, so most runs find none: creating it
	// straight away takes the lock in one request. Once it turned out to
	// exist, waiting for it reads it first.
	createFirst := true
	for {
		held, err := l.try(ctx, opts.Force, createFirst)
		createFirst = false
		if err != nil {
			return nil, fmt.Errorf("deploy lock %s/%s: %w", namespace, Name(release), err)
		}
		if held == nil {
			break
		}
		if !opts.now().Before(deadline) {
			return nil, held
		}
		if !told && opts.OnWait != nil {
			opts.OnWait(held)
			told = true
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the deploy lock: %w (%w)", ctx.Err(), held)
		case <-time.After(min(pollInterval, time.Until(deadline)+10*time.Millisecond)):
		}
	}
	renewCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	l.stop = stop
	go l.renew(renewCtx)
	return l, nil
}

// try takes the lease if it is free, expired, or forced. It returns the
// holder's details when another run holds it. createFirst tries to create
// the lease before reading it.
func (l *Lock) try(ctx context.Context, force, createFirst bool) (*HeldError, error) {
	leases := l.client.CoordinationV1().Leases(l.namespace)
	now := metav1.NewMicroTime(l.now())
	create := func() (*HeldError, error) {
		lease := &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{
				Name:   Name(l.release),
				Labels: map[string]string{"app.kubernetes.io/managed-by": "kube-release", "release": l.release},
			},
			Spec: l.spec(now, 0),
		}
		created, err := leases.Create(ctx, lease, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return l.try(ctx, force, false) // another run created it first: look at it
		}
		if err != nil {
			return nil, err
		}
		l.setLease(created, now.Time)
		return nil, nil
	}
	if createFirst {
		return create()
	}
	existing, err := leases.Get(ctx, Name(l.release), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return create()
	}
	if err != nil {
		return nil, err
	}
	if held := l.heldBy(existing); held != nil && !force {
		return held, nil
	}
	transitions := ptr.Deref(existing.Spec.LeaseTransitions, 0) + 1
	existing.Spec = l.spec(now, transitions)
	updated, err := leases.Update(ctx, existing, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		return l.try(ctx, force, false) // it changed under us: look again
	}
	if err != nil {
		return nil, err
	}
	l.setLease(updated, now.Time)
	return nil, nil
}

func (l *Lock) spec(now metav1.MicroTime, transitions int32) coordinationv1.LeaseSpec {
	return coordinationv1.LeaseSpec{
		HolderIdentity:       ptr.To(l.holder),
		LeaseDurationSeconds: ptr.To(int32(l.ttl / time.Second)),
		AcquireTime:          &now,
		RenewTime:            &now,
		LeaseTransitions:     ptr.To(transitions),
	}
}

// heldBy returns who holds lease, or nil when it is free or expired.
func (l *Lock) heldBy(lease *coordinationv1.Lease) *HeldError {
	holder := ptr.Deref(lease.Spec.HolderIdentity, "")
	if holder == "" || lease.Spec.RenewTime == nil {
		return nil
	}
	expires := lease.Spec.RenewTime.Add(time.Duration(ptr.Deref(lease.Spec.LeaseDurationSeconds, 0)) * time.Second)
	if !l.now().Before(expires) {
		return nil
	}
	since := lease.Spec.RenewTime.Time
	if lease.Spec.AcquireTime != nil {
		since = lease.Spec.AcquireTime.Time
	}
	return &HeldError{Namespace: l.namespace, Release: l.release, Holder: holder, Since: since, Expires: expires}
}

// setLease records the lease as the server returned it; renewed, when not
// zero, is when the request that renewed it was sent.
func (l *Lock) setLease(lease *coordinationv1.Lease, renewed time.Time) {
	l.mu.Lock()
	l.lease = lease
	if !renewed.IsZero() {
		l.validUntil = renewed.Add(l.ttl)
	}
	l.mu.Unlock()
}

// Check says whether this run may still write: not once the lock is lost,
// nor once its last successful renewal is so old that the lease may have
// expired for the other runs (a runner frozen past the TTL, an API server
// unreachable for that long), even before the renewal loop has noticed. The
// deadline is computed from the renewal, less a margin for the time a
// request takes to arrive. Check is cheap: a Fence calls it before every
// write.
func (l *Lock) Check() error {
	if err := l.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	renewed := l.validUntil.Add(-l.ttl)
	l.mu.Unlock()
	if age := l.now().Sub(renewed); age >= l.ttl-l.ttl/8 {
		l.markLost(&LostError{Reason: fmt.Sprintf("its last renewal was %s ago and the lease expires after %s%s, so another run may hold it now: this run stops writing",
			seconds(age), l.ttl, l.lastRenewalError())})
		return l.Err()
	}
	return nil
}

// seconds formats a duration as whole seconds, "7s" rather than "7.0023s".
func seconds(d time.Duration) string {
	return d.Round(time.Second).String()
}

// renew keeps the lease fresh, several times per TTL so that one failed
// renewal (an API server restart) does not lose it. Each renewal is
// retried by the client's transport (kube.Backoff, kube.Transient); a
// renewal that still fails waits for the next turn whatever the error,
// since the lease expires by itself at the TTL anyway, and a Forbidden
// or Unauthorized can pass while a restarted API server's authorizer
// warms up.
func (l *Lock) renew(ctx context.Context) {
	defer close(l.done)
	interval := l.ttl / 4
	lastRenewed := l.now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
		err := l.renewOnce(ctx)
		l.mu.Lock()
		l.renewErr = err
		l.mu.Unlock()
		switch {
		case err == nil:
			lastRenewed = l.now()
		case errors.Is(err, ErrLost):
			l.markLost(err)
			return
		case l.now().Sub(lastRenewed) >= l.ttl:
			l.markLost(&LostError{Reason: fmt.Sprintf("it could not be renewed for %s (last error: %v), so it expired (the lease lasts %s unrenewed)",
				seconds(l.now().Sub(lastRenewed)), err, l.ttl)})
			return
		}
	}
}

// lastRenewalError is ", the last renewal failing with ..." when the
// renewal that should have come failed, for a message about a lock that
// went unrenewed.
func (l *Lock) lastRenewalError() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.renewErr == nil {
		return ""
	}
	return fmt.Sprintf(" (last renewal error: %v)", l.renewErr)
}

func (l *Lock) renewOnce(ctx context.Context) error {
	l.mu.Lock()
	lease := l.lease.DeepCopy()
	l.mu.Unlock()
	if holder := ptr.Deref(lease.Spec.HolderIdentity, ""); holder != l.holder {
		if holder == "" {
			return &LostError{Reason: fmt.Sprintf("lease %s was released by someone else", Name(l.release))}
		}
		since := lease.Spec.AcquireTime
		if since == nil {
			since = lease.Spec.RenewTime
		}
		return &LostError{Holder: holder, Since: ptr.Deref(since, metav1.MicroTime{}).Time}
	}
	now := metav1.NewMicroTime(l.now())
	lease.Spec.RenewTime = &now
	updated, err := l.client.CoordinationV1().Leases(l.namespace).Update(ctx, lease, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		current, gerr := l.client.CoordinationV1().Leases(l.namespace).Get(ctx, Name(l.release), metav1.GetOptions{})
		if apierrors.IsNotFound(gerr) {
			return &LostError{Reason: fmt.Sprintf("lease %s was deleted by someone else", Name(l.release))}
		}
		if gerr != nil {
			return gerr
		}
		l.setLease(current, time.Time{})
		return l.renewOnce(ctx)
	}
	if err != nil {
		return err
	}
	l.setLease(updated, now.Time)
	return nil
}

func (l *Lock) markLost(err error) {
	l.lostMu.Lock()
	defer l.lostMu.Unlock()
	if l.lost == nil {
		l.lost = err
		close(l.lostCh)
	}
}

// Lost is closed when the lock is lost; Err then says why.
func (l *Lock) Lost() <-chan struct{} { return l.lostCh }

// Err is why the lock was lost, or nil.
func (l *Lock) Err() error {
	l.lostMu.Lock()
	defer l.lostMu.Unlock()
	return l.lost
}

// Release stops renewing and deletes the lease, if this run still holds
// it. It uses its own short timeout, so it works after the step's context
// ended.
func (l *Lock) Release(ctx context.Context) error {
	l.stop()
	<-l.done
	if l.Err() != nil {
		return nil // someone else holds it now: not ours to delete
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	l.mu.Lock()
	lease := l.lease
	l.mu.Unlock()
	err := l.client.CoordinationV1().Leases(l.namespace).Delete(ctx, lease.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &lease.UID, ResourceVersion: &lease.ResourceVersion},
	})
	if err == nil || apierrors.IsNotFound(err) {
		return nil
	}
	if apierrors.IsConflict(err) {
		return fmt.Errorf("release deploy lock %s: it changed hands: %w", lease.Name, err)
	}
	return fmt.Errorf("release deploy lock %s: %w (it expires by itself in %s)", lease.Name, err, l.ttl)
}
