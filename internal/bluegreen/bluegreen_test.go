package bluegreen

import (
	"errors"
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kube-release/kube-release/internal/manifest"
	"github.com/kube-release/kube-release/internal/release"
)

// load reads literal YAML through manifest.Load, so objects carry their
// source (in.yaml) as they do in a deploy.
func load(t *testing.T, in string) []*yaml.RNode {
	t.Helper()
	t.Chdir(t.TempDir())
	if err := os.WriteFile("in.yaml", []byte(in), 0o600); err != nil {
		t.Fatal(err)
	}
	nodes, err := manifest.Load([]string{"in.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	return nodes
}

func str(t *testing.T, nodes []*yaml.RNode) string {
	t.Helper()
	s, err := manifest.String(nodes)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const (
	deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
`
	primaryService = `apiVersion: v1
kind: Service
metadata:
  name: web
  annotations:
    harness.io/primary-service: "true"
spec:
  selector:
    app: web
`
	stageService = `apiVersion: v1
kind: Service
metadata:
  name: web-preview
  annotations:
    harness.io/stage-service: "True"
spec:
  selector:
    app: web
`
	plainService = `apiVersion: v1
kind: Service
metadata:
  name: %s
spec:
  selector:
    app: web
`
)

func service(name string) string { return strings.Replace(plainService, "%s", name, 1) }

func docs(parts ...string) string { return strings.Join(parts, "---\n") }

func TestPickServices(t *testing.T) {
	tests := []struct {
		name           string
		in             string
		primary, stage string
		created        bool
		err            string
	}{
		{"both marked", docs(deployment, stageService, primaryService, service("other")), "web", "web-preview", false, ""},
		{"the only Service, no marks: a stage copy", docs(deployment, service("web")), "web", "web-stage", true, ""},
		{"the primary marked, no stage: a stage copy", docs(primaryService, service("other")), "web", "web-stage", true, ""},
		{"no Service", deployment, "", "", false,
			`Service is required for BlueGreen deployments; add a Service to the manifests; with two, annotate them harness.io/primary-service: "true" and harness.io/stage-service: "true"`},
		{"several, none marked primary", docs(service("web"), service("api")), "", "", false,
			`Multiple unmarked services found in manifest: Service/web, Service/api; annotate the primary Service harness.io/primary-service: "true" and the stage one harness.io/stage-service: "true"`},
		{"several, only the stage one marked", docs(service("web"), stageService), "", "", false,
			`Multiple unmarked services found in manifest: Service/web, Service/web-preview; annotate the primary Service harness.io/primary-service: "true" and the stage one harness.io/stage-service: "true"`},
		{"the only Service marked stage", stageService, "", "", false,
			`Multiple unmarked services found in manifest: Service/web-preview; annotate the primary Service harness.io/primary-service: "true" and the stage one harness.io/stage-service: "true"`},
		{"two primaries", docs(primaryService, strings.Replace(primaryService, "name: web", "name: api", 1)), "", "", false,
			`More than one service is marked Primary: Service/web, Service/api; annotate only one of them harness.io/primary-service: "true"`},
		{"two stages", docs(primaryService, stageService, strings.Replace(stageService, "web-preview", "api-preview", 1)), "", "", false,
			`More than one service is marked Stage: Service/web-preview, Service/api-preview; annotate only one of them harness.io/stage-service: "true"`},
		{"one Service marked both", strings.Replace(primaryService, `"true"`, "\"true\"\n    harness.io/stage-service: \"true\"", 1), "", "", false,
			`in.yaml (document 1): Service v1 "web": annotated both harness.io/primary-service and harness.io/stage-service: a Service is one or the other`},
		{"the copy's name is taken", docs(primaryService, service("web-stage")), "", "", false,
			`in.yaml (document 2): Service v1 "web-stage": the stage Service made from the primary one, in.yaml (document 1): Service v1 "web", would replace it; annotate it harness.io/stage-service: "true" if it is the stage Service, or rename it`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes := load(t, tt.in)
			s, out, err := PickServices(nodes)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error\n%v\nwant\n%s", err, tt.err)
				}
				if _, ok := errors.AsType[*manifest.HintError](err); !ok && !strings.HasPrefix(tt.err, "in.yaml") {
					t.Errorf("error %T, want a *manifest.HintError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Primary.GetName() != tt.primary || s.Stage.GetName() != tt.stage || s.Created != tt.created {
				t.Errorf("primary %s, stage %s, created %v", s.Primary.GetName(), s.Stage.GetName(), s.Created)
			}
			if want := len(nodes); tt.created {
				if len(out) != want+1 || out[want] != s.Stage {
					t.Errorf("the stage copy is not appended: %d nodes, %d before", len(out), want)
				}
			} else if len(out) != want {
				t.Errorf("%d nodes, %d before", len(out), want)
			}
			if tt.created && !manifest.HasTrue(s.Stage.GetAnnotations(), manifest.StageServiceAnnotation) {
				t.Error("the stage copy is not marked stage")
			}
		})
	}
	for _, tc := range []struct {
		in   string
		want error
	}{{deployment, ErrNoService}, {docs(service("a"), service("b")), ErrUnmarkedServices}} {
		if _, _, err := PickServices(load(t, tc.in)); !errors.Is(err, tc.want) {
			t.Errorf("error %v, want errors.Is %v", err, tc.want)
		}
	}
}

// The stage copy keeps the primary's spec but what two Services cannot
// share.
func TestStageCopy(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{
			name: "addresses and node ports are the primary's own",
			in: `apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: prod
  labels:
    app: web
  annotations:
    harness.io/primary-service: "true"
    team: checkout
spec:
  type: LoadBalancer
  clusterIP: 10.0.0.12
  clusterIPs: [10.0.0.12]
  loadBalancerIP: 203.0.113.7
  healthCheckNodePort: 30999
  externalTrafficPolicy: Local
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: 8080
    nodePort: 30080
  - name: https
    port: 443
`,
			want: `apiVersion: v1
kind: Service
metadata:
  name: web-stage
  namespace: prod
  labels:
    app: web
  annotations:
    team: checkout
    harness.io/stage-service: "true"
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: 8080
  - name: https
    port: 443
`,
		},
		{
			name: "a headless primary makes a headless stage Service",
			in: `apiVersion: v1
kind: Service
metadata:
  name: db
spec:
  clusterIP: None
  selector:
    app: db
`,
			want: `apiVersion: v1
kind: Service
metadata:
  name: db-stage
  annotations:
    harness.io/stage-service: "true"
spec:
  clusterIP: None
  selector:
    app: db
`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nodes := load(t, tc.in)
			before := str(t, nodes)
			s, _, err := PickServices(nodes)
			if err != nil {
				t.Fatal(err)
			}
			if got := str(t, []*yaml.RNode{s.Stage}); got != tc.want {
				t.Errorf("stage copy\n%s\nwant\n%s", got, tc.want)
			}
			if after := str(t, nodes); after != before {
				t.Errorf("the primary changed:\n%s", after)
			}
			if manifest.Source(s.Stage) != "in.yaml (document 1)" {
				t.Errorf("the copy comes from %q, want the primary's source", manifest.Source(s.Stage))
			}
		})
	}
}

func TestDecideColors(t *testing.T) {
	tests := []struct {
		name string
		live LiveService
		want Colors
		err  string
	}{
		{"the first deploy: green serves, blue is staged", LiveService{Name: "web"}, Colors{Primary: "green", Stage: "blue", FirstDeploy: true}, ""},
		{"green serves", LiveService{Name: "web", Exists: true, Selector: map[string]string{"app": "web", "harness.io/color": "green"}}, Colors{Primary: "green", Stage: "blue"}, ""},
		{"blue serves", LiveService{Name: "web", Exists: true, Selector: map[string]string{"harness.io/color": "blue"}}, Colors{Primary: "blue", Stage: "green"}, ""},
		{"a Service of another deploy", LiveService{Name: "web", Exists: true, Selector: map[string]string{"app": "web"}}, Colors{},
			"Found conflicting service [web] in the cluster. For blue/green deployment, the label [harness.io/color] is required in service selector. Delete this existing service to proceed"},
		{"a Service without a selector", LiveService{Name: "web", Exists: true}, Colors{},
			"Found conflicting service [web] in the cluster. For blue/green deployment, the label [harness.io/color] is required in service selector. Delete this existing service to proceed"},
		{"another colour", LiveService{Name: "web", Exists: true, Selector: map[string]string{"harness.io/color": "Blue"}}, Colors{},
			`primary Service [web] in the cluster selects harness.io/color: "Blue", which is neither blue nor green; set it to one of them, or delete the Service to proceed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecideColors(tt.live)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error\n%v\nwant\n%s", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("DecideColors = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
	_, err := DecideColors(LiveService{Name: "web", Exists: true, Selector: map[string]string{"app": "web"}})
	if !errors.Is(err, ErrConflictingService) {
		t.Errorf("error %v, want errors.Is ErrConflictingService", err)
	}
}

func TestColorServicesErrors(t *testing.T) {
	nodes := load(t, docs(primaryService, "apiVersion: v1\nkind: Service\nmetadata:\n  name: web-preview\n  annotations: {harness.io/stage-service: \"true\"}\nspec:\n  type: ExternalName\n"))
	s, _, err := PickServices(nodes)
	if err != nil {
		t.Fatal(err)
	}
	err = ColorServices(s, Colors{Primary: release.Green, Stage: release.Blue})
	if want := `in.yaml (document 2): Service v1 "web-preview": spec.selector is missing: a blue/green Service selects its pods by harness.io/color`; err == nil || err.Error() != want {
		t.Errorf("error\n%v\nwant\n%s", err, want)
	}
	if err := ColorServices(s, Colors{Primary: "red", Stage: release.Blue}); err == nil ||
		err.Error() != `in.yaml (document 1): Service v1 "web": colour "red" is neither blue nor green` {
		t.Errorf("error %v", err)
	}
}

// A stage deploy's manifests, prepared, declarative and legacy.
func TestPrepareStage(t *testing.T) {
	in := `apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  namespace: prod
data:
  greeting: hello
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: prod
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx
        envFrom:
        - configMapRef:
            name: web-config
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: sidecar-cache
  namespace: prod
  annotations:
    harness.io/direct-apply: "true"
spec:
  selector:
    matchLabels:
      app: cache
  template:
    metadata:
      labels:
        app: cache
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web
  namespace: prod
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: web
  maxReplicas: 4
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: prod
spec:
  selector:
    app: web
  ports:
  - port: 80
`
	want := func(config string) string {
		return `apiVersion: v1
kind: ConfigMap
metadata:
  name: ` + config + `
  namespace: prod
data:
  greeting: hello
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-green
  namespace: prod
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
      harness.io/color: green
  template:
    metadata:
      labels:
        app: web
        harness.io/color: green
    spec:
      containers:
      - name: web
        image: nginx
        envFrom:
        - configMapRef:
            name: ` + config + `
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: sidecar-cache
  namespace: prod
  annotations:
    harness.io/direct-apply: "true"
spec:
  selector:
    matchLabels:
      app: cache
  template:
    metadata:
      labels:
        app: cache
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web-green
  namespace: prod
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: web-green
  maxReplicas: 4
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: prod
spec:
  selector:
    app: web
    harness.io/color: blue
  ports:
  - port: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web-stage
  namespace: prod
  annotations:
    harness.io/stage-service: "true"
spec:
  selector:
    app: web
    harness.io/color: green
  ports:
  - port: 80
`
	}
	live := LiveService{Name: "web", Exists: true, Selector: map[string]string{"app": "web", "harness.io/color": "blue"}}
	for _, tc := range []struct {
		name        string
		declarative bool
		config      string
	}{
		{"declarative: config suffixed with the stage colour", true, "web-config-green"},
		{"legacy: config left to versioning by number", false, "web-config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, nodes, err := PickServices(load(t, in))
			if err != nil {
				t.Fatal(err)
			}
			stage, err := PrepareStage(nodes, s, live, tc.declarative)
			if err != nil {
				t.Fatal(err)
			}
			if got := str(t, stage.Nodes); got != want(tc.config) {
				t.Errorf("got\n%s\nwant\n%s", got, want(tc.config))
			}
			if stage.Colors != (Colors{Primary: release.Blue, Stage: release.Green}) || !stage.Services.Created {
				t.Errorf("colours %+v, created %v", stage.Colors, stage.Services.Created)
			}
			if got := WorkloadToDeploy(stage.Workload.GetKind(), stage.Workload.GetName()); got != "Workload to deploy is: Deployment/web-green" {
				t.Errorf("%s", got)
			}
			if len(stage.Renamed) != 2 || stage.Renamed[1].GetKind() != "HorizontalPodAutoscaler" {
				t.Errorf("renamed %d objects", len(stage.Renamed))
			}
		})
	}

	s, nodes, err := PickServices(load(t, in))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := PrepareStage(nodes, s, LiveService{Name: "api"}, true); err == nil ||
		err.Error() != `the live Service given is "api", the primary Service of the manifests "web"` {
		t.Errorf("error %v", err)
	}
	if _, err := PrepareStage(nodes, s, LiveService{Name: "web", Exists: true, Selector: map[string]string{"app": "web"}}, true); !errors.Is(err, ErrConflictingService) {
		t.Errorf("error %v, want ErrConflictingService", err)
	}
}

func TestScaleDownColor(t *testing.T) {
	blue := &release.Release{Number: 4, Status: release.Succeeded, Color: release.Blue, Environment: release.StageEnvironment}
	green := LiveService{Name: "web", Exists: true, Selector: map[string]string{"harness.io/color": "green"}}
	blueLive := LiveService{Name: "web", Exists: true, Selector: map[string]string{"harness.io/color": "blue"}}
	for _, tc := range []struct {
		name  string
		stage *release.Release
		live  LiveService
		want  string
	}{
		{"the stage colour", blue, green, "blue"},
		{"no primary Service", blue, LiveService{Name: "web"}, "blue"},
		{"no stage release", nil, green, "No Stage environment found to scale down"},
		{"no colour", &release.Release{Number: 2, Environment: release.StageEnvironment}, green,
			`release 2 is in the stage environment but has no blue/green colour (""); nothing to scale down`},
		{"the colour that serves", blue, blueLive,
			"release 4 is in the stage environment, but its colour, blue, is what the primary Service [web] selects: scaling it down would leave the Service without pods; run the swap again to finish it, or check the Services' selectors"},
	} {
		c, err := ScaleDownColor(tc.stage, tc.live)
		got := string(c)
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%s: %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

func TestLogLines(t *testing.T) {
	sel := map[string]string{"harness.io/color": "blue", "app": "web"}
	swap := &Swap{Primary: LiveService{Name: "web", Selector: map[string]string{"harness.io/color": "blue"}}, Stage: LiveService{Name: "web-stage"}, Target: release.Green}
	for _, tc := range []struct{ got, want string }{
		{PrimaryServiceIs("web"), "Primary Service is web"},
		{CreatedStageService("web-stage", "web"), "Created Stage service [web-stage] using Spec from Primary Service [web]"},
		{PrimaryServiceNotFound("web"), "Primary Service [web] not found in cluster."},
		{StageServiceNotFound("web-stage"), "Stage Service [web-stage] not found in cluster."},
		{PrimaryColorIs(release.Green), "Primary Service is at color: green"},
		{StageColorIs(release.Blue), "Stage Service is at color: blue"},
		{CleaningUp, "Cleaning up non primary releases"},
		{CurrentRelease(7), "Current release number is: 7"},
		{WorkloadToDeploy("Deployment", "web-blue"), "Workload to deploy is: Deployment/web-blue"},
		{SuffixingConfig(release.Blue), "Adding stage color [blue] as a suffix to Configmap and Secret names."},
		{FirstDeployNote("web", release.Green), "Primary Service [web] is new and selects harness.io/color: green, which has no pods: it serves nothing until the first swap."},
		{Selectors(1, "web", sel), "Selectors for Service One : [name:web]\napp: web\nharness.io/color: blue\n"},
		{UpdatedSelectors(2, "web-stage", sel), "Updated Selectors for Service Two : [name:web-stage]\napp: web\nharness.io/color: blue\n"},
		{SwappingSelectors, "Swapping Service Selectors.."},
		{SwapDone, "Done"},
		{NoStageToScaleDown, "No Stage environment found to scale down"},
		{SwapAlreadyDone(swap), "Primary Service [web] selects green and Stage Service [web-stage] blue already: nothing to swap."},
		{SwapInterrupted(swap), "Service [web] and Service [web-stage] both select harness.io/color: blue, as a swap stopped between its two writes leaves them; the primary is set to select green and the stage one blue, their other keys kept."},
	} {
		if tc.got != tc.want {
			t.Errorf("got  %q\nwant %q", tc.got, tc.want)
		}
	}
}
