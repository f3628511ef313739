package steps

import (
	"context"
	"errors"
	"fmt"

	"github.com/kube-release/kube-release/internal/release"
)

// BookFunc opens the history of release name in namespace.
type BookFunc func(namespace, name string) *release.Book

// book opens the history of release name in namespace, both formats: the
// legacy ConfigMap and the declarative Secrets, unless e.Book opens it
// elsewhere. It is the one place the steps build history stores, so that
// every step reads the same history by the same rules (see release.Book).
func (e Env) book(namespace, name string) *release.Book {
	if e.Book != nil {
		return e.Book(namespace, name)
	}
	typed := e.Clients.Typed
	return release.NewBook(release.NewConfigMapStore(typed, namespace, name), release.NewSecretStore(typed, namespace, name))
}

// readBook reads the history for a step that records releases (rolling,
// rollback), which words a history it cannot read as it always has:
// "release history: " and what the store said. Release Secrets that cannot
// be read are returned apart, with no error (see unreadableOf).
func readBook(ctx context.Context, b *release.Book) (*release.UnreadableError, error) {
	err := b.Read(ctx)
	if re, ok := errors.AsType[*release.ReadError](err); ok {
		return nil, fmt.Errorf("release history: %w", re.Err)
	}
	return unreadableOf(err)
}

// newestNumber is the highest release number of the history, 0 for none:
// what apply and diff give templates as .Release.Number. A release that
// cannot be read counts by the number its Secret bears.
func newestNumber(ctx context.Context, env Env, namespace, name string) (int, error) {
	b := env.book(namespace, name)
	if _, err := unreadableOf(b.Read(ctx)); err != nil {
		return 0, err
	}
	return b.Highest(), nil
}
