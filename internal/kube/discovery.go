package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"strings"
	"sync"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
)

// The discovery documents asked for: the aggregated ones (all groups,
// versions and resources in two requests; Kubernetes 1.26 and later),
// with the one-request-per-group-version documents as the fallback the
// API server answers with when it has no aggregated discovery.
const (
	aggregatedV2      = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
	aggregatedV2Beta1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
	acceptDiscovery   = aggregatedV2 + "," + aggregatedV2Beta1 + ",application/json"
)

// legacyFetchParallelism bounds the requests of the fallback discovery,
// one per group version.
const legacyFetchParallelism = 8

// discoveryMapper is a RESTMapper filled from the API server's discovery
// on first use, and again after Reset. It does what client-go's
// DeferredDiscoveryRESTMapper over a memory-cached discovery client does,
// with the mapping built as restmapper.NewDiscoveryRESTMapper builds it
// (preferred versions first, groups in discovery order), and reads the
// same documents. It is written here because client-go's discovery package
// links every API group's types into the binary.
type discoveryMapper struct {
	client rest.Interface
	// accept is the Accept header of the first requests.
	accept string

	mu     sync.Mutex
	mapper meta.RESTMapper
}

var _ meta.ResettableRESTMapper = (*discoveryMapper)(nil)

func newDiscoveryMapper(client rest.Interface) *discoveryMapper {
	return &discoveryMapper{client: client, accept: acceptDiscovery}
}

// Reset forgets what was discovered: the next mapping asks again (after
// creating CRDs, so their kinds become known).
func (d *discoveryMapper) Reset() {
	d.mu.Lock()
	d.mapper = nil
	d.mu.Unlock()
}

// delegate returns the mapper, discovering first if need be. A failed
// discovery is not remembered: the next call tries again.
func (d *discoveryMapper) delegate() (meta.RESTMapper, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mapper != nil {
		return d.mapper, nil
	}
	// The RESTMapper interface takes no context; the client's timeout and
	// retries bound the requests, as they do client-go's.
	groups, err := discover(context.Background(), d.client, d.accept)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	d.mapper = buildMapper(groups)
	return d.mapper, nil
}

func (d *discoveryMapper) KindFor(resource schema.GroupVersionResource) (schema.GroupVersionKind, error) {
	m, err := d.delegate()
	if err != nil {
		return schema.GroupVersionKind{}, err
	}
	return m.KindFor(resource)
}

func (d *discoveryMapper) KindsFor(resource schema.GroupVersionResource) ([]schema.GroupVersionKind, error) {
	m, err := d.delegate()
	if err != nil {
		return nil, err
	}
	return m.KindsFor(resource)
}

func (d *discoveryMapper) ResourceFor(input schema.GroupVersionResource) (schema.GroupVersionResource, error) {
	m, err := d.delegate()
	if err != nil {
		return schema.GroupVersionResource{}, err
	}
	return m.ResourceFor(input)
}

func (d *discoveryMapper) ResourcesFor(input schema.GroupVersionResource) ([]schema.GroupVersionResource, error) {
	m, err := d.delegate()
	if err != nil {
		return nil, err
	}
	return m.ResourcesFor(input)
}

func (d *discoveryMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	m, err := d.delegate()
	if err != nil {
		return nil, err
	}
	return m.RESTMapping(gk, versions...)
}

func (d *discoveryMapper) RESTMappings(gk schema.GroupKind, versions ...string) ([]*meta.RESTMapping, error) {
	m, err := d.delegate()
	if err != nil {
		return nil, err
	}
	return m.RESTMappings(gk, versions...)
}

func (d *discoveryMapper) ResourceSingularizer(resource string) (string, error) {
	m, err := d.delegate()
	if err != nil {
		return "", err
	}
	return m.ResourceSingularizer(resource)
}

// apiGroup is one group as discovery describes it: its versions, the
// preferred one first, each with its resources.
type apiGroup struct {
	name     string
	versions []apiVersion
}

type apiVersion struct {
	version   string
	resources []apiResource
}

type apiResource struct {
	name       string // plural
	singular   string
	kind       string
	namespaced bool
}

// discover reads every group, version and resource the API server
// serves: the core group first, then the others in the server's order.
// The two documents are asked for at once.
func discover(ctx context.Context, client rest.Interface, accept string) ([]apiGroup, error) {
	paths := []string{"/api", "/apis"}
	found := make([][]apiGroup, len(paths))
	errs := make([]error, len(paths))
	var wg sync.WaitGroup
	for i, path := range paths {
		wg.Go(func() {
			var contentType string
			body, err := client.Get().AbsPath(path).SetHeader("Accept", accept).Do(ctx).ContentType(&contentType).Raw()
			if err == nil {
				if isAggregated(contentType) {
					found[i], err = parseAggregated(body)
				} else {
					found[i], err = discoverLegacy(ctx, client, path, body)
				}
			}
			if err != nil {
				errs[i] = fmt.Errorf("GET %s: %w", path, err)
			}
		})
	}
	wg.Wait()
	// Both fail alike when the server cannot be reached: one says it.
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return append(found[0], found[1]...), nil
}

func isAggregated(contentType string) bool {
	mediaType, params, err := mime.ParseMediaType(contentType)
	return err == nil && mediaType == "application/json" &&
		params["g"] == "apidiscovery.k8s.io" && params["as"] == "APIGroupDiscoveryList"
}

// parseAggregated reads an APIGroupDiscoveryList (v2 and v2beta1 have the
// same shape). Stale versions, whose aggregated API server is not
// answering, are left out, as client-go leaves them out.
func parseAggregated(body []byte) ([]apiGroup, error) {
	var list apidiscoveryv2.APIGroupDiscoveryList
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("aggregated discovery: %w", err)
	}
	groups := make([]apiGroup, 0, len(list.Items))
	for _, g := range list.Items {
		group := apiGroup{name: g.Name}
		for _, v := range g.Versions {
			if v.Freshness == apidiscoveryv2.DiscoveryFreshnessStale {
				continue
			}
			version := apiVersion{version: v.Version}
			for _, r := range v.Resources {
				if r.ResponseKind == nil || r.ResponseKind.Kind == "" {
					continue
				}
				version.resources = append(version.resources, apiResource{
					name:       r.Resource,
					singular:   r.SingularResource,
					kind:       r.ResponseKind.Kind,
					namespaced: r.Scope == apidiscoveryv2.ScopeNamespace,
				})
			}
			group.versions = append(group.versions, version)
		}
		groups = append(groups, group)
	}
	return groups, nil
}

// discoverLegacy reads the per-version documents a server without
// aggregated discovery serves: body is /api's APIVersions or /apis's
// APIGroupList, and each version's APIResourceList is one more request,
// made in parallel.
func discoverLegacy(ctx context.Context, client rest.Interface, path string, body []byte) ([]apiGroup, error) {
	var groups []apiGroup
	if path == "/api" {
		var versions metav1.APIVersions
		if err := json.Unmarshal(body, &versions); err != nil {
			return nil, err
		}
		core := apiGroup{}
		for _, v := range versions.Versions {
			core.versions = append(core.versions, apiVersion{version: v})
		}
		groups = append(groups, core)
	} else {
		var list metav1.APIGroupList
		if err := json.Unmarshal(body, &list); err != nil {
			return nil, err
		}
		for _, g := range list.Groups {
			group := apiGroup{name: g.Name}
			// The preferred version first, then the others in order.
			if g.PreferredVersion.Version != "" {
				group.versions = append(group.versions, apiVersion{version: g.PreferredVersion.Version})
			}
			for _, v := range g.Versions {
				if v.Version != g.PreferredVersion.Version {
					group.versions = append(group.versions, apiVersion{version: v.Version})
				}
			}
			groups = append(groups, group)
		}
	}

	type job struct{ group, version int }
	var jobs []job
	for i := range groups {
		for j := range groups[i].versions {
			jobs = append(jobs, job{i, j})
		}
	}
	errs := make([]error, len(jobs))
	sem := make(chan struct{}, legacyFetchParallelism)
	var wg sync.WaitGroup
	for n, jb := range jobs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			g, v := &groups[jb.group], &groups[jb.group].versions[jb.version]
			gvPath := path + "/" + v.version
			if g.name != "" {
				gvPath = path + "/" + g.name + "/" + v.version
			}
			raw, err := client.Get().AbsPath(gvPath).SetHeader("Accept", "application/json").Do(ctx).Raw()
			if err != nil {
				errs[n] = fmt.Errorf("GET %s: %w", gvPath, err)
				return
			}
			var list metav1.APIResourceList
			if err := json.Unmarshal(raw, &list); err != nil {
				errs[n] = fmt.Errorf("GET %s: %w", gvPath, err)
				return
			}
			for _, r := range list.APIResources {
				v.resources = append(v.resources, apiResource{
					name:       r.Name,
					singular:   r.SingularName,
					kind:       r.Kind,
					namespaced: r.Namespaced,
				})
			}
		})
	}
	wg.Wait()
	for n, err := range errs {
		if err == nil {
			continue
		}
		// A group version whose aggregated API server is down answers
		// 503; like client-go, map what did answer rather than nothing.
		g := groups[jobs[n].group]
		if g.name == "" {
			return nil, err
		}
	}
	return groups, nil
}

// buildMapper maps kinds and resources as restmapper.NewDiscoveryRESTMapper
// does: within a group the preferred version wins, between groups the
// first in discovery order.
func buildMapper(groups []apiGroup) meta.RESTMapper {
	var (
		union            meta.MultiRESTMapper
		resourcePriority []schema.GroupVersionResource
		kindPriority     []schema.GroupVersionKind
	)
	for _, group := range groups {
		for _, v := range group.versions {
			if len(v.resources) == 0 {
				continue
			}
			gv := schema.GroupVersion{Group: group.name, Version: v.version}
			resourcePriority = append(resourcePriority, gv.WithResource(meta.AnyResource))
			kindPriority = append(kindPriority, gv.WithKind(meta.AnyKind))
			mapper := meta.NewDefaultRESTMapper([]schema.GroupVersion{gv})
			for _, r := range v.resources {
				// Subresources (deployments/scale) map to no kind of their own.
				if strings.Contains(r.name, "/") {
					continue
				}
				scope := meta.RESTScopeRoot
				if r.namespaced {
					scope = meta.RESTScopeNamespace
				}
				plural := gv.WithResource(r.name)
				singular := gv.WithResource(r.singular)
				if r.singular == "" {
					// Older servers list no singular names; guess as
					// client-go does.
					_, singular = meta.UnsafeGuessKindToResource(gv.WithKind(r.kind))
				}
				mapper.AddSpecific(gv.WithKind(strings.ToLower(r.kind)), plural, singular, scope)
				mapper.AddSpecific(gv.WithKind(r.kind), plural, singular, scope)
				mapper.Add(gv.WithKind(r.kind+"List"), scope)
			}
			mapper.Add(gv.WithKind("List"), meta.RESTScopeRoot)
			union = append(union, mapper)
		}
	}
	for _, group := range groups {
		resourcePriority = append(resourcePriority, schema.GroupVersionResource{Group: group.name, Version: meta.AnyVersion, Resource: meta.AnyResource})
		kindPriority = append(kindPriority, schema.GroupVersionKind{Group: group.name, Version: meta.AnyVersion, Kind: meta.AnyKind})
	}
	return meta.PriorityRESTMapper{Delegate: union, ResourcePriority: resourcePriority, KindPriority: kindPriority}
}
