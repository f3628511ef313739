package steps

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kube-release/kube-release/internal/kube"
	"github.com/kube-release/kube-release/internal/logging"
	"github.com/kube-release/kube-release/internal/release"
	"github.com/kube-release/kube-release/internal/testcluster"
)

func TestMain(m *testing.M) { os.Exit(testcluster.Run(m)) }

// syncBuffer is a log sink that tests read while the step writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fixture is one test's namespace on the shared cluster and a step Env
// whose log the test can read.
type fixture struct {
	t         *testing.T
	cluster   *testcluster.Cluster
	namespace string
	env       Env
	log       *syncBuffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	c := testcluster.Shared(t)
	clients, err := kube.NewClients(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	buf := &syncBuffer{}
	no := false
	log := logging.New(buf, logging.Options{Level: logrus.DebugLevel, Color: &no})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("step log:\n%s", buf.String())
		}
	})
	return &fixture{t: t, cluster: c, namespace: c.Namespace(t), env: Env{Clients: clients, Log: log, Out: log.Out}, log: buf}
}

// resetLog forgets what earlier steps logged, so a test asserts on one run.
func (f *fixture) resetLog() {
	f.log.mu.Lock()
	f.log.b.Reset()
	f.log.mu.Unlock()
}

// prepare starts a step's run: a fresh log, the fixture's namespace, and
// the defaults of the fixture's steps where the test set none (release
// "sample" where the step takes one).
func (f *fixture) prepare(release, namespace *string, timeout *time.Duration, failFast *bool, failFastAfter *time.Duration) {
	f.resetLog()
	if release != nil && *release == "" {
		*release = "sample"
	}
	*namespace = f.namespace
	if *timeout == 0 {
		*timeout = 2 * time.Minute
	}
	if *failFastAfter == 0 {
		*failFast, *failFastAfter = true, 3*time.Second
	}
}

func (f *fixture) rolling(cfg RollingConfig) (Result, error) {
	f.t.Helper()
	f.prepare(&cfg.Release, &cfg.Namespace, &cfg.Timeout, &cfg.FailFast, &cfg.FailFastAfter)
	return NewRolling(cfg, f.env).Run(context.Background())
}

func (f *fixture) history(name string) release.History {
	f.t.Helper()
	h, err := release.NewConfigMapStore(f.env.Clients.Typed, f.namespace, name).List(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return h
}

func (f *fixture) configMap(name string) (*corev1.ConfigMap, error) {
	return f.env.Clients.Typed.CoreV1().ConfigMaps(f.namespace).Get(context.Background(), name, metav1.GetOptions{})
}

func (f *fixture) secret(name string) (*corev1.Secret, error) {
	return f.env.Clients.Typed.CoreV1().Secrets(f.namespace).Get(context.Background(), name, metav1.GetOptions{})
}

func (f *fixture) assertLog(lines ...string) {
	f.t.Helper()
	log := f.log.String()
	for _, l := range lines {
		if !strings.Contains(log, l) {
			f.t.Errorf("log lacks %q", l)
		}
	}
}

func output(res Result, key string) string {
	for _, o := range res.Outputs {
		if o.Key == key {
			return o.Value
		}
	}
	return "<missing>"
}

// writeManifests writes files into a new directory and returns it.
func writeManifests(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// variant copies a directory of testdata manifests, replacing strings.
func variant(t *testing.T, dir string, replace ...string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	r := strings.NewReplacer(replace...)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = r.Replace(string(data))
	}
	return writeManifests(t, files)
}
