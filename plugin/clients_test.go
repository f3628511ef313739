package plugin

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync/atomic"
	"testing"

	"github.com/sirupsen/logrus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/kube-release/kube-release/internal/logging"
)

// The clients' retries are lines of the one logger, at info.
func TestNewClientsLogsRetries(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"web","namespace":"prod"}}`))
	}))
	defer srv.Close()
	var out bytes.Buffer
	off := false
	clients, err := NewClients(&rest.Config{Host: srv.URL}, logging.New(&out, logging.Options{Level: logrus.InfoLevel, Color: &off}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clients.Typed.CoreV1().ConfigMaps("prod").Get(context.Background(), "web", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`^retrying GET configmaps/web \(attempt 2 of 7, next in \d+ms\): the server is currently unable to handle the request\n$`)
	if !want.MatchString(out.String()) {
		t.Errorf("log %q, want it to match %s", out.String(), want)
	}
}
