package kube

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"
)

// RetryPolicy bounds retries of transient failures.
type RetryPolicy struct {
	// Attempts is the most tries of one request (default 8).
	Attempts int
	// Initial and Max bound the exponential backoff (default 250ms, 4s):
	// about 15 s in all, enough for an API server restart or an etcd leader
	// election, short enough that a dead server fails the step promptly.
	Initial, Max time.Duration
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Attempts <= 0 {
		p.Attempts = 8
	}
	if p.Initial <= 0 {
		p.Initial = 250 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 4 * time.Second
	}
	return p
}

// retryTransport retries requests that failed for reasons that pass: the
// server refusing or resetting connections while it restarts, 429 Too Many
// Requests, and 502/503/504 (an API server shutting down or behind a
// restarting load balancer). It retries only what is safe to send again:
// any request the server never received (connection refused), and
// otherwise only idempotent methods (GET, HEAD, PUT, PATCH, DELETE).
// A server-side apply PATCH and an update guarded by a resourceVersion are
// both safe to repeat. Permanent errors (4xx other than 429) are returned
// at once with the API's message.
type retryTransport struct {
	next   http.RoundTripper
	policy RetryPolicy
	sleep  func(context.Context, time.Duration) error
}

// WithRetries wraps a transport with retries of transient failures.
func WithRetries(next http.RoundTripper, policy RetryPolicy) http.RoundTripper {
	return &retryTransport{next: next, policy: policy.withDefaults(), sleep: sleepCtx}
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	delay := t.policy.Initial
	for attempt := 1; ; attempt++ {
		if attempt > 1 && req.Body != nil && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
		resp, err := t.next.RoundTrip(req)
		wait, retry := t.retryable(req, resp, err)
		if !retry || attempt >= t.policy.Attempts || (req.Body != nil && req.GetBody == nil) {
			return resp, err
		}
		if resp != nil {
			// Drain so the connection can be reused.
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		if wait == 0 {
			wait = delay
			delay = min(delay*2, t.policy.Max)
		}
		if err := t.sleep(req.Context(), wait); err != nil {
			return nil, err
		}
	}
}

// retryable says whether to retry, and after how long when the server said
// (Retry-After); 0 means the backoff decides.
func (t *retryTransport) retryable(req *http.Request, resp *http.Response, err error) (time.Duration, bool) {
	if err != nil {
		if req.Context().Err() != nil {
			return 0, false
		}
		if neverSent(err) {
			return 0, true
		}
		return 0, idempotent(req.Method) && transientNetError(err)
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		if !idempotent(req.Method) && resp.StatusCode != http.StatusTooManyRequests {
			return 0, false
		}
		return retryAfter(resp, t.policy.Max*4), true
	}
	return 0, false
}

// neverSent reports errors that mean the request never reached the server,
// so that even a create is safe to send again.
func neverSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

func transientNetError(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE) || isTimeout(err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

// retryAfter reads the Retry-After header (seconds), capped.
func retryAfter(resp *http.Response, cap time.Duration) time.Duration {
	s, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || s <= 0 {
		return 0
	}
	return min(time.Duration(s)*time.Second, cap)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
