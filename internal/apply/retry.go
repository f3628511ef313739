package apply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/wait"
)

// Retry bounds the retries of transient failures. The zero value means the
// defaults: 7 attempts, 250ms doubling to at most 8s (about 16s in all,
// enough to ride out an API server restart or an etcd leader election).
type Retry struct {
	// Attempts counts every try, the first included.
	Attempts int
	// Initial is the delay before the first retry; it doubles after each.
	Initial time.Duration
	// Max caps the doubled delay. A Retry-After from the server is honoured
	// even when longer.
	Max time.Duration
}

func (r Retry) withDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = 7
	}
	if r.Initial <= 0 {
		r.Initial = 250 * time.Millisecond
	}
	if r.Max <= 0 {
		r.Max = 8 * time.Second
	}
	return r
}

// do runs fn until it succeeds, fails permanently, runs out of attempts or
// ctx ends, and returns fn's last error.
func (r Retry) do(ctx context.Context, fn func() error) error {
	backoff := r.Initial
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil {
			return nil
		}
		delay, ok := transient(err)
		if !ok || attempt >= r.Attempts || ctx.Err() != nil {
			return err
		}
		if delay == 0 {
			// Jitter spreads the retries of a stage's parallel requests.
			delay = wait.Jitter(backoff, 0.2)
			backoff = min(2*backoff, r.Max)
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("%w (retry stopped: %w)", err, context.Cause(ctx))
		case <-timer.C:
		}
	}
}

// retryableError marks an error as transient that transient cannot tell
// from its type, such as a kind not yet in discovery right after its CRD.
type retryableError struct{ error }

func (e retryableError) Unwrap() error { return e.error }

// transient tells whether err is worth retrying, and after how long when the
// server said so (Retry-After); 0 means the caller's backoff.
func transient(err error) (time.Duration, bool) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return 0, false
	}
	if errors.As(err, new(retryableError)) {
		return 0, true
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
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
	if utilnet.IsConnectionRefused(err) || utilnet.IsConnectionReset(err) ||
		utilnet.IsProbableEOF(err) || utilnet.IsHTTP2ConnectionLost(err) ||
		errors.Is(err, io.ErrUnexpectedEOF) {
		return 0, true
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return 0, true
	}
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
