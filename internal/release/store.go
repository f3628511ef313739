package release

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
)

// Store keeps the history of one release name in one namespace. The steps
// use it; ConfigMapStore, SecretStore and MemoryStore implement it.
type Store interface {
	// List returns every release, newest first. No history is an empty
	// History and no error; an unreadable one is an ErrCorrupt error. A
	// store that keeps one object per release (SecretStore) reads what it
	// can: when some releases cannot be read, it returns the others with
	// an *UnreadableError that lists them.
	List(ctx context.Context) (History, error)
	// Get returns release number n, or an ErrNotFound error.
	Get(ctx context.Context, number int) (*Release, error)
	// Create records a new release. A number already taken is an ErrExists
	// error: another writer got there first. Create sets
	// r.Metadata.Created when it is zero.
	Create(ctx context.Context, r *Release) error
	// Update replaces release r.Number with r, or returns an ErrNotFound
	// error. What the store keeps beside kube-release's model (Harness-only
	// fields, labels, annotations) stays as stored.
	Update(ctx context.Context, r *Release) error
	// Delete removes the releases with these numbers; numbers not in the
	// history are skipped, so a cleanup can be repeated.
	Delete(ctx context.Context, numbers ...int) error
}

// Headroom is what Fits keeps free of MaxObjectSize. The writes after the
// check may grow the history by a little that it cannot foresee exactly:
// a rollback records new revision numbers (with more digits, say) and a
// failure reason, and gzip may code a slightly different text a few bytes
// longer.
const Headroom = 4 << 10

// Fits reports whether s can record r, after removing the releases
// numbered drop, within MaxObjectSize less Headroom: a *SizeError when it
// cannot, saying by how much. It writes nothing and reads nothing; a store
// that keeps its history in one object checks it as the store last read
// it, so call it after List. Check the largest form r will take (its final
// record: revisions, failure reason and created objects filled in) before
// the first write of a deploy, and no later write of the deploy is the
// first to fail. A store without a size limit (MemoryStore) always fits.
func Fits(s Store, r *Release, drop ...int) error {
	if f, ok := s.(interface {
		Fits(*Release, ...int) error
	}); ok {
		return f.Fits(r, drop...)
	}
	return r.validate()
}

// CreateDropping removes the releases numbered drop (a cleanup) and
// records r. A store that keeps its history in one object (ConfigMapStore)
// does both in one write, atomically; the others delete, then create.
func CreateDropping(ctx context.Context, s Store, r *Release, drop ...int) error {
	if c, ok := s.(interface {
		CreateDropping(context.Context, *Release, ...int) error
	}); ok {
		return c.CreateDropping(ctx, r, drop...)
	}
	if len(drop) > 0 {
		if err := s.Delete(ctx, drop...); err != nil {
			return err
		}
	}
	return s.Create(ctx, r)
}

// CreateNext creates r under the next free number: it numbers r with
// next(the current history) (History.NextNumber when next is nil) and
// creates it, and when another writer takes that number first it reads the
// history again and retries. On success r.Number is the number r got.
func CreateNext(ctx context.Context, s Store, r *Release, next func(History) int) error {
	if next == nil {
		next = History.NextNumber
	}
	const attempts = 100
	for range attempts {
		h, err := s.List(ctx)
		if err != nil {
			return err
		}
		r.Number = next(h)
		err = s.Create(ctx, r)
		if !errors.Is(err, ErrExists) {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return fmt.Errorf("no free release number after %d attempts: %w", attempts, ErrExists)
}

// defaultBackoff paces read-modify-write retries. Generous on purpose: a
// conflict only means another writer was quicker, so retrying is always
// right, and twenty parallel writers must all get through.
func defaultBackoff() wait.Backoff {
	return wait.Backoff{Duration: 10 * time.Millisecond, Factor: 1.5, Jitter: 1, Steps: 20, Cap: time.Second}
}

// retryOn runs fn until it succeeds, fails with an error retriable does not
// accept, the backoff runs out or ctx ends. As client-go's
// retry.RetryOnConflict, but it honours ctx.
func retryOn(ctx context.Context, b wait.Backoff, retriable func(error) bool, fn func() error) error {
	var last error
	err := wait.ExponentialBackoffWithContext(ctx, b, func(context.Context) (bool, error) {
		err := fn()
		switch {
		case err == nil:
			return true, nil
		case retriable(err):
			last = err
			return false, nil
		}
		return false, err
	})
	if err != nil && wait.Interrupted(err) && last != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w (last attempt: %w)", ctx.Err(), last)
		}
		return fmt.Errorf("still conflicting after %d attempts: %w", b.Steps, last)
	}
	return err
}

func isConflict(err error) bool { return apierrors.IsConflict(err) }

// nowUTC is the default clock of the stores: second precision, as the API
// server's timestamps.
func nowUTC() time.Time { return time.Now().UTC().Truncate(time.Second) }
