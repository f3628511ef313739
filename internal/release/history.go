package release

import (
	"cmp"
	"slices"
)

// History is the releases of one release name, newest (highest number) first.
type History []*Release

// NewHistory returns the releases sorted newest first. It does not copy them.
func NewHistory(releases ...*Release) History {
	h := History(slices.Clone(releases))
	h.sort()
	return h
}

func (h History) sort() {
	slices.SortStableFunc(h, func(a, b *Release) int { return cmp.Compare(b.Number, a.Number) })
}

// Latest is the newest release, nil for an empty history.
func (h History) Latest() *Release {
	if len(h) == 0 {
		return nil
	}
	return h[0]
}

// Get returns the release with that number, nil if there is none.
func (h History) Get(number int) *Release {
	for _, r := range h {
		if r.Number == number {
			return r
		}
	}
	return nil
}

// NextNumber is the number of the next release: the highest plus one, 1 for
// an empty history.
func (h History) NextNumber() int {
	highest := 0
	for _, r := range h {
		highest = max(highest, r.Number)
	}
	return highest + 1
}

// LastSuccessful is the newest Succeeded release numbered below the given
// number, nil if there is none: what a rollback returns to.
func (h History) LastSuccessful(below int) *Release {
	var last *Release
	for _, r := range h {
		if r.Status == Succeeded && r.Number < below && (last == nil || r.Number > last.Number) {
			last = r
		}
	}
	return last
}

// LegacyCleanup is the legacy cleanup at the start of a deploy: every
// Failed release, and every release older than the last successful one, is
// dropped, so the history keeps the last success and anything newer. The
// caller deletes the versioned ConfigMaps and Secrets of the dropped
// releases (see VersionedResources). As Harness's ReleaseHistory.cleanup,
// an InProgress release newer than the last success is kept.
func (h History) LegacyCleanup() (keep, drop History) {
	last := h.LastSuccessful(h.NextNumber())
	for _, r := range h {
		if r.Status == Failed || (last != nil && r.Number < last.Number) {
			drop = append(drop, r)
		} else {
			keep = append(keep, r)
		}
	}
	return keep, drop
}

// DeclarativeKeep is how many older non-failed releases declarative cleanup
// keeps (Harness's RELEASE_HISTORY_LIMIT).
const DeclarativeKeep = 2

// DeclarativeCleanup is the declarative cleanup before a deploy of release
// number current: every Failed release is dropped, and of the non-failed
// releases numbered below current (InProgress counts as non-failed) only the
// DeclarativeKeep newest are kept. Releases numbered current or above are
// never dropped unless Failed. The caller deletes the dropped releases'
// Secrets; declarative mode versions nothing, so no other object goes.
func (h History) DeclarativeCleanup(current int) (keep, drop History) {
	older := 0
	for _, r := range NewHistory(h...) {
		switch {
		case r.Status == Failed:
			drop = append(drop, r)
		case r.Number < current && older >= DeclarativeKeep:
			drop = append(drop, r)
		default:
			if r.Number < current {
				older++
			}
			keep = append(keep, r)
		}
	}
	return keep, drop
}

// VersionedResources are the versioned objects of the releases, in history
// order: what legacy cleanup deletes along with the releases it drops.
func (h History) VersionedResources() []ResourceID {
	var ids []ResourceID
	for _, r := range h {
		for _, id := range r.Resources {
			if id.Versioned {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// NextDeclarativeNumber numbers a declarative release: it continues the
// declarative history, and while that is empty it continues the legacy one,
// so a release moving to declarative rollback never reuses a number.
func NextDeclarativeNumber(declarative, legacy History) int {
	if len(declarative) > 0 {
		return declarative.NextNumber()
	}
	return legacy.NextNumber()
}
