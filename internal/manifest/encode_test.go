package manifest

import (
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

func TestMasked(t *testing.T) {
	in := `apiVersion: v1
kind: Secret
metadata:
  name: creds
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"data":{"password":"aHVudGVyMg=="}}'
type: Opaque
data:
  password: aHVudGVyMg==
  token: dG9rZW4=
stringData:
  extra: plain text
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: config
data:
  password: not a secret
`
	want := `apiVersion: v1
kind: Secret
metadata:
  name: creds
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '***'
type: Opaque
data:
  password: '***'
  token: '***'
stringData:
  extra: '***'
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: config
data:
  password: not a secret
`
	nodes := parse(t, in)
	original := str(t, nodes)
	var masked []*yaml.RNode
	for _, n := range nodes {
		masked = append(masked, Masked(n))
	}
	if got := str(t, masked); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := str(t, nodes); got != original {
		t.Errorf("Masked changed its input:\n%s", got)
	}
	if Source(masked[0]) != "in.yaml (document 1)" {
		t.Errorf("Masked copy lost its source: %q", Source(masked[0]))
	}
}

// A Secret whose data or stringData is not a mapping is rejected by the
// API server, but logged first: the whole field is its value.
func TestMaskedFieldsOfAnyShape(t *testing.T) {
	for _, shape := range []string{
		"data: hunter2-value",
		"data: [hunter2-value, hunter2-other]",
		"data: 987654321",
		"data:\n  k:\n    nested: hunter2-value",
		"stringData: |\n  hunter2-value",
		"stringData:\n- hunter2-value",
		"stringData:\n  k: [hunter2-value]",
	} {
		nodes := parse(t, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n"+shape+"\n")
		got := str(t, []*yaml.RNode{Masked(nodes[0])})
		for _, secret := range []string{"hunter2", "987654321"} {
			if strings.Contains(got, secret) {
				t.Errorf("%q: masked copy shows %q:\n%s", shape, secret, got)
			}
		}
		if !strings.Contains(got, "'***'") {
			t.Errorf("%q: nothing masked:\n%s", shape, got)
		}
	}
}

func TestForApply(t *testing.T) {
	nodes, err := Load([]string{"testdata/load/app"})
	if err != nil {
		t.Fatal(err)
	}
	nodes = append(nodes, parse(t, `apiVersion: v1
kind: ConfigMap
metadata:
  name: annotated
  annotations:
    keep: me
    internal.kube-release.io/versioned: "true"
    config.kubernetes.io/index: "0"
`)...)
	clean, err := ForApply(nodes)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range clean {
		for key := range n.GetAnnotations() {
			if strings.HasPrefix(key, "internal.") || strings.HasPrefix(key, "config.kubernetes.io/") {
				t.Errorf("%s: annotation %s left", ID(n), key)
			}
		}
		if Source(nodes[i]) == "" {
			t.Errorf("%s: ForApply cleared its input", ID(nodes[i]))
		}
	}
	if got := clean[len(clean)-1].GetAnnotations(); len(got) != 1 || got["keep"] != "me" {
		t.Errorf("user annotations: got %v, want keep: me", got)
	}
	if got, want := clean[0].MustString(), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  enabled: \"true\"\n  port: \"8080\"\n  motd: |\n    line 1\n    line 2\n"; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestStringSingleJSONObject(t *testing.T) {
	// kio.ByteWriter prints one object read from a .json file as JSON; the
	// printed manifests must stay YAML.
	nodes, err := Load([]string{"testdata/load/app/config.json"})
	if err != nil {
		t.Fatal(err)
	}
	if got := str(t, nodes); !strings.HasPrefix(got, "apiVersion: v1\nkind: ConfigMap\n") {
		t.Errorf("got\n%s", got)
	}
}

func TestReleaseLabelQuotesNumbers(t *testing.T) {
	nodes := parse(t, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template: {}\n")
	nodes, err := ReleaseLabelFilter{Release: "2024"}.Filter(nodes)
	if err != nil {
		t.Fatal(err)
	}
	want := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template: {metadata: {labels: {harness.io/release-name: \"2024\"}}}\n"
	if got := str(t, nodes); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
