package steps

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kube-release/kube-release/internal/apply"
	"github.com/kube-release/kube-release/internal/bluegreen"
	"github.com/kube-release/kube-release/internal/logging"
	"github.com/kube-release/kube-release/internal/object"
	"github.com/kube-release/kube-release/internal/release"
)

// StageScaleDown scales the stage colour of a blue/green release to zero,
// once a swap has left it serving nobody: its workloads to 0 replicas, its
// HPAs and PodDisruptionBudgets deleted (an HPA would scale it up again, a
// PDB would block the node drains of a workload that has no pods). It
// refuses to touch the colour the primary Service selects.
type StageScaleDown struct{ base[SwapConfig] }

// NewStageScaleDown returns the stage scale down step.
func NewStageScaleDown(cfg SwapConfig, env Env) *StageScaleDown {
	return &StageScaleDown{base[SwapConfig]{cfg, env}}
}

// Run implements Step, under the release's deploy lock.
func (s *StageScaleDown) Run(ctx context.Context) (Result, error) {
	return withBook(ctx, s.env, s.cfg, s.run)
}

func (s *StageScaleDown) run(ctx context.Context, book *release.Book) (Result, error) {
	stage := book.LatestIn(release.StageEnvironment)
	if stage == nil {
		s.env.Log.Info(bluegreen.NoStageToScaleDown)
		return s.result(string(StatusSkipped), nil, servicePair{}, nil), nil
	}
	pair, err := findServices(ctx, s.env, s.cfg.Namespace, stage)
	if err == nil {
		_, err = bluegreen.ScaleDownColor(stage, pair.Primary)
	}
	if err == nil {
		format, _ := book.Format(stage.Number)
		err = s.scaleDown(ctx, stage, format == release.Declarative)
	}
	if err != nil {
		return s.result(statusFailed, stage, pair, err), err
	}
	logging.Succeeded(s.env.Log, "Scaled down %s, release %d", stage.Color, stage.Number)
	return s.result(statusSucceeded, stage, pair, nil), nil
}

// scaleDown deletes the stage release's HPAs and PDBs, then scales its
// workloads to 0. Both are safe to repeat.
func (s *StageScaleDown) scaleDown(ctx context.Context, stage *release.Release, declarative bool) error {
	// A legacy release records its workloads, a declarative one its
	// manifests.
	workloads := workloadsOf(&stored{Release: stage, declarative: declarative})
	var policies []object.Ref
	for _, id := range stage.Resources {
		if id.Kind == "HorizontalPodAutoscaler" || id.Kind == "PodDisruptionBudget" {
			policies = append(policies, id.Ref())
		}
	}
	if len(policies) > 0 {
		applier, err := apply.New(s.env.Clients, apply.Config{})
		if err != nil {
			return err
		}
		if _, err := deleteReported(ctx, s.env, applier, policies, owner{Namespace: s.cfg.Namespace, Name: s.cfg.Release}, "%s deleted"); err != nil {
			return fmt.Errorf("scale down release %d: %w", stage.Number, err)
		}
	}
	for _, w := range workloads {
		if !strings.HasSuffix(w.Name, "-"+string(stage.Color)) {
			return fmt.Errorf("scale down release %d: %s is not a workload of colour %s; nothing more was changed", stage.Number, w, stage.Color)
		}
		if err := scaleTo(ctx, s.env, w, 0); err != nil {
			return fmt.Errorf("scale down release %d: %w", stage.Number, err)
		}
		s.env.Log.Infof("%s scaled to 0", w)
	}
	return nil
}

func (s *StageScaleDown) result(status string, stage *release.Release, pair servicePair, failure error) Result {
	sum := summary{Step: "stage_scale_down", Release: s.cfg.Release, Namespace: s.cfg.Namespace, Status: status, Failure: failure}
	outputs := []Output{{OutputRelease, s.cfg.Release}, {OutputReleaseNumber, ""}, {OutputStatus, status}}
	if stage != nil {
		sum.Number = stage.Number
		outputs[1].Value = strconv.Itoa(stage.Number)
		sum.Facts = []fact{{"Scaled down", string(stage.Color)}}
	} else if failure == nil {
		sum.Note = bluegreen.NoStageToScaleDown + "."
	}
	if pair.Primary.Exists {
		outputs = append(outputs, colorOutputs(pair.Primary.Name, pair.Stage.Name, pair.Primary.Color())...)
	}
	return Result{Outputs: outputs, Summary: sum.Markdown()}
}

// scaleTo sets the replicas of a Deployment or StatefulSet.
func scaleTo(ctx context.Context, env Env, w object.Ref, replicas int) error {
	gvr, ok := scalable(w)
	if !ok {
		return fmt.Errorf("%s: only a Deployment or StatefulSet can be scaled", w)
	}
	patch := []byte(fmt.Sprintf(`{"spec":{"replicas":%d}}`, replicas))
	_, err := env.Clients.Dynamic.Resource(gvr).Namespace(w.Namespace).Patch(ctx, w.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: apply.FieldManager})
	if err != nil {
		return fmt.Errorf("%s: scale to %d: %w", w, replicas, err)
	}
	return nil
}
