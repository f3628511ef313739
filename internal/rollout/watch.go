package rollout

import (
	"context"
	"errors"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/kube-release/kube-release/internal/kube"
)

// update is what a workload's watch tells the wait loop.
type update struct {
	index   int
	obj     runtime.Object // the latest object, for Added and Modified
	deleted bool
	err     error // the watch cannot go on, e.g. the kind is not served
}

const (
	// Reconnect delays after a failed or short-lived watch: an API server
	// restart takes seconds, and the first retries should be quick.
	minWatchDelay = 250 * time.Millisecond
	maxWatchDelay = 2 * time.Second
	// A watch that lived this long ended normally (the API server closes
	// watches after a while); reopen it at once.
	healthyWatch = 10 * time.Second
	// Forbidden and Unauthorized can be passing states while an API server
	// restarts (its authorizer's caches fill after it starts listening),
	// so they end the wait only when they persist.
	maxAuthFailures = 6
)

// watchWorkload follows one object and sends every version of it to out
// until ctx ends. It survives disconnects and API server restarts without
// losing progress: it resumes from the last resourceVersion it saw and, if
// that is too old (410 Gone), starts over from the current state.
//
// It opens the first watch without a resourceVersion, which makes the API
// server send the current object as an Added event before any change: one
// request instead of the list+watch pair of client-go's RetryWatcher
// (which needs a resourceVersion to start from) or UntilWithSync (an
// informer). A rollout that finishes quickly so costs one request per
// workload.
func watchWorkload(ctx context.Context, open watchFunc, name string, index int, out chan<- update) {
	send := func(u update) bool {
		u.index = index
		select {
		case out <- u:
			return true
		case <-ctx.Done():
			return false
		}
	}
	selector := fields.OneTermEqualSelector("metadata.name", name).String()
	rv := ""
	delay := time.Duration(0)
	authFailures := 0
	for {
		if delay > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
		}
		w, err := open(ctx, metav1.ListOptions{
			FieldSelector:       selector,
			ResourceVersion:     rv,
			AllowWatchBookmarks: true,
		})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			auth := apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err)
			if auth {
				authFailures++
			}
			if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
				// Too old to resume from: start over from the current
				// state, at once.
				rv, delay = "", 0
				continue
			}
			if _, ok := kube.Transient(err); (!ok && !auth) || authFailures >= maxAuthFailures {
				send(update{err: err})
				return
			}
			delay = nextDelay(delay)
			continue
		}
		authFailures = 0
		opened := time.Now()
		var events int
		rv, events, err = follow(ctx, w, rv, send)
		w.Stop()
		if ctx.Err() != nil || errors.Is(err, errStopped) {
			return
		}
		if events > 0 || time.Since(opened) > healthyWatch {
			delay = 0
		} else {
			delay = nextDelay(delay)
		}
	}
}

// errStopped means the receiver is gone.
var errStopped = errors.New("stopped")

// follow relays the events of one watch and returns the resourceVersion to
// resume from: the last one seen, or "" when it has expired.
func follow(ctx context.Context, w watch.Interface, rv string, send func(update) bool) (string, int, error) {
	events := 0
	for {
		select {
		case <-ctx.Done():
			return rv, events, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return rv, events, nil
			}
			switch ev.Type {
			case watch.Added, watch.Modified, watch.Deleted:
				events++
				rv = resourceVersion(ev.Object, rv)
				if !send(update{obj: ev.Object, deleted: ev.Type == watch.Deleted}) {
					return rv, events, errStopped
				}
			case watch.Bookmark:
				rv = resourceVersion(ev.Object, rv)
			case watch.Error:
				err := apierrors.FromObject(ev.Object)
				if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
					// Too old to resume from: a watch without a
					// resourceVersion sends the current state again.
					return "", events, err
				}
				return rv, events, err
			}
		}
	}
}

func resourceVersion(obj runtime.Object, def string) string {
	if m, err := meta.Accessor(obj); err == nil && m.GetResourceVersion() != "" {
		return m.GetResourceVersion()
	}
	return def
}

func nextDelay(d time.Duration) time.Duration {
	if d < minWatchDelay {
		return minWatchDelay
	}
	return min(2*d, maxWatchDelay)
}

// retry calls fn with kube's backoff until it succeeds, fails for good
// or runs out of attempts, or ctx ends: for the few reads that must not be
// lost to a passing API server outage, also through a client that does
// not retry itself.
func retry(ctx context.Context, fn func(context.Context) error) error {
	return kube.Backoff{}.Do(ctx, "", nil, func() error { return fn(ctx) })
}
