// Package kube bundles the Kubernetes clients a step needs, built once from
// one rest.Config, so every package shares one discovery pass and one
// RESTMapper instead of each asking the API server again.
package kube

import (
	"fmt"
	"net/http"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// Clients are the clients of one cluster.
type Clients struct {
	Config    *rest.Config
	Typed     kubernetes.Interface
	Dynamic   dynamic.Interface
	Discovery discovery.CachedDiscoveryInterface
	// Mapper maps kinds to resources lazily, from the cached discovery.
	// Reset it after creating CRDs so their kinds become known.
	Mapper meta.ResettableRESTMapper
}

// NewClients builds the clients. It makes no request: discovery happens on
// the first mapping.
//
// The typed and dynamic clients retry transient failures (see
// WithRetries), so an API server restart or an etcd leader election in the
// middle of a deploy costs a few seconds rather than the deploy. Config
// stays as given: the apply engine builds its own REST client from it with
// retries of its own.
func NewClients(cfg *rest.Config) (*Clients, error) {
	retrying := rest.CopyConfig(cfg)
	retrying.Wrap(func(rt http.RoundTripper) http.RoundTripper { return WithRetries(rt, RetryPolicy{}) })
	// One HTTP client, so the typed and dynamic clients share connections:
	// a config with a wrapped transport is not shared by client-go's cache.
	httpClient, err := rest.HTTPClientFor(retrying)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	typed, err := kubernetes.NewForConfigAndClient(retrying, httpClient)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfigAndClient(retrying, httpClient)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	// The typed clientset's discovery shares its HTTP client; caching it in
	// memory makes all of a run's lookups cost one aggregated discovery call.
	cached := memory.NewMemCacheClient(typed.Discovery())
	return &Clients{
		Config:    cfg,
		Typed:     typed,
		Dynamic:   dyn,
		Discovery: cached,
		Mapper:    restmapper.NewDeferredDiscoveryRESTMapper(cached),
	}, nil
}
