package release

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// MemoryStore is a Store in memory, for tests of its callers. It behaves as
// the cluster stores do (ErrExists, ErrNotFound, copies in and out) and is
// safe for concurrent use.
type MemoryStore struct {
	mu       sync.Mutex
	releases map[int]*Release
	now      func() time.Time
}

// NewMemoryStore returns a store holding copies of releases.
func NewMemoryStore(releases ...*Release) *MemoryStore {
	s := &MemoryStore{releases: map[int]*Release{}, now: nowUTC}
	for _, r := range releases {
		s.releases[r.Number] = r.Clone()
	}
	return s
}

// List implements Store.
func (s *MemoryStore) List(context.Context) (History, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := make(History, 0, len(s.releases))
	for _, r := range s.releases {
		h = append(h, r.Clone())
	}
	h.sort()
	return h, nil
}

// Get implements Store.
func (s *MemoryStore) Get(_ context.Context, number int) (*Release, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.releases[number]
	if !ok {
		return nil, fmt.Errorf("memory: release %d: %w", number, ErrNotFound)
	}
	return r.Clone(), nil
}

// Create implements Store.
func (s *MemoryStore) Create(_ context.Context, r *Release) error {
	if err := r.validate(); err != nil {
		return fmt.Errorf("memory: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.releases[r.Number]; ok {
		return fmt.Errorf("memory: release %d: %w", r.Number, ErrExists)
	}
	if r.Metadata.Created.IsZero() {
		r.Metadata.Created = s.now()
	}
	s.releases[r.Number] = r.Clone()
	return nil
}

// Update implements Store.
func (s *MemoryStore) Update(_ context.Context, r *Release) error {
	if err := r.validate(); err != nil {
		return fmt.Errorf("memory: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.releases[r.Number]
	if !ok {
		return fmt.Errorf("memory: release %d: %w", r.Number, ErrNotFound)
	}
	updated := r.Clone()
	updated.keepStored(old)
	s.releases[r.Number] = updated
	return nil
}

// Delete implements Store.
func (s *MemoryStore) Delete(_ context.Context, numbers ...int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range numbers {
		delete(s.releases, n)
	}
	return nil
}
