package steps

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kube-release/kube-release/internal/lock"
	"github.com/kube-release/kube-release/internal/release"
)

// LockConfig configures the deploy lock of a release.
type LockConfig struct {
	// Holder identifies this run to others waiting for the lock.
	Holder string
	// TTL is how long the lock outlives this run if it dies (lock_ttl).
	TTL time.Duration
	// Wait is how long to wait for another run's lock (lock_wait); 0 fails
	// at once.
	Wait time.Duration
	// Force takes the lock from another run (force_unlock).
	Force bool
}

// errLockLost is matched by the cause of a step's context when its lock
// was lost; the cause is the lock's error, which says how: another run
// took it over, or it could not be renewed in time and expired.
var errLockLost = lock.ErrLost

// withLock runs fn holding the deploy lock of (namespace, release), so two
// pipelines never deploy or roll back one release at the same time. fn's
// context ends if the lock is lost. The lock is released when fn returns,
// whatever happened, even after the step's context was cancelled.
func withLock(ctx context.Context, env Env, namespace, name string, fn func(context.Context) (Result, error)) (Result, error) {
	cfg := env.Lock
	if cfg.Force {
		env.Log.Warnf("force_unlock: taking the deploy lock of release %s even if another run holds it", name)
	}
	l, err := lock.Acquire(ctx, env.Clients.Typed, namespace, name, lock.Options{
		Holder: cfg.Holder,
		TTL:    cfg.TTL,
		Wait:   cfg.Wait,
		Force:  cfg.Force,
		OnWait: func(h *lock.HeldError) {
			env.Log.Infof("Waiting up to %s for the deploy lock: %v", cfg.Wait, h)
		},
	})
	if isNamespaceMissing(err, namespace) {
		return Result{}, &namespaceMissingError{namespace: namespace, release: name, err: err}
	}
	var held *lock.HeldError
	if errors.As(err, &held) {
		return Result{}, fmt.Errorf("%w; wait for it with lock_wait, or take it with force_unlock if that run is gone", err)
	}
	if err != nil {
		return Result{}, err
	}
	env.Log.Debugf("Deploy lock %s/%s taken by %s", namespace, lock.Name(name), cfg.Holder)

	lockCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-l.Lost():
			// A warning: the step ends with the error, which main prints.
			env.Log.Warnf("%v: stopping", l.Err())
			cancel(l.Err())
		case <-lockCtx.Done():
		}
	}()
	// Every write of the step is checked against the lock: a run frozen
	// past lock_ttl must not overwrite the work of the run that took over.
	env.Clients.Fence.Set(l.Check)
	// Deferred, so that even a panic in the step frees the lock.
	defer func() {
		if err := l.Release(ctx); err != nil {
			env.Log.Warn(err)
		}
		env.Clients.Fence.Set(nil)
	}()
	return fn(lockCtx)
}

// failureReason names why a step's work stopped early: the run was
// interrupted (SIGTERM, SIGINT), lost its lock, or ran out of time.
func failureReason(lockCtx, stepCtx context.Context, otherwise string) string {
	switch {
	case errors.Is(context.Cause(lockCtx), errLockLost):
		return "lock lost"
	case lockCtx.Err() != nil:
		return "interrupted"
	case errors.Is(stepCtx.Err(), context.DeadlineExceeded):
		return "timeout"
	}
	return otherwise
}

// abandoned marks releases left InProgress as Failed, in memory. The
// caller holds the deploy lock, so no live run is deploying them: the run
// that recorded them died (killed job, lost runner) before it could
// record the outcome, and its lock has expired.
func abandoned(env Env, h release.History) {
	for _, r := range h {
		if r.Status == release.InProgress {
			env.Log.Warnf("Release %d was left InProgress by a run that ended without recording its outcome; treating it as Failed", r.Number)
			r.Status = release.Failed
			if r.Metadata.FailureReason == "" {
				r.Metadata.FailureReason = "abandoned"
			}
		}
	}
}

// checkOwner compares the repository deploying with the one that made the
// newest release: two repositories deploying one release name overwrite
// each other's work, which is nearly always a copy-paste mistake.
func checkOwner(env Env, h release.History, name string) error {
	latest := h.Latest()
	if latest == nil {
		return nil
	}
	was, now := latest.Metadata.Pipeline.Repository, env.Pipeline.Repository
	if was == "" || now == "" || was == now {
		return nil
	}
	msg := fmt.Sprintf("release %s was last deployed from %s (release %d), now from %s", name, was, latest.Number, now)
	if env.OwnerCheck == OwnerCheckFail {
		return fmt.Errorf("owner check: %s; set owner_check: warn to allow it", msg)
	}
	env.Log.Warnf("%s (owner_check: warn)", msg)
	return nil
}
