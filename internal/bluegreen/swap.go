package bluegreen

import (
	"errors"
	"fmt"
	"maps"

	"github.com/kube-release/kube-release/internal/manifest"
	"github.com/kube-release/kube-release/internal/release"
)

// ErrServiceNotFound: a Service of the pair is not in the cluster.
var ErrServiceNotFound = errors.New("service not found")

// Write is a Service to write: its name and whole new selector.
type Write struct {
	Name     string
	Selector map[string]string
}

// Swap is a planned swap.
//
// A swap, as Harness does it (K8sSwapServiceSelectorsBaseHandler),
// exchanges the whole spec.selector maps of the primary and the stage
// Service, one Service write after the other, and then flips bgEnvironment
// on the newest Succeeded release of each colour. That is not safe to
// repeat: run twice, by a CI retry say, it swaps back; interrupted after
// its first write, both Services select the same colour, and a rerun that
// exchanges them again leaves them so, with the other colour's selector
// lost and no Service for it.
//
// kube-release plans a swap instead from a target decided before anything
// is written: the colour the primary Service is to select. The live
// selectors alone cannot give it (a swap done and one not begun look the
// same from the two Services); the history can: it is the colour of the
// newest Succeeded blue/green release (SwapTarget), the stage deploy
// waiting to be promoted. A finished swap does not change it, so a second
// run finds the primary already on it and writes nothing; a rollback
// after a swap marks that release Failed, so the release before it is the
// target of the swap back.
//
// PlanSwap compares the Services with the target:
//   - the primary selects the other colour, the stage the target: the
//     swap proper, the whole maps exchanged as Harness does;
//   - the primary selects the target, the stage the other colour: done,
//     nothing to write;
//   - both select the same colour: a swap was interrupted between its two
//     writes (or someone edited a Service). Each Service's selector is
//     kept with harness.io/color set to the colour it must select. The
//     primary is written first, so an interruption leaves it with the
//     whole selector it was to get, and only the stage Service's needs
//     rebuilding, from the one it then shares with the primary: exact when
//     the two differ by colour only, as they do when the stage Service is
//     the primary's copy.
//
// Either way the plan ends with exactly one Service per colour, and only
// Services whose selector changes are written. The history is recorded
// after the Services (release.Book.SwapEnvironments), and that too is
// safe to repeat.
type Swap struct {
	// Primary and Stage are the Services as found.
	Primary, Stage LiveService
	// Target is the colour the primary Service selects after the swap;
	// the stage Service selects the other.
	Target release.Color
	// PrimarySelector and StageSelector are the selectors after the swap.
	PrimarySelector, StageSelector map[string]string
	// Writes are the Services to write, in order; none when the swap is
	// done already.
	Writes []Write
	// Interrupted says both Services selected the same colour.
	Interrupted bool
}

// Done reports whether the Services select what the swap is to make them
// select already.
func (s *Swap) Done() bool { return len(s.Writes) == 0 }

// SwapTarget is the colour a swap routes users to, decided from the
// history before anything is written: that of its newest Succeeded
// blue/green release (release.History.LastSuccessfulBlueGreen), which it
// returns too.
func SwapTarget(h release.History) (release.Color, *release.Release, error) {
	r := h.LastSuccessfulBlueGreen()
	if r == nil {
		return "", nil, errors.New("no Succeeded blue/green release to swap to: run a blue/green stage deploy first")
	}
	return r.Color, r, nil
}

// PlanSwap plans the swap that makes primary select target and stage the
// other colour (see Swap). Both Services must exist
// and each must select blue or green.
func PlanSwap(primary, stage LiveService, target release.Color) (*Swap, error) {
	if !target.Valid() {
		return nil, fmt.Errorf("swap: target colour %q is neither %s nor %s", target, release.Blue, release.Green)
	}
	for _, s := range []LiveService{primary, stage} {
		if !s.Exists {
			return nil, &manifest.HintError{
				Err:   fmt.Errorf("Failed to swap services [%s, %s]: %w", primary.Name, stage.Name, ErrServiceNotFound),
				Found: fmt.Sprintf("Service [%s] not found.", s.Name),
				Hint:  "a swap needs both the primary and the stage Service, which a blue/green stage deploy creates",
			}
		}
		if c := s.Color(); !c.Valid() {
			return nil, fmt.Errorf("swap: Service [%s] selects %s: %q, not %s or %s: it is not a Service of a blue/green deploy",
				s.Name, manifest.ColorLabel, c, release.Blue, release.Green)
		}
	}
	plan := &Swap{Primary: primary, Stage: stage, Target: target}
	p, s := primary.Color(), stage.Color()
	switch {
	case p == target.Other() && s == target:
		plan.PrimarySelector, plan.StageSelector = maps.Clone(stage.Selector), maps.Clone(primary.Selector)
	case p == target && s == target.Other():
		plan.PrimarySelector, plan.StageSelector = maps.Clone(primary.Selector), maps.Clone(stage.Selector)
	default: // p == s
		plan.Interrupted = true
		plan.PrimarySelector = withColor(primary.Selector, target)
		plan.StageSelector = withColor(stage.Selector, target.Other())
	}
	if !maps.Equal(plan.PrimarySelector, primary.Selector) {
		plan.Writes = append(plan.Writes, Write{Name: primary.Name, Selector: plan.PrimarySelector})
	}
	if !maps.Equal(plan.StageSelector, stage.Selector) {
		plan.Writes = append(plan.Writes, Write{Name: stage.Name, Selector: plan.StageSelector})
	}
	return plan, nil
}

func withColor(selector map[string]string, c release.Color) map[string]string {
	out := maps.Clone(selector)
	out[manifest.ColorLabel] = string(c)
	return out
}
