package object

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

func TestRefPrints(t *testing.T) {
	for _, tc := range []struct {
		ref       Ref
		str, subj string
	}{
		{Ref{Group: "apps", Kind: "Deployment", Namespace: "default", Name: "web"}, "Deployment/default/web", "Deployment default/web"},
		{Ref{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "admin"}, "ClusterRole/admin", "ClusterRole admin"},
	} {
		if got := tc.ref.String(); got != tc.str {
			t.Errorf("String() = %q, want %q", got, tc.str)
		}
		if got := tc.ref.Subject(); got != tc.subj {
			t.Errorf("Subject() = %q, want %q", got, tc.subj)
		}
	}
}

func TestOfAndOfNodeAgree(t *testing.T) {
	const doc = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: prod\n"
	n := yaml.MustParse(doc)
	var obj unstructured.Unstructured
	m, err := n.Map()
	if err != nil {
		t.Fatal(err)
	}
	obj.Object = m
	want := Ref{Group: "apps", Kind: "Deployment", Namespace: "prod", Name: "web"}
	if got := OfNode(n); got != want {
		t.Errorf("OfNode = %+v, want %+v", got, want)
	}
	if got := Of(&obj); got != want {
		t.Errorf("Of = %+v, want %+v", got, want)
	}
	core := yaml.MustParse("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n")
	if got := OfNode(core); got.Group != "" || got.Kind != "ConfigMap" {
		t.Errorf("OfNode(core) = %+v", got)
	}
}
