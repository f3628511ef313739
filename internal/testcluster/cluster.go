// Package testcluster runs a real Kubernetes control plane on loopback for
// tests and the demo: etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler, with kwok standing in for the kubelet so pods become Running
// and Ready (or fail on purpose, chosen by image name; see stages.yaml).
//
// Nothing runs in containers and nothing is downloaded at run time: the
// binaries are built once from pinned Go modules by hack/cluster/build.sh.
package testcluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

//go:embed stages.yaml
var kwokStages []byte

// Options configure a cluster. The zero value is a usable default.
type Options struct {
	// Dir holds certificates, data and component logs. Empty: a new
	// temporary directory, removed by Stop.
	Dir string
	// BinDir holds the control-plane binaries. Empty: see Binaries.
	BinDir string
	// Nodes is the number of fake nodes (default 2, so a DaemonSet has more
	// than one pod).
	Nodes int
	// Log receives one line per start-up phase. Nil: discarded.
	Log io.Writer
	// APIServerArgs are extra kube-apiserver flags, after the cluster's
	// own: the benchmark turns on an audit log with them, to count each
	// client's requests.
	APIServerArgs []string
	// ControllerManagerArgs are extra kube-controller-manager flags, after
	// the cluster's own.
	ControllerManagerArgs []string
}

// Cluster is a running local control plane.
type Cluster struct {
	// Dir holds the cluster's files; components log to Dir/<name>.log.
	Dir string
	// Kubeconfig is the path of an admin kubeconfig (static token).
	Kubeconfig string
	// Server is the API server's URL.
	Server string
	// Token is the admin's bearer token (group system:masters).
	Token string
	// CAData is the PEM of the CA that signed the API server's certificate.
	CAData []byte

	bin       string
	ownDir    bool
	etcdURL   string
	procs     []*process
	config    *rest.Config
	log       io.Writer
	startedAt time.Time
}

// Start builds (first use only) and starts a control plane, and returns once
// the API server is ready, the controllers serve service accounts and the
// fake nodes are Ready.
func Start(ctx context.Context, opts Options) (c *Cluster, err error) {
	c = &Cluster{Dir: opts.Dir, bin: opts.BinDir, log: opts.Log, startedAt: time.Now()}
	if c.log == nil {
		c.log = io.Discard
	}
	if c.Dir == "" {
		if c.Dir, err = os.MkdirTemp("", "kube-release-cluster-"); err != nil {
			return nil, err
		}
		c.ownDir = true
	}
	if c.bin == "" {
		if c.bin, err = Binaries(ctx, c.log); err != nil {
			return nil, err
		}
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("local control plane in %s: %w", c.Dir, err)
			c.stopProcesses()
		}
	}()

	pki, err := newPKI(filepath.Join(c.Dir, "pki"))
	if err != nil {
		return c, fmt.Errorf("certificates: %w", err)
	}
	c.CAData = pki.caPEM
	c.Token = pki.tokens[userAdmin]

	ports, err := freePorts(6)
	if err != nil {
		return c, err
	}
	etcdPort, peerPort, apiPort, kcmPort, schedPort, kwokPort := ports[0], ports[1], ports[2], ports[3], ports[4], ports[5]
	c.etcdURL = "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	c.Server = "https://127.0.0.1:" + strconv.Itoa(apiPort)

	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	if err := c.run(ctx, "etcd",
		"--name=default",
		"--data-dir="+filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls="+c.etcdURL,
		"--advertise-client-urls="+c.etcdURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=default="+peerURL,
		// Durability is worthless for a throwaway test cluster; speed is not.
		"--unsafe-no-fsync=true",
		"--log-level=warn",
	); err != nil {
		return c, err
	}
	if err := c.waitHTTP(ctx, "etcd", c.etcdURL+"/health", nil, ""); err != nil {
		return c, err
	}
	fmt.Fprintf(c.log, "etcd ready at %s\n", c.etcdURL)

	apiArgs := []string{
		"--etcd-servers=" + c.etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(apiPort),
		"--cert-dir=" + filepath.Join(c.Dir, "kube-apiserver"),
		"--tls-cert-file=" + pki.ServingCert,
		"--tls-private-key-file=" + pki.ServingKey,
		"--client-ca-file=" + pki.CACert,
		"--token-auth-file=" + pki.Tokens,
		"--authorization-mode=RBAC",
		"--service-account-key-file=" + pki.SAPublic,
		"--service-account-signing-key-file=" + pki.SAPrivate,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range=10.96.0.0/16",
		// The kubernetes Endpoints object cannot hold a loopback address.
		"--endpoint-reconciler-type=none",
		// Pointing the request-header flags at our CA silences the other
		// components' complaints about a missing front-proxy configuration.
		"--requestheader-client-ca-file=" + pki.CACert,
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + pki.FrontProxyCert,
		"--proxy-client-key-file=" + pki.FrontProxyKey,
		"--allow-privileged=true",
		"--profiling=false",
	}
	if err := c.run(ctx, "kube-apiserver", append(apiArgs, opts.APIServerArgs...)...); err != nil {
		return c, err
	}
	if err := c.waitHTTP(ctx, "kube-apiserver", c.Server+"/readyz", c.CAData, c.Token); err != nil {
		return c, err
	}
	fmt.Fprintf(c.log, "kube-apiserver ready at %s\n", c.Server)

	c.config = &rest.Config{
		Host:            c.Server,
		BearerToken:     c.Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.CAData},
		QPS:             200,
		Burst:           400,
	}
	c.Kubeconfig = filepath.Join(c.Dir, "kubeconfig")
	if err := c.writeKubeconfig(c.Kubeconfig, userAdmin, pki.tokens[userAdmin]); err != nil {
		return c, err
	}
	kubeconfigOf := func(user string) (string, error) {
		path := filepath.Join(c.Dir, strings.ReplaceAll(user, ":", "-")+".kubeconfig")
		return path, c.writeKubeconfig(path, user, pki.tokens[user])
	}

	kcm, err := kubeconfigOf(userController)
	if err != nil {
		return c, err
	}
	kcmArgs := []string{
		"--kubeconfig=" + kcm,
		"--authentication-kubeconfig=" + kcm,
		"--authorization-kubeconfig=" + kcm,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(kcmPort),
		"--cert-dir=" + filepath.Join(c.Dir, "kube-controller-manager"),
		"--use-service-account-credentials=true",
		"--service-account-private-key-file=" + pki.SAPrivate,
		"--root-ca-file=" + pki.CACert,
		"--cluster-signing-cert-file=" + pki.CACert,
		"--cluster-signing-key-file=" + pki.CAKey,
		"--leader-elect=false",
		// The node lifecycle controller lifts the not-ready taint from new
		// nodes; on a loaded 2-core machine a late kwok heartbeat must not
		// make it mark them unreachable and evict every pod.
		"--node-monitor-grace-period=5m",
		"--profiling=false",
	}
	if err := c.run(ctx, "kube-controller-manager", append(kcmArgs, opts.ControllerManagerArgs...)...); err != nil {
		return c, err
	}

	sched, err := kubeconfigOf(userScheduler)
	if err != nil {
		return c, err
	}
	if err := c.run(ctx, "kube-scheduler",
		"--kubeconfig="+sched,
		"--authentication-kubeconfig="+sched,
		"--authorization-kubeconfig="+sched,
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(schedPort),
		"--cert-dir="+filepath.Join(c.Dir, "kube-scheduler"),
		"--leader-elect=false",
		"--profiling=false",
	); err != nil {
		return c, err
	}

	kwokConfig, err := kubeconfigOf(userKwok)
	if err != nil {
		return c, err
	}
	stages := filepath.Join(c.Dir, "kwok-stages.yaml")
	if err := os.WriteFile(stages, kwokStages, 0o600); err != nil {
		return c, err
	}
	if err := c.run(ctx, "kwok",
		"--kubeconfig="+kwokConfig,
		"--config="+stages,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		"--node-ip=127.0.0.1",
		// Without a node lease kwok picks its slow heartbeat (every 10 to
		// 20 minutes), so the node lifecycle controller finds the nodes
		// silent once --node-monitor-grace-period has passed and marks
		// every pod not ready: any test that runs across that moment
		// fails. With a lease, kwok renews it and heartbeats every ~30s.
		"--node-lease-duration-seconds=40",
		"--server-address=127.0.0.1:"+strconv.Itoa(kwokPort),
	); err != nil {
		return c, err
	}

	cs, err := kubernetes.NewForConfig(c.config)
	if err != nil {
		return c, err
	}
	nodes := opts.Nodes
	if nodes <= 0 {
		nodes = 2
	}
	for i := range nodes {
		if err := createNode(ctx, cs, fmt.Sprintf("kwok-node-%d", i)); err != nil {
			return c, err
		}
	}
	if err := c.waitFor(ctx, "fake nodes Ready", func(ctx context.Context) (bool, error) {
		list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		ready := 0
		for _, n := range list.Items {
			for _, cond := range n.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		return ready == nodes, nil
	}); err != nil {
		return c, err
	}
	// The controller manager is working once it has made the default
	// namespace's service account; pods are refused before that.
	if err := WaitForServiceAccount(ctx, cs, metav1.NamespaceDefault); err != nil {
		return c, fmt.Errorf("kube-controller-manager: %w", err)
	}
	fmt.Fprintf(c.log, "local control plane ready in %s (%s)\n", time.Since(c.startedAt).Round(100*time.Millisecond), c.Dir)
	return c, nil
}

// Config returns a copy of the admin client configuration.
func (c *Cluster) Config() *rest.Config { return rest.CopyConfig(c.config) }

// Stop stops every component, newest first, and removes the cluster's
// directory when Start created it.
func (c *Cluster) Stop() error {
	c.stopProcesses()
	if c.ownDir {
		return os.RemoveAll(c.Dir)
	}
	return nil
}

// KeepDir makes Stop leave the cluster's directory (and its logs) in place.
func (c *Cluster) KeepDir() { c.ownDir = false }

// StopAPIServer stops only the API server, as an outage would; StartAPIServer
// brings it back with the same flags.
func (c *Cluster) StopAPIServer() error {
	p := c.proc("kube-apiserver")
	if p == nil {
		return errors.New("kube-apiserver is not running")
	}
	p.stop(10 * time.Second)
	return nil
}

// StartAPIServer restarts the API server stopped by StopAPIServer and waits
// until it is ready.
func (c *Cluster) StartAPIServer(ctx context.Context) error {
	p := c.proc("kube-apiserver")
	if p == nil {
		return errors.New("kube-apiserver was never started")
	}
	if err := p.restart(); err != nil {
		return err
	}
	return c.waitHTTP(ctx, "kube-apiserver", c.Server+"/readyz", c.CAData, c.Token)
}

func (c *Cluster) proc(name string) *process {
	for _, p := range c.procs {
		if p.name == name {
			return p
		}
	}
	return nil
}

func (c *Cluster) stopProcesses() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		c.procs[i].stop(10 * time.Second)
	}
}

func (c *Cluster) writeKubeconfig(path, user, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{Server: c.Server, CertificateAuthorityData: c.CAData}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: user, Namespace: metav1.NamespaceDefault}
	cfg.CurrentContext = "local"
	return clientcmd.WriteToFile(*cfg, path)
}

// run starts one component with its output in Dir/<name>.log.
func (c *Cluster) run(ctx context.Context, name string, args ...string) error {
	p := &process{name: name, path: filepath.Join(c.bin, name), args: args, logPath: filepath.Join(c.Dir, name+".log")}
	if err := p.start(); err != nil {
		return err
	}
	c.procs = append(c.procs, p)
	return nil
}

func (c *Cluster) waitHTTP(ctx context.Context, name, url string, caPEM []byte, token string) error {
	transport := &http.Transport{}
	if caPEM != nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(caPEM)
		transport.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	client := &http.Client{Transport: transport, Timeout: 2 * time.Second}
	defer transport.CloseIdleConnections()
	return c.waitFor(ctx, name+" ready", func(ctx context.Context) (bool, error) {
		if p := c.proc(name); p != nil && p.exited() {
			return false, fmt.Errorf("%s exited: %s", name, p.tail())
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

// waitFor polls cond until it is true, returns an error, a component dies,
// or two minutes pass: start-up on a busy 2-core machine can be slow, but a
// hang must still end with the logs that explain it.
func (c *Cluster) waitFor(ctx context.Context, what string, cond func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var last error
	for {
		ok, err := cond(ctx)
		if err != nil {
			last = err
			if !isRetryable(err) {
				return fmt.Errorf("waiting for %s: %w", what, err)
			}
		}
		if ok {
			return nil
		}
		for _, p := range c.procs {
			if p.exited() {
				return fmt.Errorf("waiting for %s: %s exited: %s", what, p.name, p.tail())
			}
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("waiting for %s: %w (last error: %v)", what, ctx.Err(), last)
			}
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func isRetryable(err error) bool {
	// While components start, the API answers with connection errors, 403s
	// (RBAC bootstrap roles not yet written) and 5xx; none of these is final.
	return !errors.Is(err, context.Canceled)
}

// WaitForServiceAccount waits until the namespace's default service account
// exists: the API server refuses pods in a namespace until it does.
func WaitForServiceAccount(ctx context.Context, cs kubernetes.Interface, namespace string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		_, err := cs.CoreV1().ServiceAccounts(namespace).Get(ctx, "default", metav1.GetOptions{})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("service account %s/default: %w (last error: %v)", namespace, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func createNode(ctx context.Context, cs kubernetes.Interface, name string) error {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
			Labels: map[string]string{
				"kubernetes.io/hostname": name,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
				"type":                   "kwok",
			},
		},
		Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
	}
	_, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("node %s: %w", name, err)
	}
	return nil
}

func freePorts(n int) ([]int, error) {
	// Hold every listener until all are chosen, so the n ports differ.
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// process is one component of the control plane.
type process struct {
	name, path, logPath string
	args                []string

	cmd  *exec.Cmd
	done chan struct{}
}

func (p *process) start() error {
	logFile, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.path, p.args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = componentEnv()
	// Own process group, and killed with its parent: a test binary that dies
	// or times out must not leave a control plane behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	p.cmd = cmd
	p.done = make(chan struct{})
	go func() {
		cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return nil
}

func (p *process) restart() error {
	if !p.exited() {
		return fmt.Errorf("%s is still running", p.name)
	}
	return p.start()
}

func (p *process) exited() bool {
	if p.done == nil {
		return true
	}
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *process) stop(grace time.Duration) {
	if p.exited() {
		return
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// tail returns the last lines of the component's log, for errors.
func (p *process) tail() string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return fmt.Sprintf("last lines of %s:\n%s", p.logPath, bytes.Join(lines, []byte("\n")))
}

// componentEnv is a minimal environment: etcd reads every ETCD_* variable as
// a flag, and a developer's KUBECONFIG must not leak into a component.
func componentEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "ETCD_"), name == "KUBECONFIG":
			continue
		}
		env = append(env, kv)
	}
	return env
}
