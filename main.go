// Command kube-release is a Kubernetes deploy step for CI pipelines. It reads
// its settings from PLUGIN_* environment variables, runs one step and exits
// 0 on success, 1 when the step failed, 2 when the settings are invalid and
// 3 when the diff step found changes (with detailed_exitcode).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/sirupsen/logrus"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/kube-release/kube-release/internal/logging"
	"github.com/kube-release/kube-release/plugin"
	"github.com/kube-release/kube-release/steps"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=... -X main.date=...".
var (
	version = "dev"
	commit  = "unknown"
	date    = "unknown"
)

func main() {
	// A CI runner that loses the log stream closes the pipe on stdout. Go
	// kills a process that writes to a broken pipe on fd 1 or 2 unless
	// SIGPIPE is handled, which would leave the release unrecorded and its
	// lock held until lock_ttl. Ignored, the write fails with EPIPE instead,
	// which the logger drops, and the step ends as it would have.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal the step winds down (and records the
		// release as failed); a second one kills at once.
		<-ctx.Done()
		stop()
	}()
	os.Exit(run(ctx, os.Args[1:], os.Environ(), os.Stdout))
}

func run(ctx context.Context, args, environ []string, out io.Writer) (code int) {
	defer func() {
		// A bug must not look like invalid settings (a panic exits 2): report
		// it as a failed step, with the stack for the bug report.
		if r := recover(); r != nil {
			fmt.Fprintf(out, "error: internal error: %v\n%s", r, debug.Stack())
			code = 1
		}
	}()
	build := plugin.BuildInfo{Version: version, Commit: commit, Date: date}
	if len(args) == 1 && (args[0] == "--version" || args[0] == "version") {
		fmt.Fprintln(out, build)
		return 0
	}
	if len(args) == 1 && (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
		if err := plugin.Help(out); err != nil {
			return 1
		}
		return 0
	}

	getenv := getenvFrom(environ)
	settings, warnings, err := plugin.Load(environ, args)
	logOpts := logOptions(settings, getenv)
	log := logging.New(out, logOpts)
	// client-go logs through klog, which would write its own lines to
	// stderr whatever log_level says; they go through the one logger.
	klog.SetLogger(logging.Klog(log))
	rest.SetDefaultWarningHandler(logging.NewAPIWarnings(log))
	if logOpts.GitHubActions {
		// First of all, so that GitHub hides the secrets from every line
		// after, this step's and later steps', even when the settings are
		// invalid. Only GitHub takes masks: elsewhere there is nothing to
		// compute.
		if err := logging.Mask(log, plugin.MaskValuesFrom(environ)...); err != nil {
			log.Error(err)
			return 1
		}
	}
	spell := func(msg string) string { return msg }
	if logOpts.GitHubActions {
		// A workflow sets inputs, not PLUGIN_* variables.
		spell = plugin.AsInputs
	}
	for _, w := range warnings {
		log.Warn(spell(w))
	}
	if err != nil {
		log.Error(spell(err.Error()))
		return 2
	}

	if err := plugin.Exec(ctx, settings, plugin.Process{Log: log, Getenv: getenv, Build: build}); err != nil {
		code, quiet := exitCode(err)
		if !quiet {
			log.Error(err)
		}
		return code
	}
	return 0
}

// exitCode maps a step's error to the exit code the README documents,
// and says whether the error is a result the step has reported already.
// Only kube-release's own errors choose: an error of a library or a
// program it ran may carry an ExitCode method of its own (git's 128
// through kustomize, an exec credential plugin's), which means nothing to
// a pipeline reading kube-release's code, so it is never asked.
func exitCode(err error) (code int, quiet bool) {
	var changes *steps.ChangesFound
	switch {
	case errors.As(err, &changes):
		// The diff step's changes under detailed_exitcode: a result.
		return changes.ExitCode(), changes.Quiet()
	case errors.Is(err, plugin.ErrInvalidSettings):
		return 2, false
	}
	return 1, false
}

// logOptions reads the log settings, falling back to defaults when the
// settings did not load, so that their errors still print.
func logOptions(s *plugin.Settings, getenv func(string) string) logging.Options {
	opts := logging.Options{
		Level:         logrus.InfoLevel,
		GitHubActions: getenv("GITHUB_ACTIONS") == "true",
		Getenv:        getenv,
	}
	if s == nil {
		return opts
	}
	if level, err := logrus.ParseLevel(s.LogLevel); err == nil {
		opts.Level = level
	}
	opts.Timestamps = bool(s.LogTimestamps)
	return opts
}

func getenvFrom(environ []string) func(string) string {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return func(key string) string { return env[key] }
}
