package bluegreen

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/kube-release/kube-release/internal/release"
)

func live(name string, kv ...string) LiveService {
	sel := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		sel[kv[i]] = kv[i+1]
	}
	return LiveService{Name: name, Exists: true, Selector: sel}
}

// writes describes a plan's writes: "web={app=web,harness.io/color=blue} ...".
func writes(s *Swap) string {
	var parts []string
	for _, w := range s.Writes {
		parts = append(parts, w.Name+"="+selectorString(w.Selector))
	}
	return strings.Join(parts, " ")
}

func selectorString(m map[string]string) string {
	var kv []string
	for _, k := range sortedKeys(m) {
		kv = append(kv, k+"="+m[k])
	}
	return "{" + strings.Join(kv, ",") + "}"
}

func TestPlanSwap(t *testing.T) {
	const c = "harness.io/color"
	tests := []struct {
		name           string
		primary, stage LiveService
		target         release.Color
		writes         string
		interrupted    bool
	}{
		{"the swap: the whole selectors exchanged, the primary first",
			live("web", "app", "web", c, "green"), live("web-stage", "app", "web", c, "blue"), release.Blue,
			"web={app=web,harness.io/color=blue} web-stage={app=web,harness.io/color=green}", false},
		{"selectors that differ by more than colour move whole, as Harness moves them",
			live("web", "app", "web", c, "green"), live("web-preview", "app", "web", "tier", "preview", c, "blue"), release.Blue,
			"web={app=web,harness.io/color=blue,tier=preview} web-preview={app=web,harness.io/color=green}", false},
		{"done already: run again, nothing to write",
			live("web", "app", "web", c, "blue"), live("web-stage", "app", "web", c, "green"), release.Blue,
			"", false},
		{"interrupted after the primary's write: the stage one is rebuilt",
			live("web", "app", "web", c, "blue"), live("web-stage", "app", "web", c, "blue"), release.Blue,
			"web-stage={app=web,harness.io/color=green}", true},
		{"both on the old colour: the primary is moved, the stage one stays",
			live("web", "app", "web", c, "green"), live("web-stage", "app", "web", c, "green"), release.Blue,
			"web={app=web,harness.io/color=blue}", true},
		{"the swap back",
			live("web", "app", "web", c, "blue"), live("web-stage", "app", "web", c, "green"), release.Green,
			"web={app=web,harness.io/color=green} web-stage={app=web,harness.io/color=blue}", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			primaryBefore, stageBefore := maps.Clone(tt.primary.Selector), maps.Clone(tt.stage.Selector)
			plan, err := PlanSwap(tt.primary, tt.stage, tt.target)
			if err != nil {
				t.Fatal(err)
			}
			if got := writes(plan); got != tt.writes {
				t.Errorf("writes %s\nwant   %s", got, tt.writes)
			}
			if plan.Interrupted != tt.interrupted || plan.Done() != (tt.writes == "") {
				t.Errorf("interrupted %v, done %v", plan.Interrupted, plan.Done())
			}
			if plan.PrimarySelector[c] != string(tt.target) || plan.StageSelector[c] != string(tt.target.Other()) {
				t.Errorf("after the swap the primary selects %s, the stage %s", plan.PrimarySelector[c], plan.StageSelector[c])
			}
			if !maps.Equal(tt.primary.Selector, primaryBefore) || !maps.Equal(tt.stage.Selector, stageBefore) {
				t.Error("PlanSwap changed the selectors it was given")
			}
		})
	}
}

// Run against Services that a swap may have left anywhere between its
// writes, and again, the swap ends with one Service per colour, the
// primary on the target, and writes nothing once it is there.
func TestSwapInterruptedAndRepeated(t *testing.T) {
	for _, sel := range []struct{ primary, stage map[string]string }{
		{map[string]string{"app": "web", "harness.io/color": "green"}, map[string]string{"app": "web", "harness.io/color": "blue"}},
		{map[string]string{"app": "web", "harness.io/color": "green"}, map[string]string{"app": "web", "v": "2", "harness.io/color": "blue"}},
	} {
		// Every point a run can stop at: after 0, 1 or 2 of its writes,
		// then a second run, stopped the same way, then a run to the end.
		for first := 0; first <= 2; first++ {
			for second := 0; second <= 2; second++ {
				t.Run(fmt.Sprintf("%s stopped after %d, then %d writes", selectorString(sel.stage), first, second), func(t *testing.T) {
					cluster := map[string]map[string]string{"web": maps.Clone(sel.primary), "web-stage": maps.Clone(sel.stage)}
					run := func(stopAfter int) *Swap {
						t.Helper()
						plan, err := PlanSwap(LiveService{Name: "web", Exists: true, Selector: cluster["web"]},
							LiveService{Name: "web-stage", Exists: true, Selector: cluster["web-stage"]}, release.Blue)
						if err != nil {
							t.Fatal(err)
						}
						for i, w := range plan.Writes {
							if i == stopAfter {
								break
							}
							cluster[w.Name] = maps.Clone(w.Selector)
						}
						return plan
					}
					run(first)
					run(second)
					run(2)
					if cluster["web"]["harness.io/color"] != "blue" || cluster["web-stage"]["harness.io/color"] != "green" {
						t.Errorf("the Services select %v and %v", cluster["web"], cluster["web-stage"])
					}
					if !maps.Equal(cluster["web"], withColor(sel.stage, release.Blue)) {
						t.Errorf("the primary selects %v, want the stage Service's selector %v", cluster["web"], sel.stage)
					}
					if plan := run(2); !plan.Done() {
						t.Errorf("a run after the swap writes %s", writes(plan))
					}
				})
			}
		}
	}
}

func TestPlanSwapErrors(t *testing.T) {
	const c = "harness.io/color"
	ok := live("web", c, "green")
	for _, tc := range []struct {
		name           string
		primary, stage LiveService
		target         release.Color
		want           string
	}{
		{"no stage Service", ok, LiveService{Name: "web-stage"}, release.Blue,
			"Failed to swap services [web, web-stage]: service not found: Service [web-stage] not found.; a swap needs both the primary and the stage Service, which a blue/green stage deploy creates"},
		{"no primary Service", LiveService{Name: "web"}, live("web-stage", c, "blue"), release.Blue,
			"Failed to swap services [web, web-stage]: service not found: Service [web] not found.; a swap needs both the primary and the stage Service, which a blue/green stage deploy creates"},
		{"a Service without colour", ok, live("web-stage", "app", "web"), release.Blue,
			`swap: Service [web-stage] selects harness.io/color: "", not blue or green: it is not a Service of a blue/green deploy`},
		{"another colour", live("web", c, "red"), live("web-stage", c, "blue"), release.Blue,
			`swap: Service [web] selects harness.io/color: "red", not blue or green: it is not a Service of a blue/green deploy`},
		{"no target", ok, live("web-stage", c, "blue"), "",
			`swap: target colour "" is neither blue nor green`},
	} {
		_, err := PlanSwap(tc.primary, tc.stage, tc.target)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: error\n%v\nwant\n%s", tc.name, err, tc.want)
		}
	}
	if _, err := PlanSwap(ok, LiveService{Name: "web-stage"}, release.Blue); !errors.Is(err, ErrServiceNotFound) {
		t.Errorf("error %v, want errors.Is ErrServiceNotFound", err)
	}
}

func TestSwapTarget(t *testing.T) {
	r := func(n int, s release.Status, c release.Color, e release.Environment) *release.Release {
		return &release.Release{Number: n, Status: s, Color: c, Environment: e}
	}
	for _, tc := range []struct {
		name string
		h    release.History
		want string
	}{
		{"the stage deploy waiting", release.NewHistory(r(5, release.Succeeded, release.Blue, release.StageEnvironment), r(4, release.Succeeded, release.Green, release.PrimaryEnvironment)), "blue 5"},
		{"after the swap: the same", release.NewHistory(r(5, release.Succeeded, release.Blue, release.PrimaryEnvironment), r(4, release.Succeeded, release.Green, release.StageEnvironment)), "blue 5"},
		{"a failed stage deploy: the colour that serves", release.NewHistory(r(6, release.Failed, release.Green, release.StageEnvironment), r(5, release.Succeeded, release.Blue, release.PrimaryEnvironment)), "blue 5"},
		{"rolling releases do not count", release.NewHistory(r(3, release.Succeeded, "", ""), r(2, release.Succeeded, release.Green, release.StageEnvironment)), "green 2"},
		{"none", release.NewHistory(r(1, release.InProgress, release.Blue, release.StageEnvironment)), "no Succeeded blue/green release to swap to: run a blue/green stage deploy first"},
	} {
		c, rel, err := SwapTarget(tc.h)
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			got = fmt.Sprintf("%s %d", c, rel.Number)
		}
		if got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}
