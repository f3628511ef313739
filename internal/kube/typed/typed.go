// Package typed is a typed client for the few built-in resources
// kube-release reads and writes itself: ConfigMaps, Secrets, Pods and
// Events; Deployments, StatefulSets, DaemonSets, ReplicaSets and
// ControllerRevisions; Jobs; Leases. Everything else goes through the
// dynamic client.
//
// client-go's clientset would do the same job, but it links every API
// group of Kubernetes (its scheme registers all of them, and so does
// anything that imports it, discovery included), which makes up half the
// binary. These clients are client-go's own generic ones (gentype) over a
// scheme of four groups, so they behave exactly as the clientset's do:
// protobuf on the wire, JSON for patches, the same errors.
//
// The interfaces are the subset of the clientset's that kube-release
// calls, with the same method signatures, so the clientset's clients (and
// its fakes, in tests) satisfy them too; see package typedtest.
package typed

import (
	"context"
	"fmt"
	"net/http"
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/gentype"
	"k8s.io/client-go/rest"
)

// Client reads and writes one resource of one namespace (of the cluster,
// for a resource that is not namespaced).
type Client[T runtime.Object, L runtime.Object] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	List(ctx context.Context, opts metav1.ListOptions) (L, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
	Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (T, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
}

// PodClient adds the log subresource.
type PodClient interface {
	Client[*corev1.Pod, *corev1.PodList]
	GetLogs(name string, opts *corev1.PodLogOptions) *rest.Request
}

// Interface is the typed client of a cluster.
type Interface interface {
	CoreV1() CoreV1
	AppsV1() AppsV1
	BatchV1() BatchV1
	CoordinationV1() CoordinationV1
}

// CoreV1 is the core/v1 group.
type CoreV1 interface {
	ConfigMaps(namespace string) Client[*corev1.ConfigMap, *corev1.ConfigMapList]
	Secrets(namespace string) Client[*corev1.Secret, *corev1.SecretList]
	Pods(namespace string) PodClient
	Events(namespace string) Client[*corev1.Event, *corev1.EventList]
}

// AppsV1 is the apps/v1 group.
type AppsV1 interface {
	Deployments(namespace string) Client[*appsv1.Deployment, *appsv1.DeploymentList]
	StatefulSets(namespace string) Client[*appsv1.StatefulSet, *appsv1.StatefulSetList]
	DaemonSets(namespace string) Client[*appsv1.DaemonSet, *appsv1.DaemonSetList]
	ReplicaSets(namespace string) Client[*appsv1.ReplicaSet, *appsv1.ReplicaSetList]
	ControllerRevisions(namespace string) Client[*appsv1.ControllerRevision, *appsv1.ControllerRevisionList]
}

// BatchV1 is the batch/v1 group.
type BatchV1 interface {
	Jobs(namespace string) Client[*batchv1.Job, *batchv1.JobList]
}

// CoordinationV1 is the coordination.k8s.io/v1 group.
type CoordinationV1 interface {
	Leases(namespace string) Client[*coordinationv1.Lease, *coordinationv1.LeaseList]
}

var (
	// Scheme knows the types of the four groups, and nothing else.
	Scheme = runtime.NewScheme()
	// Codecs encode and decode them.
	Codecs         = serializer.NewCodecFactory(Scheme)
	parameterCodec = runtime.NewParameterCodec(Scheme)
)

func init() {
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme,
		appsv1.AddToScheme,
		batchv1.AddToScheme,
		coordinationv1.AddToScheme,
	} {
		if err := add(Scheme); err != nil {
			panic(err)
		}
	}
	// List options and the like travel as query parameters of every
	// version; the clientset's scheme registers them the same way.
	metav1.AddToGroupVersion(Scheme, schema.GroupVersion{Version: "v1"})
}

type clientset struct {
	core   rest.Interface
	apps   rest.Interface
	batch  rest.Interface
	leases rest.Interface
}

// NewForConfig builds the clients with an HTTP client of their own.
func NewForConfig(cfg *rest.Config) (Interface, error) {
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	return NewForConfigAndClient(cfg, httpClient)
}

// NewForConfigAndClient builds the clients over one HTTP client. It makes
// no request. Each wrap, in turn, wraps the REST client of every group.
func NewForConfigAndClient(cfg *rest.Config, httpClient *http.Client, wrap ...func(rest.Interface) rest.Interface) (Interface, error) {
	var cs clientset
	for _, g := range []struct {
		client  *rest.Interface
		gv      schema.GroupVersion
		apiPath string
	}{
		{&cs.core, corev1.SchemeGroupVersion, "/api"},
		{&cs.apps, appsv1.SchemeGroupVersion, "/apis"},
		{&cs.batch, batchv1.SchemeGroupVersion, "/apis"},
		{&cs.leases, coordinationv1.SchemeGroupVersion, "/apis"},
	} {
		c := rest.CopyConfig(cfg)
		c.GroupVersion = &g.gv
		c.APIPath = g.apiPath
		c.NegotiatedSerializer = Codecs.WithoutConversion()
		if c.UserAgent == "" {
			c.UserAgent = rest.DefaultKubernetesUserAgent()
		}
		rc, err := rest.RESTClientForConfigAndClient(c, httpClient)
		if err != nil {
			return nil, fmt.Errorf("%s client: %w", g.gv, err)
		}
		*g.client = rc
		for _, w := range wrap {
			*g.client = w(*g.client)
		}
	}
	return &cs, nil
}

func (c *clientset) CoreV1() CoreV1                 { return core{c.core} }
func (c *clientset) AppsV1() AppsV1                 { return apps{c.apps} }
func (c *clientset) BatchV1() BatchV1               { return batch{c.batch} }
func (c *clientset) CoordinationV1() CoordinationV1 { return coordination{c.leases} }

// newClient is what client-gen writes for each resource: a generic client
// that prefers protobuf, as the clientset's clients of built-in types do.
func newClient[T interface {
	runtime.Object
	metav1.Object
}, L runtime.Object](rc rest.Interface, resource, namespace string) *gentype.ClientWithList[T, L] {
	return gentype.NewClientWithList(resource, rc, parameterCodec, namespace,
		func() T { return newObject[T]() },
		func() L { return newObject[L]() },
		gentype.PrefersProtobuf[T](),
	)
}

// newObject allocates the struct a pointer type T points to.
func newObject[T any]() T {
	var zero T
	return reflect.New(reflect.TypeOf(zero).Elem()).Interface().(T)
}

type core struct{ rc rest.Interface }

func (g core) ConfigMaps(ns string) Client[*corev1.ConfigMap, *corev1.ConfigMapList] {
	return newClient[*corev1.ConfigMap, *corev1.ConfigMapList](g.rc, "configmaps", ns)
}

func (g core) Secrets(ns string) Client[*corev1.Secret, *corev1.SecretList] {
	return newClient[*corev1.Secret, *corev1.SecretList](g.rc, "secrets", ns)
}

func (g core) Events(ns string) Client[*corev1.Event, *corev1.EventList] {
	return newClient[*corev1.Event, *corev1.EventList](g.rc, "events", ns)
}

func (g core) Pods(ns string) PodClient {
	return pods{newClient[*corev1.Pod, *corev1.PodList](g.rc, "pods", ns)}
}

type pods struct {
	*gentype.ClientWithList[*corev1.Pod, *corev1.PodList]
}

// GetLogs is the clientset's: a request for the log subresource, to
// stream or read whole.
func (c pods) GetLogs(name string, opts *corev1.PodLogOptions) *rest.Request {
	return c.GetClient().Get().Namespace(c.GetNamespace()).Name(name).Resource("pods").SubResource("log").VersionedParams(opts, parameterCodec)
}

type apps struct{ rc rest.Interface }

func (g apps) Deployments(ns string) Client[*appsv1.Deployment, *appsv1.DeploymentList] {
	return newClient[*appsv1.Deployment, *appsv1.DeploymentList](g.rc, "deployments", ns)
}

func (g apps) StatefulSets(ns string) Client[*appsv1.StatefulSet, *appsv1.StatefulSetList] {
	return newClient[*appsv1.StatefulSet, *appsv1.StatefulSetList](g.rc, "statefulsets", ns)
}

func (g apps) DaemonSets(ns string) Client[*appsv1.DaemonSet, *appsv1.DaemonSetList] {
	return newClient[*appsv1.DaemonSet, *appsv1.DaemonSetList](g.rc, "daemonsets", ns)
}

func (g apps) ReplicaSets(ns string) Client[*appsv1.ReplicaSet, *appsv1.ReplicaSetList] {
	return newClient[*appsv1.ReplicaSet, *appsv1.ReplicaSetList](g.rc, "replicasets", ns)
}

func (g apps) ControllerRevisions(ns string) Client[*appsv1.ControllerRevision, *appsv1.ControllerRevisionList] {
	return newClient[*appsv1.ControllerRevision, *appsv1.ControllerRevisionList](g.rc, "controllerrevisions", ns)
}

type batch struct{ rc rest.Interface }

func (g batch) Jobs(ns string) Client[*batchv1.Job, *batchv1.JobList] {
	return newClient[*batchv1.Job, *batchv1.JobList](g.rc, "jobs", ns)
}

type coordination struct{ rc rest.Interface }

func (g coordination) Leases(ns string) Client[*coordinationv1.Lease, *coordinationv1.LeaseList] {
	return newClient[*coordinationv1.Lease, *coordinationv1.LeaseList](g.rc, "leases", ns)
}
