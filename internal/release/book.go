package release

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Format is one of the two ways the history of a release is kept in the
// cluster.
type Format string

const (
	// Legacy is one ConfigMap named like the release, holding every
	// release (ConfigMapStore).
	Legacy Format = "legacy"
	// Declarative is one Secret per release, holding its manifests
	// (SecretStore).
	Declarative Format = "declarative"
)

// Book is the history of one release name in both formats, in the spirit
// of Helm's pkg/storage: every step reads and writes the history through
// it and never through a store of its own, so that they all read the two
// formats as the same one history. A release name has both when it moved
// to declarative rollback: its legacy releases stay, and the numbering
// goes on across the move.
//
// The rules that make one history of the two:
//   - A number held in both formats is the declarative release, the newer
//     way the release was deployed, even when its Secret cannot be read.
//   - The newest release is the one with the highest number.
//   - The last successful release before n is the newest Succeeded one
//     numbered below n, in either format: what a rollback returns to, and
//     what a deploy and the history report as the previous release.
//   - The next number is above every number either format holds, readable
//     or not: a new release is the newest whichever format records it, so
//     a move to declarative rollback continues the legacy numbering, and
//     a Secret that cannot be read keeps its number.
//
// Read reads both formats once; the queries answer from what it read, and
// Create and Update write to the store that holds the release and keep
// the book as the stores now have it. A Book is not safe for concurrent
// use.
type Book struct {
	stores map[Format]Store
	// stored is each format's readable releases, newest first.
	stored     map[Format]History
	unreadable *UnreadableError
	// history is the one history of both formats, and format says which
	// holds each of its releases.
	history History
	format  map[int]Format
}

// NewBook returns the book of the history in these two stores; it holds
// nothing until Read.
func NewBook(legacy, declarative Store) *Book {
	return &Book{
		stores: map[Format]Store{Legacy: legacy, Declarative: declarative},
		stored: map[Format]History{},
		format: map[int]Format{},
	}
}

// ReadError is a format of the history that cannot be read at all: the
// API server refused, or its object is corrupt (a *CorruptError).
type ReadError struct {
	Format Format
	Err    error
}

func (e *ReadError) Error() string { return string(e.Format) + " release history: " + e.Err.Error() }

func (e *ReadError) Unwrap() error { return e.Err }

// Read reads both formats, replacing whatever the book held. A format that
// cannot be read is a *ReadError, and the book is left as it was. Release
// Secrets that cannot be read are left out of the history, which holds
// every other release, and returned as an *UnreadableError: the caller
// decides whether it needs one of them (see UnreadableError).
func (b *Book) Read(ctx context.Context) error {
	legacy, err := b.stores[Legacy].List(ctx)
	if err != nil {
		// One object holds the whole legacy history: a part of it is
		// no history at all.
		return &ReadError{Format: Legacy, Err: err}
	}
	declarative, err := b.stores[Declarative].List(ctx)
	unreadable, partial := errors.AsType[*UnreadableError](err)
	if err != nil && !partial {
		return &ReadError{Format: Declarative, Err: err}
	}
	b.stored = map[Format]History{Legacy: legacy, Declarative: declarative}
	b.unreadable = unreadable
	b.index()
	if unreadable != nil {
		return unreadable
	}
	return nil
}

// index makes the one history of both formats' releases.
func (b *Book) index() {
	b.history, b.format = merge(b.stored[Legacy], b.stored[Declarative], b.unreadable)
}

// merge is the one history of both formats' releases, and which format
// holds each of its releases.
func merge(legacy, declarative History, unreadable *UnreadableError) (History, map[int]Format) {
	format := map[int]Format{}
	var h History
	for _, r := range declarative {
		format[r.Number] = Declarative
		h = append(h, r)
	}
	for _, r := range legacy {
		if _, tie := format[r.Number]; tie || unreadable.Get(r.Number) != nil {
			continue // the declarative release of that number wins
		}
		format[r.Number] = Legacy
		h = append(h, r)
	}
	h.sort()
	return h, format
}

// History is the one history of both formats, newest first, each number
// once, the releases that cannot be read left out. The releases are the
// book's own, not copies.
func (b *Book) History() History { return b.history }

// HistoryWithout is the History as it will be once format f no longer
// holds the releases numbered drop, as after a cleanup: a declarative
// release dropped no longer hides the legacy release of its number. It
// reads and writes nothing.
func (b *Book) HistoryWithout(f Format, drop ...int) History {
	stored := map[Format]History{Legacy: b.stored[Legacy], Declarative: b.stored[Declarative]}
	stored[f] = slices.DeleteFunc(slices.Clone(stored[f]), func(r *Release) bool { return slices.Contains(drop, r.Number) })
	h, _ := merge(stored[Legacy], stored[Declarative], b.unreadable)
	return h
}

// Stored is the readable releases format f stores, newest first, a number
// the other format holds too included: what is in that store.
func (b *Book) Stored(f Format) History { return b.stored[f] }

// Format says which format holds release number n in the History; false
// when the History has no such release.
func (b *Book) Format(n int) (Format, bool) {
	f, ok := b.format[n]
	return f, ok
}

// Unreadable is the release Secrets Read could not read, nil for none.
func (b *Book) Unreadable() *UnreadableError { return b.unreadable }

// Newest is the newest readable release, nil for an empty history.
func (b *Book) Newest() *Release { return b.history.Latest() }

// LastSuccessful is the newest Succeeded release numbered below n, in
// either format, nil if there is none: what a rollback of release n
// returns to.
func (b *Book) LastSuccessful(below int) *Release { return b.history.LastSuccessful(below) }

// Highest is the highest release number either format holds, a release
// that cannot be read counted by the number its Secret bears; 0 for none.
func (b *Book) Highest() int {
	return max(b.stored[Legacy].NextNumber(), b.stored[Declarative].NextNumber(), b.unreadable.Highest()+1) - 1
}

// NextNumber is the number of the next release, in either format.
func (b *Book) NextNumber() int { return b.Highest() + 1 }

// Fits reports whether format f can record r after removing the releases
// numbered drop; see the package function Fits.
func (b *Book) Fits(f Format, r *Release, drop ...int) error {
	return Fits(b.stores[f], r, drop...)
}

// Create records r in format f, removing the releases of f numbered drop
// in the same write where the store can (see CreateDropping). A number
// the book already holds, in either format, is an ErrExists error: two
// releases of one number would make the older format's one vanish from
// the history. After an error, Read again before trusting the book.
func (b *Book) Create(ctx context.Context, f Format, r *Release, drop ...int) error {
	if held, ok := b.format[r.Number]; ok || b.unreadable.Get(r.Number) != nil {
		if !ok {
			held = Declarative
		}
		return fmt.Errorf("release %d: held by the %s history: %w", r.Number, held, ErrExists)
	}
	if err := CreateDropping(ctx, b.stores[f], r, drop...); err != nil {
		return err
	}
	kept := slices.DeleteFunc(slices.Clone(b.stored[f]), func(old *Release) bool { return slices.Contains(drop, old.Number) })
	b.stored[f] = NewHistory(append(kept, r.Clone())...)
	b.index()
	return nil
}

// Update replaces release r.Number with r in the store that holds it (see
// Format), or returns an ErrNotFound error when the history has no such
// release.
func (b *Book) Update(ctx context.Context, r *Release) error {
	f, ok := b.format[r.Number]
	if !ok {
		return fmt.Errorf("release %d: %w", r.Number, ErrNotFound)
	}
	if err := b.stores[f].Update(ctx, r); err != nil {
		return err
	}
	h := slices.Clone(b.stored[f])
	i := slices.IndexFunc(h, func(old *Release) bool { return old.Number == r.Number })
	updated := r.Clone()
	// As the stores keep them: what the caller's copy left out.
	updated.keepStored(h[i])
	h[i] = updated
	b.stored[f] = h
	b.index()
	return nil
}

// LastSuccessfulOfColor is the newest Succeeded release of colour c, in
// either format, nil if there is none.
func (b *Book) LastSuccessfulOfColor(c Color) *Release { return b.history.LastSuccessfulOfColor(c) }

// LatestIn is the newest release in environment e, in either format, nil
// if there is none: for StageEnvironment, what a stage scale down scales
// down.
func (b *Book) LatestIn(e Environment) *Release { return b.history.LatestIn(e) }

// SwapEnvironments records a swap that routes users to colour primary
// (see History.SwapEnvironments), one release at a time, and returns the
// releases it updated. Recording what the swap made the environments,
// rather than flipping them, makes it safe to run again after an
// interruption: it updates what is still to update and nothing more.
func (b *Book) SwapEnvironments(ctx context.Context, primary Color) ([]*Release, error) {
	if !primary.Valid() {
		return nil, fmt.Errorf("swap environments: colour %q is not %s or %s", primary, Blue, Green)
	}
	var done []*Release
	for _, r := range b.history.SwapEnvironments(primary) {
		if err := b.Update(ctx, r); err != nil {
			return done, fmt.Errorf("release %d: record environment %s: %w", r.Number, r.Environment, err)
		}
		done = append(done, r)
	}
	return done, nil
}
