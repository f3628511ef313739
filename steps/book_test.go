package steps

import (
	"bytes"
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kube-release/kube-release/internal/logging"
	"github.com/kube-release/kube-release/internal/release"
)

// releases builds releases from numbers and statuses: releases(1, "S", 2,
// "F") is release 1 Succeeded and release 2 Failed.
func releases(spec ...any) []*release.Release {
	statuses := map[string]release.Status{"S": release.Succeeded, "F": release.Failed, "P": release.InProgress}
	var rs []*release.Release
	for i := 0; i < len(spec); i += 2 {
		rs = append(rs, &release.Release{Number: spec[i].(int), Status: statuses[spec[i+1].(string)]})
	}
	return rs
}

// Deploy, history and rollback read a history of mixed formats the same
// way: the deploy's previous release is what the history then names as
// the last success before it, and what a rollback of it returns to.
func TestStepsAgreeOnMixedHistories(t *testing.T) {
	for _, tc := range []struct {
		name                string
		legacy, declarative []*release.Release
		deployDeclarative   bool
		number, previous    int // what the deploy uses; previous 0: none
	}{
		{"no history", nil, nil, false, 1, 0},
		{"legacy only", releases(1, "S", 2, "F", 3, "S"), nil, false, 4, 3},
		{"legacy only, the newest failed", releases(1, "S", 2, "S", 3, "F"), nil, false, 4, 2},
		{"legacy only, nothing succeeded", releases(1, "F"), nil, false, 2, 0},
		{"declarative only", nil, releases(1, "S", 2, "S", 3, "F"), true, 4, 2},
		{"legacy, then the first declarative deploy", releases(1, "S", 2, "S"), nil, true, 3, 2},
		// Legacy 1 and 2 succeeded, declarative 3 failed: release 4.
		{"legacy, then declarative that failed", releases(1, "S", 2, "S"), releases(3, "F"), true, 4, 2},
		{"legacy, then declarative that succeeded", releases(1, "S", 2, "F"), releases(3, "S", 4, "F"), true, 5, 3},
		{"back to legacy after declarative", releases(1, "S", 2, "S"), releases(3, "S", 4, "F"), false, 5, 3},
		{"an abandoned declarative release", releases(1, "S"), releases(2, "P"), true, 3, 1},
		{"a tie: the declarative release wins", releases(1, "S", 2, "S", 3, "F"), releases(3, "S"), true, 4, 3},
		{"a tie: the declarative release wins, legacy deploy", releases(1, "S", 2, "S", 3, "F"), releases(3, "S"), false, 4, 3},
		{"a tie that a legacy deploy keeps", releases(1, "S", 2, "S"), releases(2, "F", 3, "S"), false, 4, 3},
		// Declarative cleanup drops the failed releases, so the legacy 2
		// they hid is what a rollback of release 4 finds.
		{"a tie that the declarative cleanup undoes", releases(1, "S", 2, "S"), releases(2, "F", 3, "F"), true, 4, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stores := map[release.Format]*release.MemoryStore{
				release.Legacy: release.NewMemoryStore(tc.legacy...), release.Declarative: release.NewMemoryStore(tc.declarative...),
			}
			var log bytes.Buffer
			no := false
			env := Env{
				Log: logging.New(&log, logging.Options{Level: logrus.InfoLevel, Color: &no}),
				Book: func(namespace, name string) *release.Book {
					return release.NewBook(stores[release.Legacy], stores[release.Declarative])
				},
			}
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("log:\n%s", log.String())
				}
			})
			number, previous := deployFails(t, env, tc.deployDeclarative)
			if number != tc.number || previous != tc.previous {
				t.Fatalf("deploy: release %d, previous %d; want %d, %d", number, previous, tc.number, tc.previous)
			}
			want := ""
			if previous > 0 {
				want = strconv.Itoa(previous)
			}

			res, err := NewHistory(HistoryConfig{Release: "web", Namespace: "prod", Timeout: time.Minute}, env).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := output(res, OutputReleaseNumber); got != strconv.Itoa(number) {
				t.Errorf("history: release_number %s, want %d", got, number)
			}
			if got := output(res, OutputPreviousReleaseNumber); got != want {
				t.Errorf("history: previous_release_number %q, want %q", got, want)
			}

			plan, err := NewRollback(RollbackConfig{Release: "web", Namespace: "prod"}, env).choose(context.Background())
			if err != nil || plan.skip || plan.current == nil {
				t.Fatalf("rollback: %+v, %v; want a rollback of release %d", plan, err, number)
			}
			target := 0
			if plan.target != nil {
				target = plan.target.Number
			}
			if plan.current.Number != number || target != previous {
				t.Errorf("rollback: of release %d to %d; want of %d to %d", plan.current.Number, target, number, previous)
			}
		})
	}
}

// deployFails reads the history as a deploy does, then records what a
// deploy that fails leaves: its cleanup done and its release Failed. It
// returns the release's number and the previous release the deploy
// reports (0 for none).
func deployFails(t *testing.T, env Env, declarative bool) (number, previous int) {
	t.Helper()
	ctx := context.Background()
	r := NewRolling(RollingConfig{Release: "web", Namespace: "prod", Declarative: declarative}, env)
	p := &rollingPlan{}
	if err := r.readHistory(ctx, p); err != nil {
		t.Fatal(err)
	}
	rel := &release.Release{Number: p.number, Status: release.InProgress}
	if err := p.book.Create(ctx, r.format(), rel, numbersIn(r.cleanupDrop(p))...); err != nil {
		t.Fatal(err)
	}
	rel.Status = release.Failed
	if err := p.book.Update(ctx, rel); err != nil {
		t.Fatal(err)
	}
	if p.previous != nil {
		previous = p.previous.Number
	}
	return p.number, previous
}
