package plugin

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/kube-release/kube-release/internal/release"
	"github.com/kube-release/kube-release/steps"
)

// BuildInfo identifies the binary; it is set at build time.
type BuildInfo struct {
	Version, Commit, Date string
}

func (b BuildInfo) String() string {
	return fmt.Sprintf("kube-release %s (commit %s, built %s)", b.Version, b.Commit, b.Date)
}

// Process is what Exec needs from the process besides the settings.
type Process struct {
	Log    *logrus.Logger
	Getenv func(string) string
	Build  BuildInfo
}

// Exec runs the step the settings name: it builds the Kubernetes clients,
// narrows the settings to what the step needs, runs it, and writes the
// step's outputs to every CI destination present, whether the step
// succeeded or not.
func Exec(ctx context.Context, s *Settings, env Process) error {
	log := env.Log
	cfg, namespace, err := s.ClientConfig(env.Build.Version)
	if err != nil {
		return err
	}
	if err := CheckCredentials(cfg); err != nil {
		return err
	}
	if cfg.Insecure {
		log.Warn("TLS verification of the API server is off (insecure_skip_tls_verify): anyone on the network path can read and change this deploy")
	}
	clients, err := NewClients(cfg, log)
	if err != nil {
		return err
	}
	pipeline := Pipeline(env.Getenv, s.PipelineRun)
	stepEnv := steps.Env{
		Clients:    clients,
		Log:        log,
		Out:        log.Out,
		Pipeline:   pipeline,
		Lock:       steps.LockConfig{Holder: holder(pipeline), TTL: s.LockTTL, Wait: s.LockWait, Force: bool(s.ForceUnlock)},
		OwnerCheck: s.OwnerCheck,
	}

	step, err := s.step(namespace, stepEnv)
	if err != nil {
		return err
	}
	result, runErr := step.Run(ctx)
	if runErr != nil && result.Summary == "" {
		result.Summary = failureSummary(s.Step, runErr)
	}

	outputs := NewOutputWriter(env.Getenv, s.ResultsDir)
	if err := writeResult(outputs, result, log); err != nil {
		if runErr == nil {
			return err
		}
		log.Error(err)
	}
	if runErr != nil {
		return fmt.Errorf("%s: %w", s.Step, explainCredentials(runErr))
	}
	return nil
}

// step narrows the settings to the chosen step's own config.
func (s *Settings) step(namespace string, env steps.Env) (steps.Step, error) {
	switch s.Step {
	case StepRolling, StepBlueGreen, StepCanary:
		cfg := steps.RollingConfig{
			Release:                s.Release,
			Namespace:              namespace,
			Manifests:              s.Manifests,
			Timeout:                s.Timeout,
			SkipDryRun:             bool(s.SkipDryRun),
			SkipResourceVersioning: bool(s.SkipResourceVersioning),
			FailFast:               bool(s.FailFast),
			FailFastAfter:          s.FailFastAfter,
			Declarative:            bool(s.EnableDeclarativeRollback),
			Pruning:                bool(s.Pruning),
			CreateNamespace:        bool(s.CreateNamespace),
			TakeOwnership:          bool(s.TakeOwnership),
			Render:                 s.renderConfig(),
			Diff:                   bool(s.Diff),
		}
		switch s.Step {
		case StepBlueGreen:
			return steps.NewBlueGreen(cfg, env), nil
		case StepCanary:
			return steps.NewCanary(steps.CanaryConfig{RollingConfig: cfg, Instances: s.Instances}, env), nil
		}
		return steps.NewRolling(cfg, env), nil
	case StepSwap:
		return steps.NewSwap(steps.SwapConfig{Release: s.Release, Namespace: namespace, Timeout: s.Timeout}, env), nil
	case StepCanaryDelete:
		return steps.NewCanaryDelete(steps.CanaryDeleteConfig{
			SwapConfig: steps.SwapConfig{Release: s.Release, Namespace: namespace, Timeout: s.Timeout},
			Objects:    s.CanaryWorkload,
		}, env), nil
	case StepScale:
		return steps.NewScale(steps.ScaleConfig{
			Release:              s.Release,
			Namespace:            namespace,
			Workload:             s.Workload,
			Instances:            s.Instances,
			SkipSteadyStateCheck: bool(s.SkipSteadyStateCheck),
			Timeout:              s.Timeout,
			FailFast:             bool(s.FailFast),
			FailFastAfter:        s.FailFastAfter,
		}, env), nil
	case StepDelete:
		return steps.NewDelete(steps.DeleteConfig{
			Release:         s.Release,
			Namespace:       namespace,
			Resources:       s.Resources,
			ReleaseObjects:  bool(s.DeleteReleaseObjects),
			DeleteNamespace: bool(s.DeleteNamespace),
			Manifests:       s.Manifests,
			Render:          s.renderConfig(),
			Timeout:         s.Timeout,
		}, env), nil
	case StepStageScaleDown:
		return steps.NewStageScaleDown(steps.SwapConfig{Release: s.Release, Namespace: namespace, Timeout: s.Timeout}, env), nil
	case StepRollback:
		return steps.NewRollback(steps.RollbackConfig{
			Release:        s.Release,
			Namespace:      namespace,
			Timeout:        s.Timeout,
			ReleaseNumber:  s.ReleaseNumber,
			RollbackTo:     s.RollbackTo,
			OnFirstFailure: s.OnFirstFailure,
			Pruning:        bool(s.Pruning),
			FailFast:       bool(s.FailFast),
			FailFastAfter:  s.FailFastAfter,
		}, env), nil
	case StepApply:
		return steps.NewApply(steps.ApplyConfig{
			Release:              s.Release,
			Namespace:            namespace,
			Manifests:            s.Manifests,
			Render:               s.renderConfig(),
			Timeout:              s.Timeout,
			SkipDryRun:           bool(s.SkipDryRun),
			CreateNamespace:      bool(s.CreateNamespace),
			TakeOwnership:        bool(s.TakeOwnership),
			SkipSteadyStateCheck: bool(s.SkipSteadyStateCheck),
			FailFast:             bool(s.FailFast),
			FailFastAfter:        s.FailFastAfter,
			Diff:                 bool(s.Diff),
		}, env), nil
	case StepDiff:
		return steps.NewDiff(steps.DiffConfig{
			Release:          s.Release,
			Namespace:        namespace,
			Manifests:        s.Manifests,
			Render:           s.renderConfig(),
			Timeout:          s.Timeout,
			DetailedExitCode: bool(s.DetailedExitcode),
		}, env), nil
	case StepHistory:
		return steps.NewHistory(steps.HistoryConfig{
			Release:   s.Release,
			Namespace: namespace,
			Output:    s.Output,
			Timeout:   s.Timeout,
		}, env), nil
	}
	return nil, fmt.Errorf("step %q: %w", s.Step, ErrInvalidSettings)
}

// renderConfig narrows the settings to how manifests are rendered.
func (s *Settings) renderConfig() steps.RenderConfig {
	return steps.RenderConfig{Values: s.Values, SkipRendering: bool(s.SkipRendering), Images: s.Images, ImagePullSecrets: s.ImagePullSecrets}
}

func writeResult(w OutputWriter, result steps.Result, log logrus.FieldLogger) error {
	if len(result.Outputs) > 0 {
		outs := make([]Output, len(result.Outputs))
		for i, o := range result.Outputs {
			outs[i] = Output{Key: o.Key, Value: o.Value}
		}
		warnings, err := w.Write(outs)
		for _, warning := range warnings {
			log.Warn(warning)
		}
		if err != nil {
			return err
		}
	}
	if result.Summary != "" {
		return w.Summary(result.Summary)
	}
	return nil
}

// holder identifies this run in a deploy lock, so whoever waits for it
// can find the run that holds it: the CI build (link, else repository and
// build number), the host and the process.
func holder(p release.Pipeline) string {
	host, _ := os.Hostname()
	run := p.BuildLink
	if run == "" && p.Build != "" {
		run = strings.TrimSpace(p.Repository + " build " + p.Build)
	}
	if run == "" {
		run = "a run"
	}
	return fmt.Sprintf("%s (host %s, pid %d)", run, host, os.Getpid())
}

// Pipeline describes the CI run from the variables each CI system sets, so
// a release records who deployed what. Tekton sets none: its Task passes the
// PipelineRun's name in the pipeline_run setting instead.
func Pipeline(getenv func(string) string, pipelineRun string) release.Pipeline {
	get := func(key string) string { return strings.TrimSpace(getenv(key)) }
	switch {
	case strings.TrimSpace(pipelineRun) != "":
		return release.Pipeline{Build: strings.TrimSpace(pipelineRun)}
	case get("GITHUB_RUN_ID") != "":
		p := release.Pipeline{
			Repository: get("GITHUB_REPOSITORY"),
			Branch:     get("GITHUB_REF_NAME"),
			Commit:     get("GITHUB_SHA"),
			Build:      get("GITHUB_RUN_ID"),
			Event:      get("GITHUB_EVENT_NAME"),
			Actor:      get("GITHUB_ACTOR"),
		}
		if server := get("GITHUB_SERVER_URL"); server != "" && p.Repository != "" {
			p.BuildLink = server + "/" + p.Repository + "/actions/runs/" + p.Build
		}
		return p
	case get("DRONE_BUILD_NUMBER") != "":
		return release.Pipeline{
			Repository: get("DRONE_REPO"),
			Branch:     get("DRONE_BRANCH"),
			Commit:     get("DRONE_COMMIT_SHA"),
			Build:      get("DRONE_BUILD_NUMBER"),
			BuildLink:  get("DRONE_BUILD_LINK"),
			Event:      get("DRONE_BUILD_EVENT"),
			Actor:      get("DRONE_COMMIT_AUTHOR"),
		}
	}
	return release.Pipeline{}
}
