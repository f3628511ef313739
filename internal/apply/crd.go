package apply

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"

	"github.com/kube-release/kube-release/internal/kube"
	"github.com/kube-release/kube-release/internal/object"
)

// waitEstablished is the default Config.WaitForCRDs.
func (a *Applier) waitEstablished(ctx context.Context, crds []*unstructured.Unstructured) error {
	ctx, cancel := context.WithTimeout(ctx, a.crdTimeout)
	defer cancel()
	errs := make([]error, len(crds))
	a.parallel(len(crds), func(i int) {
		if err := WaitEstablished(ctx, a.clients.Dynamic, crds[i]); err != nil {
			errs[i] = &ObjectError{Ref: object.Of(crds[i]), Err: err}
		}
	})
	return errors.Join(errs...)
}

// WaitEstablished waits until a CustomResourceDefinition is Established,
// starting from crd, typically the apply's response: re-applying an
// established CRD costs no request. Otherwise it watches the CRD, so it
// returns as soon as the API server serves the new kind; it fails at once
// when the CRD's names are refused (NamesAccepted False), which no wait
// cures. Bound it with the context.
func WaitEstablished(ctx context.Context, client dynamic.Interface, crd *unstructured.Unstructured) error {
	if done, err := established(crd); done || err != nil {
		return err
	}
	crds := client.Resource(schema.GroupVersionResource{Group: groupExtensions, Version: "v1", Resource: "customresourcedefinitions"})
	opts := metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", crd.GetName()).String()}
	var last error
	for {
		// A watch without a resourceVersion starts with the current
		// object, so a restarted watch misses nothing.
		w, err := crds.Watch(ctx, opts)
		if err == nil {
			var done bool
			done, err = watchEstablished(ctx, w)
			w.Stop()
			if done {
				return nil
			}
		}
		if err != nil {
			if _, ok := kube.Transient(err); !ok {
				return fmt.Errorf("waiting for %s: %w", crdEstablished, err)
			}
			last = err
		}
		timer := time.NewTimer(200 * time.Millisecond)
		select {
		case <-ctx.Done():
			timer.Stop()
			if last != nil {
				return fmt.Errorf("waiting for %s: %w (last error: %v)", crdEstablished, context.Cause(ctx), last)
			}
			return fmt.Errorf("waiting for %s: %w", crdEstablished, context.Cause(ctx))
		case <-timer.C:
			// A pause, so a failing watch is not retried in a tight loop.
		}
	}
}

// watchEstablished reads events until the CRD is Established, its names are
// refused, the watch ends (false, nil) or the context ends (false, nil).
func watchEstablished(ctx context.Context, w watch.Interface) (bool, error) {
	for {
		select {
		case <-ctx.Done():
			return false, nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return false, nil
			}
			switch ev.Type {
			case watch.Error:
				return false, apierrors.FromObject(ev.Object)
			case watch.Deleted:
				return false, errors.New("deleted while waiting for " + crdEstablished)
			}
			if u, ok := ev.Object.(*unstructured.Unstructured); ok {
				if done, err := established(u); done || err != nil {
					return done, err
				}
			}
		}
	}
}

// established reads a CRD's conditions.
func established(crd *unstructured.Unstructured) (bool, error) {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		typ, _ := m["type"].(string)
		status, _ := m["status"].(string)
		switch {
		case typ == crdEstablished && status == string(metav1.ConditionTrue):
			return true, nil
		case typ == crdNamesAccepted && status == string(metav1.ConditionFalse):
			msg, _ := m["message"].(string)
			return false, fmt.Errorf("names not accepted: %s", msg)
		}
	}
	return false, nil
}
