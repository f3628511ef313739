package steps

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kube-release/kube-release/internal/apply"
)

// namespaceMissingError is why a step could not take its deploy lock: the
// lock and the history live in the target namespace, which does not exist.
// Said as is, it is the error of a step that has nothing to create there
// (rollback); withLockCreatingNamespace handles it for the steps that do.
type namespaceMissingError struct {
	namespace, release string
	err                error
}

func (e *namespaceMissingError) Error() string {
	return fmt.Sprintf("namespace %s does not exist, so release %s has no history there: check the namespace setting", e.namespace, e.release)
}

func (e *namespaceMissingError) Unwrap() error { return e.err }

// isNamespaceMissing tells whether err is the API's answer for a request in
// namespace when the namespace does not exist.
func isNamespaceMissing(err error, namespace string) bool {
	var status apierrors.APIStatus
	if !apierrors.IsNotFound(err) || !errors.As(err, &status) {
		return false
	}
	d := status.Status().Details
	return d != nil && d.Kind == "namespaces" && d.Name == namespace
}

// withLockCreatingNamespace is withLock for a step that deploys manifests
// to a namespace a first deploy may have to create (an overlay that holds
// its own Namespace). The lock lives in that namespace, so when it does not
// exist yet, create renders the manifests and creates the namespace, or
// says why it will not, and the lock is taken then. Finding that out costs
// nothing on every other run: it is the lock's own request that fails.
func withLockCreatingNamespace(ctx context.Context, env Env, namespace, name string, create func(context.Context) error, fn func(context.Context) (Result, error)) (Result, error) {
	res, err := withLock(ctx, env, namespace, name, fn)
	var missing *namespaceMissingError
	if !errors.As(err, &missing) {
		return res, err
	}
	if err := create(ctx); err != nil {
		return Result{}, err
	}
	return withLock(ctx, env, namespace, name, fn)
}

// createNamespace creates namespace, which does not exist, from the
// rendered manifests' Namespace of that name, with server-side apply and
// the field manager of every apply, or, with create (create_namespace), as
// a bare Namespace. Without either it fails: a typo in the namespace
// setting must not deploy a release somewhere new. The caller renders the
// manifests first, so that manifests that do not render create nothing.
func createNamespace(ctx context.Context, env Env, namespace string, nodes []*yaml.RNode, create bool) error {
	var obj *unstructured.Unstructured
	how := "from the manifests"
	for _, n := range nodes {
		if n.GetKind() == "Namespace" && n.GetApiVersion() == "v1" && n.GetName() == namespace {
			objs, err := toUnstructured([]*yaml.RNode{n})
			if err != nil {
				return err
			}
			obj = objs[0]
			break
		}
	}
	if obj == nil {
		if !create {
			return fmt.Errorf("namespace %s does not exist and the manifests do not hold it: add a Namespace named %s to the manifests, set create_namespace: true, or create the namespace before deploying", namespace, namespace)
		}
		obj = &unstructured.Unstructured{}
		obj.SetAPIVersion("v1")
		obj.SetKind("Namespace")
		obj.SetName(namespace)
		how = "(create_namespace)"
	}
	env.Log.Infof("Namespace %s does not exist: creating it %s", namespace, how)
	applier, err := apply.New(env.Clients, apply.Config{})
	if err != nil {
		return err
	}
	res, err := applier.Apply(ctx, []*unstructured.Unstructured{obj}, apply.Options{})
	if err != nil {
		return fmt.Errorf("create namespace %s: %w", namespace, err)
	}
	for _, c := range res.Changes {
		env.Log.Info(c.String())
	}
	return nil
}

var namespaces = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

// namespaceExists tells whether namespace exists, for a step that takes no
// lock to find out. A namespace it may not read is taken to exist: the
// step's own requests then say whatever is wrong.
func namespaceExists(ctx context.Context, env Env, namespace string) (bool, error) {
	_, err := env.Clients.Dynamic.Resource(namespaces).Get(ctx, namespace, metav1.GetOptions{})
	switch {
	case err == nil, apierrors.IsForbidden(err):
		return true, nil
	case apierrors.IsNotFound(err):
		return false, nil
	}
	return false, fmt.Errorf("namespace %s: %w", namespace, err)
}

// renderedManifests are manifests a step rendered before its lock, to
// create its namespace; the step uses them again, when rendered for the
// same release number, instead of rendering (and logging) them twice.
type renderedManifests struct {
	number int
	nodes  []*yaml.RNode
}

// take returns the nodes rendered for number, once, or nil.
func (r *renderedManifests) take(number int) []*yaml.RNode {
	if r.nodes == nil || r.number != number {
		return nil
	}
	nodes := r.nodes
	*r = renderedManifests{}
	return nodes
}
