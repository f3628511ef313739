package release

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// listing describes a book's history as "number:status:format" newest
// first, l and d for the formats: "4:F:d,2:S:l".
func listing(b *Book) string {
	var parts []string
	for _, r := range b.History() {
		f, _ := b.Format(r.Number)
		parts = append(parts, fmt.Sprintf("%d:%s:%s", r.Number, string(r.Status)[:1], string(f)[:1]))
	}
	return strings.Join(parts, ",")
}

func readBook(t *testing.T, legacy, declarative Store) *Book {
	t.Helper()
	b := NewBook(legacy, declarative)
	if err := b.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	return b
}

// The one history of both formats, and its rules, for the histories a
// release name can have.
func TestBookRules(t *testing.T) {
	for _, tc := range []struct {
		name                string
		legacy, declarative History
		history             string
		newest, last, next  int // last: the last success before the newest
	}{
		{"empty", nil, nil, "", 0, 0, 1},
		{"legacy only", hist("1:S", "2:F", "3:S"), nil, "3:S:l,2:F:l,1:S:l", 3, 1, 4},
		{"declarative only", nil, hist("1:S", "2:S", "3:F"), "3:F:d,2:S:d,1:S:d", 3, 2, 4},
		{"legacy then declarative", hist("1:S", "2:S"), hist("3:F", "4:F"), "4:F:d,3:F:d,2:S:l,1:S:l", 4, 2, 5},
		{"legacy then declarative that succeeded", hist("1:S", "2:F"), hist("3:S", "4:F"), "4:F:d,3:S:d,2:F:l,1:S:l", 4, 3, 5},
		{"a tie: the declarative release wins", hist("1:S", "2:S", "3:S"), hist("3:F"), "3:F:d,2:S:l,1:S:l", 3, 2, 4},
		{"a tie below the newest", hist("1:S", "2:S"), hist("2:F", "3:F"), "3:F:d,2:F:d,1:S:l", 3, 1, 4},
		{"legacy numbered past the declarative history", hist("1:S", "5:F"), hist("2:S", "3:S"), "5:F:l,3:S:d,2:S:d,1:S:l", 5, 3, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := readBook(t, NewMemoryStore(tc.legacy...), NewMemoryStore(tc.declarative...))
			if got := listing(b); got != tc.history {
				t.Errorf("history %s, want %s", got, tc.history)
			}
			newest, last := 0, 0
			if r := b.Newest(); r != nil {
				newest = r.Number
				if l := b.LastSuccessful(r.Number); l != nil {
					last = l.Number
				}
			}
			if newest != tc.newest || last != tc.last || b.NextNumber() != tc.next || b.Highest() != tc.next-1 {
				t.Errorf("newest %d, last success before it %d, next %d, highest %d; want %d, %d, %d",
					newest, last, b.NextNumber(), b.Highest(), tc.newest, tc.last, tc.next)
			}
		})
	}
}

// partialStore is a declarative store some of whose releases cannot be
// read, as SecretStore reports them.
type partialStore struct {
	*MemoryStore
	unreadable []Unreadable
}

func (s partialStore) List(ctx context.Context) (History, error) {
	h, _ := s.MemoryStore.List(ctx)
	return h, &UnreadableError{Releases: s.unreadable}
}

// A release Secret that cannot be read keeps its number: the legacy
// release it shadows stays out of the history, and numbering goes on above
// it.
func TestBookUnreadable(t *testing.T) {
	u := []Unreadable{{Number: 4, Status: Succeeded, Secret: "secret prod/harness.release.web.4", Err: errors.New("bad")},
		{Number: 2, Secret: "secret prod/harness.release.web.2", Err: errors.New("bad")}}
	b := NewBook(NewMemoryStore(hist("1:S", "2:S")...), partialStore{NewMemoryStore(hist("3:F")...), u})
	err := b.Read(context.Background())
	if got, ok := errors.AsType[*UnreadableError](err); !ok || got != b.Unreadable() || len(got.Releases) != 2 {
		t.Fatalf("Read: %v, want the *UnreadableError of both", err)
	}
	if got := listing(b); got != "3:F:d,1:S:l" {
		t.Errorf("history %s, want 3:F:d,1:S:l", got)
	}
	if b.Highest() != 4 || b.NextNumber() != 5 {
		t.Errorf("highest %d, next %d; want 4, 5", b.Highest(), b.NextNumber())
	}
	if _, ok := b.Format(2); ok {
		t.Error("release 2 has a format: the legacy one, which the Secret of that number hides")
	}
	if err := b.Update(context.Background(), &Release{Number: 2, Status: Failed}); !errors.Is(err, ErrNotFound) {
		t.Errorf("update of the hidden legacy release 2: %v, want ErrNotFound", err)
	}
	if err := b.Create(context.Background(), Legacy, &Release{Number: 4, Status: InProgress}); !errors.Is(err, ErrExists) {
		t.Errorf("create of release 4 over its unreadable Secret: %v, want ErrExists", err)
	}
}

// failingStore is a store whose history cannot be read.
type failingStore struct{ *MemoryStore }

func (failingStore) List(context.Context) (History, error) {
	return nil, &CorruptError{Object: "configmap prod/web", Part: "key releaseHistory", Err: errors.New("invalid gzip")}
}

// A format that cannot be read fails Read, naming the format, and leaves
// the book as it was.
func TestBookReadError(t *testing.T) {
	ctx := context.Background()
	for _, f := range []Format{Legacy, Declarative} {
		stores := map[Format]Store{Legacy: NewMemoryStore(hist("1:S")...), Declarative: NewMemoryStore()}
		b := NewBook(stores[Legacy], stores[Declarative])
		if err := b.Read(ctx); err != nil {
			t.Fatal(err)
		}
		b.stores[f] = failingStore{NewMemoryStore()}
		err := b.Read(ctx)
		want := string(f) + " release history: configmap prod/web: key releaseHistory: invalid gzip"
		if re, ok := errors.AsType[*ReadError](err); !ok || re.Format != f || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: error %v, want a *ReadError starting %q", f, err, want)
		}
		if got := listing(b); got != "1:S:l" {
			t.Errorf("%s: after the failed Read the book holds %s, want 1:S:l", f, got)
		}
	}
}

// Create writes to the store of the format given and Update to the one
// holding the release, the declarative one on a tie; the book follows.
func TestBookWrites(t *testing.T) {
	ctx := context.Background()
	created := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	legacy := NewMemoryStore(hist("1:S", "2:F", "3:S")...)
	declarative := NewMemoryStore(&Release{Number: 3, Status: InProgress, Metadata: Metadata{Created: created}})
	b := readBook(t, legacy, declarative)

	if err := b.Update(ctx, &Release{Number: 3, Status: Failed}); err != nil {
		t.Fatal(err)
	}
	if r, _ := declarative.Get(ctx, 3); r.Status != Failed || !r.Metadata.Created.Equal(created) {
		t.Errorf("declarative release 3 after the update: %s created %s", r.Status, r.Metadata.Created)
	}
	if r, _ := legacy.Get(ctx, 3); r.Status != Succeeded {
		t.Errorf("the update reached legacy release 3: %s", r.Status)
	}
	if r := b.History().Get(3); r.Status != Failed || !r.Metadata.Created.Equal(created) {
		t.Errorf("the book's release 3 after the update: %s created %s", r.Status, r.Metadata.Created)
	}

	next := &Release{Number: b.NextNumber(), Status: InProgress}
	if err := b.Create(ctx, Legacy, next, 2); err != nil {
		t.Fatal(err)
	}
	if next.Number != 4 || listing(b) != "4:I:l,3:F:d,1:S:l" {
		t.Errorf("after creating legacy release %d dropping 2: %s", next.Number, listing(b))
	}
	if h, _ := legacy.List(ctx); !slices.Equal(numbers(h), []int{4, 3, 1}) {
		t.Errorf("legacy store holds %v, want 4 3 1", numbers(h))
	}
	next.Status = Succeeded
	if err := b.Update(ctx, next); err != nil {
		t.Fatal(err)
	}
	if r, _ := legacy.Get(ctx, 4); r.Status != Succeeded {
		t.Errorf("legacy release 4 is %s, want Succeeded", r.Status)
	}
	if err := b.Create(ctx, Declarative, &Release{Number: 1, Status: InProgress}); !errors.Is(err, ErrExists) {
		t.Errorf("create of a number the other format holds: %v, want ErrExists", err)
	}
	if err := b.Update(ctx, &Release{Number: 9, Status: Failed}); !errors.Is(err, ErrNotFound) {
		t.Errorf("update of a release the book lacks: %v, want ErrNotFound", err)
	}
	if got := b.Stored(Legacy); !slices.Equal(numbers(got), []int{4, 3, 1}) {
		t.Errorf("Stored(Legacy) = %v, want 4 3 1 (the legacy 3 the declarative one hides included)", numbers(got))
	}
}

// A cleanup that drops a declarative release brings back the legacy
// release of its number; HistoryWithout says so before anything is
// deleted.
func TestBookHistoryWithout(t *testing.T) {
	b := readBook(t, NewMemoryStore(hist("1:S", "2:S")...), NewMemoryStore(hist("2:F", "3:F")...))
	if last := b.LastSuccessful(4); last == nil || last.Number != 1 {
		t.Fatalf("last success before 4: %v, want 1 (the Failed declarative 2 hides the legacy one)", last)
	}
	after := b.HistoryWithout(Declarative, 2, 3)
	if got := numbers(after); !slices.Equal(got, []int{2, 1}) {
		t.Errorf("history without declarative 2 and 3: %v, want 2 1", got)
	}
	if last := after.LastSuccessful(4); last == nil || last.Number != 2 {
		t.Errorf("last success before 4 after the cleanup: %v, want legacy 2", last)
	}
	if got := listing(b); got != "3:F:d,2:F:d,1:S:l" {
		t.Errorf("HistoryWithout changed the book: %s", got)
	}
}
