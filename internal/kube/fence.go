package kube

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// ErrFenced is wrapped by the error of a write that a Fence refused.
var ErrFenced = errors.New("write refused")

// Fence stops a run from writing to the cluster once it may no longer: a
// run whose deploy lock is overdue for renewal (a runner frozen past
// lock_ttl) could otherwise overwrite what the run that took the lock over
// has done since. Every request that changes something passes Check
// immediately before it is sent, whichever client or package sends it;
// reads pass freely, and so do the Lease requests of the lock itself,
// which are guarded by their own resourceVersion.
//
// The zero Fence, and a nil one, let everything through.
type Fence struct {
	mu    sync.RWMutex
	check func() error
}

// Set installs check (nil removes it). A non-nil error from check refuses
// the write.
func (f *Fence) Set(check func() error) {
	if f == nil {
		return
	}
	f.mu.Lock()
	f.check = check
	f.mu.Unlock()
}

// Check reports whether a write may be sent now.
func (f *Fence) Check() error {
	if f == nil {
		return nil
	}
	f.mu.RLock()
	check := f.check
	f.mu.RUnlock()
	if check == nil {
		return nil
	}
	if err := check(); err != nil {
		return fmt.Errorf("%w: %w", ErrFenced, err)
	}
	return nil
}

// wrap returns a transport that refuses writes the fence does not allow.
func (f *Fence) wrap(next http.RoundTripper) http.RoundTripper {
	return fencedTransport{fence: f, next: next}
}

type fencedTransport struct {
	fence *Fence
	next  http.RoundTripper
}

func (t fencedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if writes(req) {
		if err := t.fence.Check(); err != nil {
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, err
		}
	}
	return t.next.RoundTrip(req)
}

// writes reports whether a request may change the cluster, leaving out the
// deploy lock's Leases.
func writes(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return !strings.Contains(req.URL.Path, "/apis/coordination.k8s.io/")
}
