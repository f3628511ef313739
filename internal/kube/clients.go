// Package kube bundles the Kubernetes clients a step needs, built once from
// one rest.Config, so every package shares one discovery pass, one
// RESTMapper and one pool of connections instead of each asking the API
// server again.
package kube

import (
	"fmt"
	"net/http"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/kube-release/kube-release/internal/kube/typed"
)

// Clients are the clients of one cluster.
type Clients struct {
	// Typed, Dynamic and Metadata, and discovery for the Mapper, retry
	// each request that fails for a reason that passes (see Backoff), so
	// that an API server restart or an etcd leader election in the middle
	// of a deploy costs a few seconds rather than the deploy. Their
	// callers do not retry again.
	Typed   typed.Interface
	Dynamic dynamic.Interface
	// Metadata reads objects' metadata only (owners, never a Secret's
	// data).
	Metadata metadata.Interface
	// REST sends JSON to any path (AbsPath), with each request sent once:
	// its callers retry with Backoff.Do, because they must know of every
	// attempt (the apply engine tells an object it created from one it
	// found by whether an attempt was cut off), and tell OnRetry.
	REST rest.Interface
	// Mapper maps kinds to resources: the common built-in kinds from a
	// table, the others from one discovery pass made on first need. Reset
	// it after creating CRDs so their kinds become known.
	Mapper meta.ResettableRESTMapper
	// Fence guards every write made through these clients (see Fence).
	Fence *Fence
	// OnRetry, when set, is told of every retry made through these
	// clients before its wait, for a log line: libraries do not log.
	// Set it before the clients are used.
	OnRetry func(Retry)
}

// NewClients builds the clients. It makes no request: discovery happens on
// the first mapping.
func NewClients(cfg *rest.Config) (*Clients, error) {
	c := &Clients{Fence: &Fence{}}
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(c.Fence.wrap)
	// One transport (TLS, credentials, the fence) under every client, so
	// that they share connections: client-go's cache does not share the
	// transport of a config whose transport is wrapped.
	base, err := rest.TransportFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	once := &http.Client{Transport: base, Timeout: cfg.Timeout}
	retrying := &http.Client{Transport: &retryTransport{next: base, onRetry: c.retried}, Timeout: cfg.Timeout}

	c.Typed, err = typed.NewForConfigAndClient(cfg, retrying, singleAttempt)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	// The dynamic client is configured as its constructor configures it,
	// over a REST client built here so that client-go's request retries
	// can be turned off (singleAttempt). The metadata client cannot be
	// given one: its reads keep client-go's retries of answers with a
	// Retry-After and of reads whose connection broke.
	dynamicClient, err := rest.UnversionedRESTClientForConfigAndClient(dynamic.ConfigFor(cfg), retrying)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	c.Dynamic = dynamic.New(singleAttempt(dynamicClient))
	c.Metadata, err = metadata.NewForConfigAndClient(cfg, retrying)
	if err != nil {
		return nil, fmt.Errorf("metadata client: %w", err)
	}
	// The dynamic client hides the status code that tells created from
	// configured, so applies go through a REST client configured as the
	// dynamic client is, with JSON in and out.
	restConfig := dynamic.ConfigFor(cfg)
	restConfig.ContentType = "application/json"
	restConfig.AcceptContentTypes = "application/json"
	restClient, err := rest.UnversionedRESTClientForConfigAndClient(restConfig, once)
	if err != nil {
		return nil, fmt.Errorf("apply client: %w", err)
	}
	c.REST = singleAttempt(restClient)

	discoveryConfig := rest.CopyConfig(cfg)
	discoveryConfig.NegotiatedSerializer = typed.Codecs.WithoutConversion()
	discoveryClient, err := rest.UnversionedRESTClientForConfigAndClient(discoveryConfig, retrying)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	c.Mapper = fallbackMapper{first: newBuiltinMapper(), then: newDiscoveryMapper(singleAttempt(discoveryClient))}
	return c, nil
}

// retried tells OnRetry of a retry of the transport.
func (c *Clients) retried(r Retry) {
	if c.OnRetry != nil {
		c.OnRetry(r)
	}
}

// singleAttempt makes every request of a REST client one attempt.
// client-go's own retries (of answers with a Retry-After, up to ten, and
// of reads whose connection broke) would repeat what the transport or the
// caller retries already, multiplying the attempts and the wait.
func singleAttempt(c rest.Interface) rest.Interface { return oneAttempt{c} }

type oneAttempt struct{ rest.Interface }

func (c oneAttempt) Verb(verb string) *rest.Request { return c.Interface.Verb(verb).MaxRetries(0) }
func (c oneAttempt) Post() *rest.Request            { return c.Interface.Post().MaxRetries(0) }
func (c oneAttempt) Put() *rest.Request             { return c.Interface.Put().MaxRetries(0) }
func (c oneAttempt) Get() *rest.Request             { return c.Interface.Get().MaxRetries(0) }
func (c oneAttempt) Delete() *rest.Request          { return c.Interface.Delete().MaxRetries(0) }
func (c oneAttempt) Patch(pt types.PatchType) *rest.Request {
	return c.Interface.Patch(pt).MaxRetries(0)
}
