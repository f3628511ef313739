package manifest

import (
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/kio"
)

// Every pod spec gets the secrets, once each, after those it lists; an
// object without a pod spec is left alone.
func TestPullSecretsFilter(t *testing.T) {
	nodes, err := kio.FromBytes([]byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      imagePullSecrets: [{name: own}, {name: registry}]
      containers: [{name: web, image: web:1}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{name: job, image: job:1}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: b}
`))
	if err != nil {
		t.Fatal(err)
	}
	out, err := PullSecretsFilter{Names: []string{"registry", "mirror"}}.Filter(nodes)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{
		"imagePullSecrets: [{name: own}, {name: registry}, {name: mirror}]",
		"imagePullSecrets:\n          - name: registry\n          - name: mirror",
	} {
		if got := out[i].MustString(); !strings.Contains(got, want) {
			t.Errorf("%s:\n%s\nwant it to hold\n%s", out[i].GetName(), got, want)
		}
	}
	if strings.Contains(out[2].MustString(), "imagePullSecrets") {
		t.Errorf("the ConfigMap got pull secrets:\n%s", out[2].MustString())
	}
}
