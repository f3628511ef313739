package apply

import (
	"reflect"
	"testing"

	"github.com/kube-release/kube-release/internal/object"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func testObject(apiVersion, kind, namespace, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(namespace)
	u.SetName(name)
	return u
}

func TestOrder(t *testing.T) {
	var (
		ns         = testObject("v1", "Namespace", "", "team")
		quota      = testObject("v1", "ResourceQuota", "team", "quota")
		limits     = testObject("v1", "LimitRange", "team", "limits")
		secret     = testObject("v1", "Secret", "team", "creds")
		config     = testObject("v1", "ConfigMap", "team", "config")
		config2    = testObject("v1", "ConfigMap", "team", "config2")
		sc         = testObject("storage.k8s.io/v1", "StorageClass", "", "fast")
		prio       = testObject("scheduling.k8s.io/v1", "PriorityClass", "", "high")
		pv         = testObject("v1", "PersistentVolume", "", "pv")
		pvc        = testObject("v1", "PersistentVolumeClaim", "team", "data")
		sa         = testObject("v1", "ServiceAccount", "team", "web")
		crd        = testObject("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.example.com")
		cr         = testObject("rbac.authorization.k8s.io/v1", "ClusterRole", "", "reader")
		crb        = testObject("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "reader")
		role       = testObject("rbac.authorization.k8s.io/v1", "Role", "team", "edit")
		rb         = testObject("rbac.authorization.k8s.io/v1", "RoleBinding", "team", "edit")
		svc        = testObject("v1", "Service", "team", "web")
		deploy     = testObject("apps/v1", "Deployment", "team", "web")
		job        = testObject("batch/v1", "Job", "team", "migrate")
		widget     = testObject("example.com/v1", "Widget", "team", "w")
		fakeSvc    = testObject("example.com/v1", "Service", "team", "not-core")
		fakeSecret = testObject("example.com/v1", "Secret", "team", "not-core")
	)
	tests := []struct {
		name string
		in   []*unstructured.Unstructured
		want [][]*unstructured.Unstructured
	}{
		{name: "empty"},
		{
			name: "one stage keeps input order",
			in:   []*unstructured.Unstructured{config2, config},
			want: [][]*unstructured.Unstructured{{config2, config}},
		},
		{
			name: "every stage, from reverse input",
			in: []*unstructured.Unstructured{widget, job, deploy, svc, rb, role, crb, cr, crd, sa,
				pvc, pv, prio, sc, config, secret, limits, quota, ns},
			want: [][]*unstructured.Unstructured{
				{ns}, {limits, quota}, {secret}, {config}, {prio, sc}, {pv}, {pvc}, {sa}, {crd},
				{cr}, {crb}, {role}, {rb}, {svc}, {widget, job, deploy},
			},
		},
		{
			name: "custom resource after its CRD",
			in:   []*unstructured.Unstructured{widget, crd},
			want: [][]*unstructured.Unstructured{{crd}, {widget}},
		},
		{
			name: "kinds of other groups are not core kinds",
			in:   []*unstructured.Unstructured{fakeSvc, fakeSecret, svc, secret},
			want: [][]*unstructured.Unstructured{{secret}, {svc}, {fakeSvc, fakeSecret}},
		},
		{
			name: "workloads after services and config",
			in:   []*unstructured.Unstructured{deploy, svc, config, ns},
			want: [][]*unstructured.Unstructured{{ns}, {config}, {svc}, {deploy}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Order(tt.in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Order:\n got  %v\n want %v", names(got), names(tt.want))
			}
		})
	}
}

func names(stages [][]*unstructured.Unstructured) [][]string {
	var out [][]string
	for _, s := range stages {
		var ss []string
		for _, o := range s {
			ss = append(ss, object.Of(o).String())
		}
		out = append(out, ss)
	}
	return out
}

func TestChangeString(t *testing.T) {
	tests := []struct {
		change Change
		want   string
	}{
		{Change{Ref: object.Ref{Group: "apps", Kind: "Deployment", Namespace: "default", Name: "web"}, Action: Configured}, "Deployment/default/web configured"},
		{Change{Ref: object.Ref{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "reader"}, Action: Created}, "ClusterRole/reader created"},
		{Change{Ref: object.Ref{Kind: "ConfigMap", Namespace: "ns", Name: "c"}, Action: Unchanged}, "ConfigMap/ns/c unchanged"},
	}
	for _, tt := range tests {
		if got := tt.change.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
	err := &ObjectError{Ref: object.Ref{Kind: "Deployment", Namespace: "default", Name: "web"}, Err: errString("boom")}
	if got, want := err.Error(), "Deployment default/web: boom"; got != want {
		t.Errorf("ObjectError = %q, want %q", got, want)
	}
	err = &ObjectError{Ref: object.Ref{Kind: "Namespace", Name: "team"}, Err: errString("boom")}
	if got, want := err.Error(), "Namespace team: boom"; got != want {
		t.Errorf("ObjectError = %q, want %q", got, want)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
