package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/wait"
)

// Retries. Every retry of kube-release follows one rule of what is
// transient (Transient), one of what is safe to send again (Refused and
// idempotent methods), and one backoff (Backoff.Do). Each request is
// retried in one place only, so that attempts never multiply: the
// clients of Clients retry in their transport, and the apply engine,
// which must know of every attempt, sends through Clients.REST (which
// does not retry) with Backoff.Do.

// Backoff bounds the retries of transient failures. The zero value means
// the defaults: 7 attempts, 250ms doubling to at most 8s, each delay up to
// a fifth longer at random (about 16 s in all: enough to ride out an API
// server restart or an etcd leader election, short enough that a dead
// server fails the step promptly). The randomness spreads the retries of
// the parallel requests of an apply.
type Backoff struct {
	// Attempts counts every try, the first included.
	Attempts int
	// Initial is the delay before the first retry; it doubles after each.
	Initial time.Duration
	// Max caps the doubled delay. A Retry-After from the server is honoured
	// even when longer, up to maxRetryAfter times Max.
	Max time.Duration
}

const (
	// backoffJitter is the most a delay is lengthened at random, as a
	// fraction of it.
	backoffJitter = 0.2
	// maxRetryAfter caps a server's Retry-After, in multiples of Max: a
	// server that asks for an hour must not hold a step for one.
	maxRetryAfter = 4
)

// WithDefaults fills in the defaults of the fields left zero.
func (b Backoff) WithDefaults() Backoff {
	if b.Attempts <= 0 {
		b.Attempts = 7
	}
	if b.Initial <= 0 {
		b.Initial = 250 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = 8 * time.Second
	}
	return b
}

// Retry is a retry about to be made, as Clients.OnRetry hears of it.
type Retry struct {
	// What is the request: its method and resource path (see Describe).
	What string
	// Attempt is the attempt about to be made (2 or more), of at most
	// Attempts.
	Attempt, Attempts int
	// Wait is how long until it is made.
	Wait time.Duration
	// Err is why the attempt before failed.
	Err error
}

// String is the log line of the retry, e.g. "retrying PATCH
// configmaps/web-config (attempt 2 of 7, next in 250ms): dial tcp
// 10.0.0.1:6443: connect: connection refused". The URL that client-go
// puts before a connection error is left out: its query can hold
// selectors and the like, and the line names the request already.
func (r Retry) String() string {
	err := r.Err
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	return fmt.Sprintf("retrying %s (attempt %d of %d, next in %s): %v",
		r.What, r.Attempt, r.Attempts, r.Wait.Round(time.Millisecond), err)
}

// Do calls fn until it succeeds, fails permanently (see Transient), has
// been called Attempts times or ctx ends, and returns fn's last error.
// Before each retry it tells onRetry, when not nil, what it is about to
// retry (what, as Describe names it), when and why.
func (b Backoff) Do(ctx context.Context, what string, onRetry func(Retry), fn func() error) error {
	return b.do(ctx, what, onRetry, sleep, fn)
}

// do is Do with the pause between attempts replaceable, for tests.
func (b Backoff) do(ctx context.Context, what string, onRetry func(Retry), pause func(context.Context, time.Duration) error, fn func() error) error {
	b = b.WithDefaults()
	delays := wait.Backoff{Duration: b.Initial, Factor: 2, Jitter: backoffJitter, Steps: b.Attempts, Cap: b.Max}
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil {
			return nil
		}
		delay, ok := Transient(err)
		err = unmarked(err)
		if !ok || attempt >= b.Attempts || ctx.Err() != nil {
			return err
		}
		if delay > 0 {
			delay = min(delay, maxRetryAfter*b.Max)
		} else {
			delay = delays.Step()
		}
		if onRetry != nil {
			onRetry(Retry{What: what, Attempt: attempt + 1, Attempts: b.Attempts, Wait: delay, Err: err})
		}
		if perr := pause(ctx, delay); perr != nil {
			return fmt.Errorf("%w (retry stopped: %w)", err, context.Cause(ctx))
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// marked is an error whose transience its sender knows better than
// Transient can tell from it.
type marked struct {
	error
	transient bool
}

func (m *marked) Unwrap() error { return m.error }

// Retryable marks err as transient whatever it is, such as a kind not yet
// in discovery right after its CRD was established. Do returns err
// unmarked.
func Retryable(err error) error {
	if err == nil {
		return nil
	}
	return &marked{error: err, transient: true}
}

// Permanent marks err as not worth retrying whatever it is: one that a
// retrying client has retried already, or of a request that is not safe
// to send again. Do returns err unmarked.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &marked{error: err}
}

func unmarked(err error) error {
	if m, ok := err.(*marked); ok {
		return m.error
	}
	return err
}

// Transient tells whether a request that failed with err may succeed if
// sent again, and after how long when the server said (Retry-After); 0
// means the caller's backoff decides. It does not tell whether sending
// again is safe: a request that is not idempotent may be repeated only
// when Refused says the server did not act on it.
//
// Transient: connection failures (refused, reset, EOF, timeouts) while an
// API server restarts, 429 Too Many Requests, 5xx (an API server shutting
// down or behind a restarting load balancer, an etcd leader election),
// and a 403 for a ServiceAccount not yet made. Permanent: the other 4xx
// (the request itself is wrong), the 500s server-side apply answers for a
// malformed object, a write the Fence refused, and an ended context.
func Transient(err error) (time.Duration, bool) {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrFenced) {
		return 0, false
	}
	var m *marked
	if errors.As(err, &m) {
		return 0, m.transient
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return transientStatus(status)
	}
	if neverSent(err) || utilnet.IsConnectionReset(err) || utilnet.IsProbableEOF(err) ||
		utilnet.IsHTTP2ConnectionLost(err) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE) {
		return 0, true
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return 0, true
	}
	return 0, false
}

func transientStatus(status apierrors.APIStatus) (time.Duration, bool) {
	s := status.Status()
	msg := s.Message
	// etcd elections surface as 500s, or inside other messages.
	if strings.Contains(msg, "etcdserver: leader changed") || strings.Contains(msg, "etcdserver: request timed out") {
		return 0, true
	}
	switch {
	case s.Code == http.StatusTooManyRequests || s.Code >= 500:
		if deterministicServerError(s.Code, msg) {
			return 0, false
		}
		if s.Details != nil && s.Details.RetryAfterSeconds > 0 {
			return time.Duration(s.Details.RetryAfterSeconds) * time.Second, true
		}
		return 0, true
	case s.Code == http.StatusForbidden && strings.Contains(msg, "error looking up service account"):
		// A pod in a Namespace created moments ago is refused until the
		// controller manager has made its default ServiceAccount.
		return 0, true
	}
	// 400, 403, 404, 409, 422 and the like: the request itself is wrong.
	return 0, false
}

// deterministicServerError recognises the 500s server-side apply answers
// for a malformed object (a number where a string belongs, bad base64):
// retrying them only delays the report.
func deterministicServerError(code int32, msg string) bool {
	if code != http.StatusInternalServerError {
		return false
	}
	for _, s := range []string{
		"failed to create typed patch object",
		"failed to create typed live object",
		"failed to convert new object",
		"unable to convert unstructured object",
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// Refused tells whether a failed request certainly changed nothing: the
// API server answered 4xx (invalid, forbidden, conflict, too many
// requests), the Fence refused it, or it never reached the server (the
// connection could not be made). Anything else (a 5xx such as a timeout,
// a connection reset or closed mid-request, a context that ended while it
// was in flight) may have come after the server acted on it.
func Refused(err error) bool {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		code := status.Status().Code
		return code >= 400 && code < 500
	}
	return errors.Is(err, ErrFenced) || neverSent(err)
}

// neverSent reports errors that mean the request never reached the
// server: the connection could not be made.
func neverSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return utilnet.IsConnectionRefused(err)
}

// idempotent tells whether sending a request again does what sending it
// once does. A server-side apply PATCH and an update guarded by a
// resourceVersion both are; kube-release sends no PATCH that appends.
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

// Describe names a request for a log line: its method and its resource
// path without the API prefix and the namespace, as "PATCH
// configmaps/web-config" or "POST leases". Paths outside the resource
// APIs (discovery, /version) are kept whole. The query is never part of
// it: its values can be selectors, or worse.
func Describe(method, path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(segs) > 2 && segs[0] == "api":
		segs = segs[2:]
	case len(segs) > 3 && segs[0] == "apis":
		segs = segs[3:]
	default:
		return method + " " + path
	}
	if len(segs) > 2 && segs[0] == "namespaces" {
		segs = segs[2:]
	}
	return method + " " + strings.Join(segs, "/")
}
