package manifest

import (
	"strings"
	"testing"
)

const imagesIn = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      initContainers:
      - name: init
        image: busybox:1.36
      containers:
      - name: web
        image: nginx:1.25
      - name: sidecar
        image: docker.io/library/nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
      - name: app
        image: registry.local:5000/team/app:1
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: report
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: report
            image: team/report
---
apiVersion: v1
kind: Pod
metadata:
  name: debug
spec:
  containers:
  - name: debug
    image: busybox:1.36
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: not-a-workload
data:
  image: nginx:1.25
`

func TestImageFilter(t *testing.T) {
	tests := []struct {
		name      string
		overrides []string
		want      []string // Images after the filter
		unmatched []string
	}{
		{
			name:      "no overrides",
			overrides: nil,
			want:      []string{"nginx:1.25", "docker.io/library/nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "registry.local:5000/team/app:1", "busybox:1.36", "team/report"},
		},
		{
			name:      "bare image matches its repository in every spelling, tag or digest",
			overrides: []string{"nginx:1.27"},
			want:      []string{"nginx:1.27", "registry.local:5000/team/app:1", "busybox:1.36", "team/report"},
		},
		{
			name:      "by name, digest",
			overrides: []string{"docker.io/library/nginx=nginx@sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"},
			want:      []string{"nginx@sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210", "registry.local:5000/team/app:1", "busybox:1.36", "team/report"},
		},
		{
			name:      "registry with a port, in init containers, CronJobs and Pods",
			overrides: []string{"registry.local:5000/team/app:2", "busybox=registry.local:5000/mirror/busybox:1.37", "docker.io/team/report=team/report:v2"},
			want:      []string{"nginx:1.25", "docker.io/library/nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "registry.local:5000/team/app:2", "registry.local:5000/mirror/busybox:1.37", "team/report:v2"},
		},
		{
			name:      "a new repository without tag keeps the container's tag and digest",
			overrides: []string{"nginx=mirror.local/nginx"},
			want:      []string{"mirror.local/nginx:1.25", "mirror.local/nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "registry.local:5000/team/app:1", "busybox:1.36", "team/report"},
		},
		{
			name:      "no match: other registry, other repository",
			overrides: []string{"registry.other:5000/team/app:2", "team/app:2", "ngin:1"},
			want:      []string{"nginx:1.25", "docker.io/library/nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "registry.local:5000/team/app:1", "busybox:1.36", "team/report"},
			unmatched: []string{"registry.other:5000/team/app", "team/app", "ngin"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			overrides, err := ParseImageOverrides(tt.overrides)
			if err != nil {
				t.Fatal(err)
			}
			f := ImageFilter{Overrides: overrides}
			nodes := parse(t, imagesIn)
			unmatched, err := f.Unmatched(nodes)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(unmatched, " ") != strings.Join(tt.unmatched, " ") {
				t.Errorf("unmatched %v, want %v", unmatched, tt.unmatched)
			}
			nodes, err = f.Filter(nodes)
			if err != nil {
				t.Fatal(err)
			}
			if got := Images(nodes); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("images\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestImageFilterYAML(t *testing.T) {
	in := `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  template:
    spec:
      initContainers:
      - name: init
        image: "postgres:15" # pinned
      containers:
      - name: db
        image: postgres:15
      - name: exporter
        image: exporter:1
`
	want := `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  template:
    spec:
      initContainers:
      - name: init
        image: "postgres:16" # pinned
      containers:
      - name: db
        image: postgres:16
      - name: exporter
        image: exporter:1
`
	overrides, err := ParseImageOverrides([]string{"postgres:16"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := ImageFilter{Overrides: overrides}.Filter(parse(t, in))
	if err != nil {
		t.Fatal(err)
	}
	if s := str(t, got); s != want {
		t.Errorf("got\n%s\nwant\n%s", s, want)
	}
}

func TestParseImageOverrides(t *testing.T) {
	got, err := ParseImageOverrides([]string{"nginx:1.27", "app=registry.local:5000/app@sha256:0123456789abcdef0123456789abcdef", "registry.local:5000/x=y"})
	if err != nil {
		t.Fatal(err)
	}
	want := []ImageOverride{
		{Name: "nginx", Image: "nginx:1.27"},
		{Name: "app", Image: "registry.local:5000/app@sha256:0123456789abcdef0123456789abcdef"},
		{Name: "registry.local:5000/x", Image: "y"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("override %d: got %v, want %v", i, got[i], want[i])
		}
	}

	_, err = ParseImageOverrides([]string{
		"nginx",
		"",
		"nginx:1.2:3",
		"Nginx:1",
		"app=",
		"app:1=app:2",
		"app=app:",
		"app=app@sha256:short",
		"registry.local:5000/app:1",
		"registry.local:5000/app=other:2",
		"library/nginx:2",
		"docker.io/library/nginx=nginx:1",
	})
	wantErr := `image override "nginx": no tag or digest to set (write name=image to change the repository)
image override "": empty image reference
image override "nginx:1.2:3": invalid image reference "nginx:1.2:3": bad repository "nginx:1.2"
image override "Nginx:1": invalid image reference "Nginx:1": bad repository "Nginx"
image override app=: empty image reference
image override app:1=app:2: name "app:1" has a tag or digest; name a repository
image override app=app:: invalid image reference "app:": empty tag
image override app=app@sha256:short: invalid image reference "app@sha256:short": bad digest "sha256:short"
image overrides registry.local:5000/app=registry.local:5000/app:1 and registry.local:5000/app=other:2: same repository
image overrides library/nginx=library/nginx:2 and docker.io/library/nginx=nginx:1: same repository`
	if err == nil || err.Error() != wantErr {
		t.Errorf("error\n%v\nwant\n%s", err, wantErr)
	}
}

func TestNormalizeRepository(t *testing.T) {
	tests := map[string]string{
		"nginx":                         "docker.io/library/nginx",
		"library/nginx":                 "docker.io/library/nginx",
		"docker.io/nginx":               "docker.io/library/nginx",
		"index.docker.io/library/nginx": "docker.io/library/nginx",
		"user/app":                      "docker.io/user/app",
		"registry.local:5000/app":       "registry.local:5000/app",
		"localhost/app":                 "localhost/app",
		"localhost:5000/app":            "localhost:5000/app",
		"ghcr.io/org/app":               "ghcr.io/org/app",
	}
	for in, want := range tests {
		if got := normalizeRepository(in); got != want {
			t.Errorf("normalizeRepository(%q) = %q, want %q", in, got, want)
		}
	}
}
