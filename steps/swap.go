package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kube-release/kube-release/internal/apply"
	"github.com/kube-release/kube-release/internal/bluegreen"
	"github.com/kube-release/kube-release/internal/logging"
	"github.com/kube-release/kube-release/internal/release"
)

// SwapConfig is what the swap and stage scale down steps need of the
// settings.
type SwapConfig struct {
	Release   string
	Namespace string
	// Timeout bounds the step.
	Timeout time.Duration
}

// Swap routes users to the colour a blue/green stage deploy deployed: the
// primary Service selects it, the stage Service the other colour. It
// decides the colour from the history before it writes, so it is safe to
// run again (see bluegreen.Swap).
type Swap struct{ base[SwapConfig] }

// NewSwap returns the swap step.
func NewSwap(cfg SwapConfig, env Env) *Swap { return &Swap{base[SwapConfig]{cfg, env}} }

// Run implements Step.
func (s *Swap) Run(ctx context.Context) (Result, error) {
	return withBook(ctx, s.env, s.cfg, s.run)
}

// withBook runs fn under the release's deploy lock and the step's timeout,
// with the release's history read: the start of every step that changes
// a blue/green release without deploying.
func withBook(ctx context.Context, env Env, cfg SwapConfig, fn func(context.Context, *release.Book) (Result, error)) (Result, error) {
	return withLock(ctx, env, cfg.Namespace, cfg.Release, func(ctx context.Context) (Result, error) {
		ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
		book := env.book(cfg.Namespace, cfg.Release)
		if _, err := readBook(ctx, book); err != nil {
			return Result{Outputs: []Output{{OutputRelease, cfg.Release}, {OutputReleaseNumber, ""}, {OutputStatus, statusFailed}}}, err
		}
		return fn(ctx, book)
	})
}

func (s *Swap) run(ctx context.Context, book *release.Book) (Result, error) {
	target, rel, err := bluegreen.SwapTarget(book.History())
	if err != nil {
		return s.failed(nil, nil, err)
	}
	pair, err := findServices(ctx, s.env, s.cfg.Namespace, rel)
	if err != nil {
		return s.failed(rel, nil, err)
	}
	plan, err := swapServices(ctx, s.env, s.cfg.Namespace, pair, target)
	if err != nil {
		return s.failed(rel, plan, err)
	}
	if _, err := book.SwapEnvironments(ctx, target); err != nil {
		return s.failed(rel, plan, fmt.Errorf("the Services are swapped, the history is not (run the swap again to record it): %w", err))
	}
	logging.Succeeded(s.env.Log, "Primary Service %s serves %s, release %d", pair.Primary.Name, target, rel.Number)
	return s.result(statusSucceeded, rel, plan, nil), nil
}

func (s *Swap) failed(rel *release.Release, plan *bluegreen.Swap, err error) (Result, error) {
	return s.result(statusFailed, rel, plan, err), err
}

func (s *Swap) result(status string, rel *release.Release, plan *bluegreen.Swap, failure error) Result {
	sum := summary{Step: "swap", Release: s.cfg.Release, Namespace: s.cfg.Namespace, Status: status, Failure: failure}
	outputs := []Output{{OutputRelease, s.cfg.Release}, {OutputReleaseNumber, ""}, {OutputStatus, status}}
	if rel != nil {
		sum.Number = rel.Number
		outputs[1].Value = strconv.Itoa(rel.Number)
	}
	if plan != nil {
		sum.Facts = swapFacts(plan, failure == nil)
		outputs = append(outputs, colorOutputs(plan.Primary.Name, plan.Stage.Name, plan.Target)...)
	}
	return Result{Outputs: outputs, Summary: sum.Markdown()}
}

// swapFacts say which colour served before and after: after a failed
// swap, what the swap leaves is unknown to the facts, and the log says.
func swapFacts(plan *bluegreen.Swap, done bool) []fact {
	facts := []fact{
		{"Primary Service", "`" + plan.Primary.Name + "`"},
		{"Serving before", string(plan.Primary.Color())},
	}
	if done {
		facts = append(facts, fact{"Serving after", string(plan.Target)})
	}
	return facts
}

// swapServices makes the primary Service of pair select colour target and
// the stage Service the other one, and returns the plan it carried out. It
// refuses to route users to a colour with no ready pod, and then changes
// nothing.
func swapServices(ctx context.Context, env Env, namespace string, pair servicePair, target release.Color) (*bluegreen.Swap, error) {
	log := env.Log
	plan, err := bluegreen.PlanSwap(pair.Primary, pair.Stage, target)
	if err != nil {
		return nil, err
	}
	log.Info(bluegreen.Selectors(1, pair.Primary.Name, pair.Primary.Selector))
	log.Info(bluegreen.Selectors(2, pair.Stage.Name, pair.Stage.Selector))
	if plan.Done() {
		log.Info(bluegreen.SwapAlreadyDone(plan))
		return plan, nil
	}
	if plan.Interrupted {
		log.Warn(bluegreen.SwapInterrupted(plan))
	}
	if err := checkReadyPods(ctx, env, namespace, pair.Primary.Name, plan.PrimarySelector, target); err != nil {
		return plan, err
	}
	log.Info(bluegreen.SwappingSelectors)
	for _, w := range plan.Writes {
		if err := writeSelector(ctx, env, namespace, w); err != nil {
			return plan, err
		}
	}
	log.Info(bluegreen.SwapDone)
	log.Info(bluegreen.UpdatedSelectors(1, pair.Primary.Name, plan.PrimarySelector))
	log.Info(bluegreen.UpdatedSelectors(2, pair.Stage.Name, plan.StageSelector))
	return plan, nil
}

// checkReadyPods fails unless selector, what Service name is to select,
// matches a ready pod: routing users to none would be an outage.
func checkReadyPods(ctx context.Context, env Env, namespace, name string, selector map[string]string, c release.Color) error {
	pods, err := env.Clients.Typed.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(selector).String()})
	if err != nil {
		return fmt.Errorf("pods of colour %s: %w", c, err)
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && podReady(&p) {
			return nil
		}
	}
	return fmt.Errorf("service %s/%s would select no ready pod (selector %s, colour %s has %d pods, none ready): nothing was changed; deploy %s again, or wait for its pods, before swapping",
		namespace, name, labels.SelectorFromSet(selector), c, len(pods.Items), c)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// writeSelector replaces a Service's whole selector: a merge patch that
// sets every key of the new one and removes every other. The field
// manager is that of every apply, so the next deploy's apply owns the
// selector again.
func writeSelector(ctx context.Context, env Env, namespace string, w bluegreen.Write) error {
	client := env.Clients.Dynamic.Resource(services).Namespace(namespace)
	live, err := client.Get(ctx, w.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("service %s/%s: %w", namespace, w.Name, err)
	}
	selector := map[string]any{}
	old, _, _ := unstructuredSelector(live.Object)
	for k := range old {
		selector[k] = nil
	}
	for _, k := range slices.Sorted(maps.Keys(w.Selector)) {
		selector[k] = w.Selector[k]
	}
	patch, err := json.Marshal(map[string]any{
		// The selector read above is the one replaced: a Service changed
		// since answers a conflict instead of a mix of both.
		"metadata": map[string]any{"resourceVersion": live.GetResourceVersion()},
		"spec":     map[string]any{"selector": selector},
	})
	if err != nil {
		return err
	}
	if _, err := client.Patch(ctx, w.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: apply.FieldManager}); err != nil {
		return fmt.Errorf("service %s/%s: select %s: %w", namespace, w.Name, strings.TrimSpace(labels.SelectorFromSet(w.Selector).String()), err)
	}
	return nil
}

func unstructuredSelector(obj map[string]any) (map[string]string, bool, error) {
	spec, _ := obj["spec"].(map[string]any)
	raw, _ := spec["selector"].(map[string]any)
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		s, _ := v.(string)
		out[k] = s
	}
	return out, len(raw) > 0, nil
}
