package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/kube-release/kube-release/internal/release"
	"github.com/kube-release/kube-release/internal/testcluster"
)

// faultProxy stands between kube-release and the API server, as a load
// balancer would, and passes every request on. For the applies it is told
// to, it loses the answer after the API server has acted (the connection
// closes instead: a server that died after writing, a dropped link), or
// holds the answer until the client gives up (a step cancelled while its
// requests are in flight).
type faultProxy struct {
	srv      *httptest.Server
	upstream http.RoundTripper
	target   *url.URL

	mu sync.Mutex
	// lose tells whether to lose the answer to this apply of the named
	// object, given how many applies of it came before.
	lose func(name string, attempt int) bool
	// hold tells whether to hold the answer to this apply.
	hold     func(name string) bool
	attempts map[string]int
	lost     []string
	// held receives the name of each apply whose answer is held.
	held chan string
}

func newFaultProxy(t *testing.T, c *testcluster.Cluster) *faultProxy {
	t.Helper()
	target, err := url.Parse(c.Server)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(c.CAData) {
		t.Fatal("no CA certificate in the cluster's CA data")
	}
	p := &faultProxy{
		upstream: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 32},
		target:   target,
		attempts: map[string]int{},
		held:     make(chan string, 1000),
	}
	forward := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(target); r.Out.Host = target.Host },
		Transport:     p.upstream,
		FlushInterval: -1, // watches stream
	}
	// HTTP/1.1 only (httptest's default): a closed connection is what the
	// client sees of a lost answer.
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPatch || r.URL.Query().Get("dryRun") != "" {
			forward.ServeHTTP(w, r)
			return
		}
		name := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		p.mu.Lock()
		attempt := p.attempts[name]
		p.attempts[name]++
		lose := p.lose != nil && p.lose(name, attempt)
		hold := !lose && p.hold != nil && p.hold(name)
		if lose {
			p.lost = append(p.lost, name)
		}
		p.mu.Unlock()
		if !lose && !hold {
			forward.ServeHTTP(w, r)
			return
		}
		// The API server acts on the request...
		out := r.Clone(context.WithoutCancel(r.Context()))
		out.URL.Scheme, out.URL.Host, out.Host, out.RequestURI = target.Scheme, target.Host, target.Host, ""
		resp, err := p.upstream.RoundTrip(out)
		if err != nil {
			t.Errorf("proxy: %s: %v", name, err)
			panic(http.ErrAbortHandler)
		}
		resp.Body.Close()
		if hold {
			// ...and the answer waits until the client hangs up.
			p.held <- name
			<-r.Context().Done()
		}
		// ...and the client never hears of it.
		panic(http.ErrAbortHandler)
	}))
	p.srv.StartTLS()
	t.Cleanup(p.srv.Close)
	return p
}

// env is the environment of a kube-release run through the proxy.
func (p *faultProxy) env(c *testcluster.Cluster, ns string, extra map[string]string) map[string]string {
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.srv.Certificate().Raw})
	env := map[string]string{
		"PLUGIN_SERVER":                     p.srv.URL,
		"PLUGIN_TOKEN":                      c.Token,
		"PLUGIN_CERTIFICATE_AUTHORITY_DATA": base64.StdEncoding.EncodeToString(ca),
		"PLUGIN_NAMESPACE":                  ns,
		"PLUGIN_RELEASE":                    "web",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

func (p *faultProxy) lostAnswers() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.lost)
}

// createdFixture is a namespace where some of a release's objects exist
// before its first deploy and the others are new: a first-failure rollback
// must delete every new one and none of the others.
type createdFixture struct {
	cs        kubernetes.Interface
	ns        string
	manifests string
	// before maps the objects that existed before the deploy to their UID.
	before map[string]types.UID
	// created are the objects the deploy creates: "configmap cfg-3-1".
	created []string
}

func newCreatedFixture(t *testing.T, c *testcluster.Cluster, configMaps, serviceAccounts, existing int) *createdFixture {
	t.Helper()
	f := &createdFixture{cs: c.Clientset(t), ns: c.Namespace(t), before: map[string]types.UID{}}
	ctx := context.Background()
	var m strings.Builder
	for i := range existing {
		cm, err := f.cs.CoreV1().ConfigMaps(f.ns).Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("old-cm-%d", i)}, Data: map[string]string{"v": "0"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		f.before["configmap "+cm.Name] = cm.UID
		sa, err := f.cs.CoreV1().ServiceAccounts(f.ns).Create(ctx, &corev1.ServiceAccount{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("old-sa-%d", i)}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		f.before["serviceaccount "+sa.Name] = sa.UID
		// In the release too: the deploy changes them, never creates them.
		fmt.Fprintf(&m, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  annotations: {harness.io/skip-versioning: \"true\"}\ndata: {v: \"1\"}\n", cm.Name)
		fmt.Fprintf(&m, "---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: %s\n  labels: {app: web}\n", sa.Name)
	}
	for i := range configMaps {
		fmt.Fprintf(&m, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg-%d\ndata: {v: \"1\"}\n", i)
		f.created = append(f.created, fmt.Sprintf("configmap cfg-%d-1", i)) // versioned for release 1
	}
	for i := range serviceAccounts {
		fmt.Fprintf(&m, "---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: new-sa-%d\n", i)
		f.created = append(f.created, fmt.Sprintf("serviceaccount new-sa-%d", i))
	}
	f.manifests = writeFile(t, "app.yaml", m.String())
	return f
}

// present lists the fixture's objects that exist, with their UIDs.
func (f *createdFixture) present(t *testing.T) map[string]types.UID {
	t.Helper()
	ctx := context.Background()
	out := map[string]types.UID{}
	cms, err := f.cs.CoreV1().ConfigMaps(f.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range cms.Items {
		if cm.Name != "web" && cm.Name != "kube-root-ca.crt" { // the history, and the controller's own
			out["configmap "+cm.Name] = cm.UID
		}
	}
	sas, err := f.cs.CoreV1().ServiceAccounts(f.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, sa := range sas.Items {
		if sa.Name != "default" {
			out["serviceaccount "+sa.Name] = sa.UID
		}
	}
	return out
}

// rollbackDeletes runs rollback with on_first_failure: delete and checks
// that exactly the objects that existed before the deploy are left, the
// very same ones (same UID).
func (f *createdFixture) rollbackDeletes(t *testing.T, c *testcluster.Cluster, extra map[string]string) {
	t.Helper()
	env := adminEnv(c, f.ns, map[string]string{"PLUGIN_STEP": "rollback", "PLUGIN_ON_FIRST_FAILURE": "delete"})
	for k, v := range extra {
		env[k] = v
	}
	r := kubeRelease(t, env)
	if r.code != 0 {
		t.Fatalf("rollback: exit %d\n%s", r.code, r.out)
	}
	// ConfigMaps and ServiceAccounts have no finalizers: a deletion the
	// API server answered has happened.
	left := f.present(t)
	for name, uid := range f.before {
		if left[name] != uid {
			t.Errorf("%s existed before the deploy and is gone or replaced after the rollback (uid %s, was %s)", name, left[name], uid)
		}
	}
	var extraLeft []string
	for name := range left {
		if _, ok := f.before[name]; !ok {
			extraLeft = append(extraLeft, name)
		}
	}
	slices.Sort(extraLeft)
	if len(extraLeft) > 0 {
		t.Errorf("%d objects the deploy created survived the rollback: %v\n%s", len(extraLeft), extraLeft, r.out)
	}
}

func recordedCreated(t *testing.T, c *testcluster.Cluster, ns string, number int) []string {
	t.Helper()
	r := releaseHistory(t, c, ns, "web").Get(number)
	if r == nil {
		t.Fatalf("no release %d", number)
	}
	var names []string
	for _, o := range r.Metadata.CreatedObjects {
		names = append(names, strings.ToLower(o.Kind)+" "+o.Name)
	}
	slices.Sort(names)
	return names
}

// The API server acts on an apply and the answer is lost; the retry is
// answered 200. The release still records the object as one it created,
// so that a first-failure rollback deletes it, and never records an
// object that existed before, lost answer or not.
func TestCreatedDespiteLostAnswers(t *testing.T) {
	c := testcluster.Shared(t)
	f := newCreatedFixture(t, c, 60, 60, 10)
	proxy := newFaultProxy(t, c)
	proxy.lose = func(name string, attempt int) bool {
		// The first answer for some objects, old ones included.
		return attempt == 0 && strings.Contains(name, "3")
	}

	r := kubeRelease(t, proxy.env(c, f.ns, map[string]string{"PLUGIN_STEP": "rolling", "PLUGIN_MANIFESTS": f.manifests}))
	if r.code != 0 {
		t.Fatalf("deploy through lost answers: exit %d\n%s", r.code, r.out)
	}
	lost := proxy.lostAnswers()
	var lostNew, lostOld int
	for _, name := range lost {
		if strings.HasPrefix(name, "old-") {
			lostOld++
		} else {
			lostNew++
		}
	}
	if lostNew == 0 || lostOld == 0 {
		t.Fatalf("answers lost for %d new and %d old objects; the test needs both: %v", lostNew, lostOld, lost)
	}
	want := slices.Clone(f.created)
	slices.Sort(want)
	if got := recordedCreated(t, c, f.ns, 1); !slices.Equal(got, want) {
		t.Errorf("release 1 records as created\n%v\nwant\n%v", got, want)
	}
	// A rollback of the release (asked for by number: it succeeded) with
	// nothing before it deletes what it created.
	f.rollbackDeletes(t, c, map[string]string{"PLUGIN_RELEASE_NUMBER": "1"})
}

// SIGTERM while applies are in flight: the server has created some of the
// objects whose answers never came. The Failed record lists them as
// created, and a first-failure rollback removes every object the run
// created and none that existed before.
func TestCreatedByAnInterruptedApply(t *testing.T) {
	c := testcluster.Shared(t)
	f := newCreatedFixture(t, c, 200, 40, 10)
	proxy := newFaultProxy(t, c)
	var mu sync.Mutex
	answered := 0
	proxy.hold = func(name string) bool {
		mu.Lock()
		defer mu.Unlock()
		// Let some objects through, then hold every answer: the apply
		// stalls with its requests in flight.
		answered++
		return answered > 40
	}

	run := start(t, proxy.env(c, f.ns, map[string]string{
		"PLUGIN_STEP": "rolling", "PLUGIN_MANIFESTS": f.manifests, "PLUGIN_TIMEOUT": "5m",
	}), "Current release number is: 1")
	// Every request the apply has in flight is held at the server: 16 at
	// once (apply.DefaultConcurrency).
	for range 16 {
		select {
		case <-proxy.held:
		case <-run.done:
			t.Fatalf("the run ended before its applies were held:\n%s", run.output())
		case <-time.After(2 * time.Minute):
			t.Fatalf("applies not held:\n%s", run.output())
		}
	}
	if err := run.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := run.wait(t, time.Minute); code == 0 {
		t.Fatalf("exit 0 after SIGTERM mid-apply:\n%s", run.output())
	}
	out := run.output()
	if !strings.Contains(out, "Release 1 recorded as Failed (interrupted)") {
		t.Fatalf("no Failed record after SIGTERM:\n%s", out)
	}

	// Some objects exist, some were never sent; the record covers every
	// one that exists and none that existed before.
	recorded := recordedCreated(t, c, f.ns, 1)
	present := f.present(t)
	var createdNow int
	for name := range present {
		if _, old := f.before[name]; old {
			if slices.Contains(recorded, name) {
				t.Errorf("%s existed before the deploy and is recorded as created", name)
			}
			continue
		}
		createdNow++
		if !slices.Contains(recorded, name) {
			t.Errorf("%s exists, the run created it, and its release does not record it", name)
		}
	}
	if createdNow == 0 || createdNow == len(f.created) {
		t.Fatalf("%d of %d objects created: the run was not interrupted mid-apply\n%s", createdNow, len(f.created), out)
	}
	t.Logf("interrupted with %d of %d new objects created; %d recorded", createdNow, len(f.created), len(recorded))

	f.rollbackDeletes(t, c, nil)
	if h := releaseHistory(t, c, f.ns, "web"); h.Latest().Status != release.Failed {
		t.Errorf("release 1 is %s after the rollback", h.Latest().Status)
	}
	if _, err := f.cs.CoreV1().ConfigMaps(f.ns).Get(context.Background(), "web", metav1.GetOptions{}); apierrors.IsNotFound(err) {
		t.Error("the history went with the release's objects")
	}
}
