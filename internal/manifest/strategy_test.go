package manifest

import (
	"errors"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

func TestOneWorkload(t *testing.T) {
	const (
		deploy      = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: %s}\n"
		directApply = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: %s, annotations: {harness.io/direct-apply: \"TRUE\"}}\n"
		dc          = "apiVersion: apps.openshift.io/v1\nkind: DeploymentConfig\nmetadata: {name: %s}\n"
		sts         = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: %s}\n"
		ds          = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: %s}\n"
		job         = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: %s}\n"
		foreign     = "apiVersion: example.com/v1\nkind: Deployment\nmetadata: {name: %s}\n"
	)
	doc := func(format, name string) string { return strings.Replace(format, "%s", name, 1) }
	docs := func(parts ...string) string { return strings.Join(parts, "---\n") }
	tests := []struct {
		name string
		in   string
		want string // the workload's kind/name, or the error
	}{
		{"one Deployment among others", docs(doc(deploy, "web"), doc(ds, "agent"), doc(job, "migrate")), "Deployment/web"},
		{"a Deployment wins over StatefulSets", docs(doc(sts, "db"), doc(sts, "cache"), doc(deploy, "web")), "Deployment/web"},
		{"a DeploymentConfig counts as a Deployment", docs(doc(dc, "web"), doc(sts, "db")), "DeploymentConfig/web"},
		{"only a StatefulSet", docs(doc(sts, "db"), doc(ds, "agent")), "StatefulSet/db"},
		{"direct-apply ones do not count", docs(doc(deploy, "web"), doc(directApply, "api"), doc(directApply, "worker")), "Deployment/web"},
		{"a StatefulSet when every Deployment is direct-apply", docs(doc(directApply, "api"), doc(sts, "db")), "StatefulSet/db"},
		{"none", docs(doc(ds, "agent"), doc(job, "migrate"), doc(foreign, "web"), doc(directApply, "api")),
			"Missing managed workload in kubernetes manifest; add a Deployment, DeploymentConfig (OpenShift) or StatefulSet to the manifests"},
		{"two Deployments", docs(doc(deploy, "web"), doc(dc, "api"), doc(sts, "db")),
			`More than one workloads found in the manifests: Deployment/web, DeploymentConfig/api; annotate all but one of them harness.io/direct-apply: "true" to have them applied as they are`},
		{"two StatefulSets", docs(doc(sts, "db"), doc(sts, "cache")),
			`More than one workloads found in the manifests: StatefulSet/db, StatefulSet/cache; annotate all but one of them harness.io/direct-apply: "true" to have them applied as they are`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := OneWorkload(parse(t, tt.in))
			var s string
			if err != nil {
				s = err.Error()
			} else {
				s = got.GetKind() + "/" + got.GetName()
			}
			if s != tt.want {
				t.Errorf("got %s\nwant %s", s, tt.want)
			}
		})
	}

	_, err := OneWorkload(nil)
	if h, ok := errors.AsType[*HintError](err); !ok || !errors.Is(err, ErrNoWorkload) || h.Found != "" {
		t.Errorf("no manifests: %#v, want a *HintError wrapping ErrNoWorkload", err)
	}
	_, err = OneWorkload(parse(t, docs(doc(deploy, "a"), doc(deploy, "b"))))
	if h, ok := errors.AsType[*HintError](err); !ok || !errors.Is(err, ErrManyWorkloads) || h.Found != "Deployment/a, Deployment/b" {
		t.Errorf("two: %#v, want a *HintError wrapping ErrManyWorkloads", err)
	}
}

func TestVariant(t *testing.T) {
	tests := []struct {
		name    string
		variant Variant
		in      string
		want    string
		renamed string // the kind/name of what Apply returns
	}{
		{
			name:    "blue/green: the workload, its HPA and PDB; others of the app stay",
			variant: ColorVariant("blue"),
			in: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: prod
  labels:
    app: web
spec:
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
        tier: front
    spec:
      containers:
      - name: web
        image: nginx
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
  minReplicas: 2
  maxReplicas: 5
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: web
  namespace: prod
spec:
  minAvailable: 1
  selector:
    matchLabels:
      tier: front
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: api
  namespace: prod
spec:
  selector:
    matchLabels:
      app: api
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web-other-namespace
  namespace: dev
spec:
  scaleTargetRef:
    kind: Deployment
    name: web
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web-statefulset
  namespace: prod
spec:
  scaleTargetRef:
    kind: StatefulSet
    name: web
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: everything
  namespace: prod
spec:
  selector: {}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: web-direct
  namespace: prod
  annotations:
    harness.io/direct-apply: "true"
spec:
  selector:
    matchLabels:
      app: web
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: prod
spec:
  selector:
    app: web
`,
			want: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-blue
  namespace: prod
  labels:
    app: web
spec:
  replicas: 3
  selector:
    matchLabels:
      app: web
      harness.io/color: blue
  template:
    metadata:
      labels:
        app: web
        tier: front
        harness.io/color: blue
    spec:
      containers:
      - name: web
        image: nginx
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web-blue
  namespace: prod
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: web-blue
  minReplicas: 2
  maxReplicas: 5
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: web-blue
  namespace: prod
spec:
  minAvailable: 1
  selector:
    matchLabels:
      tier: front
      harness.io/color: blue
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: api
  namespace: prod
spec:
  selector:
    matchLabels:
      app: api
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web-other-namespace
  namespace: dev
spec:
  scaleTargetRef:
    kind: Deployment
    name: web
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web-statefulset
  namespace: prod
spec:
  scaleTargetRef:
    kind: StatefulSet
    name: web
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: everything
  namespace: prod
spec:
  selector: {}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: web-direct
  namespace: prod
  annotations:
    harness.io/direct-apply: "true"
spec:
  selector:
    matchLabels:
      app: web
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: prod
spec:
  selector:
    app: web
`,
			renamed: "Deployment/web-blue HorizontalPodAutoscaler/web-blue PodDisruptionBudget/web-blue",
		},
		{
			name:    "canary of a StatefulSet: a PDB by matchExpressions, one with no matchLabels yet",
			variant: CanaryVariant(),
			in: `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: db-pdb
spec:
  selector:
    matchExpressions:
    - {key: app, operator: In, values: [db, cache]}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: cache-pdb
spec:
  selector:
    matchExpressions:
    - {key: app, operator: In, values: [cache]}
`,
			want: `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db-canary
spec:
  selector:
    matchLabels: {app: db, harness.io/track: canary}
  template:
    metadata:
      labels: {app: db, harness.io/track: canary}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: db-pdb-canary
spec:
  selector:
    matchExpressions:
    - {key: app, operator: In, values: [db, cache]}
    matchLabels:
      harness.io/track: canary
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: cache-pdb
spec:
  selector:
    matchExpressions:
    - {key: app, operator: In, values: [cache]}
`,
			renamed: "StatefulSet/db-canary PodDisruptionBudget/db-pdb-canary",
		},
		{
			name:    "DeploymentConfig: a plain selector map gets the label; a template without labels gets some",
			variant: ColorVariant("green"),
			in: `apiVersion: apps.openshift.io/v1
kind: DeploymentConfig
metadata:
  name: web
spec:
  selector:
    app: web
  template:
    spec:
      containers: []
`,
			want: `apiVersion: apps.openshift.io/v1
kind: DeploymentConfig
metadata:
  name: web-green
spec:
  selector:
    app: web
    harness.io/color: green
  template:
    spec:
      containers: []
    metadata:
      labels:
        harness.io/color: green
`,
			renamed: "DeploymentConfig/web-green",
		},
		{
			name:    "DeploymentConfig without a selector keeps the default, the template's labels",
			variant: ColorVariant("green"),
			in: `apiVersion: apps.openshift.io/v1
kind: DeploymentConfig
metadata:
  name: web
spec:
  template:
    metadata:
      labels:
        app: web
`,
			want: `apiVersion: apps.openshift.io/v1
kind: DeploymentConfig
metadata:
  name: web-green
spec:
  template:
    metadata:
      labels:
        app: web
        harness.io/color: green
`,
			renamed: "DeploymentConfig/web-green",
		},
		{
			name:    "a Deployment whose selector has only matchExpressions",
			variant: ColorVariant("blue"),
			in: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchExpressions:
    - {key: app, operator: Exists}
  template:
    metadata:
      labels:
        app: web
`,
			want: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-blue
spec:
  selector:
    matchExpressions:
    - {key: app, operator: Exists}
    matchLabels:
      harness.io/color: blue
  template:
    metadata:
      labels:
        app: web
        harness.io/color: blue
`,
			renamed: "Deployment/web-blue",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes := parse(t, tt.in)
			workload, err := OneWorkload(nodes)
			if err != nil {
				t.Fatal(err)
			}
			renamed, err := tt.variant.Apply(nodes, workload)
			if err != nil {
				t.Fatal(err)
			}
			if got := str(t, nodes); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			if got := refs(renamed); got != tt.renamed {
				t.Errorf("renamed %s, want %s", got, tt.renamed)
			}
			// Again, as a step that prepares twice would: nothing changes.
			again, err := tt.variant.Apply(nodes, workload)
			if err != nil {
				t.Fatal(err)
			}
			if got := str(t, nodes); got != tt.want {
				t.Errorf("applied twice\n%s\nwant\n%s", got, tt.want)
			}
			if got := refs(again); got != tt.renamed {
				t.Errorf("applied twice: renamed %s, want %s", got, tt.renamed)
			}
		})
	}
}

func refs(nodes []*yaml.RNode) string {
	s := make([]string, len(nodes))
	for i, n := range nodes {
		s[i] = n.GetKind() + "/" + n.GetName()
	}
	return strings.Join(s, " ")
}

// Problems are found before anything changes.
func TestVariantErrors(t *testing.T) {
	long := strings.Repeat("a", 250)
	tests := []struct {
		name    string
		variant Variant
		in      string
		want    string
	}{
		{"no suffix", Variant{Label: ColorLabel, Value: "blue"},
			"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {selector: {}, template: {}}\n",
			`variant {Suffix: Label:harness.io/color Value:blue}: suffix, label and value are all required`},
		{"no selector", ColorVariant("blue"),
			"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {template: {}}\n",
			`in.yaml (document 1): Deployment apps/v1 "web": spec.selector is missing`},
		{"no template", ColorVariant("blue"),
			"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {selector: {}}\n",
			`in.yaml (document 1): Deployment apps/v1 "web": spec.template is missing`},
		{"not a workload", ColorVariant("blue"),
			"apiVersion: batch/v1\nkind: Job\nmetadata: {name: web}\nspec: {template: {}}\n",
			`in.yaml (document 1): Job batch/v1 "web": not a Deployment, StatefulSet, DaemonSet or DeploymentConfig`},
		{"names too long", ColorVariant("green"),
			"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: " + long + "}\nspec: {selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}}}\n---\n" +
				"apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: p" + long + "}\nspec: {selector: {matchLabels: {app: web}}}\n",
			`in.yaml (document 1): Deployment apps/v1 "` + long + `": name ` + long + `-green is longer than 253 characters` + "\n" +
				`in.yaml (document 2): PodDisruptionBudget policy/v1 "p` + long + `": name p` + long + `-green is longer than 253 characters`},
		{"a PDB selector that is not one", ColorVariant("green"),
			"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}}}\n---\n" +
				"apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: p}\nspec: {selector: {matchExpressions: [{key: app, operator: Near}]}}\n",
			`in.yaml (document 2): PodDisruptionBudget policy/v1 "p": spec.selector: "Near" is not a valid label selector operator`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes := parse(t, tt.in)
			before := str(t, nodes)
			_, err := tt.variant.Apply(nodes, nodes[0])
			if err == nil || err.Error() != tt.want {
				t.Errorf("error\n%v\nwant\n%s", err, tt.want)
			}
			if after := str(t, nodes); after != before {
				t.Errorf("the manifests changed:\n%s", after)
			}
		})
	}
}
