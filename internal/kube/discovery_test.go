package kube

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"

	"github.com/kube-release/kube-release/internal/testcluster"
)

func TestMain(m *testing.M) { os.Exit(testcluster.Run(m)) }

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// createCRD defines Gadget in group, served at v1 (stored) and v1beta1,
// and waits until discovery lists it.
func createCRD(t *testing.T, c *testcluster.Cluster, group string) {
	t.Helper()
	ctx := context.Background()
	schemaProps := map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": "gadgets." + group},
		"spec": map[string]any{
			"group": group,
			"scope": "Cluster",
			"names": map[string]any{"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "shortNames": []any{"gd"}},
			"versions": []any{
				map[string]any{"name": "v1", "served": true, "storage": true, "schema": schemaProps},
				map[string]any{"name": "v1beta1", "served": true, "storage": false, "schema": schemaProps},
			},
		},
	}}
	dyn := c.Dynamic(t)
	if _, err := dyn.Resource(crdGVR).Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dyn.Resource(crdGVR).Delete(context.Background(), crd.GetName(), metav1.DeleteOptions{}) })
	dc := discovery.NewDiscoveryClientForConfigOrDie(c.Config())
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		list, err := dc.ServerResourcesForGroupVersion(group + "/v1beta1")
		return err == nil && len(list.APIResources) > 0, nil
	})
	if err != nil {
		t.Fatalf("CRD %s never in discovery: %v", crd.GetName(), err)
	}
}

// The mapper answers every question as client-go's discovery RESTMapper
// does, for every resource the API server serves, custom ones included,
// from aggregated discovery and from the older per-version documents.
func TestDiscoveryMapperMatchesClientGo(t *testing.T) {
	c := testcluster.Shared(t)
	group := "gadgets-" + c.Namespace(t) + ".example.com"
	createCRD(t, c, group)

	dc := discovery.NewDiscoveryClientForConfigOrDie(c.Config())
	want := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	_, lists, err := dc.ServerGroupsAndResources()
	if err != nil {
		t.Fatal(err)
	}

	for _, mode := range []struct {
		name, accept string
		requests     int32
		builtin      bool
	}{
		{"aggregated", acceptDiscovery, 2, false},
		{"legacy", "application/json", 0, false}, // one per group version
		{"built-in kinds, then aggregated", acceptDiscovery, 2, true},
	} {
		t.Run(mode.name, func(t *testing.T) {
			clients, requests := countingClients(t, c)
			fallback := clients.Mapper.(fallbackMapper)
			fallback.then.(*discoveryMapper).accept = mode.accept
			var got meta.RESTMapper = fallback.then
			if mode.builtin {
				got = fallback
			}

			compare := func(what string, g, w any, gerr, werr error) {
				t.Helper()
				if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
					t.Errorf("%s: error %v, want %v", what, gerr, werr)
					return
				}
				if !reflect.DeepEqual(g, w) {
					t.Errorf("%s = %v, want %v", what, g, w)
				}
			}
			checked := 0
			for _, list := range lists {
				gv, err := schema.ParseGroupVersion(list.GroupVersion)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range list.APIResources {
					if strings.Contains(r.Name, "/") {
						continue
					}
					checked++
					gk := schema.GroupKind{Group: gv.Group, Kind: r.Kind}
					g, gerr := got.RESTMapping(gk)
					w, werr := want.RESTMapping(gk)
					compare(fmt.Sprintf("RESTMapping(%s)", gk), g, w, gerr, werr)
					g, gerr = got.RESTMapping(gk, gv.Version)
					w, werr = want.RESTMapping(gk, gv.Version)
					compare(fmt.Sprintf("RESTMapping(%s, %s)", gk, gv.Version), g, w, gerr, werr)
					for _, res := range []schema.GroupVersionResource{
						{Resource: r.Name}, {Resource: r.SingularName}, {Group: gv.Group, Resource: r.Name}, gv.WithResource(r.Name),
					} {
						gk, gerr := got.KindFor(res)
						wk, werr := want.KindFor(res)
						compare(fmt.Sprintf("KindFor(%s)", res), gk, wk, gerr, werr)
						gr, gerr := got.ResourceFor(res)
						wr, werr := want.ResourceFor(res)
						compare(fmt.Sprintf("ResourceFor(%s)", res), gr, wr, gerr, werr)
					}
				}
			}
			if checked < 50 {
				t.Errorf("only %d resources checked", checked)
			}
			if _, err := got.RESTMapping(schema.GroupKind{Group: group, Kind: "Gadget"}, "v1beta1"); err != nil {
				t.Errorf("custom kind: %v", err)
			}
			if _, err := got.RESTMapping(schema.GroupKind{Kind: "NoSuchKind"}); !meta.IsNoMatchError(err) {
				t.Errorf("unknown kind: %v, want a no-match error", err)
			}
			if mode.requests > 0 && requests.Load() != mode.requests {
				t.Errorf("%d discovery requests, want %d", requests.Load(), mode.requests)
			}
		})
	}
}

// The table of built-in kinds says what the API server says, and a
// deploy of only such kinds makes no discovery request.
func TestBuiltinKindsMatchDiscovery(t *testing.T) {
	c := testcluster.Shared(t)
	clients, requests := countingClients(t, c)
	discovered := newDiscoveryMapper(clients.Mapper.(fallbackMapper).then.(*discoveryMapper).client)
	for _, k := range builtinKinds {
		gk := schema.GroupKind{Group: k.group, Kind: k.kind}
		want, err := discovered.RESTMapping(gk)
		if err != nil {
			t.Errorf("%s: %v", gk, err)
			continue
		}
		for _, versions := range [][]string{nil, {k.version}} {
			got, err := clients.Mapper.RESTMapping(gk, versions...)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("%s %v: %+v, %v\nwant %+v", gk, versions, got, err, want)
			}
		}
	}
	if n := requests.Load(); n != 2 {
		t.Errorf("%d requests, want only the 2 of the comparison's discovery", n)
	}
}

// Kinds defined after the first mapping become known after Reset.
func TestDiscoveryMapperReset(t *testing.T) {
	c := testcluster.Shared(t)
	clients, err := NewClients(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clients.Mapper.RESTMapping(schema.GroupKind{Kind: "ConfigMap"}); err != nil {
		t.Fatal(err)
	}
	group := "reset-" + c.Namespace(t) + ".example.com"
	gadget := schema.GroupKind{Group: group, Kind: "Gadget"}
	if _, err := clients.Mapper.RESTMapping(gadget); !meta.IsNoMatchError(err) {
		t.Fatalf("before the CRD: %v, want a no-match error", err)
	}
	createCRD(t, c, group)
	if _, err := clients.Mapper.RESTMapping(gadget); !meta.IsNoMatchError(err) {
		t.Fatalf("before Reset: %v, want the cached answer, a no-match error", err)
	}
	clients.Mapper.Reset()
	m, err := clients.Mapper.RESTMapping(gadget)
	if err != nil {
		t.Fatal(err)
	}
	if m.Resource.Version != "v1" || m.Scope.Name() != meta.RESTScopeNameRoot {
		t.Errorf("mapping %+v, want the preferred version v1, cluster-scoped", m)
	}
}

// countingClients are the cluster's clients, counting their requests.
func countingClients(t *testing.T, c *testcluster.Cluster) (*Clients, *atomic.Int32) {
	t.Helper()
	var requests atomic.Int32
	cfg := c.Config()
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			requests.Add(1)
			return rt.RoundTrip(req)
		})
	})
	clients, err := NewClients(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return clients, &requests
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
