package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// machineInfo describes where and what was measured.
type machineInfo struct {
	Date       time.Time `json:"date"`
	CPUs       int       `json:"cpus"`
	CPUModel   string    `json:"cpuModel"`
	Memory     string    `json:"memory"`
	Go         string    `json:"go"`
	Kubernetes string    `json:"kubernetes"`
	Commit     string    `json:"commit"`
	LoadBefore string    `json:"loadBefore"`
	LoadAfter  string    `json:"loadAfter"`
}

func machine(root string) machineInfo {
	info := machineInfo{CPUs: runtime.NumCPU(), Go: runtime.Version(), Kubernetes: "not started", Commit: headCommit(root)}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				info.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64); err == nil {
					info.Memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
				}
			}
		}
	}
	return info
}

// headCommit reads the checked-out commit from .git without running git.
func headCommit(root string) string {
	gitDir := filepath.Join(root, ".git")
	head, err := os.ReadFile(filepath.Join(gitDir, "HEAD"))
	if err != nil {
		return "unknown"
	}
	ref, ok := strings.CutPrefix(strings.TrimSpace(string(head)), "ref: ")
	if !ok {
		return short(strings.TrimSpace(string(head)))
	}
	if data, err := os.ReadFile(filepath.Join(gitDir, filepath.FromSlash(ref))); err == nil {
		return short(strings.TrimSpace(string(data)))
	}
	if data, err := os.ReadFile(filepath.Join(gitDir, "packed-refs")); err == nil {
		for line := range strings.Lines(string(data)) {
			if sha, name, ok := strings.Cut(strings.TrimSpace(line), " "); ok && name == ref {
				return short(sha)
			}
		}
	}
	return "unknown"
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func writeResults(path string, info machineInfo, all []*series) error {
	data, err := json.MarshalIndent(struct {
		Machine machineInfo `json:"machine"`
		Series  []*series   `json:"series"`
	}{info, all}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// caseTitles head the report's tables.
func caseTitles() map[string]string {
	return map[string]string{
		"a": "(a) rolling deploy of a 10-object app with 3 workloads, to steady state",
		"b": "(b) apply of many ConfigMaps, Secrets and Services",
		"c": "(c) rollback of the newest release",
		"d": "(d) history lookup",
		"e": "(e) start-up of the binary",
		"f": "(f) blue/green stage deploy of one Deployment and the swap, to steady state",
	}
}

// caseNotes say what a case's runs are where the report's header does not.
func caseNotes() map[string]string {
	return map[string]string{
		"f": fmt.Sprintf("A kube-release run of (f) is two steps, `bluegreen` then `swap`. The kubectl run is one CI job: "+
			"`kubectl get service %[1]s` for the colour it serves, `kubectl apply -f` of the manifests coloured for the other "+
			"(Deployment %[2]s-<colour>, Services %[1]s and %[3]s), `kubectl rollout status` of that Deployment, "+
			"then one `kubectl patch` of each Service's selector.", primaryService, blueGreenWorkload, stageService),
	}
}

func writeReport(w io.Writer, info machineInfo, opts options, all []*series, traces []traced) error {
	p := &printer{w: w}
	p.f("## Results\n\n")
	p.f("- Date: %s\n", info.Date.Format("2006-01-02 15:04 MST"))
	p.f("- Machine: %d CPUs (%s), %s memory; load average %s before, %s after\n", info.CPUs, info.CPUModel, info.Memory, info.LoadBefore, info.LoadAfter)
	binary := "built from commit " + info.Commit + " with the working tree"
	if opts.kubeRelease != "" {
		binary = "`" + opts.kubeRelease + "`"
	}
	p.f("- Versions: %s, Kubernetes %s (local control plane, kwok nodes), kube-release %s\n", info.Go, info.Kubernetes, binary)
	if opts.controllerQPS > 0 {
		p.f("- The controller manager's client limit is raised to %d requests/s (bursts of %d) from its default of 20 (bursts of 30), which delays a rollout of three workloads at once by hundreds of milliseconds (`-controller-qps 0` keeps the default)\n", opts.controllerQPS, 2*opts.controllerQPS)
	}
	if opts.rtt > 0 {
		p.f("- Network: the tools reach the API server through a proxy that adds %s of round-trip time (half each way), as a remote cluster would\n", opts.rtt)
	}
	if opts.baseline != "" {
		p.f("- Rows marked `%s`: the same runs with `%s`, in turn with the others\n", strings.TrimSpace(baselineSuffix), opts.baseline)
	}
	p.f("- Medians of %d runs per row; the tools alternate within a case. Wall: the whole run; CPU: user+sys of every process of the run (rusage); RSS: the largest process's peak (rusage MaxRSS). A kubectl run is one CI job: `kubectl apply` then one `kubectl rollout status` per workload, sharing a kubectl cache directory that starts empty, as in a fresh CI container.\n", opts.runs)
	p.f("- API requests: counted from the API server's audit log (one event per request of the admin user, level Metadata), filtered by the client's User-Agent (`kube-release/`, `kubectl/`) and the run's time window. Not a `/metrics` difference: the controllers' own requests during a rollout would swamp it.\n\n")

	byName := map[string]*series{}
	for _, s := range all {
		byName[s.Name] = s
	}
	titles := caseTitles()
	for _, c := range opts.cases {
		var rows []*series
		for _, s := range all {
			if s.Case == c {
				rows = append(rows, s)
			}
		}
		if len(rows) == 0 {
			continue
		}
		title := titles[c]
		if c == "b" {
			title = fmt.Sprintf("(b) apply of %d ConfigMaps, Secrets and Services", rows[0].Objects)
		}
		p.f("### %s\n\n", title)
		rollouts := slices.ContainsFunc(rows, func(s *series) bool { return s.rolloutStart() > 0 })
		p.f("| Variant | Runs | Wall | CPU | Peak RSS | API requests |")
		if rollouts {
			p.f(" Workloads changed at |")
		}
		p.f(" Wall / peer | CPU / peer | Requests / peer |\n|---|---:|---:|---:|---:|---:|")
		if rollouts {
			p.f("---:|")
		}
		p.f("---:|---:|---:|\n")
		for _, s := range rows {
			ratios := [3]string{"", "", ""}
			if peer := byName[s.Peer]; peer != nil {
				ratios = [3]string{ratio(s.wall(), peer.wall()), ratio(s.cpu(), peer.cpu()), ratio(s.requests(), peer.requests())}
			}
			p.f("| %s | %d | %s | %s | %s | %s |", s.Name, len(s.Samples),
				seconds(s.wall()), seconds(s.cpu()), mebibytes(s.rss()), count(s.requests()))
			if rollouts {
				p.f(" %s |", seconds(s.rolloutStart()))
			}
			p.f(" %s | %s | %s |\n", ratios[0], ratios[1], ratios[2])
		}
		p.f("\n")
		if note := caseNotes()[c]; note != "" {
			p.f("%s\n\n", note)
		}
		if rollouts {
			p.f("Workloads changed at: when the API server received the run's last change to a Deployment, StatefulSet or DaemonSet; the rest of the rollout is the controllers' work, the same for every tool.\n\n")
		}
	}

	p.f("### API requests by type (median per run)\n\nRounds: the requests that started after every earlier one of the run had ended, the chain of round trips that a slower network multiplies (a watch counts as answered at once).\n\n")
	for _, s := range all {
		types := s.byType()
		if len(types) == 0 || s.requests() == 0 {
			continue
		}
		keys := make([]string, 0, len(types))
		for k, v := range types {
			if v > 0 {
				keys = append(keys, k)
			}
		}
		slices.SortFunc(keys, func(a, b string) int {
			return cmp.Or(cmp.Compare(types[b], types[a]), cmp.Compare(a, b))
		})
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s %s", k, count(types[k]))
		}
		p.f("- (%s) %s: %s requests in %s rounds: %s\n", s.Case, s.Name, count(s.requests()), count(s.rounds()), strings.Join(parts, ", "))
	}
	p.f("\n")

	if ts := targets(byName); len(ts) > 0 {
		p.f("### Targets\n\n| Target | Measured | Verdict |\n|---|---|---|\n")
		for _, t := range ts {
			verdict := "met"
			if !t.met {
				verdict = "**missed** " + t.by
			}
			p.f("| %s | %s | %s |\n", t.name, t.measured, verdict)
		}
		p.f("\n")
	}
	for _, t := range traces {
		p.f("### Timeline: %s\n\nMilliseconds from the start of the run's first process (give or take the millisecond spawn takes); process starts (exec), log lines as they reached the bench, API requests as the audit log timed them (received, duration); long runs of alike lines folded.\n\n```\n", t.title)
		for _, l := range t.lines {
			p.f("%s\n", l)
		}
		p.f("```\n\n")
	}
	return p.err
}

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func count(v float64) string {
	if v == math.Trunc(v) {
		return strconv.Itoa(int(v))
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// target is one of issue 8's targets, evaluated.
type target struct {
	name, measured string
	met            bool
	// by says by how much it was missed.
	by string
}

// targets evaluates the targets on the series there are.
func targets(by map[string]*series) []target {
	var out []target
	both := func(a, b string) (*series, *series, bool) {
		return by[a], by[b], by[a] != nil && by[b] != nil && len(by[a].Samples) > 0 && len(by[b].Samples) > 0
	}
	ratioTarget := func(name, kr, peer string, limit float64) {
		s, p, ok := both(kr, peer)
		if !ok {
			return
		}
		r := s.wall() / p.wall()
		out = append(out, target{
			name:     fmt.Sprintf("%s: wall ≤ %.1f× %s", name, limit, peer),
			measured: fmt.Sprintf("%s vs %s = %.2f×", seconds(s.wall()), seconds(p.wall()), r),
			met:      r <= limit,
			by:       fmt.Sprintf("by %.1f%%", (r/limit-1)*100),
		})
	}
	ratioTarget("(a) "+deployLegacy, deployLegacy, peerDeploy, 0.8)
	ratioTarget("(a) "+deploySkipDryRun, deploySkipDryRun, peerDeploy, 0.8)
	ratioTarget("(a) "+deployDeclarative, deployDeclarative, peerDeploy, 0.8)
	for _, name := range []string{deployLegacy, deploySkipDryRun, deployDeclarative} {
		if s := by[name]; s != nil {
			limit := 150 * time.Millisecond
			out = append(out, target{
				name:     fmt.Sprintf("(a) %s: CPU ≤ 0.15 s per deploy", name),
				measured: seconds(s.cpu()),
				met:      s.cpu() <= float64(limit),
				by:       "by " + seconds(s.cpu()-float64(limit)),
			})
		}
	}
	ratioTarget("(b) "+applyDefault, applyDefault, peerSSA, 0.5)
	ratioTarget("(b) "+applySkipDryRun, applySkipDryRun, peerSSA, 0.5)
	for _, name := range []string{applyDefault, applySkipDryRun} {
		if s := by[name]; s != nil {
			limit := float64(100 << 20)
			out = append(out, target{
				name:     fmt.Sprintf("(b) %s: peak RSS ≤ 100 MiB", name),
				measured: mebibytes(s.rss()),
				met:      s.rss() <= limit,
				by:       "by " + mebibytes(s.rss()-limit),
			})
		}
	}
	for _, name := range []string{deploySkipDryRun, applySkipDryRun} {
		if s := by[name]; s != nil && s.Objects > 0 {
			limit := float64(s.Objects + 8)
			out = append(out, target{
				name:     fmt.Sprintf("%s: API requests ≤ N + 8 = %d (N = %d objects)", name, s.Objects+8, s.Objects),
				measured: count(s.requests()),
				met:      s.requests() <= limit,
				by:       "by " + count(s.requests()-limit),
			})
		}
	}
	for _, pair := range [][2]string{{rollbackLegacy, rolledLegacy}, {rollbackDecl, rolledDecl}} {
		if s, d, ok := both(pair[0], pair[1]); ok {
			r := s.wall() / d.wall()
			out = append(out, target{
				name:     fmt.Sprintf("(c) %s ≤ the deploy (%s)", pair[0], pair[1]),
				measured: fmt.Sprintf("%s vs %s = %.2f×", seconds(s.wall()), seconds(d.wall()), r),
				met:      r <= 1,
				by:       fmt.Sprintf("by %.1f%%", (r-1)*100),
			})
		}
	}
	// Flat: the largest history within 25% of the smallest, wall and CPU
	// alike; less is noise on a shared 2-core machine.
	for _, format := range []string{"legacy", "declarative"} {
		var sizes []*series
		for _, s := range by {
			if s.Case == "d" && strings.Contains(s.Name, ", "+format+", ") && !strings.HasSuffix(s.Name, baselineSuffix) {
				sizes = append(sizes, s)
			}
		}
		if len(sizes) < 2 {
			continue
		}
		slices.SortFunc(sizes, func(a, b *series) int { return cmp.Compare(releasesOf(a), releasesOf(b)) })
		lo, hi := sizes[0], sizes[len(sizes)-1]
		wr, cr := hi.wall()/lo.wall(), hi.cpu()/lo.cpu()
		out = append(out, target{
			name: fmt.Sprintf("(d) history, %s: flat from %d to %d releases (within 25%%)", format, releasesOf(lo), releasesOf(hi)),
			measured: fmt.Sprintf("wall %s → %s (%.2f×), CPU %s → %s (%.2f×), RSS %s → %s",
				seconds(lo.wall()), seconds(hi.wall()), wr, seconds(lo.cpu()), seconds(hi.cpu()), cr, mebibytes(lo.rss()), mebibytes(hi.rss())),
			met: wr <= 1.25 && cr <= 1.25,
			by:  fmt.Sprintf("by %.2f× wall, %.2f× CPU", wr, cr),
		})
	}
	return out
}

// releasesOf reads the history size from a case d series name.
func releasesOf(s *series) int {
	f := strings.Fields(s.Name)
	for i, w := range f {
		if strings.HasPrefix(w, "release") && i > 0 {
			n, _ := strconv.Atoi(f[i-1])
			return n
		}
	}
	return 0
}

// timeline merges a run's output lines and API requests in time order,
// folding long runs of alike lines (a thousand PATCHes) into one.
func timeline(start time.Time, lines *timedLines, s sample) []string {
	type entry struct {
		at, end time.Time
		kind    string // what makes entries alike
		text    string
	}
	var entries []entry
	for _, l := range lines.lines {
		entries = append(entries, entry{at: l.at, end: l.at, kind: "log", text: "log  " + l.text})
	}
	for _, l := range lines.execs {
		entries = append(entries, entry{at: l.at, end: l.at, kind: "exec", text: "exec " + l.text})
	}
	for _, e := range lines.requests {
		code := 0
		if e.ResponseStatus != nil {
			code = e.ResponseStatus.Code
		}
		uri := e.RequestURI
		if len(uri) > 110 {
			uri = uri[:110] + "…"
		}
		kind := "api " + strings.ToUpper(e.Verb)
		if strings.Contains(e.RequestURI, "dryRun=") {
			kind += " (dry run)"
		}
		entries = append(entries, entry{at: e.Received, end: e.Done, kind: kind,
			text: fmt.Sprintf("api  %s %s %d (%.1f ms)", strings.ToUpper(e.Verb), uri, code, ms(e.Done.Sub(e.Received)))})
	}
	slices.SortStableFunc(entries, func(a, b entry) int { return a.at.Compare(b.at) })
	const fold = 20
	var out []string
	for i := 0; i < len(entries); {
		j := i + 1
		for j < len(entries) && entries[j].kind == entries[i].kind {
			j++
		}
		if j-i <= fold {
			for _, e := range entries[i:j] {
				out = append(out, fmt.Sprintf("%8.1f  %s", ms(e.at.Sub(start)), e.text))
			}
		} else {
			first, last := entries[i], entries[j-1]
			out = append(out, fmt.Sprintf("%8.1f  %s", ms(first.at.Sub(start)), first.text))
			span := last.end.Sub(first.at)
			out = append(out, fmt.Sprintf("%8s  ... %d %s lines in all, until %.1f (%.0f ms, %.0f/s)", "", j-i, first.kind,
				ms(last.end.Sub(start)), ms(span), float64(j-i)/span.Seconds()))
		}
		i = j
	}
	// The end of the run: several processes leave gaps between them that
	// no process's wall time holds.
	exit := s.Wall
	if !lines.end.IsZero() {
		exit = lines.end.Sub(start)
	}
	out = append(out, fmt.Sprintf("%8.1f  exit (wall %s, CPU %s, RSS %s, %d requests)",
		ms(exit), seconds(s.Wall), seconds(s.CPU), mebibytes(s.MaxRSS), s.Requests))
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
