package steps

import (
	"errors"
	"fmt"

	"github.com/kube-release/kube-release/internal/release"
)

// unreadableOf tells a List error that only names some unreadable releases
// (the history returned beside it holds the others) from one that leaves
// no usable history. For the first it returns the *UnreadableError and no
// error; the caller decides whether it needs one of them.
func unreadableOf(err error) (*release.UnreadableError, error) {
	if u, ok := errors.AsType[*release.UnreadableError](err); ok {
		return u, nil
	}
	return nil, err
}

// warnUnreadable says which releases the step goes on without, which
// object each is and why it cannot be read (the error names the repair).
func warnUnreadable(env Env, u *release.UnreadableError) {
	if u == nil {
		return
	}
	for _, r := range u.Releases {
		which := "a release Secret"
		if r.Number > 0 {
			which = fmt.Sprintf("Release %d", r.Number)
		}
		env.Log.Warnf("%s cannot be read; going on without it: %v", which, r.Err)
	}
}

// checkUnreadableForDeploy fails a deploy that needs a release it cannot
// read: with pruning, the last successful release is what is pruned
// against, and an unreadable release newer than the last readable success
// may be it. Numbering goes on above the unreadable releases (see
// readHistory), and cleanup leaves them alone, so nothing else needs them.
func checkUnreadableForDeploy(u *release.UnreadableError, previous *release.Release, pruning bool) error {
	if u == nil || !pruning {
		return nil
	}
	last := 0
	if previous != nil {
		last = previous.Number
	}
	for _, r := range u.Releases {
		if r.Number > last && mayHaveSucceeded(r) {
			return fmt.Errorf("release history: pruning removes what the last successful release has and this one does not, "+
				"and release %d, which may be that release, cannot be read: %w", r.Number, r.Err)
		}
	}
	return nil
}

// mayHaveSucceeded is false only for a release whose status label says
// it did not succeed.
func mayHaveSucceeded(r release.Unreadable) bool {
	return r.Status == release.Succeeded || r.Status == ""
}

// checkUnreadable fails a rollback that needs a release it cannot read:
// the one to roll back (release_number, else the newest) or the one to
// return to (rollback_to, else the last successful release before it,
// which an unreadable release in between may be). The others are only
// warned about: an incident rollback to a release that reads fine must
// not wait for someone to repair an old one.
func (rb *Rollback) checkUnreadable(history release.History, u *release.UnreadableError) error {
	if u == nil {
		return nil
	}
	newest := 0
	if latest := history.Latest(); latest != nil {
		newest = latest.Number
	}
	current := rb.cfg.ReleaseNumber
	switch {
	case current != 0:
		if r := u.Get(current); r != nil {
			return fmt.Errorf("release_number %d: release %d cannot be read: %w", current, current, r.Err)
		}
	case u.Highest() > newest:
		n := u.Highest()
		return fmt.Errorf("release %d, the newest release, cannot be read, so it cannot be rolled back "+
			"(give release_number to roll back another): %w", n, u.Get(n).Err)
	default:
		current = newest
	}
	if n := rb.cfg.RollbackTo; n != 0 {
		if r := u.Get(n); r != nil {
			return fmt.Errorf("rollback_to %d: release %d cannot be read: %w", n, n, r.Err)
		}
	} else if !(rb.cfg.ReleaseNumber == 0 && len(history) > 0 && history[0].Status == release.Succeeded) {
		// A rollback that goes ahead returns to the newest readable
		// success below current, unless an unreadable release between
		// them succeeded.
		target := 0
		if last := history.LastSuccessful(current); last != nil {
			target = last.Number
		}
		for _, r := range u.Releases {
			if r.Number > target && r.Number < current && mayHaveSucceeded(r) {
				return fmt.Errorf("release %d may be the last successful release before %d, the one to return to, and cannot be read "+
					"(give rollback_to to return to another): %w", r.Number, current, r.Err)
			}
		}
	}
	warnUnreadable(rb.env, u)
	return nil
}
