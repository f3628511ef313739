package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kube-release/kube-release/internal/kube"
	"github.com/kube-release/kube-release/internal/object"
)

// DeleteOptions are the options of one Delete.
type DeleteOptions struct {
	// DryRun has the server check each deletion without deleting
	// (dryRun=All).
	DryRun bool
}

// Delete deletes objects with background propagation, in the reverse of the
// apply order (workloads before the Services, RBAC and config they use,
// Namespaces last), in parallel within a stage. An object that is already
// gone (NotFound, or of a kind the server does not serve) is not an error
// and is left out of the returned changes. Like Apply, it stops after the
// first stage with a failure and reports all of that stage's failures as
// *ObjectError values; the changes returned are what was deleted.
func (a *Applier) Delete(ctx context.Context, refs []object.Ref, opts DeleteOptions) ([]Change, error) {
	type target struct {
		ref     object.Ref
		mapping *meta.RESTMapping
	}
	byStage := make([][]target, stageOther+1)
	var errs []error
	for _, ref := range refs {
		// Discovery's requests are retried in the clients' transport.
		m, err := a.resolve(ref)
		if meta.IsNoMatchError(err) {
			continue
		}
		if err != nil {
			errs = append(errs, &ObjectError{Ref: ref, Err: err})
			continue
		}
		ref.Group = m.GroupVersionKind.Group
		if m.Scope.Name() != meta.RESTScopeNameNamespace {
			ref.Namespace = ""
		} else if ref.Namespace == "" {
			errs = append(errs, &ObjectError{Ref: ref, Err: errors.New("namespaced object has no namespace")})
			continue
		}
		s := stageOf(ref.GroupKind())
		byStage[s] = append(byStage[s], target{ref, m})
	}
	// Nothing is deleted when a reference is unusable: deleting the rest
	// could remove what the unresolved object still depends on.
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	body, err := json.Marshal(&metav1.DeleteOptions{
		TypeMeta:          metav1.TypeMeta{APIVersion: "v1", Kind: "DeleteOptions"},
		PropagationPolicy: new(metav1.DeletePropagationBackground),
	})
	if err != nil {
		return nil, fmt.Errorf("delete options: %w", err)
	}
	var deleted []Change
	for s := stageOther; s >= stageNamespaces; s-- {
		targets := byStage[s]
		if len(targets) == 0 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return deleted, err
		}
		gone := make([]bool, len(targets))
		errs := make([]error, len(targets))
		a.parallel(len(targets), func(i int) {
			t := targets[i]
			path := resourcePath(t.mapping, t.ref.Namespace, t.ref.Name)
			err := a.retry(ctx, kube.Describe(http.MethodDelete, path), nil, func() error {
				req := a.rest.Delete().
					AbsPath(path).
					Body(body)
				if opts.DryRun {
					req = req.Param("dryRun", "All")
				}
				return req.Do(ctx).Error()
			})
			switch {
			case apierrors.IsNotFound(err):
			case err != nil:
				errs[i] = &ObjectError{Ref: t.ref, Err: err}
			default:
				gone[i] = true
			}
		})
		for i, t := range targets {
			if gone[i] {
				deleted = append(deleted, Change{Ref: t.ref, Action: Deleted})
			}
		}
		if err := errors.Join(errs...); err != nil {
			return deleted, err
		}
	}
	return deleted, nil
}

// resolve maps a reference to its resource. A reference without a group
// whose kind is not a core kind is looked up by kind alone.
func (a *Applier) resolve(ref object.Ref) (*meta.RESTMapping, error) {
	m, err := a.clients.Mapper.RESTMapping(ref.GroupKind())
	if err == nil || ref.Group != "" || !meta.IsNoMatchError(err) {
		return m, err
	}
	gvk, kindErr := a.clients.Mapper.KindFor(schema.GroupVersionResource{Resource: strings.ToLower(ref.Kind)})
	if meta.IsNoMatchError(kindErr) {
		return nil, err
	}
	if kindErr != nil {
		return nil, kindErr
	}
	return a.clients.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
}
