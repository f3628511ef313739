package steps

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kube-release/kube-release/internal/logging"
	"github.com/kube-release/kube-release/internal/release"
)

func unreadableRelease(n int, st release.Status) release.Unreadable {
	name := "secret prod/harness.release.web." + string(rune('0'+n))
	return release.Unreadable{Number: n, Status: st, Secret: name, Err: &release.CorruptError{
		Object: name, Part: "key release", Err: errors.New("invalid gzip: gzip: invalid header"), Repair: "to repair, delete it",
	}}
}

// A rollback fails only when the release it rolls back or the one it
// returns to cannot be read; any other unreadable release is a warning.
func TestRollbackCheckUnreadable(t *testing.T) {
	history := release.History{
		{Number: 5, Status: release.Failed},
		{Number: 3, Status: release.Succeeded},
		{Number: 1, Status: release.Succeeded},
	}
	for _, tc := range []struct {
		name       string
		cfg        RollbackConfig
		history    release.History
		unreadable []release.Unreadable
		err        string // "" for none
	}{
		{"an old release, below the target", RollbackConfig{}, history,
			[]release.Unreadable{unreadableRelease(2, release.Succeeded)}, ""},
		{"a failed release between target and current", RollbackConfig{}, history,
			[]release.Unreadable{unreadableRelease(4, release.Failed)}, ""},
		{"a release of unknown number", RollbackConfig{}, history,
			[]release.Unreadable{{Secret: "secret prod/odd", Err: errors.New("secret prod/odd: label release-number: missing")}}, ""},
		{"the newest", RollbackConfig{}, history,
			[]release.Unreadable{unreadableRelease(6, release.Failed)},
			"release 6, the newest release, cannot be read, so it cannot be rolled back (give release_number to roll back another): " +
				"secret prod/harness.release.web.6: key release: invalid gzip: gzip: invalid header; to repair, delete it"},
		{"the newest, but release_number names another", RollbackConfig{ReleaseNumber: 5}, history,
			[]release.Unreadable{unreadableRelease(6, release.Failed)}, ""},
		{"release_number", RollbackConfig{ReleaseNumber: 4}, history,
			[]release.Unreadable{unreadableRelease(4, release.Failed)},
			"release_number 4: release 4 cannot be read: secret prod/harness.release.web.4: key release: invalid gzip: gzip: invalid header; to repair, delete it"},
		{"rollback_to", RollbackConfig{RollbackTo: 2}, history,
			[]release.Unreadable{unreadableRelease(2, release.Succeeded)},
			"rollback_to 2: release 2 cannot be read: secret prod/harness.release.web.2: key release: invalid gzip: gzip: invalid header; to repair, delete it"},
		{"rollback_to names a readable one", RollbackConfig{RollbackTo: 1}, history,
			[]release.Unreadable{unreadableRelease(4, release.Succeeded)}, ""},
		{"a success between target and current may be the target", RollbackConfig{}, history,
			[]release.Unreadable{unreadableRelease(4, release.Succeeded)},
			"release 4 may be the last successful release before 5, the one to return to, and cannot be read (give rollback_to to return to another): " +
				"secret prod/harness.release.web.4: key release: invalid gzip: gzip: invalid header; to repair, delete it"},
		{"so may one whose status cannot be read", RollbackConfig{}, history,
			[]release.Unreadable{unreadableRelease(4, "")}, "release 4 may be the last successful release before 5"},
		{"nothing to roll back: the newest succeeded", RollbackConfig{}, history[1:],
			[]release.Unreadable{unreadableRelease(2, "")}, ""},
		{"no readable history, the only release unreadable", RollbackConfig{}, nil,
			[]release.Unreadable{unreadableRelease(1, release.Failed)}, "release 1, the newest release, cannot be read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log strings.Builder
			no := false
			rb := NewRollback(tc.cfg, Env{Log: logging.New(&log, logging.Options{Level: logrus.InfoLevel, Color: &no})})
			err := rb.checkUnreadable(tc.history, &release.UnreadableError{Releases: tc.unreadable})
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("error %v, want none", err)
			case tc.err == "":
				if !strings.Contains(log.String(), "cannot be read; going on without it: ") {
					t.Errorf("no warning about the unreadable release:\n%s", log.String())
				}
			case err == nil || !strings.HasPrefix(err.Error(), tc.err):
				t.Fatalf("error\n%v\nwant\n%s", err, tc.err)
			case !errors.Is(err, release.ErrCorrupt) && tc.unreadable[0].Number > 0:
				t.Errorf("errors.Is(err, ErrCorrupt) is false")
			}
		})
	}
}

// A deploy goes on past unreadable releases, unless pruning needs one.
func TestDeployCheckUnreadable(t *testing.T) {
	previous := &release.Release{Number: 3, Status: release.Succeeded}
	for _, tc := range []struct {
		name       string
		pruning    bool
		previous   *release.Release
		unreadable release.Unreadable
		fails      bool
	}{
		{"without pruning", false, previous, unreadableRelease(4, release.Succeeded), false},
		{"pruning, an older release", true, previous, unreadableRelease(2, release.Succeeded), false},
		{"pruning, a newer failed release", true, previous, unreadableRelease(4, release.Failed), false},
		{"pruning, a newer success", true, previous, unreadableRelease(4, release.Succeeded), true},
		{"pruning, a newer release of unknown status", true, previous, unreadableRelease(4, ""), true},
		{"pruning, no readable success", true, nil, unreadableRelease(1, release.Succeeded), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkUnreadableForDeploy(&release.UnreadableError{Releases: []release.Unreadable{tc.unreadable}}, tc.previous, tc.pruning)
			if (err != nil) != tc.fails {
				t.Fatalf("error %v, want failure %v", err, tc.fails)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "release history: pruning removes what the last successful release has") {
				t.Errorf("error %v", err)
			}
		})
	}
}

// On the cluster: one release Secret with a corrupt payload, which neither
// the deploy nor the rollback needs, is warned about; the deploy numbers
// above it and the rollback returns to its target. When the target itself
// is the one that cannot be read, the rollback fails naming it and why,
// and changes nothing.
func TestUnreadableReleaseSecret(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, dir := range []string{sampleV1, sampleV2} {
		if _, err := f.rolling(RollingConfig{Manifests: []string{dir}, Declarative: true}); err != nil {
			t.Fatal(err)
		}
	}
	corrupt := func(n int) {
		t.Helper()
		secrets := f.env.Clients.Typed.CoreV1().Secrets(f.namespace)
		s, err := secrets.Get(ctx, release.SecretName("sample", n), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s.Data[release.ManifestsKey] = []byte("not gzip at all")
		if _, err := secrets.Update(ctx, s, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	corrupt(1)

	if _, err := f.rolling(RollingConfig{Manifests: []string{brokenV3(t)}, Declarative: true}); err == nil {
		t.Fatal("broken v3 deployed")
	}
	f.assertLog("Release 1 cannot be read; going on without it: secret "+f.namespace+"/harness.release.sample.1: key release: invalid gzip",
		"Current release number is: 3")

	if _, err := f.rollback(RollbackConfig{}); err != nil {
		t.Fatalf("rollback past an unreadable old release: %v", err)
	}
	f.assertLog("Release 1 cannot be read; going on without it", "Rolling back to release 2")
	f.assertRunningV2("web-config")

	// Release 4 fails too; now its target, release 2, is the one damaged.
	if _, err := f.rolling(RollingConfig{Manifests: []string{brokenV3(t)}, Declarative: true}); err == nil {
		t.Fatal("broken v3 deployed")
	}
	corrupt(2)
	_, err := f.rollback(RollbackConfig{})
	want := "release 2 may be the last successful release before 4, the one to return to, and cannot be read " +
		"(give rollback_to to return to another): secret " + f.namespace + "/harness.release.sample.2: key release: invalid gzip"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("rollback to an unreadable release: %v, want it to start with %q", err, want)
	}
	h, _ := release.NewSecretStore(f.env.Clients.Typed, f.namespace, "sample").List(ctx)
	if r := h.Get(4); r == nil || r.Status != release.Failed || r.Metadata.FailureReason == "rolled back" {
		t.Errorf("release 4 after the refused rollback: %+v", r)
	}

	// The history step shows what it can read and names what it cannot.
	f.resetLog()
	res, err := NewHistory(HistoryConfig{Release: "sample", Namespace: f.namespace}, f.env).Run(ctx)
	if err != nil {
		t.Fatalf("history: %v", err)
	}
	f.assertLog("Release 2 cannot be read; going on without it", "Release 1 cannot be read; going on without it")
	if got := output(res, OutputReleaseNumber); got != "4" {
		t.Errorf("history: release_number %q, want 4", got)
	}
}
