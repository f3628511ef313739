package kube

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func noSleep(context.Context, time.Duration) error { return nil }

func TestRetryTransport(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		statuses []int // answered in turn; the last repeats
		want     int
		calls    int32
	}{
		{"GET through 503s", http.MethodGet, []int{503, 503, 200}, 200, 3},
		{"PATCH through 429", http.MethodPatch, []int{429, 200}, 200, 2},
		{"POST not retried on 503", http.MethodPost, []int{503, 200}, 503, 1},
		{"POST retried on 429", http.MethodPost, []int{429, 201}, 201, 2},
		{"403 is permanent", http.MethodGet, []int{403, 200}, 403, 1},
		{"422 is permanent", http.MethodPatch, []int{422, 200}, 422, 1},
		{"gives up after the attempts", http.MethodGet, []int{503}, 503, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := int(calls.Add(1)) - 1
				body, _ := io.ReadAll(r.Body)
				if r.Method != http.MethodGet && string(body) != "payload" {
					t.Errorf("attempt %d sent body %q", n+1, body)
				}
				w.WriteHeader(tt.statuses[min(n, len(tt.statuses)-1)])
			}))
			defer srv.Close()
			rt := &retryTransport{next: http.DefaultTransport, policy: Backoff{Attempts: 8}, sleep: noSleep}
			req, _ := http.NewRequest(tt.method, srv.URL, strings.NewReader("payload"))
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want || calls.Load() != tt.calls {
				t.Errorf("status %d after %d calls, want %d after %d", resp.StatusCode, calls.Load(), tt.want, tt.calls)
			}
		})
	}
}

// A server that is down (connection refused) and comes back: even a POST
// is retried, because it never reached the server.
func TestRetryTransportConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	var slept int
	rt := &retryTransport{next: http.DefaultTransport, policy: Backoff{}}
	rt.sleep = func(ctx context.Context, d time.Duration) error {
		slept++
		if slept == 2 {
			// The server comes back during the backoff.
			l, err := net.Listen("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
			t.Cleanup(func() { l.Close() })
		}
		return nil
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr, strings.NewReader("payload"))
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("after the server came back: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 || slept != 2 {
		t.Errorf("status %d after %d backoffs", resp.StatusCode, slept)
	}
}

func TestRetryTransportHonoursContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	rt := &retryTransport{next: http.DefaultTransport, policy: Backoff{}}
	rt.sleep = func(context.Context, time.Duration) error { cancel(); return context.Canceled }
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	if _, err := rt.RoundTrip(req); err == nil {
		t.Error("a cancelled request was retried to success")
	}
}
