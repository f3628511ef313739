// Package kube bundles the Kubernetes clients a step needs, built once from
// one rest.Config, so every package shares one discovery pass and one
// RESTMapper instead of each asking the API server again.
package kube

import (
	"fmt"
	"net/http"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/kube-release/kube-release/internal/kube/typed"
)

// Clients are the clients of one cluster.
type Clients struct {
	Config  *rest.Config
	Typed   typed.Interface
	Dynamic dynamic.Interface
	// Mapper maps kinds to resources: the common built-in kinds from a
	// table, the others from one discovery pass made on first need. Reset
	// it after creating CRDs so their kinds become known.
	Mapper meta.ResettableRESTMapper
	// Fence guards every write made through these clients and through
	// clients built from Config (see Fence).
	Fence *Fence
}

// NewClients builds the clients. It makes no request: discovery happens on
// the first mapping.
//
// The typed and dynamic clients retry transient failures (see
// WithRetries), so an API server restart or an etcd leader election in the
// middle of a deploy costs a few seconds rather than the deploy. Config
// is cfg with the Fence in its transport: the apply engine builds its own
// REST client from it, with retries of its own.
func NewClients(cfg *rest.Config) (*Clients, error) {
	fence := &Fence{}
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(fence.wrap)
	retrying := rest.CopyConfig(cfg)
	retrying.Wrap(func(rt http.RoundTripper) http.RoundTripper { return WithRetries(rt, RetryPolicy{}) })
	// One HTTP client, so the typed and dynamic clients share connections:
	// a config with a wrapped transport is not shared by client-go's cache.
	httpClient, err := rest.HTTPClientFor(retrying)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	typedClient, err := typed.NewForConfigAndClient(retrying, httpClient)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfigAndClient(retrying, httpClient)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	discoveryConfig := rest.CopyConfig(retrying)
	discoveryConfig.NegotiatedSerializer = typed.Codecs.WithoutConversion()
	discoveryClient, err := rest.UnversionedRESTClientForConfigAndClient(discoveryConfig, httpClient)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return &Clients{
		Config:  cfg,
		Typed:   typedClient,
		Dynamic: dyn,
		Mapper:  fallbackMapper{first: newBuiltinMapper(), then: newDiscoveryMapper(discoveryClient)},
		Fence:   fence,
	}, nil
}
