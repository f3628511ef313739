package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func statusError(code int32, reason metav1.StatusReason, msg string, retryAfter int32) error {
	s := metav1.Status{Status: metav1.StatusFailure, Code: code, Reason: reason, Message: msg}
	if retryAfter > 0 {
		s.Details = &metav1.StatusDetails{RetryAfterSeconds: retryAfter}
	}
	return &apierrors.StatusError{ErrStatus: s}
}

func urlError(err error) error {
	return &url.Error{Op: "Patch", URL: "https://127.0.0.1:6443/api/v1/namespaces/x/configmaps/y", Err: err}
}

func TestTransient(t *testing.T) {
	gr := schema.GroupResource{Resource: "configmaps"}
	tests := []struct {
		name  string
		err   error
		want  bool
		delay time.Duration
	}{
		{"429 with Retry-After", statusError(429, metav1.StatusReasonTooManyRequests, "too many requests", 3), true, 3 * time.Second},
		{"429 without Retry-After", statusError(429, metav1.StatusReasonTooManyRequests, "too many requests", 0), true, 0},
		{"etcd leader change", statusError(500, metav1.StatusReasonInternalError, "Internal error occurred: etcdserver: leader changed", 0), true, 0},
		{"503", apierrors.NewServiceUnavailable("unavailable"), true, 0},
		{"504", apierrors.NewTimeoutError("timeout", 2), true, 2 * time.Second},
		{"500 server timeout", apierrors.NewServerTimeout(gr, "patch", 1), true, time.Second},
		{"500 malformed apply", statusError(500, metav1.StatusReasonInternalError, "failed to create typed patch object (/s; /v1, Kind=Secret): .data.k: expected string", 0), false, 0},
		{"403", apierrors.NewForbidden(gr, "y", errors.New("no")), false, 0},
		{"403 service account not yet made", apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "p", errors.New("error looking up service account ns/default: serviceaccount \"default\" not found")), true, 0},
		{"422", apierrors.NewInvalid(schema.GroupKind{Kind: "ConfigMap"}, "y", nil), false, 0},
		{"400", apierrors.NewBadRequest("bad"), false, 0},
		{"404", apierrors.NewNotFound(gr, "y"), false, 0},
		{"409", apierrors.NewConflict(gr, "y", errors.New("conflict")), false, 0},
		{"connection refused", urlError(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), true, 0},
		{"connection reset", urlError(&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), true, 0},
		{"EOF", urlError(io.EOF), true, 0},
		{"unexpected EOF", fmt.Errorf("reading: %w", io.ErrUnexpectedEOF), true, 0},
		{"net timeout", urlError(timeoutError{}), true, 0},
		{"canceled", urlError(context.Canceled), false, 0},
		{"deadline", context.DeadlineExceeded, false, 0},
		{"no kind match", &meta.NoKindMatchError{GroupKind: schema.GroupKind{Kind: "Widget"}}, false, 0},
		{"marked retryable", Retryable(&meta.NoKindMatchError{GroupKind: schema.GroupKind{Kind: "Widget"}}), true, 0},
		{"other", errors.New("something else"), false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			delay, ok := Transient(tt.err)
			if ok != tt.want || delay != tt.delay {
				t.Errorf("Transient(%v) = %v, %v; want %v, %v", tt.err, delay, ok, tt.delay, tt.want)
			}
		})
	}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestBackoffDo(t *testing.T) {
	fast := Backoff{Attempts: 4, Initial: time.Millisecond, Max: 2 * time.Millisecond}
	unavailable := apierrors.NewServiceUnavailable("unavailable")
	t.Run("transient then success", func(t *testing.T) {
		calls := 0
		err := fast.Do(context.Background(), "GET configmaps/x", nil, func() error {
			if calls++; calls < 3 {
				return unavailable
			}
			return nil
		})
		if err != nil || calls != 3 {
			t.Errorf("err %v after %d calls, want nil after 3", err, calls)
		}
	})
	t.Run("permanent fails at once", func(t *testing.T) {
		calls := 0
		err := fast.Do(context.Background(), "GET configmaps/x", nil, func() error { calls++; return apierrors.NewBadRequest("bad") })
		if !apierrors.IsBadRequest(err) || calls != 1 {
			t.Errorf("err %v after %d calls, want bad request after 1", err, calls)
		}
	})
	t.Run("attempts run out", func(t *testing.T) {
		calls := 0
		err := fast.Do(context.Background(), "GET configmaps/x", nil, func() error { calls++; return unavailable })
		if !apierrors.IsServiceUnavailable(err) || calls != 4 {
			t.Errorf("err %v after %d calls, want unavailable after 4", err, calls)
		}
	})
	t.Run("context ends the wait", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		slow := Backoff{Attempts: 10, Initial: time.Hour, Max: time.Hour}
		err := slow.Do(ctx, "GET configmaps/x", nil, func() error { return unavailable })
		if !errors.Is(err, context.DeadlineExceeded) || !apierrors.IsServiceUnavailable(err) {
			t.Errorf("err %v, want the last error and the deadline", err)
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("waited %s", time.Since(start))
		}
	})
	t.Run("defaults", func(t *testing.T) {
		got := Backoff{}.WithDefaults()
		if got.Attempts != 7 || got.Initial != 250*time.Millisecond || got.Max != 8*time.Second {
			t.Errorf("defaults = %+v", got)
		}
	})
}
