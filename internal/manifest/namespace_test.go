package manifest

import (
	"errors"
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// testMapper knows a few built-in kinds, as a cluster's RESTMapper would.
func testMapper() meta.RESTMapper {
	m := meta.NewDefaultRESTMapper(nil)
	for _, k := range []struct {
		gvk   schema.GroupVersionKind
		scope meta.RESTScope
	}{
		{schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, meta.RESTScopeNamespace},
		{schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, meta.RESTScopeRoot},
		{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, meta.RESTScopeNamespace},
		{schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}, meta.RESTScopeRoot},
		{schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"}, meta.RESTScopeRoot},
	} {
		m.Add(k.gvk, k.scope)
	}
	return m
}

func TestNamespaceFilter(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string
	}{
		{
			name: "namespaced without namespace gets the target",
			in: `apiVersion: v1
kind: ConfigMap
metadata:
  name: a
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
`,
			want: `apiVersion: v1
kind: ConfigMap
metadata:
  name: a
  namespace: prod
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
  namespace: prod
`,
		},
		{
			name: "namespace already set is kept; empty counts as unset",
			in: `apiVersion: v1
kind: ConfigMap
metadata:
  name: a
  namespace: other
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: b
  namespace: ""
`,
			want: `apiVersion: v1
kind: ConfigMap
metadata:
  name: a
  namespace: other
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: b
  namespace: "prod"
`, // kyaml keeps the style of a field it sets
		},
		{
			name: "cluster-scoped objects get none and keep any they name",
			in: `apiVersion: v1
kind: Namespace
metadata:
  name: prod
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: reader
  namespace: ignored-by-the-server
`,
			want: `apiVersion: v1
kind: Namespace
metadata:
  name: prod
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: reader
  namespace: ignored-by-the-server
`,
		},
		{
			name: "custom resources take their scope from a CRD in the set",
			in: `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names:
    kind: Widget
    plural: widgets
  scope: Namespaced
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.example.com
spec:
  group: example.com
  names:
    kind: Gadget
    plural: gadgets
  scope: Cluster
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
---
apiVersion: example.com/v2
kind: Gadget
metadata:
  name: g
`,
			want: `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names:
    kind: Widget
    plural: widgets
  scope: Namespaced
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.example.com
spec:
  group: example.com
  names:
    kind: Gadget
    plural: gadgets
  scope: Cluster
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
  namespace: prod
---
apiVersion: example.com/v2
kind: Gadget
metadata:
  name: g
`,
		},
		{
			name: "unknown kinds are all reported, with their source",
			in: `apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: fine
---
apiVersion: example.com/v1
kind: Gadget
metadata:
  name: g
  namespace: set
`,
			wantErr: `in.yaml (document 1): Widget example.com/v1 "w": ` + noSuchResource + `
in.yaml (document 3): Gadget example.com/v1 "set/g": ` + noSuchResource,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes := parse(t, tt.in)
			got, err := NamespaceFilter{Namespace: "prod", Scope: ScopeFromRESTMapper(testMapper())}.Filter(nodes)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error\n%v\nwant\n%s", err, tt.wantErr)
				}
				if !errors.Is(err, ErrUnknownKind) {
					t.Errorf("error does not wrap ErrUnknownKind")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := str(t, got); s != tt.want {
				t.Errorf("got\n%s\nwant\n%s", s, tt.want)
			}
		})
	}
}

// noSuchResource is the error of a kind the cluster does not serve.
const noSuchResource = "unknown kind: the cluster serves no such resource (check apiVersion and kind; " +
	"a custom resource needs its CustomResourceDefinition installed, or in the same manifests)"

func TestNamespaceFilterScopeErrors(t *testing.T) {
	nodes := parse(t, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n")
	broken := func(string, string) (bool, error) { return false, fmt.Errorf("discovery: connection refused") }
	_, err := NamespaceFilter{Namespace: "prod", Scope: broken}.Filter(nodes)
	if want := `in.yaml (document 1): ConfigMap v1 "a": discovery: connection refused`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
	_, err = NamespaceFilter{Namespace: "prod"}.Filter(nodes)
	if want := `in.yaml (document 1): ConfigMap v1 "a": unknown kind`; err == nil || err.Error() != want {
		t.Errorf("without Scope: error %v, want %s", err, want)
	}
	_, err = NamespaceFilter{Scope: broken}.Filter(nodes)
	if want := `namespace filter: no target namespace`; err == nil || err.Error() != want {
		t.Errorf("without Namespace: error %v, want %s", err, want)
	}
}
