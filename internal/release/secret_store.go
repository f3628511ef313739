package release

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// SecretStore keeps a declarative history: one Secret per release, named,
// typed and labelled as Harness does. A Secret is created once per number,
// so two writers racing for a number cannot both win: the loser gets
// ErrExists.
type SecretStore struct {
	client    kubernetes.Interface
	namespace string
	release   string
	backoff   wait.Backoff
	now       func() time.Time
}

// NewSecretStore returns the declarative store of release in namespace.
func NewSecretStore(client kubernetes.Interface, namespace, release string) *SecretStore {
	return &SecretStore{client: client, namespace: namespace, release: release, backoff: defaultBackoff(), now: nowUTC}
}

func (s *SecretStore) object(number int) string {
	return "secret " + s.namespace + "/" + SecretName(s.release, number)
}

// List implements Store with one list call, selected as Harness selects.
func (s *SecretStore) List(ctx context.Context) (History, error) {
	list, err := s.client.CoreV1().Secrets(s.namespace).List(ctx, SecretListOptions(s.release))
	if err != nil {
		return nil, fmt.Errorf("secrets of release %s in namespace %s: %w", s.release, s.namespace, err)
	}
	h := make(History, 0, len(list.Items))
	names := map[int]string{}
	for i := range list.Items {
		item := &list.Items[i]
		// The server filters already; this keeps List right against one
		// that ignores the field selector, as client-go's fake does.
		if item.Type != SecretType || item.Labels[LabelOwner] != OwnerHarness || item.Labels[LabelRelease] != s.release {
			continue
		}
		r, err := DecodeSecret(item)
		if err != nil {
			return nil, err
		}
		if other, ok := names[r.Number]; ok {
			return nil, &CorruptError{
				Object: secretName(item),
				Part:   "label " + LabelNumber,
				Err:    fmt.Errorf("release %d is also held by secret %s", r.Number, other),
				Repair: fmt.Sprintf("to repair, delete the one that is not %s (kubectl -n %s delete secret <name>)",
					SecretName(s.release, r.Number), s.namespace),
			}
		}
		names[r.Number] = item.Name
		h = append(h, r)
	}
	h.sort()
	return h, nil
}

// Get implements Store.
func (s *SecretStore) Get(ctx context.Context, number int) (*Release, error) {
	secret, err := s.client.CoreV1().Secrets(s.namespace).Get(ctx, SecretName(s.release, number), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("%s: %w", s.object(number), ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.object(number), err)
	}
	return DecodeSecret(secret)
}

// Create implements Store.
func (s *SecretStore) Create(ctx context.Context, r *Release) error {
	created := r.Clone()
	if created.Metadata.Created.IsZero() {
		created.Metadata.Created = s.now()
	}
	secret, err := EncodeSecret(s.namespace, s.release, created)
	if err != nil {
		return err
	}
	_, err = s.client.CoreV1().Secrets(s.namespace).Create(ctx, secret, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("%s: %w", secretName(secret), ErrExists)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", secretName(secret), err)
	}
	r.Metadata.Created = created.Metadata.Created
	return nil
}

// Update implements Store: the status label, the manifests (when r has
// them) and the metadata, written with the resourceVersion just read.
func (s *SecretStore) Update(ctx context.Context, r *Release) error {
	if err := r.validate(); err != nil {
		return fmt.Errorf("%s: %w", s.object(r.Number), err)
	}
	client := s.client.CoreV1().Secrets(s.namespace)
	return retryOn(ctx, s.backoff, isConflict, func() error {
		secret, err := client.Get(ctx, SecretName(s.release, r.Number), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("%s: %w", s.object(r.Number), ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", s.object(r.Number), err)
		}
		stored, err := DecodeSecret(secret)
		if err != nil {
			return err
		}
		updated := r.Clone()
		if updated.Metadata.Created.IsZero() {
			updated.Metadata.Created = stored.Metadata.Created
		}
		if err := applyRelease(secret, s.release, updated); err != nil {
			return err
		}
		if _, err := client.Update(ctx, secret, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("%s: %w", secretName(secret), err)
		}
		return nil
	})
}

// Delete implements Store, one Secret at a time by name: that needs only
// the delete verb, and touches nothing but the release's own Secrets.
func (s *SecretStore) Delete(ctx context.Context, numbers ...int) error {
	var errs []error
	for _, n := range numbers {
		err := s.client.CoreV1().Secrets(s.namespace).Delete(ctx, SecretName(s.release, n), metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("%s: %w", s.object(n), err))
		}
	}
	return errors.Join(errs...)
}
