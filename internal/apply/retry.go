package apply

import (
	"context"

	"github.com/kube-release/kube-release/internal/kube"
)

// retry runs fn with the Applier's backoff (kube.Backoff.Do) and tells the
// clients' OnRetry of each retry of what. Secret values are scrubbed from
// the error the line shows, as from the errors Apply returns.
//
// Only requests sent through the clients' REST client are retried here,
// and mappings that wait for discovery: the other clients retry in their
// transport, and retrying their failures again would multiply the
// attempts.
func (a *Applier) retry(ctx context.Context, what string, secrets []string, fn func() error) error {
	return a.backoff.Do(ctx, what, func(r kube.Retry) {
		if a.clients.OnRetry == nil {
			return
		}
		r.Err = scrub(r.Err, secrets)
		a.clients.OnRetry(r)
	}, fn)
}
