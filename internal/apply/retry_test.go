package apply

import (
	"context"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kube-release/kube-release/internal/kube"
	"github.com/kube-release/kube-release/internal/object"
	"github.com/kube-release/kube-release/internal/testcluster"
)

// The clients' OnRetry hears of every retry of an apply and a delete,
// from the second attempt: the object, the attempt of how many, the wait
// and why, with a Secret's values scrubbed from the API's message as from
// the errors Apply returns.
func TestApplyTellsOnRetry(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.Namespace(t)
	var mu sync.Mutex
	attempts := map[string]int{}
	rec := &recorder{}
	rec.fault = func(r *http.Request) (*http.Response, error) {
		if r.Method != http.MethodPatch && r.Method != http.MethodDelete {
			return nil, nil
		}
		key := r.Method + " " + objectName(r)
		mu.Lock()
		attempts[key]++
		n := attempts[key]
		mu.Unlock()
		if n > 1 {
			return nil, nil
		}
		if r.Method == http.MethodDelete {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
		}
		return statusResponse(r, http.StatusInternalServerError, "InternalError", "Internal error occurred: etcdserver: leader changed, writing s3cr3t-value", 0), nil
	}
	clients, err := kube.NewClients(recordingConfig(c, rec))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	clients.OnRetry = func(r kube.Retry) {
		mu.Lock()
		lines = append(lines, r.String())
		mu.Unlock()
	}
	a, err := New(clients, Config{Retry: kube.Backoff{Initial: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	objs := manifests(t, ns, "apiVersion: v1\nkind: Secret\nmetadata: {name: creds, namespace: NS}\nstringData: {password: s3cr3t-value}\n")
	if _, err := a.Apply(ctx, objs, Options{}); err != nil {
		t.Fatalf("apply through an etcd leader change: %v", err)
	}
	if _, err := a.Delete(ctx, []object.Ref{object.Of(objs[0])}, DeleteOptions{}); err != nil {
		t.Fatalf("delete through a refused connection: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	want := []string{
		"retrying PATCH secrets/creds (attempt 2 of 7, next in 1ms): Internal error occurred: etcdserver: leader changed, writing [redacted]",
		"retrying DELETE secrets/creds (attempt 2 of 7, next in 1ms): dial tcp: connect: connection refused",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
