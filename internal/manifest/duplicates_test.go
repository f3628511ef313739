package manifest

import (
	"testing"
)

func TestCheckDuplicates(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{
			name: "same name, other kind, namespace or group are distinct",
			in: `apiVersion: v1
kind: ConfigMap
metadata: {name: web, namespace: prod}
---
apiVersion: v1
kind: Secret
metadata: {name: web, namespace: prod}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web, namespace: dev}
---
apiVersion: example.com/v1
kind: ConfigMap
metadata: {name: web, namespace: prod}
`,
		},
		{
			name: "same group across versions, every duplicate named",
			in: `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: prod}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a, namespace: prod}
---
apiVersion: apps/v1beta2
kind: Deployment
metadata: {name: web, namespace: prod}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a, namespace: prod}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: prod}
`,
			want: `Deployment apps/v1 "prod/web": defined more than once: in.yaml (document 1), in.yaml (document 3), in.yaml (document 5)
ConfigMap v1 "prod/a": defined more than once: in.yaml (document 2), in.yaml (document 4)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckDuplicates(parse(t, tt.in))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("error\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestCheckDuplicatesAcrossFiles(t *testing.T) {
	nodes, err := Load([]string{"testdata/load/app/service.yml"})
	if err != nil {
		t.Fatal(err)
	}
	nodes = append(nodes, parse(t, "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: web\n")...)
	want := `ServiceAccount v1 "web": defined more than once: testdata/load/app/service.yml (document 1), in.yaml (document 1)`
	if err := CheckDuplicates(nodes); err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}
