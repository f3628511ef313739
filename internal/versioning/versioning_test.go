package versioning

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kube-release/kube-release/internal/manifest"
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

// record lists what the release record and the log table get.
func record(nodes []*yaml.RNode) string {
	var b strings.Builder
	for _, n := range nodes {
		fmt.Fprintf(&b, "%s %s/%s %v\n", n.GetKind(), n.GetNamespace(), n.GetName(), Versioned(n))
	}
	return b.String()
}

func TestFilter(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		want       string
		wantRecord string
	}{
		{
			name: "every reference in containers and initContainers; references out of the set unchanged",
			in: `apiVersion: v1
kind: ConfigMap
metadata:
  name: config
  namespace: prod
data:
  key: value
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
  namespace: prod
stringData:
  password: hunter2
---
apiVersion: v1
kind: Secret
metadata:
  name: registry
  namespace: prod
type: kubernetes.io/dockerconfigjson
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: prod
spec:
  template:
    spec:
      imagePullSecrets:
      - name: registry
      - name: external-registry
      initContainers:
      - name: init
        image: busybox
        env:
        - name: A
          valueFrom:
            configMapKeyRef:
              name: config
              key: key
        - name: B
          valueFrom:
            secretKeyRef:
              name: creds
              key: password
        - name: C
          value: config
        - name: D
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        envFrom:
        - configMapRef:
            name: config
        - secretRef:
            name: creds
      containers:
      - name: web
        image: nginx
        env:
        - name: A
          valueFrom:
            configMapKeyRef:
              name: config
              key: key
        - name: B
          valueFrom:
            secretKeyRef:
              name: creds
              key: password
        - name: E
          valueFrom:
            configMapKeyRef:
              name: external-config
              key: key
        envFrom:
        - configMapRef:
            name: config
        - secretRef:
            name: creds
        - secretRef:
            name: external-secret
      volumes:
      - name: config
        configMap:
          name: config
      - name: creds
        secret:
          secretName: creds
      - name: external
        secret:
          secretName: external-secret
      - name: all
        projected:
          sources:
          - configMap:
              name: config
          - secret:
              name: creds
          - configMap:
              name: external-config
          - serviceAccountToken:
              path: token
`,
			want: `apiVersion: v1
kind: ConfigMap
metadata:
  name: config-7
  namespace: prod
data:
  key: value
---
apiVersion: v1
kind: Secret
metadata:
  name: creds-7
  namespace: prod
stringData:
  password: hunter2
---
apiVersion: v1
kind: Secret
metadata:
  name: registry-7
  namespace: prod
type: kubernetes.io/dockerconfigjson
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: prod
spec:
  template:
    spec:
      imagePullSecrets:
      - name: registry-7
      - name: external-registry
      initContainers:
      - name: init
        image: busybox
        env:
        - name: A
          valueFrom:
            configMapKeyRef:
              name: config-7
              key: key
        - name: B
          valueFrom:
            secretKeyRef:
              name: creds-7
              key: password
        - name: C
          value: config
        - name: D
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        envFrom:
        - configMapRef:
            name: config-7
        - secretRef:
            name: creds-7
      containers:
      - name: web
        image: nginx
        env:
        - name: A
          valueFrom:
            configMapKeyRef:
              name: config-7
              key: key
        - name: B
          valueFrom:
            secretKeyRef:
              name: creds-7
              key: password
        - name: E
          valueFrom:
            configMapKeyRef:
              name: external-config
              key: key
        envFrom:
        - configMapRef:
            name: config-7
        - secretRef:
            name: creds-7
        - secretRef:
            name: external-secret
      volumes:
      - name: config
        configMap:
          name: config-7
      - name: creds
        secret:
          secretName: creds-7
      - name: external
        secret:
          secretName: external-secret
      - name: all
        projected:
          sources:
          - configMap:
              name: config-7
          - secret:
              name: creds-7
          - configMap:
              name: external-config
          - serviceAccountToken:
              path: token
`,
			wantRecord: `ConfigMap prod/config-7 true
Secret prod/creds-7 true
Secret prod/registry-7 true
Deployment prod/web false
`,
		},
		{
			name: "a ConfigMap and a Secret of one name are told apart by reference kind",
			in: `apiVersion: v1
kind: ConfigMap
metadata:
  name: app
---
apiVersion: v1
kind: Secret
metadata:
  name: app
  annotations:
    harness.io/skip-versioning: "true"
---
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
  - name: c
    envFrom:
    - configMapRef:
        name: app
    - secretRef:
        name: app
`,
			want: `apiVersion: v1
kind: ConfigMap
metadata:
  name: app-7
---
apiVersion: v1
kind: Secret
metadata:
  name: app
  annotations:
    harness.io/skip-versioning: "true"
---
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
  - name: c
    envFrom:
    - configMapRef:
        name: app-7
    - secretRef:
        name: app
`,
			wantRecord: `ConfigMap /app-7 true
Secret /app false
Pod /p false
`,
		},
		{
			name: "skip-versioning in any case: neither renamed nor referenced by a new name",
			in: `apiVersion: v1
kind: ConfigMap
metadata:
  name: upper
  annotations:
    harness.io/skip-versioning: "TRUE"
---
apiVersion: v1
kind: Secret
metadata:
  name: mixed
  annotations:
    harness.io/skip-versioning: "True"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: not-skipped
  annotations:
    harness.io/skip-versioning: "false"
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
        envFrom:
        - configMapRef:
            name: upper
        - secretRef:
            name: mixed
        - configMapRef:
            name: not-skipped
`,
			want: `apiVersion: v1
kind: ConfigMap
metadata:
  name: upper
  annotations:
    harness.io/skip-versioning: "TRUE"
---
apiVersion: v1
kind: Secret
metadata:
  name: mixed
  annotations:
    harness.io/skip-versioning: "True"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: not-skipped-7
  annotations:
    harness.io/skip-versioning: "false"
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
        envFrom:
        - configMapRef:
            name: upper
        - secretRef:
            name: mixed
        - configMapRef:
            name: not-skipped-7
`,
			wantRecord: `ConfigMap /upper false
Secret /mixed false
ConfigMap /not-skipped-7 true
StatefulSet /db false
`,
		},
		{
			name: "CronJob, Job, DaemonSet and Pod; other kinds are not rewritten",
			in: `apiVersion: v1
kind: ConfigMap
metadata:
  name: config
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: report
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: report
            envFrom:
            - configMapRef:
                name: config
---
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
spec:
  template:
    spec:
      volumes:
      - name: config
        configMap:
          name: config
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  template:
    spec:
      volumes:
      - name: config
        configMap:
          name: config
---
apiVersion: v1
kind: Pod
metadata:
  name: debug
spec:
  initContainers:
  - name: init
    envFrom:
    - configMapRef:
        name: config
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: rs
spec:
  template:
    spec:
      volumes:
      - name: config
        configMap:
          name: config
`,
			want: `apiVersion: v1
kind: ConfigMap
metadata:
  name: config-7
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: report
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: report
            envFrom:
            - configMapRef:
                name: config-7
---
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
spec:
  template:
    spec:
      volumes:
      - name: config
        configMap:
          name: config-7
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  template:
    spec:
      volumes:
      - name: config
        configMap:
          name: config-7
---
apiVersion: v1
kind: Pod
metadata:
  name: debug
spec:
  initContainers:
  - name: init
    envFrom:
    - configMapRef:
        name: config-7
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: rs
spec:
  template:
    spec:
      volumes:
      - name: config
        configMap:
          name: config
`,
			wantRecord: `ConfigMap /config-7 true
CronJob /report false
Job /migrate false
DaemonSet /agent false
Pod /debug false
ReplicaSet /rs false
`,
		},
		{
			name: "references only within the same namespace",
			in: `apiVersion: v1
kind: ConfigMap
metadata:
  name: config
  namespace: a
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
  namespace: b
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: a
spec:
  template:
    spec:
      containers:
      - name: web
        envFrom:
        - configMapRef:
            name: config
        - secretRef:
            name: creds
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: b
spec:
  template:
    spec:
      containers:
      - name: web
        envFrom:
        - configMapRef:
            name: config
        - secretRef:
            name: creds
`,
			want: `apiVersion: v1
kind: ConfigMap
metadata:
  name: config-7
  namespace: a
---
apiVersion: v1
kind: Secret
metadata:
  name: creds-7
  namespace: b
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: a
spec:
  template:
    spec:
      containers:
      - name: web
        envFrom:
        - configMapRef:
            name: config-7
        - secretRef:
            name: creds
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: b
spec:
  template:
    spec:
      containers:
      - name: web
        envFrom:
        - configMapRef:
            name: config
        - secretRef:
            name: creds-7
`,
			wantRecord: `ConfigMap a/config-7 true
Secret b/creds-7 true
Deployment a/web false
Deployment b/web false
`,
		},
		{
			name: "a name that is another's versioned name is versioned too",
			in: `apiVersion: v1
kind: ConfigMap
metadata:
  name: a
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: a-7
---
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  volumes:
  - name: a
    configMap:
      name: a
  - name: a7
    configMap:
      name: a-7
`,
			want: `apiVersion: v1
kind: ConfigMap
metadata:
  name: a-7
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: a-7-7
---
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  volumes:
  - name: a
    configMap:
      name: a-7
  - name: a7
    configMap:
      name: a-7-7
`,
			wantRecord: `ConfigMap /a-7 true
ConfigMap /a-7-7 true
Pod /p false
`,
		},
		{
			name: "a numeric name stays a string",
			in: `apiVersion: v1
kind: ConfigMap
metadata:
  name: "2024"
---
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  volumes:
  - name: v
    configMap:
      name: "2024"
`,
			want: `apiVersion: v1
kind: ConfigMap
metadata:
  name: "2024-7"
---
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  volumes:
  - name: v
    configMap:
      name: "2024-7"
`,
			wantRecord: `ConfigMap /2024-7 true
Pod /p false
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes, err := Filter{Release: 7}.Filter(load(t, tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if got := record(nodes); got != tt.wantRecord {
				t.Errorf("record\n%s\nwant\n%s", got, tt.wantRecord)
			}
			got, err := manifest.String(nodes)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}

			// A second run must not version twice.
			again, err := Filter{Release: 7}.Filter(nodes)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := manifest.String(again); got != tt.want {
				t.Errorf("second run changed the result:\n%s", got)
			}
		})
	}
}

func TestFilterNoOp(t *testing.T) {
	in := `apiVersion: v1
kind: ConfigMap
metadata:
  name: config
---
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  volumes:
  - name: v
    configMap:
      name: config
`
	nodes, err := Filter{}.Filter(load(t, in))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := manifest.String(nodes); got != in {
		t.Errorf("zero Filter changed the manifests:\n%s", got)
	}
	if Versioned(nodes[0]) {
		t.Errorf("zero Filter marked %s versioned", manifest.ID(nodes[0]))
	}
}

func TestFilterErrors(t *testing.T) {
	long := strings.Repeat("a", 252)
	tests := []struct {
		name    string
		release int
		in      string
		want    string
	}{
		{
			name:    "negative release",
			release: -1,
			in:      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
			want:    "versioning: invalid release number -1",
		},
		{
			name:    "names too long, every one reported",
			release: 10,
			in: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + long + "\n---\n" +
				"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + long[:250] + "\n---\n" +
				"apiVersion: v1\nkind: Secret\nmetadata:\n  name: " + long[:251] + "\n",
			want: `in.yaml (document 1): ConfigMap v1 "` + long + `": versioned name ` + long + `-10 is longer than 253 characters
in.yaml (document 3): Secret v1 "` + long[:251] + `": versioned name ` + long[:251] + `-10 is longer than 253 characters`,
		},
		{
			name:    "versioned name taken by an unversioned object",
			release: 3,
			in: `apiVersion: v1
kind: ConfigMap
metadata:
  name: app-3
  annotations:
    harness.io/skip-versioning: "true"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: app
`,
			want: `in.yaml (document 2): ConfigMap v1 "app": versioned name app-3 is taken by in.yaml (document 1): ConfigMap v1 "app-3"`,
		},
		{
			name:    "versioned name taken, in the other order",
			release: 3,
			in: `apiVersion: v1
kind: Secret
metadata:
  name: app
---
apiVersion: v1
kind: Secret
metadata:
  name: app-3
  annotations:
    harness.io/skip-versioning: "true"
`,
			want: `in.yaml (document 1): Secret v1 "app": versioned name app-3 is taken by in.yaml (document 2): Secret v1 "app-3"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes := load(t, tt.in)
			before, _ := manifest.String(nodes)
			_, err := Filter{Release: tt.release}.Filter(nodes)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error\n%v\nwant\n%s", err, tt.want)
			}
			if after, _ := manifest.String(nodes); after != before {
				t.Errorf("failed filter changed the manifests:\n%s", after)
			}
		})
	}
}

func TestName(t *testing.T) {
	if got := Name("web-config", 45); got != "web-config-45" {
		t.Errorf("Name = %q", got)
	}
}

// Declarative blue/green and canary deploys keep their config apart by a
// suffix instead of the release number: the same references are
// rewritten, skip-versioning is honoured, and nothing is marked versioned.
func TestFilterSuffix(t *testing.T) {
	in := `apiVersion: v1
kind: ConfigMap
metadata:
  name: config
  namespace: prod
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
  namespace: prod
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: shared
  namespace: prod
  annotations:
    harness.io/skip-versioning: "True"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: prod
spec:
  template:
    spec:
      containers:
      - name: web
        envFrom:
        - configMapRef:
            name: config
        - configMapRef:
            name: shared
        env:
        - name: PASSWORD
          valueFrom:
            secretKeyRef:
              name: creds
              key: password
      volumes:
      - name: v
        configMap:
          name: config
`
	want := `apiVersion: v1
kind: ConfigMap
metadata:
  name: config-blue
  namespace: prod
---
apiVersion: v1
kind: Secret
metadata:
  name: creds-blue
  namespace: prod
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: shared
  namespace: prod
  annotations:
    harness.io/skip-versioning: "True"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: prod
spec:
  template:
    spec:
      containers:
      - name: web
        envFrom:
        - configMapRef:
            name: config-blue
        - configMapRef:
            name: shared
        env:
        - name: PASSWORD
          valueFrom:
            secretKeyRef:
              name: creds-blue
              key: password
      volumes:
      - name: v
        configMap:
          name: config-blue
`
	wantRecord := "ConfigMap prod/config-blue false blue\nSecret prod/creds-blue false blue\nConfigMap prod/shared false \nDeployment prod/web false \n"
	nodes := load(t, in)
	for range 2 { // the second run changes nothing
		got, err := Filter{Suffix: "blue"}.Filter(nodes)
		if err != nil {
			t.Fatal(err)
		}
		if s, _ := manifest.String(got); s != want {
			t.Errorf("got\n%s\nwant\n%s", s, want)
		}
		var b strings.Builder
		for _, n := range got {
			fmt.Fprintf(&b, "%s %s/%s %v %s\n", n.GetKind(), n.GetNamespace(), n.GetName(), Versioned(n), Suffixed(n))
		}
		if b.String() != wantRecord {
			t.Errorf("record\n%s\nwant\n%s", b.String(), wantRecord)
		}
	}
	// Nor does a later versioning by number: the object was renamed once.
	if _, err := (Filter{Release: 4}).Filter(nodes); err != nil {
		t.Fatal(err)
	}
	if s, _ := manifest.String(nodes); s != want {
		t.Errorf("versioned after the suffix\n%s", s)
	}
}

func TestFilterSuffixErrors(t *testing.T) {
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + strings.Repeat("a", 249) + "\n"
	for _, tc := range []struct {
		filter Filter
		want   string
	}{
		{Filter{Release: 3, Suffix: "blue"}, `versioning: release number 3 and suffix "blue": only one of them`},
		{Filter{Suffix: "Blue"}, `versioning: invalid suffix "Blue": lower-case letters, digits and '-' only, not first or last`},
		{Filter{Suffix: "-x"}, `versioning: invalid suffix "-x": lower-case letters, digits and '-' only, not first or last`},
		{Filter{Suffix: "green"}, `in.yaml (document 1): ConfigMap v1 "` + strings.Repeat("a", 249) + `": versioned name ` + strings.Repeat("a", 249) + `-green is longer than 253 characters`},
	} {
		nodes := load(t, cm)
		_, err := tc.filter.Filter(nodes)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%+v: error\n%v\nwant\n%s", tc.filter, err, tc.want)
		}
	}
}
