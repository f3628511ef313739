package plugin

import (
	"reflect"
	"strings"
	"testing"

	"github.com/kube-release/kube-release/internal/release"
)

// Settings arrive as Drone's runner encodes a step's YAML settings: a list
// of scalars comma-joined, a map or a list holding one as JSON, scalars as
// text. Harness CI's plugin step encodes them the same way.
func TestListAsDroneEncodesIt(t *testing.T) {
	tests := []struct {
		name, value string
		want        List
		wantErr     string
	}{
		{name: "list of scalars", value: "k8s/app.yaml,k8s/db.yaml", want: List{"k8s/app.yaml", "k8s/db.yaml"}},
		{name: "one a line", value: "k8s/app.yaml\nk8s/db.yaml\n", want: List{"k8s/app.yaml", "k8s/db.yaml"}},
		{name: "JSON list", value: `["k8s/app.yaml", " k8s/db.yaml ", ""]`, want: List{"k8s/app.yaml", "k8s/db.yaml"}},
		{name: "JSON list of numbers", value: `[1, 2.5, true]`, want: List{"1", "2.5", "true"}},
		{name: "map", value: `{"registry.local/web":"registry.local/web:1.4.2","nginx":"nginx:1.27"}`,
			want: List{"nginx=nginx:1.27", "registry.local/web=registry.local/web:1.4.2"}},
		{name: "glob that is no JSON", value: "[ab]*.yaml,c.yaml", want: List{"[ab]*.yaml", "c.yaml"}},
		{name: "list of maps", value: `[{"name":"web"}]`, wantErr: "item 1 is a map or a list"},
		{name: "map of maps", value: `{"web":{"image":"x"}}`, wantErr: `"web" holds a map or a list`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l List
			err := l.Decode(tt.value)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Decode(%q) = %q, %v; want error %q", tt.value, l, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(l, tt.want) {
				t.Errorf("Decode(%q) = %q, %v; want %q", tt.value, l, err, tt.want)
			}
		})
	}
}

// A whole Drone step's environment loads: PLUGIN_* as the runner sets
// them, next to the DRONE_* variables it always sets.
func TestLoadDroneStep(t *testing.T) {
	s, warnings, err := Load([]string{
		"DRONE=true",
		"DRONE_BUILD_NUMBER=42",
		"PLUGIN_STEP=rolling",
		"PLUGIN_RELEASE=web",
		"PLUGIN_MANIFESTS=k8s/app.yaml,k8s/db.yaml",
		"PLUGIN_IMAGES=" + `{"web":"registry.local/web:1.4.2"}`,
		"PLUGIN_TIMEOUT=5m",
		"PLUGIN_FAIL_FAST=false",
		"PLUGIN_RELEASE_NUMBER=",
	}, nil)
	if err != nil || len(warnings) > 0 {
		t.Fatalf("Load: %v (warnings %q)", err, warnings)
	}
	if !reflect.DeepEqual(s.Manifests, List{"k8s/app.yaml", "k8s/db.yaml"}) || !reflect.DeepEqual(s.Images, List{"web=registry.local/web:1.4.2"}) {
		t.Errorf("manifests %q, images %q", s.Manifests, s.Images)
	}
	if s.Timeout.String() != "5m0s" || s.FailFast {
		t.Errorf("timeout %s, fail_fast %t", s.Timeout, s.FailFast)
	}
}

func TestPipeline(t *testing.T) {
	tests := []struct {
		name        string
		env         map[string]string
		pipelineRun string
		want        release.Pipeline
	}{
		{name: "none", want: release.Pipeline{}},
		{name: "GitHub", env: map[string]string{
			"GITHUB_RUN_ID": "123", "GITHUB_REPOSITORY": "acme/web", "GITHUB_SHA": "abc", "GITHUB_REF_NAME": "main",
			"GITHUB_EVENT_NAME": "push", "GITHUB_ACTOR": "ada", "GITHUB_SERVER_URL": "https://github.com",
		}, want: release.Pipeline{Repository: "acme/web", Branch: "main", Commit: "abc", Build: "123",
			BuildLink: "https://github.com/acme/web/actions/runs/123", Event: "push", Actor: "ada"}},
		{name: "Drone and Harness CI", env: map[string]string{
			"DRONE_BUILD_NUMBER": "7", "DRONE_REPO": "acme/web", "DRONE_COMMIT_SHA": "abc", "DRONE_BRANCH": "main",
			"DRONE_BUILD_LINK": "https://drone.example/acme/web/7", "DRONE_BUILD_EVENT": "push", "DRONE_COMMIT_AUTHOR": "ada",
		}, want: release.Pipeline{Repository: "acme/web", Branch: "main", Commit: "abc", Build: "7",
			BuildLink: "https://drone.example/acme/web/7", Event: "push", Actor: "ada"}},
		{name: "Tekton", pipelineRun: " deploy-run-x7k2q ", want: release.Pipeline{Build: "deploy-run-x7k2q"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Pipeline(envFunc(tt.env), tt.pipelineRun); got != tt.want {
				t.Errorf("Pipeline = %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
