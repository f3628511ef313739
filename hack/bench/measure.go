package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// sample is one measured run of a tool: one process, or several in a row
// as a CI script runs them.
type sample struct {
	Wall time.Duration `json:"wallNs"`
	// CPU is user+sys of every process of the run.
	CPU time.Duration `json:"cpuNs"`
	// MaxRSS is the peak resident set of the largest process, in bytes.
	MaxRSS int64 `json:"maxRSSBytes"`
	// Requests counts the run's API requests; ByType splits them by verb
	// and resource ("patch configmaps (dry run)").
	Requests int            `json:"requests"`
	ByType   map[string]int `json:"byType,omitempty"`
	// Processes is how many processes the run started.
	Processes int `json:"processes"`
	// RolloutStart is when, from the start of the run, the API server
	// received the run's last change to a Deployment, StatefulSet or
	// DaemonSet: from then on the rollout is the controllers' work, the
	// same whichever tool asked for it. Zero when there was none.
	RolloutStart time.Duration `json:"rolloutStartNs,omitempty"`
	// Rounds counts the run's requests that started after every earlier
	// one had ended: its chain of round trips, what a slow network
	// multiplies.
	Rounds int `json:"rounds"`
}

// then is s followed by t, a run of the same tool right after it, as one
// run: t's times count from the end of s.
func (s sample) then(t sample) sample {
	out := s
	out.Wall += t.Wall
	out.CPU += t.CPU
	out.MaxRSS = max(s.MaxRSS, t.MaxRSS)
	out.Requests += t.Requests
	out.Processes += t.Processes
	out.Rounds += t.Rounds
	if t.RolloutStart > 0 {
		out.RolloutStart = s.Wall + t.RolloutStart
	}
	out.ByType = maps.Clone(s.ByType)
	if out.ByType == nil && t.ByType != nil {
		out.ByType = map[string]int{}
	}
	for k, v := range t.ByType {
		out.ByType[k] += v
	}
	return out
}

// series is the samples of one variant of a case.
type series struct {
	Case string `json:"case"`
	Name string `json:"name"`
	// Peer names the series this one is compared with, in the same case.
	Peer    string   `json:"peer,omitempty"`
	Objects int      `json:"objects,omitempty"`
	Samples []sample `json:"samples"`
}

// proc is one process of a run.
type proc struct {
	args []string
	env  []string
	// exit is the exit code the run expects.
	exit int
	// output, when not nil, receives the process's output as well.
	output io.Writer
}

// maxOutput bounds what is kept of a process's output for error messages.
const maxOutput = 256 << 10

// execute runs procs one after the other and measures them as one run.
// A process that exits with another code than it should fails the run,
// with its output. lines, when not nil, receives every output line with
// the time it arrived.
//
// Each process runs under spawn (hack/bench/spawn), which reports its wall
// time and rusage: measured from here, every process's peak RSS would
// start from this one's.
func (b *bench) execute(ctx context.Context, lines *timedLines, procs ...proc) (sample, error) {
	s := sample{Processes: len(procs)}
	start := time.Now()
	for _, p := range procs {
		if lines != nil {
			lines.exec(p)
		}
		r, err := b.spawnOne(ctx, lines, p)
		if err != nil {
			return s, err
		}
		s.Wall += time.Duration(r.WallNs)
		s.CPU += time.Duration(r.UserNs + r.SysNs)
		s.MaxRSS = max(s.MaxRSS, r.MaxRSSKiB<<10)
	}
	end := time.Now()
	if lines != nil {
		lines.end = end
	}
	if b.audit != nil {
		events, err := b.audit.between(start, end)
		if err != nil {
			return s, err
		}
		s.Requests = len(events)
		s.Rounds = rounds(events)
		s.ByType = map[string]int{}
		for _, e := range events {
			s.ByType[e.key()]++
			if e.workloadChange() {
				s.RolloutStart = max(s.RolloutStart, e.Received.Sub(start))
			}
		}
		if lines != nil {
			lines.requests = events
		}
	}
	return s, nil
}

// spawnReport is what hack/bench/spawn reports of a process.
type spawnReport struct {
	ExitCode  int   `json:"exitCode"`
	WallNs    int64 `json:"wallNs"`
	UserNs    int64 `json:"userNs"`
	SysNs     int64 `json:"sysNs"`
	MaxRSSKiB int64 `json:"maxRSSKiB"`
}

func (b *bench) spawnOne(ctx context.Context, lines *timedLines, p proc) (spawnReport, error) {
	var rep spawnReport
	rd, wr, err := os.Pipe()
	if err != nil {
		return rep, err
	}
	defer rd.Close()
	var out tail
	cmd := exec.CommandContext(ctx, b.spawn, p.args...)
	cmd.Dir = b.root
	cmd.Env = p.env
	cmd.ExtraFiles = []*os.File{wr}
	writers := []io.Writer{&out}
	if lines != nil {
		writers = append(writers, lines)
	}
	if p.output != nil {
		writers = append(writers, p.output)
	}
	w := io.MultiWriter(writers...)
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Start()
	wr.Close()
	if err != nil {
		return rep, fmt.Errorf("%s: %w", p.args[0], err)
	}
	err = cmd.Wait()
	data, _ := io.ReadAll(rd)
	if jerr := json.Unmarshal(data, &rep); err != nil || jerr != nil {
		return rep, fmt.Errorf("%s: %w; its output:\n%s", describe(p), errors.Join(err, jerr), out.String())
	}
	if rep.ExitCode != p.exit {
		return rep, fmt.Errorf("%s exited with %d, want %d; its output:\n%s", describe(p), rep.ExitCode, p.exit, out.String())
	}
	return rep, nil
}

func describe(p proc) string {
	var settings []string
	for _, kv := range p.env {
		if strings.HasPrefix(kv, "PLUGIN_STEP=") {
			settings = append(settings, kv)
		}
	}
	return strings.TrimSpace(strings.Join(p.args, " ") + " " + strings.Join(settings, " "))
}

// tail keeps the end of a process's output.
type tail struct{ buf []byte }

func (t *tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > maxOutput {
		t.buf = slices.Clone(t.buf[len(t.buf)-maxOutput:])
	}
	return len(p), nil
}

func (t *tail) String() string { return string(t.buf) }

// timedLines records each output line with the time it arrived, for the
// timeline of a run: log lines carry only whole seconds.
type timedLines struct {
	mu       sync.Mutex
	partial  []byte
	lines    []timedLine
	requests []auditEvent
	// execs are the starts of the run's processes, end its end.
	execs []timedLine
	end   time.Time
}

// exec records the start of p.
func (t *timedLines) exec(p proc) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.execs = append(t.execs, timedLine{at: time.Now(), text: brief(p)})
}

// brief names a process for a timeline: the command's name and its
// arguments less the bench's own flags, and the step kube-release runs.
func brief(p proc) string {
	words := []string{filepath.Base(p.args[0])}
	for _, a := range p.args[1:] {
		if !strings.HasPrefix(a, "--cache-dir=") && !strings.HasPrefix(a, "--kubeconfig=") && !strings.HasPrefix(a, "--namespace=") {
			words = append(words, a)
		}
	}
	for _, kv := range p.env {
		if step, ok := strings.CutPrefix(kv, "PLUGIN_STEP="); ok {
			words = append(words, "(step "+step+")")
		}
	}
	return strings.Join(words, " ")
}

type timedLine struct {
	at   time.Time
	text string
}

func (t *timedLines) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	t.partial = append(t.partial, p...)
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		t.lines = append(t.lines, timedLine{at: now, text: string(t.partial[:i])})
		t.partial = t.partial[i+1:]
	}
	return len(p), nil
}

// kubeReleaseProc is one kube-release run with these settings (without
// the PLUGIN_ prefix), as a CI system starts it: no inherited PLUGIN_
// variables, the admin kubeconfig, and nothing else.
func (b *bench) kubeReleaseProc(settings map[string]string, exit int, args ...string) proc {
	env := b.baseEnv()
	if b.kubeconfig != "" {
		env = append(env, "PLUGIN_KUBECONFIG="+b.kubeconfig)
	}
	for k, v := range settings {
		env = append(env, "PLUGIN_"+strings.ToUpper(k)+"="+v)
	}
	slices.Sort(env)
	return proc{args: append([]string{b.kubeRelease}, args...), env: env, exit: exit}
}

// kubectlProcs are kubectl commands as one CI job runs them: one cache
// directory, empty at the start of the job as in a fresh CI container, and
// shared by the job's commands.
func (b *bench) kubectlProcs(namespace string, commands ...[]string) ([]proc, error) {
	job, err := b.kubectlJob(namespace)
	if err != nil {
		return nil, err
	}
	return job(commands...), nil
}

// kubectlJob starts a CI job of kubectl commands, as kubectlProcs, for a
// job whose later commands depend on the output of earlier ones: every
// call of the function returned makes more commands of the same job.
func (b *bench) kubectlJob(namespace string) (func(commands ...[]string) []proc, error) {
	cache, err := os.MkdirTemp(b.work, "kubectl-cache-")
	if err != nil {
		return nil, err
	}
	return func(commands ...[]string) []proc {
		procs := make([]proc, len(commands))
		for i, c := range commands {
			args := []string{b.kubectl, "--cache-dir=" + cache}
			if b.kubeconfig != "" {
				args = append(args, "--kubeconfig="+b.kubeconfig)
			}
			if namespace != "" {
				args = append(args, "--namespace="+namespace)
			}
			procs[i] = proc{args: append(args, c...), env: b.baseEnv()}
		}
		return procs
	}, nil
}

func (b *bench) baseEnv() []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + b.work}
}

// variant is one way of doing a case's work.
type variant struct {
	name string
	peer string
	// prepare runs untimed before each measured run: the deploy that a
	// rollback then rolls back.
	prepare func(ctx context.Context) error
	run     func(ctx context.Context) (sample, error)
	// baselinePrepare replaces prepare for the baseline's twin.
	baselinePrepare func(ctx context.Context) error
}

// baselineSuffix marks the rows of the baseline binary.
const baselineSuffix = " [baseline]"

// withBaseline adds to the variants, for each kube-release one, a twin
// that runs the baseline binary the same way, when there is one.
func (b *bench) withBaseline(variants []variant) []variant {
	if b.opts.baseline == "" {
		return variants
	}
	out := variants
	for _, v := range variants {
		if !strings.HasPrefix(v.name, "kube-release") {
			continue
		}
		prepare := v.prepare
		if v.baselinePrepare != nil {
			prepare = v.baselinePrepare
		}
		twin := variant{name: v.name + baselineSuffix, peer: v.peer}
		twin.run = func(ctx context.Context) (sample, error) {
			defer b.use(b.opts.baseline)()
			return v.run(ctx)
		}
		if prepare != nil {
			twin.prepare = func(ctx context.Context) error {
				defer b.use(b.opts.baseline)()
				return prepare(ctx)
			}
		}
		out = append(out, twin)
	}
	return out
}

// use makes kube-release runs use bin until the returned func is called.
func (b *bench) use(bin string) func() {
	saved := b.kubeRelease
	b.kubeRelease = bin
	return func() { b.kubeRelease = saved }
}

// alternate runs the variants' measured runs in turn, the order rotating
// from one round to the next, and records their series.
func (b *bench) alternate(ctx context.Context, caseName string, objects int, variants []variant) error {
	variants = b.withBaseline(variants)
	all := make([]*series, len(variants))
	for i, v := range variants {
		all[i] = &series{Case: caseName, Name: v.name, Peer: v.peer, Objects: objects}
	}
	for round := range b.opts.runs {
		for j := range variants {
			k := (j + round) % len(variants)
			v := variants[k]
			if v.prepare != nil {
				if err := v.prepare(ctx); err != nil {
					return fmt.Errorf("%s: prepare: %w", v.name, err)
				}
			}
			s, err := v.run(ctx)
			if err != nil {
				return fmt.Errorf("%s: %w", v.name, err)
			}
			all[k].Samples = append(all[k].Samples, s)
			fmt.Fprintf(b.progress, "  %-58s run %d: %s wall, %s CPU, %s RSS, %d requests\n",
				v.name, round+1, seconds(s.Wall), seconds(s.CPU), mebibytes(s.MaxRSS), s.Requests)
		}
	}
	b.series = append(b.series, all...)
	return nil
}

// median of the values; the mean of the middle two for an even count.
func median[T int | int64 | time.Duration](values []T) float64 {
	if len(values) == 0 {
		return 0
	}
	v := slices.Clone(values)
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return float64(v[n/2])
	}
	return (float64(v[n/2-1]) + float64(v[n/2])) / 2
}

func (s *series) wall() float64 {
	return median(collect(s.Samples, func(x sample) time.Duration { return x.Wall }))
}

func (s *series) cpu() float64 {
	return median(collect(s.Samples, func(x sample) time.Duration { return x.CPU }))
}

func (s *series) rss() float64 {
	return median(collect(s.Samples, func(x sample) int64 { return x.MaxRSS }))
}

func (s *series) rolloutStart() float64 {
	return median(collect(s.Samples, func(x sample) time.Duration { return x.RolloutStart }))
}

func (s *series) rounds() float64 {
	return median(collect(s.Samples, func(x sample) int { return x.Rounds }))
}

func (s *series) requests() float64 {
	return median(collect(s.Samples, func(x sample) int { return x.Requests }))
}

// byType is the median count of each request type.
func (s *series) byType() map[string]float64 {
	keys := map[string]bool{}
	for _, x := range s.Samples {
		for k := range x.ByType {
			keys[k] = true
		}
	}
	out := map[string]float64{}
	for k := range keys {
		out[k] = median(collect(s.Samples, func(x sample) int { return x.ByType[k] }))
	}
	return out
}

func collect[T any](samples []sample, f func(sample) T) []T {
	out := make([]T, len(samples))
	for i, s := range samples {
		out[i] = f(s)
	}
	return out
}

func seconds[T time.Duration | float64](d T) string {
	s := time.Duration(d).Seconds()
	switch {
	case s >= 10:
		return fmt.Sprintf("%.1f s", s)
	case s >= 1:
		return fmt.Sprintf("%.2f s", s)
	}
	return fmt.Sprintf("%.3f s", s)
}

func mebibytes[T int64 | float64](n T) string {
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}
