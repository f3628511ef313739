package steps

import (
	"testing"

	"github.com/kube-release/kube-release/internal/bluegreen"
)

// The primary and stage Service of a release, as kube-release and as
// Harness leave them: annotated, or the stage one an unannotated copy.
func TestClassifyServices(t *testing.T) {
	svc := func(name string, annotations ...string) liveAnnotated {
		a := map[string]string{}
		for _, k := range annotations {
			a[k] = "true"
		}
		return liveAnnotated{bluegreen.LiveService{Name: name, Exists: true}, a}
	}
	const primary, stage = "harness.io/primary-service", "harness.io/stage-service"
	for _, tc := range []struct {
		name          string
		found         []liveAnnotated
		primary, want string // want: the stage Service; "" for none
	}{
		{"both annotated", []liveAnnotated{svc("b", stage), svc("a", primary)}, "a", "b"},
		{"copy annotated stage", []liveAnnotated{svc("web"), svc("web-stage", stage)}, "web", "web-stage"},
		{"unannotated copy", []liveAnnotated{svc("web-stage"), svc("web")}, "web", "web-stage"},
		{"primary annotated, copy not", []liveAnnotated{svc("web", primary), svc("web-stage")}, "web", "web-stage"},
		{"two unrelated", []liveAnnotated{svc("web"), svc("api")}, "", ""},
		{"a third Service", []liveAnnotated{svc("web"), svc("web-stage"), svc("api")}, "", ""},
		{"one", []liveAnnotated{svc("web")}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pair, ok := classifyServices(tc.found)
			if tc.primary == "" {
				if ok {
					t.Fatalf("classified %+v, want an error", pair)
				}
				return
			}
			if !ok || pair.Primary.Name != tc.primary || pair.Stage.Name != tc.want {
				t.Fatalf("got %+v (%v), want primary %s, stage %s", pair, ok, tc.primary, tc.want)
			}
		})
	}
}
