package release

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kube-release/kube-release/internal/kube/typed"
)

// ConfigMapStore keeps a legacy history: one ConfigMap named like the
// release. Every change is a read-modify-write guarded by the ConfigMap's
// resourceVersion and retried on conflict, so concurrent writers never lose
// or duplicate a release. Keys, labels and annotations that others put on
// the ConfigMap are kept.
//
// The store remembers the ConfigMap as it last read or wrote it, and a
// change first tries to write on top of that without reading it again: the
// resourceVersion makes the API server refuse the write if anyone changed
// the ConfigMap since. A deploy so spends one request per write, not two.
// Whatever that first try cannot settle (a conflict, an error, nothing to
// write) is decided again on a fresh read, as without it.
type ConfigMapStore struct {
	client    typed.Interface
	namespace string
	name      string
	backoff   wait.Backoff
	now       func() time.Time

	mu   sync.Mutex
	last *corev1.ConfigMap // as last read or written; nil: unknown
}

// NewConfigMapStore returns the legacy store of release in namespace.
func NewConfigMapStore(client typed.Interface, namespace, release string) *ConfigMapStore {
	return &ConfigMapStore{client: client, namespace: namespace, name: release, backoff: defaultBackoff(), now: nowUTC}
}

func (s *ConfigMapStore) object() string { return "configmap " + s.namespace + "/" + s.name }

// List implements Store.
func (s *ConfigMapStore) List(ctx context.Context) (History, error) {
	cm, err := s.client.CoreV1().ConfigMaps(s.namespace).Get(ctx, s.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		s.remember(nil)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.object(), err)
	}
	s.remember(cm)
	return DecodeConfigMap(cm)
}

// remember keeps a copy of the ConfigMap as the server has it now.
func (s *ConfigMapStore) remember(cm *corev1.ConfigMap) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = cm.DeepCopy()
}

// remembered returns a copy of the remembered ConfigMap, nil if none.
func (s *ConfigMapStore) remembered() *corev1.ConfigMap {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last.DeepCopy()
}

// Get implements Store.
func (s *ConfigMapStore) Get(ctx context.Context, number int) (*Release, error) {
	h, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	if r := h.Get(number); r != nil {
		return r, nil
	}
	return nil, fmt.Errorf("%s: release %d: %w", s.object(), number, ErrNotFound)
}

// Create implements Store.
func (s *ConfigMapStore) Create(ctx context.Context, r *Release) error {
	return s.CreateDropping(ctx, r)
}

// CreateDropping removes the releases numbered drop and records r, in one
// write of the history: a cleanup and the release that follows it land
// together or not at all. See the package function CreateDropping.
func (s *ConfigMapStore) CreateDropping(ctx context.Context, r *Release, drop ...int) error {
	if err := r.validate(); err != nil {
		return fmt.Errorf("%s: %w", s.object(), err)
	}
	created := r.Clone()
	if created.Metadata.Created.IsZero() {
		created.Metadata.Created = s.now()
	}
	err := s.modify(ctx, true, func(h History) (History, error) {
		if len(drop) > 0 {
			h = slices.DeleteFunc(slices.Clone(h), func(r *Release) bool { return slices.Contains(drop, r.Number) })
		}
		if h.Get(created.Number) != nil {
			return nil, fmt.Errorf("%s: release %d: %w", s.object(), created.Number, ErrExists)
		}
		return append(h, created), nil
	})
	if err == nil {
		r.Metadata.Created = created.Metadata.Created
	}
	return err
}

// Fits implements the check of the package function Fits on the ConfigMap
// as last read: r replaces a release of its number, the releases numbered
// drop leave, and the keys and labels others put on the ConfigMap count
// as they are.
func (s *ConfigMapStore) Fits(r *Release, drop ...int) error {
	if err := r.validate(); err != nil {
		return fmt.Errorf("%s: %w", s.object(), err)
	}
	cm := s.remembered()
	if cm == nil {
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: s.namespace}}
	}
	h, extra, err := decodeConfigMap(cm)
	if err != nil {
		return err
	}
	rest := slices.DeleteFunc(slices.Clone(h), func(old *Release) bool {
		return old.Number == r.Number || slices.Contains(drop, old.Number)
	})
	final := r.Clone()
	if final.Metadata.Created.IsZero() {
		final.Metadata.Created = s.now()
	}
	err = encodeConfigMap(cm, append(slices.Clone(rest), final), extra, MaxObjectSize-Headroom)
	if size, ok := errors.AsType[*SizeError](err); ok {
		if data, err := configMapData(cm, rest, extra); err == nil {
			size.Rest = configMapSize(data, cm.BinaryData)
		}
	}
	return err
}

// Update implements Store.
func (s *ConfigMapStore) Update(ctx context.Context, r *Release) error {
	if err := r.validate(); err != nil {
		return fmt.Errorf("%s: %w", s.object(), err)
	}
	return s.modify(ctx, false, func(h History) (History, error) {
		i := slices.IndexFunc(h, func(old *Release) bool { return old.Number == r.Number })
		if i < 0 {
			return nil, fmt.Errorf("%s: release %d: %w", s.object(), r.Number, ErrNotFound)
		}
		updated := r.Clone()
		updated.keepStored(h[i]) // as stored now, whoever wrote it
		h[i] = updated
		return h, nil
	})
}

// Delete implements Store.
func (s *ConfigMapStore) Delete(ctx context.Context, numbers ...int) error {
	return s.modify(ctx, false, func(h History) (History, error) {
		kept := slices.DeleteFunc(slices.Clone(h), func(r *Release) bool { return slices.Contains(numbers, r.Number) })
		if len(kept) == len(h) {
			return nil, nil // nothing to delete, nothing to write
		}
		return kept, nil
	})
}

// modify reads the history, applies change and writes the result with the
// resourceVersion it read, again from the start on a conflict. change
// returns nil for "write nothing". Without a ConfigMap, create says whether
// to create one (else change sees an empty history and nothing is written
// but its error).
func (s *ConfigMapStore) modify(ctx context.Context, create bool, change func(History) (History, error)) error {
	if cm := s.remembered(); cm != nil {
		// Only a write the server accepted counts: it proves the history
		// changed was the current one.
		if written, err := s.change(ctx, cm, true, change); written && err == nil {
			return nil
		}
	}
	retriable := func(err error) bool { return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) }
	return retryOn(ctx, s.backoff, retriable, func() error {
		cm, err := s.client.CoreV1().ConfigMaps(s.namespace).Get(ctx, s.name, metav1.GetOptions{})
		exists := err == nil
		switch {
		case apierrors.IsNotFound(err):
			cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: s.namespace}}
		case err != nil:
			return fmt.Errorf("%s: %w", s.object(), err)
		}
		if !exists && !create {
			// Without a ConfigMap there is nothing to update or delete;
			// change still says whether that is an error.
			_, err := change(nil)
			return err
		}
		_, err = s.change(ctx, cm, exists, change)
		return err
	})
}

// change applies change to the history in cm and writes the result, with
// cm's resourceVersion, and reports whether it wrote. It writes nothing
// when change fails or returns nil.
func (s *ConfigMapStore) change(ctx context.Context, cm *corev1.ConfigMap, exists bool, change func(History) (History, error)) (bool, error) {
	h, extra, err := decodeConfigMap(cm)
	if err != nil {
		return false, err
	}
	h, err = change(h)
	if err != nil || h == nil {
		return false, err
	}
	if err := encodeConfigMap(cm, h, extra, MaxObjectSize); err != nil {
		return false, err
	}
	client := s.client.CoreV1().ConfigMaps(s.namespace)
	var written *corev1.ConfigMap
	if exists {
		written, err = client.Update(ctx, cm, metav1.UpdateOptions{})
	} else {
		// Create fails with AlreadyExists when another writer created it
		// first: read it again, like a conflict.
		written, err = client.Create(ctx, cm, metav1.CreateOptions{})
	}
	if err != nil {
		return false, fmt.Errorf("%s: %w", s.object(), err)
	}
	s.remember(written)
	return true, nil
}
