package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	"github.com/kube-release/kube-release/internal/kube/typed"
)

func TestRetryString(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, tc := range []struct {
		retry Retry
		want  string
	}{
		{Retry{What: "PATCH configmaps/web-config", Attempt: 2, Attempts: 7, Wait: 500 * time.Millisecond, Err: errors.New("connection refused")},
			"retrying PATCH configmaps/web-config (attempt 2 of 7, next in 500ms): connection refused"},
		{Retry{What: "GET configmaps", Attempt: 3, Attempts: 7, Wait: 1234567 * time.Microsecond,
			Err: &url.Error{Op: "Get", URL: "https://10.0.0.1:6443/api/v1/namespaces/a/configmaps?labelSelector=token%3Dsecret", Err: refused}},
			"retrying GET configmaps (attempt 3 of 7, next in 1.235s): dial tcp: connect: connection refused"},
	} {
		if got := tc.retry.String(); got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	for _, tc := range []struct{ method, path, want string }{
		{"PATCH", "/api/v1/namespaces/prod/configmaps/web-config", "PATCH configmaps/web-config"},
		{"POST", "/apis/coordination.k8s.io/v1/namespaces/prod/leases", "POST leases"},
		{"GET", "/apis/apps/v1/namespaces/prod/deployments/web/status", "GET deployments/web/status"},
		{"GET", "/api/v1/namespaces/prod", "GET namespaces/prod"},
		{"DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterroles/web", "DELETE clusterroles/web"},
		{"GET", "/apis", "GET /apis"},
		{"GET", "/apis/apps/v1", "GET /apis/apps/v1"},
		{"GET", "/version", "GET /version"},
	} {
		if got := Describe(tc.method, tc.path); got != tc.want {
			t.Errorf("Describe(%s, %s) = %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
}

// Clients.OnRetry hears of each retry of the clients' transport, from the
// second attempt, with what is retried (no query), which attempt of how
// many, the wait and why; the answers' Status is read whichever encoding
// the client asked for.
func TestOnRetry(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Method + " " + r.URL.Path
		if r.URL.Query().Get("watch") == "true" {
			key = "WATCH " + r.URL.Path
		}
		mu.Lock()
		calls[key]++
		n := calls[key]
		mu.Unlock()
		switch key {
		case "GET /api/v1/namespaces/prod/configmaps/web-config":
			switch n {
			case 1:
				// The typed client asks for protobuf first.
				w.Header().Set("Content-Type", "application/vnd.kubernetes.protobuf")
				w.WriteHeader(http.StatusInternalServerError)
				w.Write(protobufStatus(t, http.StatusInternalServerError, "Internal error occurred: etcdserver: leader changed"))
			case 2:
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
			default:
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"web-config","namespace":"prod"}}`)
			}
		case "GET /api/v1/namespaces/prod/configmaps", "WATCH /api/v1/namespaces/prod/configmaps":
			if n == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			if !strings.HasPrefix(key, "WATCH") {
				fmt.Fprint(w, `{"kind":"ConfigMapList","apiVersion":"v1","metadata":{},"items":[]}`)
			}
		case "POST /api/v1/namespaces/prod/configmaps":
			// client-go would send it again after the Retry-After.
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	clients, err := NewClients(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	clients.OnRetry = func(r Retry) {
		mu.Lock()
		lines = append(lines, r.String())
		mu.Unlock()
	}
	ctx := context.Background()

	cm, err := clients.Typed.CoreV1().ConfigMaps("prod").Get(ctx, "web-config", metav1.GetOptions{})
	if err != nil || cm.Name != "web-config" {
		t.Fatalf("get through transient failures: %v", err)
	}
	configMaps := clients.Dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace("prod")
	if _, err := configMaps.List(ctx, metav1.ListOptions{LabelSelector: "token=hunter2"}); err != nil {
		t.Fatalf("list through a 503: %v", err)
	}
	w, err := configMaps.Watch(ctx, metav1.ListOptions{LabelSelector: "token=hunter2"})
	if err != nil {
		t.Fatalf("watch through a 503: %v", err)
	}
	w.Stop()
	// A create the server may have acted on is sent once, by the
	// transport and by client-go.
	_, err = clients.Typed.CoreV1().ConfigMaps("prod").Create(ctx, cm, metav1.CreateOptions{})
	if !apierrors.IsServiceUnavailable(err) {
		t.Fatalf("create answered 503: %v, want the 503", err)
	}

	want := []*regexp.Regexp{
		regexp.MustCompile(`^retrying GET configmaps/web-config \(attempt 2 of 7, next in \d+ms\): Internal error occurred: etcdserver: leader changed$`),
		regexp.MustCompile(`^retrying GET configmaps/web-config \(attempt 3 of 7, next in 1s\): the server has received too many requests and has asked us to try again later`),
		regexp.MustCompile(`^retrying GET configmaps \(attempt 2 of 7, next in \d+ms\): the server is currently unable to handle the request`),
		regexp.MustCompile(`^retrying WATCH configmaps \(attempt 2 of 7, next in \d+ms\): the server is currently unable to handle the request`),
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), strings.Join(lines, "\n"))
	}
	for i, re := range want {
		if !re.MatchString(lines[i]) {
			t.Errorf("line %d: %q, want it to match %s", i+1, lines[i], re)
		}
		if strings.Contains(lines[i], "hunter2") || strings.Contains(lines[i], "?") {
			t.Errorf("line %d shows the query: %q", i+1, lines[i])
		}
	}
	if n := calls["POST /api/v1/namespaces/prod/configmaps"]; n != 1 {
		t.Errorf("the create was sent %d times, want once", n)
	}
}

// protobufStatus encodes a Status as the API server answers a client that
// asked for protobuf.
func protobufStatus(t *testing.T, code int32, msg string) []byte {
	t.Helper()
	info, ok := runtime.SerializerInfoForMediaType(typed.Codecs.SupportedMediaTypes(), runtime.ContentTypeProtobuf)
	if !ok {
		t.Fatal("no protobuf serializer")
	}
	var buf bytes.Buffer
	status := &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure,
		Code: code, Reason: metav1.StatusReasonInternalError, Message: msg}
	if err := info.Serializer.Encode(status, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
