package kube

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kube-release/kube-release/internal/kube/typed"
)

// retryTransport retries requests that failed for reasons that pass
// (Transient), with policy. It retries only what is safe to send again:
// any request the server did not act on (Refused: connection refused,
// 429), and otherwise only idempotent methods. Permanent errors (4xx
// other than 429) are returned at once with the API's message.
type retryTransport struct {
	next   http.RoundTripper
	policy Backoff
	// onRetry, when not nil, is told of each retry.
	onRetry func(Retry)
	sleep   func(context.Context, time.Duration) error
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	method := req.Method
	if req.URL.Query().Get("watch") == "true" {
		method = "WATCH"
	}
	pause := t.sleep
	if pause == nil {
		pause = sleep
	}
	var resp *http.Response
	// last is what the last attempt returned to the loop.
	var last error
	attempt := 0
	err := t.policy.do(req.Context(), Describe(method, req.URL.Path), t.onRetry, pause, func() error {
		attempt++
		if attempt > 1 {
			discard(resp)
			resp = nil
			if req.Body != nil {
				body, err := req.GetBody()
				if err != nil {
					last = Permanent(err)
					return last
				}
				req = req.Clone(req.Context())
				req.Body = body
			}
		}
		var err error
		resp, err = t.next.RoundTrip(req)
		if err == nil {
			err = failure(req, resp)
		} else {
			resp = nil
		}
		switch {
		case err == nil:
		case !idempotent(req.Method) && !Refused(err):
			err = Permanent(err) // the server may have acted on it
		case req.Body != nil && req.GetBody == nil:
			err = Permanent(err) // the body cannot be sent again
		}
		last = err
		return err
	})
	if resp != nil {
		if err == nil || err == unmarked(last) {
			return resp, nil // the server's answer, whatever it is
		}
		discard(resp) // the context ended before the next attempt
	}
	return nil, err
}

// discard drains and closes a response, so its connection can be reused.
func discard(resp *http.Response) {
	if resp == nil {
		return
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// maxStatusBody bounds what is read of an error's body to tell whether it
// is transient. Status bodies are far smaller.
const maxStatusBody = 64 << 10

// failure returns the API error an answer carries when it may be
// transient (429, 403, 5xx), as client-go would decode it, for Transient
// and Refused; nil for any other answer, whose body is left unread (a
// watch streams in it). The body stays readable for the caller.
func failure(req *http.Request, resp *http.Response) error {
	code := resp.StatusCode
	if code != http.StatusTooManyRequests && code != http.StatusForbidden && code < 500 {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxStatusBody))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}

	retryAfter := 0
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		retryAfter = s
	}
	// Typed clients get protobuf, the others JSON: the universal
	// deserializer reads both.
	obj, err := runtime.Decode(typed.Codecs.UniversalDeserializer(), body)
	if status, ok := obj.(*metav1.Status); err == nil && ok && status.Code == int32(code) {
		if retryAfter > 0 && (status.Details == nil || status.Details.RetryAfterSeconds == 0) {
			if status.Details == nil {
				status.Details = &metav1.StatusDetails{}
			}
			status.Details.RetryAfterSeconds = int32(retryAfter)
		}
		return &apierrors.StatusError{ErrStatus: *status}
	}
	return apierrors.NewGenericServerResponse(code, req.Method, schema.GroupResource{}, "", string(body), retryAfter, true)
}
