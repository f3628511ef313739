package manifest

import (
	"testing"
)

func TestIsManagedWorkload(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\n", true},
		{"apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: a}\n", true},
		{"apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: a}\n", true},
		{"apiVersion: apps.openshift.io/v1\nkind: DeploymentConfig\nmetadata: {name: a}\n", true},
		{"apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: a}\n", false},
		{"apiVersion: batch/v1\nkind: Job\nmetadata: {name: a}\n", false},
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n", false},
		{"apiVersion: example.com/v1\nkind: Deployment\nmetadata: {name: a}\n", false},
		{"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\n  annotations:\n    harness.io/direct-apply: \"true\"\n", false},
		{"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\n  annotations:\n    harness.io/direct-apply: \"TRUE\"\n", false},
		{"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\n  annotations:\n    harness.io/direct-apply: \"false\"\n", true},
	}
	for _, tt := range tests {
		if got := IsManagedWorkload(parse(t, tt.in)[0]); got != tt.want {
			t.Errorf("IsManagedWorkload(%s) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestRoleOf(t *testing.T) {
	for in, want := range map[string]Role{
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\n":                                             Managed,
		"apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: a}\n":                                            Managed,
		"apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: a}\n":                                              Managed,
		"apiVersion: apps.openshift.io/v1\nkind: DeploymentConfig\nmetadata: {name: a}\n":                          LabelledOnly,
		"apiVersion: batch/v1\nkind: Job\nmetadata: {name: a}\n":                                                   WaitedJob,
		"apiVersion: batch/v1\nkind: Job\nmetadata: {name: a, annotations: {harness.io/direct-apply: \"True\"}}\n": DirectApply,
		"apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: a}\n":                                               NotAWorkload,
		"apiVersion: example.com/v1\nkind: Job\nmetadata: {name: a}\n":                                             NotAWorkload,
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n":                                                   NotAWorkload,
	} {
		if got := RoleOf(parse(t, in)[0]); got != want {
			t.Errorf("RoleOf(%s) = %v, want %v", in, got, want)
		}
	}
}

func TestPodTemplatePath(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\n", "spec.template", true},
		{"apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: a}\n", "spec.template", true},
		{"apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: a}\n", "spec.template", true},
		{"apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: a}\n", "spec.template", true},
		{"apiVersion: batch/v1\nkind: Job\nmetadata: {name: a}\n", "spec.template", true},
		{"apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: a}\n", "spec.jobTemplate.spec.template", true},
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n", "", true},
		{"apiVersion: v1\nkind: Service\nmetadata: {name: a}\n", "", false},
	}
	for _, tt := range tests {
		path, ok := PodTemplatePath(parse(t, tt.in)[0])
		got := ""
		for i, p := range path {
			if i > 0 {
				got += "."
			}
			got += p
		}
		if got != tt.want || ok != tt.ok {
			t.Errorf("PodTemplatePath(%s) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestReleaseLabelFilter(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{
			name: "managed workloads: template labelled, selector untouched",
			in: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
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
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  template:
    spec:
      containers:
      - name: db
        image: postgres
`,
			want: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
        harness.io/release-name: web-prod
    spec:
      containers:
      - name: web
        image: nginx
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  template:
    spec:
      containers:
      - name: db
        image: postgres
    metadata:
      labels:
        harness.io/release-name: web-prod
`,
		},
		{
			name: "direct-apply workloads, jobs and pods are not managed",
			in: `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
  annotations:
    harness.io/direct-apply: "True"
spec:
  template:
    metadata:
      labels:
        app: agent
---
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
spec:
  template:
    metadata:
      labels:
        app: migrate
---
apiVersion: v1
kind: Pod
metadata:
  name: debug
`,
			want: `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
  annotations:
    harness.io/direct-apply: "True"
spec:
  template:
    metadata:
      labels:
        app: agent
---
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
spec:
  template:
    metadata:
      labels:
        app: migrate
---
apiVersion: v1
kind: Pod
metadata:
  name: debug
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReleaseLabelFilter{Release: "web-prod"}.Filter(parse(t, tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if s := str(t, got); s != tt.want {
				t.Errorf("got\n%s\nwant\n%s", s, tt.want)
			}
		})
	}
}

func TestReleaseLabelFilterErrors(t *testing.T) {
	nodes := parse(t, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec: {}\n")
	_, err := ReleaseLabelFilter{Release: "web"}.Filter(nodes)
	if want := `in.yaml (document 1): Deployment apps/v1 "web": set label harness.io/release-name: no pod template`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
	_, err = ReleaseLabelFilter{}.Filter(nodes)
	if want := "release label filter: no release name"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}
