package manifest

import (
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/kio"
)

func TestOwnerFilter(t *testing.T) {
	in := `apiVersion: v1
kind: ConfigMap
metadata:
  name: config
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    team: payments
`
	nodes, err := kio.FromBytes([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	nodes, err = OwnerFilter{Release: "web", Namespace: "prod"}.Filter(nodes)
	if err != nil {
		t.Fatal(err)
	}
	out, err := kio.StringAll(nodes)
	if err != nil {
		t.Fatal(err)
	}
	want := `apiVersion: v1
kind: ConfigMap
metadata:
  name: config
  annotations:
    kube-release.io/release-name: web
    kube-release.io/release-namespace: prod
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    team: payments
    kube-release.io/release-name: web
    kube-release.io/release-namespace: prod
`
	if strings.TrimSpace(out) != strings.TrimSpace(want) {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	if _, err := (OwnerFilter{}).Filter(nodes); err == nil {
		t.Error("no release: no error")
	}
}
