package testcluster

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kube-release/kube-release/internal/kube/typed"
)

// KubeconfigEnv names a kubeconfig of an already running cluster for tests
// to use instead of starting their own: handy while iterating on a test.
const KubeconfigEnv = "KUBE_RELEASE_TEST_KUBECONFIG"

// shared is the one cluster of a test binary. It is package state on
// purpose: every test of a package shares it, isolated by namespace, so the
// package pays the start-up once.
var shared struct {
	sync.Mutex
	started bool
	cluster *Cluster
	err     error
}

// Run runs the tests of a package and stops its shared cluster afterwards.
// Use it from TestMain: os.Exit(testcluster.Run(m)).
func Run(m *testing.M) int {
	code := m.Run()
	shared.Lock()
	defer shared.Unlock()
	if c := shared.cluster; c != nil && c.procs != nil {
		if code != 0 {
			// Keep the component logs of a failed run for the post-mortem.
			c.KeepDir()
			fmt.Fprintf(os.Stderr, "local control plane logs kept in %s\n", c.Dir)
		}
		c.Stop()
	}
	return code
}

// Shared returns the test binary's cluster, starting it on first use. The
// package must use Run in its TestMain.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	shared.Lock()
	defer shared.Unlock()
	if !shared.started {
		shared.started = true
		shared.cluster, shared.err = startShared()
	}
	if shared.err != nil {
		t.Fatalf("local control plane: %v", shared.err)
	}
	return shared.cluster
}

func startShared() (*Cluster, error) {
	if path := os.Getenv(KubeconfigEnv); path != "" {
		return Attach(path)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	return Start(ctx, Options{Log: os.Stderr})
}

// Attach describes a cluster that runs elsewhere, from an admin kubeconfig.
// Stop leaves it running.
func Attach(kubeconfig string) (*Cluster, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	return &Cluster{
		Kubeconfig: kubeconfig,
		Server:     cfg.Host,
		Token:      cfg.BearerToken,
		CAData:     cfg.CAData,
		config:     cfg,
	}, nil
}

// Clientset returns a typed admin client.
func (c *Cluster) Clientset(t testing.TB) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// Typed returns kube-release's own typed admin client, the one its steps
// use.
func (c *Cluster) Typed(t testing.TB) typed.Interface {
	t.Helper()
	tc, err := typed.NewForConfig(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	return tc
}

// Dynamic returns a dynamic admin client.
func (c *Cluster) Dynamic(t testing.TB) dynamic.Interface {
	t.Helper()
	d, err := dynamic.NewForConfig(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var notDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// Namespace creates a namespace for one test, named after it, waits until
// pods can be created in it, and deletes it when the test ends.
func (c *Cluster) Namespace(t testing.TB) string {
	t.Helper()
	name := strings.Trim(notDNS.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(name) > 50 {
		name = strings.Trim(name[:50], "-")
	}
	name += "-" + rand.String(5)
	cs := c.Clientset(t)
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		// Deleting in the background is enough: names never repeat.
		cs.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	if err := WaitForServiceAccount(ctx, cs, name); err != nil {
		t.Fatal(err)
	}
	return name
}

// RESTConfigFor returns a client configuration for a bearer token, with
// the cluster's CA: for tests of least-privilege service accounts.
func (c *Cluster) RESTConfigFor(token string) *rest.Config {
	cfg := c.Config()
	cfg.BearerToken = token
	return cfg
}
