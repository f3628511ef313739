// Command bench measures kube-release against what a CI script does today
// (kubectl apply, then kubectl rollout status per workload) on the local
// control plane, and prints the medians as the Markdown tables of
// docs/benchmarks.md:
//
//	go run ./hack/bench                     # every case, 5 runs each (about 10 minutes)
//	go run ./hack/bench -runs 3 -cases a,e  # some cases
//	go run ./hack/bench -trace -cases a     # plus the timeline of one deploy
//
// Every measured run is a fresh process tree, a child of this one: wall
// time around it, CPU time (user+sys) and peak RSS from the children's
// rusage, and API requests from the API server's audit log filtered by the
// client's User-Agent, so that the controllers' own requests during a
// rollout do not count. The tools alternate within each case, so load from
// elsewhere on the machine hits them alike.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kube-release/kube-release/internal/testcluster"
)

// options are the command-line flags.
type options struct {
	runs  int
	cases []string
	// objects is the size of case b; releases the history sizes of case d.
	objects  int
	releases []int
	// plainApply runs client-side kubectl apply once in case b (minutes).
	plainApply bool
	// trace prints the timelines of single runs of cases a, c and f.
	trace bool
	// kubeRelease is a prebuilt binary to measure instead of building one.
	kubeRelease string
	// baseline is another kube-release binary to measure alongside, in
	// turn with the others: the same code before a change.
	baseline string
	// resultsFile receives every sample as JSON.
	resultsFile string
	keep        bool
	// rtt is the round-trip time the tools' connections get (a proxy).
	rtt time.Duration
	// controllerQPS is the kube-controller-manager's client rate limit.
	// Its default, 20 requests per second in bursts of 30, holds up a
	// rollout of several workloads at once by hundreds of milliseconds,
	// which would measure the controllers, not the tools; 0 keeps it.
	controllerQPS int
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var cases, releases string
	fs.IntVar(&o.runs, "runs", 5, "measured runs of each tool per case")
	fs.StringVar(&cases, "cases", "a,b,c,d,e,f", "cases to run: a deploy, b 1000 objects, c rollback, d history, e start-up, f blue/green stage deploy and swap")
	fs.IntVar(&o.objects, "objects", 1000, "objects of case b")
	fs.StringVar(&releases, "releases", "1,100,1000", "history sizes of case d")
	fs.BoolVar(&o.plainApply, "plain-apply", true, "case b: also run client-side kubectl apply once (takes minutes)")
	fs.BoolVar(&o.trace, "trace", false, "cases a, c and f: print the timeline (log lines and API requests) of single runs")
	fs.StringVar(&o.kubeRelease, "kube-release", "", "kube-release binary to measure (default: build this checkout)")
	fs.StringVar(&o.baseline, "baseline", "", "another kube-release binary to measure alongside, in turn (rows marked [baseline])")
	fs.StringVar(&o.resultsFile, "results", "", "write every sample to this file as JSON")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (manifests, cluster logs, audit log)")
	fs.IntVar(&o.controllerQPS, "controller-qps", 500, "the kube-controller-manager's client QPS (bursts twice that); 0 keeps its default, 20 (bursts of 30), which holds up rollouts of several workloads at once")
	fs.DurationVar(&o.rtt, "rtt", 0, "round-trip time to add between the measured tools and the API server, as a remote cluster has (e.g. 20ms)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if o.runs < 1 {
		return o, fmt.Errorf("-runs %d: want at least 1", o.runs)
	}
	for c := range strings.SplitSeq(cases, ",") {
		c = strings.TrimSpace(c)
		if !slices.Contains([]string{"a", "b", "c", "d", "e", "f"}, c) {
			return o, fmt.Errorf("-cases: unknown case %q (want a, b, c, d, e or f)", c)
		}
		if !slices.Contains(o.cases, c) {
			o.cases = append(o.cases, c)
		}
	}
	slices.Sort(o.cases)
	for r := range strings.SplitSeq(releases, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil || n < 1 {
			return o, fmt.Errorf("-releases: %q is not a release count", r)
		}
		o.releases = append(o.releases, n)
	}
	return o, nil
}

func main() {
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := run(ctx, opts, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// bench is the state of one benchmark run.
type bench struct {
	opts        options
	root        string // the repository
	work        string
	kubeRelease string
	spawn       string
	kubectl     string
	kubeconfig  string
	client      kubernetes.Interface
	audit       *auditLog
	progress    io.Writer
	tags        int    // numbers the image tags and manifest versions
	app         string // the case a app's manifests
	// blueGreenApp is case f's, the web part of app.
	blueGreenApp string
	series       []*series
	traces       []traced
}

// traced is the timeline of one traced run.
type traced struct {
	title string
	lines []string
}

// run runs the cases and writes the report to out; progress goes to
// progress. It returns the measured series.
func run(ctx context.Context, opts options, out, progress io.Writer) ([]*series, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "kube-release-bench-")
	if err != nil {
		return nil, err
	}
	if opts.keep {
		fmt.Fprintf(progress, "work directory: %s\n", work)
	} else {
		defer os.RemoveAll(work)
	}
	b := &bench{opts: opts, root: root, work: work, progress: progress}
	info := machine(root)
	info.LoadBefore = loadAverage()

	if b.spawn, err = b.goBuild(ctx, "spawn", "./hack/bench/spawn"); err != nil {
		return nil, err
	}
	if b.kubeRelease = opts.kubeRelease; b.kubeRelease == "" {
		if b.kubeRelease, err = b.build(ctx, info.Commit); err != nil {
			return nil, err
		}
	}
	binDir, err := testcluster.Binaries(ctx, progress)
	if err != nil {
		return nil, err
	}
	b.kubectl = filepath.Join(binDir, "kubectl")

	if slices.ContainsFunc(opts.cases, func(c string) bool { return c != "e" }) {
		cluster, err := b.startCluster(ctx, binDir)
		if err != nil {
			return nil, err
		}
		defer cluster.Stop()
		if v, err := b.client.Discovery().ServerVersion(); err == nil {
			info.Kubernetes = v.GitVersion
		}
		if opts.rtt > 0 {
			stop, err := b.withRTT(ctx, opts.rtt)
			if err != nil {
				return nil, err
			}
			defer stop()
		}
	}
	if b.app, err = writeApp(filepath.Join(work, "app"), root); err != nil {
		return nil, err
	}
	if b.blueGreenApp, err = writeBlueGreenApp(filepath.Join(work, "bluegreen"), b.app); err != nil {
		return nil, err
	}

	for _, c := range opts.cases {
		fmt.Fprintf(progress, "--- case %s\n", c)
		var err error
		switch c {
		case "a":
			err = b.caseDeploy(ctx)
		case "b":
			err = b.caseApply(ctx)
		case "c":
			err = b.caseRollback(ctx)
		case "d":
			err = b.caseHistory(ctx)
		case "e":
			err = b.caseStartup(ctx)
		case "f":
			err = b.caseBlueGreen(ctx)
		}
		if err != nil {
			return b.series, fmt.Errorf("case %s: %w", c, err)
		}
	}
	info.LoadAfter = loadAverage()
	info.Date = time.Now().UTC()

	if opts.resultsFile != "" {
		if err := writeResults(opts.resultsFile, info, b.series); err != nil {
			return b.series, err
		}
	}
	if err := writeReport(out, info, opts, b.series, b.traces); err != nil {
		return b.series, err
	}
	return b.series, nil
}

// build builds kube-release as the release image does: static, stripped.
func (b *bench) build(ctx context.Context, commit string) (string, error) {
	fmt.Fprintln(b.progress, "building kube-release")
	return b.goBuild(ctx, "kube-release", ".", "-ldflags", "-s -w -X main.version=bench -X main.commit="+commit)
}

// goBuild builds a command of this module into the work directory.
func (b *bench) goBuild(ctx context.Context, name, pkg string, flags ...string) (string, error) {
	bin := filepath.Join(b.work, "bin", name)
	args := append([]string{"build", "-trimpath", "-o", bin}, flags...)
	cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
	cmd.Dir = b.root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %w\n%s", name, err, out)
	}
	return bin, nil
}

// startCluster starts the local control plane with an audit log of the
// admin user's requests, the user that kube-release and kubectl run as.
func (b *bench) startCluster(ctx context.Context, binDir string) (*testcluster.Cluster, error) {
	dir := filepath.Join(b.work, "cluster")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	policy := filepath.Join(b.work, "audit-policy.yaml")
	if err := os.WriteFile(policy, []byte(auditPolicy), 0o644); err != nil {
		return nil, err
	}
	b.audit = &auditLog{path: filepath.Join(b.work, "audit.log")}
	fmt.Fprintln(b.progress, "starting the local control plane")
	var kcm []string
	if q := b.opts.controllerQPS; q > 0 {
		kcm = []string{"--kube-api-qps=" + strconv.Itoa(q), "--kube-api-burst=" + strconv.Itoa(2*q)}
	}
	c, err := testcluster.Start(ctx, testcluster.Options{
		Dir:                   dir,
		BinDir:                binDir,
		Log:                   b.progress,
		APIServerArgs:         b.audit.flags(policy),
		ControllerManagerArgs: kcm,
	})
	if err != nil {
		return nil, err
	}
	cfg := c.Config()
	cfg.UserAgent = benchUserAgent
	if b.client, err = kubernetes.NewForConfig(cfg); err != nil {
		c.Stop()
		return nil, err
	}
	b.kubeconfig = c.Kubeconfig
	return c, nil
}

// namespace creates a namespace and waits until pods can be created in it.
func (b *bench) namespace(ctx context.Context, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := b.client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("namespace %s: %w", name, err)
	}
	return testcluster.WaitForServiceAccount(ctx, b.client, name)
}

// tag returns a new version tag: every run deploys something new.
func (b *bench) tag() string {
	b.tags++
	return "bench-" + strconv.Itoa(b.tags)
}

// moduleRoot finds the repository from the working directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(data), "module github.com/kube-release/kube-release\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("the kube-release module is not in the working directory or above")
		}
		dir = parent
	}
}
