package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kube-release/kube-release/internal/bluegreen"
	"github.com/kube-release/kube-release/internal/manifest"
	"github.com/kube-release/kube-release/internal/release"

	"github.com/kube-release/kube-release/internal/kube/typed/typedtest"
)

// Names of the series the targets refer to.
const (
	peerDeploy    = "kubectl apply + rollout status"
	peerSSA       = "kubectl apply --server-side"
	peerUndo      = "kubectl rollout undo + rollout status"
	peerVersion   = "kubectl version --client"
	peerBadUsage  = "kubectl apply without -f (exit 1)"
	peerBlueGreen = "kubectl get + apply + rollout status + 2 patches"

	deployLegacy      = "kube-release rolling (legacy history)"
	deploySkipDryRun  = "kube-release rolling, skip_dry_run"
	deployDeclarative = "kube-release rolling, enable_declarative_rollback"
	applyDefault      = "kube-release apply"
	applySkipDryRun   = "kube-release apply, skip_dry_run"
	applyPlain        = "kubectl apply (client-side), once"
	rollbackLegacy    = "kube-release rollback (legacy)"
	rollbackDecl      = "kube-release rollback (declarative)"
	rolledLegacy      = "kube-release rolling (legacy), before each rollback"
	rolledDecl        = "kube-release rolling (declarative), before each rollback"
	startVersion      = "kube-release --version"
	startInvalid      = "kube-release, invalid settings (exit 2)"
	blueGreenLegacy   = "kube-release bluegreen + swap (legacy history)"
	blueGreenDecl     = "kube-release bluegreen + swap, enable_declarative_rollback"
)

const (
	releaseName = "app"
	// statusTimeout bounds kubectl rollout status, as a CI script would.
	statusTimeout = "--timeout=5m"
)

// deploy is one kube-release rolling deploy of a new version of the app.
func (b *bench) deploy(namespace string, extra map[string]string) func(context.Context) (sample, error) {
	return func(ctx context.Context) (sample, error) {
		return b.execute(ctx, nil, b.deployProc(namespace, b.app, appImages(), extra))
	}
}

// deployProc is one kube-release deploy of a new version of the manifests
// in dir, each of images with a new tag: a rolling deploy, unless extra
// sets another step.
func (b *bench) deployProc(namespace, dir string, images []string, extra map[string]string) proc {
	settings := map[string]string{
		"step":      "rolling",
		"release":   releaseName,
		"namespace": namespace,
		"manifests": dir,
		"images":    imagesSetting(b.tag(), images),
	}
	maps.Copy(settings, extra)
	return b.kubeReleaseProc(settings, 0)
}

// kubectlDeploy is what a CI script does today: apply a copy of the
// manifests with the new image tags, then wait for each workload.
func (b *bench) kubectlDeploy(namespace string) func(context.Context) (sample, error) {
	return func(ctx context.Context) (sample, error) {
		tag := b.tag()
		dir := filepath.Join(b.work, "kubectl-app", tag)
		if err := writeAppVersion(dir, b.app, tag); err != nil {
			return sample{}, err
		}
		commands := [][]string{{"apply", "-f", dir}}
		for _, w := range appWorkloads() {
			commands = append(commands, []string{"rollout", "status", w, statusTimeout})
		}
		procs, err := b.kubectlProcs(namespace, commands...)
		if err != nil {
			return sample{}, err
		}
		return b.execute(ctx, nil, procs...)
	}
}

func discard(run func(context.Context) (sample, error)) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := run(ctx)
		return err
	}
}

// caseDeploy is case a: a rolling deploy of a 10-object app with 3
// workloads to steady state.
func (b *bench) caseDeploy(ctx context.Context) error {
	legacy, declarative, kubectl := "bench-a-legacy", "bench-a-declarative", "bench-a-kubectl"
	for _, ns := range []string{legacy, declarative, kubectl} {
		if err := b.namespace(ctx, ns); err != nil {
			return err
		}
	}
	variants := []variant{
		{name: deployLegacy, peer: peerDeploy, run: b.deploy(legacy, nil)},
		{name: deploySkipDryRun, peer: peerDeploy, run: b.deploy(legacy, map[string]string{"skip_dry_run": "true"})},
		{name: deployDeclarative, peer: peerDeploy, run: b.deploy(declarative, map[string]string{"enable_declarative_rollback": "true"})},
		{name: peerDeploy, run: b.kubectlDeploy(kubectl)},
	}
	// The first deploy creates everything; only updates are measured.
	for _, v := range variants[1:] {
		if _, err := v.run(ctx); err != nil {
			return fmt.Errorf("warm-up: %s: %w", v.name, err)
		}
	}
	if err := b.alternate(ctx, "a", appObjects, variants); err != nil {
		return err
	}
	if !b.opts.trace {
		return nil
	}
	if err := b.trace(ctx, "(a) "+deployLegacy, b.deployProc(legacy, b.app, appImages(), nil)); err != nil {
		return err
	}
	tag := b.tag()
	dir := filepath.Join(b.work, "kubectl-app", tag)
	if err := writeAppVersion(dir, b.app, tag); err != nil {
		return err
	}
	commands := [][]string{{"apply", "-f", dir}}
	for _, w := range appWorkloads() {
		commands = append(commands, []string{"rollout", "status", w, statusTimeout})
	}
	procs, err := b.kubectlProcs(kubectl, commands...)
	if err != nil {
		return err
	}
	return b.trace(ctx, "(a) "+peerDeploy, procs...)
}

// trace runs kube-release once more and records the timeline of the run:
// its log lines as they arrived and its API requests.
func (b *bench) trace(ctx context.Context, title string, p ...proc) error {
	lines := &timedLines{}
	start := time.Now()
	s, err := b.execute(ctx, lines, p...)
	if err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	b.traces = append(b.traces, traced{title: title, lines: timeline(start, lines, s)})
	return nil
}

// caseApply is case b: applying many ConfigMaps, Secrets and Services.
func (b *bench) caseApply(ctx context.Context) error {
	kr, ssa, plain := "bench-b-kube-release", "bench-b-kubectl-ssa", "bench-b-kubectl"
	for _, ns := range []string{kr, ssa} {
		if err := b.namespace(ctx, ns); err != nil {
			return err
		}
	}
	n := b.opts.objects
	objects := func() (string, error) {
		tag := b.tag()
		dir := filepath.Join(b.work, "objects", tag)
		return dir, writeObjects(dir, n, tag)
	}
	krApply := func(extra map[string]string) func(context.Context) (sample, error) {
		return func(ctx context.Context) (sample, error) {
			dir, err := objects()
			if err != nil {
				return sample{}, err
			}
			settings := map[string]string{"step": "apply", "namespace": kr, "manifests": dir}
			for k, v := range extra {
				settings[k] = v
			}
			return b.execute(ctx, nil, b.kubeReleaseProc(settings, 0))
		}
	}
	kubectlApply := func(namespace string, flags ...string) func(context.Context) (sample, error) {
		return func(ctx context.Context) (sample, error) {
			dir, err := objects()
			if err != nil {
				return sample{}, err
			}
			procs, err := b.kubectlProcs(namespace, append([]string{"apply", "-f", dir}, flags...))
			if err != nil {
				return sample{}, err
			}
			return b.execute(ctx, nil, procs...)
		}
	}
	variants := []variant{
		{name: applyDefault, peer: peerSSA, run: krApply(nil)},
		{name: applySkipDryRun, peer: peerSSA, run: krApply(map[string]string{"skip_dry_run": "true"})},
		{name: peerSSA, run: kubectlApply(ssa, "--server-side")},
	}
	for _, v := range variants[1:] {
		if _, err := v.run(ctx); err != nil {
			return fmt.Errorf("warm-up: %s: %w", v.name, err)
		}
	}
	if err := b.alternate(ctx, "b", n, variants); err != nil {
		return err
	}
	if b.opts.trace {
		dir, err := objects()
		if err != nil {
			return err
		}
		if err := b.trace(ctx, "(b) "+applyDefault, b.kubeReleaseProc(map[string]string{"step": "apply", "namespace": kr, "manifests": dir}, 0)); err != nil {
			return err
		}
	}
	if !b.opts.plainApply {
		return nil
	}
	// Client-side apply, for the record: once to create, once measured.
	if err := b.namespace(ctx, plain); err != nil {
		return err
	}
	fmt.Fprintf(b.progress, "  %s: creating %d objects first\n", applyPlain, n)
	run := kubectlApply(plain)
	if _, err := run(ctx); err != nil {
		return fmt.Errorf("%s: %w", applyPlain, err)
	}
	saved := b.opts.runs
	b.opts.runs = 1
	defer func() { b.opts.runs = saved }()
	return b.alternate(ctx, "b", n, []variant{{name: applyPlain, run: run}})
}

// latest is the number of the newest release in a store.
func latest(ctx context.Context, s release.Store) (int, error) {
	h, err := s.List(ctx)
	if err != nil {
		return 0, err
	}
	if h.Latest() == nil {
		return 0, fmt.Errorf("no release recorded")
	}
	return h.Latest().Number, nil
}

// caseRollback is case c: rolling back the newest release, in both history
// formats, against kubectl rollout undo of every workload.
func (b *bench) caseRollback(ctx context.Context) error {
	legacy, declarative, kubectl := "bench-c-legacy", "bench-c-declarative", "bench-c-kubectl"
	for _, ns := range []string{legacy, declarative, kubectl} {
		if err := b.namespace(ctx, ns); err != nil {
			return err
		}
	}
	decl := map[string]string{"enable_declarative_rollback": "true"}
	// The first release of each, which every rollback returns to.
	for _, first := range []func(context.Context) (sample, error){b.deploy(legacy, nil), b.deploy(declarative, decl), b.kubectlDeploy(kubectl)} {
		if _, err := first(ctx); err != nil {
			return fmt.Errorf("first release: %w", err)
		}
	}
	// The deploys before each rollback are measured too, as the deploy
	// time of the same app in the same namespace that a rollback is
	// compared with.
	deployed := map[string]*series{
		legacy:      {Case: "c", Name: rolledLegacy, Peer: peerDeploy, Objects: appObjects},
		declarative: {Case: "c", Name: rolledDecl, Peer: peerDeploy, Objects: appObjects},
	}
	prepare := func(namespace string, extra map[string]string) func(context.Context) error {
		deploy := b.deploy(namespace, extra)
		return func(ctx context.Context) error {
			s, err := deploy(ctx)
			deployed[namespace].Samples = append(deployed[namespace].Samples, s)
			return err
		}
	}
	rollback := func(namespace string, store release.Store) func(context.Context) (sample, error) {
		return func(ctx context.Context) (sample, error) {
			n, err := latest(ctx, store)
			if err != nil {
				return sample{}, err
			}
			return b.execute(ctx, nil, b.kubeReleaseProc(map[string]string{
				"step": "rollback", "release": releaseName, "namespace": namespace,
				"release_number": strconv.Itoa(n),
			}, 0))
		}
	}
	undo := func(ctx context.Context) (sample, error) {
		commands := [][]string{append([]string{"rollout", "undo"}, appWorkloads()...)}
		for _, w := range appWorkloads() {
			commands = append(commands, []string{"rollout", "status", w, statusTimeout})
		}
		procs, err := b.kubectlProcs(kubectl, commands...)
		if err != nil {
			return sample{}, err
		}
		return b.execute(ctx, nil, procs...)
	}
	variants := []variant{
		{name: rollbackLegacy, peer: peerUndo, prepare: prepare(legacy, nil), baselinePrepare: discard(b.deploy(legacy, nil)),
			run: rollback(legacy, release.NewConfigMapStore(typedtest.Wrap(b.client), legacy, releaseName))},
		{name: rollbackDecl, peer: peerUndo, prepare: prepare(declarative, decl), baselinePrepare: discard(b.deploy(declarative, decl)),
			run: rollback(declarative, release.NewSecretStore(typedtest.Wrap(b.client), declarative, releaseName))},
		{name: peerUndo, prepare: discard(b.kubectlDeploy(kubectl)), run: undo},
	}
	if err := b.alternate(ctx, "c", appObjects, variants); err != nil {
		return err
	}
	b.series = append(b.series, deployed[legacy], deployed[declarative])
	if !b.opts.trace {
		return nil
	}
	for _, t := range []struct {
		name, namespace string
		extra           map[string]string
		store           release.Store
	}{
		{rollbackLegacy, legacy, nil, release.NewConfigMapStore(typedtest.Wrap(b.client), legacy, releaseName)},
		{rollbackDecl, declarative, decl, release.NewSecretStore(typedtest.Wrap(b.client), declarative, releaseName)},
	} {
		if _, err := b.deploy(t.namespace, t.extra)(ctx); err != nil {
			return err
		}
		n, err := latest(ctx, t.store)
		if err != nil {
			return err
		}
		if err := b.trace(ctx, "(c) "+t.name, b.kubeReleaseProc(map[string]string{
			"step": "rollback", "release": releaseName, "namespace": t.namespace, "release_number": strconv.Itoa(n),
		}, 0)); err != nil {
			return err
		}
	}
	return nil
}

// caseHistory is case d: the history step over histories of several sizes,
// in both formats, seeded straight through the release stores.
func (b *bench) caseHistory(ctx context.Context) error {
	manifests, err := appManifests(b.app)
	if err != nil {
		return err
	}
	var variants []variant
	for _, format := range []string{"legacy", "declarative"} {
		for _, n := range b.opts.releases {
			ns := fmt.Sprintf("bench-d-%s-%d", format, n)
			if err := b.namespace(ctx, ns); err != nil {
				return err
			}
			start := time.Now()
			if format == "legacy" {
				err = b.seedLegacy(ctx, ns, n)
			} else {
				err = b.seedDeclarative(ctx, ns, n, manifests)
			}
			if err != nil {
				return fmt.Errorf("seed %s: %w", ns, err)
			}
			fmt.Fprintf(b.progress, "  seeded %d %s releases in %s\n", n, format, time.Since(start).Round(time.Millisecond))
			settings := map[string]string{"step": "history", "release": releaseName, "namespace": ns}
			variants = append(variants, variant{
				name: fmt.Sprintf("kube-release history, %s, %d releases", format, n),
				run: func(ctx context.Context) (sample, error) {
					return b.execute(ctx, nil, b.kubeReleaseProc(settings, 0))
				},
			})
		}
	}
	return b.alternate(ctx, "d", 0, variants)
}

// seededRelease is release n of a seeded history, as a deploy of the app
// records it.
func seededRelease(n int, declarative bool, manifests []byte) *release.Release {
	tag := "seed-" + strconv.Itoa(n)
	r := &release.Release{
		Number: n,
		Status: release.Succeeded,
		Metadata: release.Metadata{
			Created: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Hour),
			Pipeline: release.Pipeline{
				Repository: "acme/app", Branch: "main", Commit: fmt.Sprintf("%040x", n),
				Build: strconv.Itoa(1000 + n), Event: "push", Actor: "ci-bot",
			},
		},
	}
	for _, image := range appImages() {
		r.Metadata.Images = append(r.Metadata.Images, image+":"+tag)
	}
	if n%10 == 0 {
		r.Status, r.Metadata.FailureReason = release.Failed, "fail_fast"
	}
	if declarative {
		r.Manifests = manifests
		return r
	}
	suffix := "-" + strconv.Itoa(n)
	r.Resources = []release.ResourceID{
		{Kind: "DaemonSet", Name: "log-agent"},
		{Kind: "StatefulSet", Name: "cache"},
		{Kind: "Service", Name: "cache"},
		{Kind: "ConfigMap", Name: "web-config" + suffix, Versioned: true},
		{Kind: "ConfigMap", Name: "web-files" + suffix, Versioned: true},
		{Kind: "Secret", Name: "web-secret" + suffix, Versioned: true},
		{Kind: "Secret", Name: "registry-auth"},
		{Kind: "Deployment", Name: "web"},
		{Kind: "Service", Name: "web"},
		{Kind: "ServiceAccount", Name: "web"},
	}
	for i, w := range []release.ResourceID{{Kind: "Deployment", Name: "web"}, {Kind: "StatefulSet", Name: "cache"}, {Kind: "DaemonSet", Name: "log-agent"}} {
		r.Workloads = append(r.Workloads, release.Workload{ID: w, Revision: strconv.Itoa(n + i)})
	}
	return r
}

// seedLegacy writes a legacy history of n releases in one go: the
// ConfigMap as the store encodes it.
func (b *bench) seedLegacy(ctx context.Context, namespace string, n int) error {
	h := make(release.History, n)
	for i := range n {
		r := seededRelease(i+1, false, nil)
		for j := range r.Resources {
			r.Resources[j].Namespace = namespace
		}
		for j := range r.Workloads {
			r.Workloads[j].ID.Namespace = namespace
		}
		h[i] = r
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: releaseName, Namespace: namespace}}
	if err := release.EncodeConfigMap(cm, h); err != nil {
		return err
	}
	_, err := b.client.CoreV1().ConfigMaps(namespace).Create(ctx, cm, metav1.CreateOptions{})
	return err
}

// seedDeclarative creates n release Secrets through the store, in parallel.
func (b *bench) seedDeclarative(ctx context.Context, namespace string, n int, manifests []byte) error {
	store := release.NewSecretStore(typedtest.Wrap(b.client), namespace, releaseName)
	numbers := make(chan int)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for number := range numbers {
				if err := store.Create(ctx, seededRelease(number, true, manifests)); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for i := range n {
		numbers <- i + 1
	}
	close(numbers)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// caseStartup is case e: the binary's start-up, without a cluster.
func (b *bench) caseStartup(ctx context.Context) error {
	kubectl := func(exit int, args ...string) func(context.Context) (sample, error) {
		return func(ctx context.Context) (sample, error) {
			procs, err := b.kubectlProcs("", args)
			if err != nil {
				return sample{}, err
			}
			procs[0].exit = exit
			return b.execute(ctx, nil, procs...)
		}
	}
	variants := []variant{
		{name: startVersion, peer: peerVersion, run: func(ctx context.Context) (sample, error) {
			return b.execute(ctx, nil, b.kubeReleaseProc(nil, 0, "--version"))
		}},
		{name: peerVersion, run: kubectl(0, "version", "--client")},
		// The settings check that a typo in a pipeline meets: every
		// problem reported at once, no cluster contacted.
		{name: startInvalid, peer: peerBadUsage, run: func(ctx context.Context) (sample, error) {
			return b.execute(ctx, nil, b.kubeReleaseProc(map[string]string{"step": "rolling", "timeout": "soon"}, 2))
		}},
		{name: peerBadUsage, run: kubectl(1, "apply")},
	}
	return b.alternate(ctx, "e", 0, variants)
}

// caseBlueGreen is case f: a blue/green stage deploy of the blue/green app
// and the swap that routes users to it, two steps of one pipeline, against
// the kubectl commands of a CI job doing the same by hand. Every run
// deploys a new tag to the colour that serves nobody and swaps it in, so
// the colours alternate run by run, as in a pipeline.
func (b *bench) caseBlueGreen(ctx context.Context) error {
	legacy, declarative, kubectl := "bench-f-legacy", "bench-f-declarative", "bench-f-kubectl"
	for _, ns := range []string{legacy, declarative, kubectl} {
		if err := b.namespace(ctx, ns); err != nil {
			return err
		}
	}
	decl := map[string]string{"enable_declarative_rollback": "true"}
	variants := []variant{
		{name: blueGreenLegacy, peer: peerBlueGreen, run: b.swapsColor(legacy, b.blueGreen(legacy, nil))},
		{name: blueGreenDecl, peer: peerBlueGreen, run: b.swapsColor(declarative, b.blueGreen(declarative, decl))},
		{name: peerBlueGreen, run: b.swapsColor(kubectl, b.kubectlBlueGreen(kubectl))},
	}
	// The first two runs create the Deployment of each colour; only
	// updates are measured.
	for i := range 2 {
		for _, v := range variants {
			if _, err := v.run(ctx); err != nil {
				return fmt.Errorf("warm-up %d: %s: %w", i+1, v.name, err)
			}
		}
	}
	if err := b.alternate(ctx, "f", blueGreenObjects, variants); err != nil {
		return err
	}
	if !b.opts.trace {
		return nil
	}
	return b.trace(ctx, "(f) "+blueGreenLegacy, b.blueGreenProcs(legacy, nil)...)
}

// blueGreen is one kube-release stage deploy of a new version of the
// blue/green app followed by the swap.
func (b *bench) blueGreen(namespace string, extra map[string]string) func(context.Context) (sample, error) {
	return func(ctx context.Context) (sample, error) {
		return b.execute(ctx, nil, b.blueGreenProcs(namespace, extra)...)
	}
}

// blueGreenProcs are the stage deploy and the swap, as two steps of a
// pipeline run them. extra is the stage deploy's; the swap takes none.
func (b *bench) blueGreenProcs(namespace string, extra map[string]string) []proc {
	settings := map[string]string{"step": "bluegreen"}
	maps.Copy(settings, extra)
	return []proc{
		b.deployProc(namespace, b.blueGreenApp, blueGreenImages(), settings),
		b.kubeReleaseProc(map[string]string{"step": "swap", "release": releaseName, "namespace": namespace}, 0),
	}
}

// kubectlBlueGreen is blue/green by hand in one CI job: read the colour
// the primary Service selects (none before the first deploy, which goes
// to blue, as kube-release's does), apply the manifests coloured for the
// other one, wait for its Deployment, then patch both Services' selectors.
func (b *bench) kubectlBlueGreen(namespace string) func(context.Context) (sample, error) {
	return func(ctx context.Context) (sample, error) {
		job, err := b.kubectlJob(namespace)
		if err != nil {
			return sample{}, err
		}
		var live bytes.Buffer
		read := job([]string{"get", "service", primaryService, "--ignore-not-found",
			"-o", "jsonpath={.spec.selector." + strings.ReplaceAll(manifest.ColorLabel, ".", `\.`) + "}"})
		read[0].output = &live
		s, err := b.execute(ctx, nil, read...)
		if err != nil {
			return s, err
		}
		primary := release.Color(strings.TrimSpace(live.String()))
		if primary == "" {
			primary = bluegreen.DefaultPrimary
		}
		if !primary.Valid() {
			return s, fmt.Errorf("service %s/%s selects colour %q", namespace, primaryService, primary)
		}
		stage := primary.Other()
		tag := b.tag()
		dir := filepath.Join(b.work, "kubectl-bluegreen", tag)
		if err := writeBlueGreenVersion(dir, b.blueGreenApp, tag, primary); err != nil {
			return s, err
		}
		rest, err := b.execute(ctx, nil, job(
			[]string{"apply", "-f", dir},
			[]string{"rollout", "status", "deployment/" + blueGreenWorkload + "-" + string(stage), statusTimeout},
			[]string{"patch", "service", primaryService, "-p", selectorPatch(stage)},
			[]string{"patch", "service", stageService, "-p", selectorPatch(primary)},
		)...)
		return s.then(rest), err
	}
}

// swapsColor fails a blue/green run unless it left the primary Service
// selecting the colour that served nobody before it (blue, the first
// time) and the stage Service the one that served: every run deploys
// and swaps.
func (b *bench) swapsColor(namespace string, run func(context.Context) (sample, error)) func(context.Context) (sample, error) {
	return func(ctx context.Context) (sample, error) {
		before, _, err := b.serviceColors(ctx, namespace)
		if err != nil {
			return sample{}, err
		}
		want := bluegreen.DefaultPrimary.Other()
		if before != "" {
			want = before.Other()
		}
		s, err := run(ctx)
		if err != nil {
			return s, err
		}
		primary, stage, err := b.serviceColors(ctx, namespace)
		if err != nil {
			return s, err
		}
		if primary != want || stage != want.Other() {
			return s, fmt.Errorf("after the run Service %s selects colour %q and %s %q; want %q and %q",
				primaryService, primary, stageService, stage, want, want.Other())
		}
		return s, nil
	}
}

// serviceColors are the colours the primary and the stage Service select,
// "" for one that does not exist.
func (b *bench) serviceColors(ctx context.Context, namespace string) (primary, stage release.Color, err error) {
	colors := make([]release.Color, 2)
	for i, name := range []string{primaryService, stageService} {
		svc, err := b.client.CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return "", "", err
		}
		colors[i] = release.Color(svc.Spec.Selector[manifest.ColorLabel])
	}
	return colors[0], colors[1], nil
}
