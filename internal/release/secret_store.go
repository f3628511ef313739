package release

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kube-release/kube-release/internal/kube/typed"
)

// SecretStore keeps a declarative history: one Secret per release, named,
// typed and labelled as Harness does. A Secret is created once per number,
// so two writers racing for a number cannot both win: the loser gets
// ErrExists.
//
// The store remembers the Secrets it last read or wrote, and Update first
// tries to write on top of the remembered one without reading it again:
// its resourceVersion makes the API server refuse the write if anyone
// changed the Secret since, and anything but success is done again on a
// fresh read, as without it.
type SecretStore struct {
	client    typed.Interface
	namespace string
	release   string
	backoff   wait.Backoff
	now       func() time.Time

	mu   sync.Mutex
	last map[int]*corev1.Secret // by release number, as last read or written
}

// NewSecretStore returns the declarative store of release in namespace.
func NewSecretStore(client typed.Interface, namespace, release string) *SecretStore {
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
	var unreadable []Unreadable
	for i := range list.Items {
		item := &list.Items[i]
		// The server filters already; this keeps List right against one
		// that ignores the field selector, as client-go's fake does.
		if item.Type != SecretType || item.Labels[LabelOwner] != OwnerHarness || item.Labels[LabelRelease] != s.release {
			continue
		}
		r, err := DecodeSecret(item)
		if err != nil {
			// One damaged release must not hide the others: a rollback
			// to a release that reads fine still works.
			unreadable = append(unreadable, s.unreadable(item, err))
			continue
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
	for i := range list.Items {
		s.remember(&list.Items[i])
	}
	h.sort()
	if len(unreadable) > 0 {
		slices.SortFunc(unreadable, func(a, b Unreadable) int { return cmp.Compare(b.Number, a.Number) })
		return h, &UnreadableError{Releases: unreadable}
	}
	return h, nil
}

// unreadable is what is known of a release Secret that cannot be read:
// its number from its label, else from its name, and its status label.
func (s *SecretStore) unreadable(secret *corev1.Secret, err error) Unreadable {
	u := Unreadable{Secret: secretName(secret), Err: err}
	if n, err := strconv.Atoi(secret.Labels[LabelNumber]); err == nil && n >= 1 {
		u.Number = n
	} else if rest, ok := strings.CutPrefix(secret.Name, secretPrefix+"."+s.release+"."); ok {
		if n, err := strconv.Atoi(rest); err == nil && n >= 1 {
			u.Number = n
		}
	}
	if st := Status(secret.Labels[LabelStatus]); st.valid() {
		u.Status = st
	}
	return u
}

// Fits implements the check of the package function Fits: r's Secret,
// created as Create creates it, holds it within MaxObjectSize less
// Headroom. drop does not matter: each release has a Secret of its own.
func (s *SecretStore) Fits(r *Release, _ ...int) error {
	final := r.Clone()
	if final.Metadata.Created.IsZero() {
		final.Metadata.Created = s.now()
	}
	_, err := encodeSecret(s.namespace, s.release, final, MaxObjectSize-Headroom)
	return err
}

// remember keeps a copy of a release Secret as the server has it now.
func (s *SecretStore) remember(secret *corev1.Secret) {
	n, err := strconv.Atoi(secret.Labels[LabelNumber])
	if err != nil || secret.Name != SecretName(s.release, n) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		s.last = map[int]*corev1.Secret{}
	}
	s.last[n] = secret.DeepCopy()
}

// remembered returns a copy of release n's remembered Secret, nil if none.
func (s *SecretStore) remembered(n int) *corev1.Secret {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last[n].DeepCopy()
}

func (s *SecretStore) forget(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.last, n)
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
	s.remember(secret)
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
	stored, err := s.client.CoreV1().Secrets(s.namespace).Create(ctx, secret, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("%s: %w", secretName(secret), ErrExists)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", secretName(secret), err)
	}
	s.remember(stored)
	r.Metadata.Created = created.Metadata.Created
	return nil
}

// Update implements Store: the status label, the manifests (when r has
// them) and the metadata, written with the resourceVersion just read.
func (s *SecretStore) Update(ctx context.Context, r *Release) error {
	if err := r.validate(); err != nil {
		return fmt.Errorf("%s: %w", s.object(r.Number), err)
	}
	if secret := s.remembered(r.Number); secret != nil {
		if s.update(ctx, secret, r) == nil {
			return nil
		}
	}
	return retryOn(ctx, s.backoff, isConflict, func() error {
		secret, err := s.client.CoreV1().Secrets(s.namespace).Get(ctx, SecretName(s.release, r.Number), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("%s: %w", s.object(r.Number), ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", s.object(r.Number), err)
		}
		return s.update(ctx, secret, r)
	})
}

// update writes r over secret, with secret's resourceVersion.
func (s *SecretStore) update(ctx context.Context, secret *corev1.Secret, r *Release) error {
	stored, err := DecodeSecret(secret)
	if err != nil {
		return err
	}
	updated := r.Clone()
	updated.keepStored(stored)
	if err := applyRelease(secret, s.release, updated, MaxObjectSize); err != nil {
		return err
	}
	written, err := s.client.CoreV1().Secrets(s.namespace).Update(ctx, secret, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("%s: %w", secretName(secret), err)
	}
	s.remember(written)
	return nil
}

// Delete implements Store, one Secret at a time by name: that needs only
// the delete verb, and touches nothing but the release's own Secrets.
func (s *SecretStore) Delete(ctx context.Context, numbers ...int) error {
	var errs []error
	for _, n := range numbers {
		s.forget(n)
		err := s.client.CoreV1().Secrets(s.namespace).Delete(ctx, SecretName(s.release, n), metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("%s: %w", s.object(n), err))
		}
	}
	return errors.Join(errs...)
}
