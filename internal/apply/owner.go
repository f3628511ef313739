package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"

	"github.com/kube-release/kube-release/internal/manifest"
	"github.com/kube-release/kube-release/internal/object"
)

// Ownership. Every object a release applies carries its release in two
// annotations (manifest.OwnerFilter), as Helm marks its objects. One field manager applies for
// every release, so server-side apply alone would let one release take
// another's object over without a word (force) or refuse a field two
// releases set alike (without): the annotations say whose an object is,
// the deploy refuses before writing anything to take over an object of
// another release (Conflicts), and cleanup and pruning spare what another
// release owns or uses (Spare).
// Owner is a release, the owner of the objects it applies.
type Owner struct {
	Namespace, Name string
}

// String formats the owner as namespace/name.
func (o Owner) String() string { return o.Namespace + "/" + o.Name }

// OwnerOf reads the owner from an object's annotations; false when it has
// none (an object no release has applied since ownership was recorded).
func OwnerOf(annotations map[string]string) (Owner, bool) {
	name := annotations[manifest.OwnerNameAnnotation]
	if name == "" {
		return Owner{}, false
	}
	return Owner{Namespace: annotations[manifest.OwnerNamespaceAnnotation], Name: name}, true
}

// Conflict is an object of a deploy that another release owns.
type Conflict struct {
	Ref   object.Ref
	Owner Owner
}

func (c Conflict) String() string {
	return fmt.Sprintf("%s belongs to release %s", c.Ref, c.Owner)
}

// Owners returns the owner of each object of objs that exists and has
// one. It reads only metadata: one list per kind and namespace, one get per
// cluster-scoped object.
func (a *Applier) Owners(ctx context.Context, objs []*unstructured.Unstructured) (map[object.Ref]Owner, error) {
	refs := make([]object.Ref, len(objs))
	for i, obj := range objs {
		refs[i] = object.Of(obj)
	}
	live, err := a.liveMetadata(ctx, refs)
	if err != nil {
		return nil, err
	}
	owners := map[object.Ref]Owner{}
	for ref, m := range live {
		if owner, ok := OwnerOf(m.Annotations); ok {
			owners[ref] = owner
		}
	}
	return owners, nil
}

// Conflicts returns the objects of objs that exist and belong to another
// release than self, in the order of objs.
func (a *Applier) Conflicts(ctx context.Context, objs []*unstructured.Unstructured, self Owner) ([]Conflict, error) {
	owners, err := a.Owners(ctx, objs)
	if err != nil {
		return nil, err
	}
	var out []Conflict
	for _, obj := range objs {
		ref := object.Of(obj)
		if owner, ok := owners[ref]; ok && owner != self {
			out = append(out, Conflict{Ref: ref, Owner: owner})
		}
	}
	return out, nil
}

// Spared is an object a cleanup or pruning leaves alone, and why.
type Spared struct {
	Ref    object.Ref
	Reason string
}

func (s Spared) String() string { return s.Ref.String() + " kept: " + s.Reason }

// Spare splits objects that self's cleanup or pruning is about to delete
// into those it may delete and those it must leave: an object another
// release owns, and a ConfigMap or Secret that a live workload of another
// release (or of no release) uses. Objects that are gone are kept in
// the list to delete; Delete skips them.
func (a *Applier) Spare(ctx context.Context, refs []object.Ref, self Owner) (del []object.Ref, spared []Spared, err error) {
	if len(refs) == 0 {
		return nil, nil, nil
	}
	live, err := a.liveMetadata(ctx, refs)
	if err != nil {
		return nil, nil, err
	}
	var namespaces []string
	for _, ref := range refs {
		if isConfig(ref) && !slices.Contains(namespaces, ref.Namespace) {
			namespaces = append(namespaces, ref.Namespace)
		}
	}
	users, err := a.configUsers(ctx, namespaces, self)
	if err != nil {
		return nil, nil, err
	}
	for _, ref := range refs {
		var owner Owner
		owned := false
		if m := live[ref]; m != nil {
			owner, owned = OwnerOf(m.Annotations)
		}
		switch {
		case owned && owner != self:
			spared = append(spared, Spared{ref, "it belongs to release " + owner.String()})
		case isConfig(ref) && len(users[configKey(ref)]) > 0:
			spared = append(spared, Spared{ref, "it is used by " + strings.Join(users[configKey(ref)], ", ")})
		default:
			del = append(del, ref)
		}
	}
	return del, spared, nil
}

func isConfig(ref object.Ref) bool {
	return ref.Group == groupCore && (ref.Kind == kindConfigMap || ref.Kind == kindSecret)
}

func configKey(ref object.Ref) string { return ref.Kind + "/" + ref.Namespace + "/" + ref.Name }

// liveMetadata reads the metadata of the objects that exist.
func (a *Applier) liveMetadata(ctx context.Context, refs []object.Ref) (map[object.Ref]*metav1.ObjectMeta, error) {
	type group struct {
		mapping   *meta.RESTMapping
		namespace string
		refs      []object.Ref
	}
	var groups []*group
	index := map[string]*group{}
	var errs []error
	for _, ref := range refs {
		// Discovery's requests are retried in the clients' transport.
		m, err := a.resolve(ref)
		if meta.IsNoMatchError(err) {
			continue // a kind not served yet (its CRD is in the set): nothing of it exists
		}
		if err != nil {
			errs = append(errs, &ObjectError{Ref: ref, Err: err})
			continue
		}
		ns := ref.Namespace
		if m.Scope.Name() != meta.RESTScopeNameNamespace {
			ns = ""
		}
		key := m.Resource.String() + " " + ns
		g := index[key]
		if g == nil {
			g = &group{mapping: m, namespace: ns}
			index[key] = g
			groups = append(groups, g)
		}
		g.refs = append(g.refs, ref)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	var mu sync.Mutex
	out := map[object.Ref]*metav1.ObjectMeta{}
	found := func(ref object.Ref, m metav1.ObjectMeta) {
		mu.Lock()
		out[ref] = &m
		mu.Unlock()
	}
	// The metadata and dynamic clients retry each request in their
	// transport.
	errs = make([]error, len(groups))
	a.parallel(len(groups), func(i int) {
		g := groups[i]
		client := a.meta.Resource(g.mapping.Resource)
		if g.namespace != "" {
			list, err := client.Namespace(g.namespace).List(ctx, metav1.ListOptions{})
			switch {
			case err == nil:
				byName := map[string]metav1.ObjectMeta{}
				for _, item := range list.Items {
					byName[item.Name] = item.ObjectMeta
				}
				for _, ref := range g.refs {
					if m, ok := byName[ref.Name]; ok {
						found(ref, m)
					}
				}
				return
			case !apierrors.IsForbidden(err):
				errs[i] = fmt.Errorf("list %s in namespace %s: %w", g.mapping.Resource.Resource, g.namespace, err)
				return
			}
			// A Role that grants get but not list: one get per object.
		}
		for _, ref := range g.refs {
			var get metadata.ResourceInterface = client
			if g.namespace != "" {
				get = client.Namespace(g.namespace)
			}
			obj, err := get.Get(ctx, ref.Name, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
			case err != nil:
				errs[i] = &ObjectError{Ref: ref, Err: err}
				return
			default:
				found(ref, obj.ObjectMeta)
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("read the owners of the objects: %w", err)
	}
	return out, nil
}

// workloadKinds are the kinds whose pod templates use ConfigMaps and
// Secrets, with the path of the pod spec in each.
var workloadKinds = []struct {
	gk   schema.GroupKind
	spec []string
}{
	{schema.GroupKind{Group: "apps", Kind: "Deployment"}, []string{"spec", "template", "spec"}},
	{schema.GroupKind{Group: "apps", Kind: "StatefulSet"}, []string{"spec", "template", "spec"}},
	{schema.GroupKind{Group: "apps", Kind: "DaemonSet"}, []string{"spec", "template", "spec"}},
	{schema.GroupKind{Group: "batch", Kind: "Job"}, []string{"spec", "template", "spec"}},
	{schema.GroupKind{Group: "batch", Kind: "CronJob"}, []string{"spec", "jobTemplate", "spec", "template", "spec"}},
}

// configUsers maps each ConfigMap and Secret ("Kind/namespace/name") that
// a live workload not of self uses to those workloads.
func (a *Applier) configUsers(ctx context.Context, namespaces []string, self Owner) (map[string][]string, error) {
	users := map[string][]string{}
	if len(namespaces) == 0 {
		return users, nil
	}
	type job struct {
		namespace string
		kind      int
	}
	var jobs []job
	for _, ns := range namespaces {
		for k := range workloadKinds {
			jobs = append(jobs, job{ns, k})
		}
	}
	var mu sync.Mutex
	errs := make([]error, len(jobs))
	a.parallel(len(jobs), func(i int) {
		j := jobs[i]
		wk := workloadKinds[j.kind]
		m, err := a.clients.Mapper.RESTMapping(wk.gk)
		if err != nil {
			errs[i] = err
			return
		}
		list, err := a.clients.Dynamic.Resource(m.Resource).Namespace(j.namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			errs[i] = fmt.Errorf("list %s in namespace %s: %w", m.Resource.Resource, j.namespace, err)
			return
		}
		for _, w := range list.Items {
			if workloadOf(&w, wk.spec, self) {
				continue
			}
			spec, _, _ := unstructured.NestedMap(w.Object, wk.spec...)
			user := wk.gk.Kind + "/" + w.GetName()
			if owner, ok := OwnerOf(w.GetAnnotations()); ok {
				user += " of release " + owner.String()
			}
			mu.Lock()
			for _, used := range podSpecConfig(spec) {
				key := strings.Replace(used, "/", "/"+j.namespace+"/", 1)
				if !slices.Contains(users[key], user) {
					users[key] = append(users[key], user)
				}
			}
			mu.Unlock()
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("read the workloads that use config: %w", err)
	}
	return users, nil
}

// workloadOf reports whether a live workload belongs to self: by its
// owner annotations, or, for one applied before they were recorded, by the
// release label of its pod template.
func workloadOf(w *unstructured.Unstructured, specPath []string, self Owner) bool {
	if owner, ok := OwnerOf(w.GetAnnotations()); ok {
		return owner == self
	}
	templateLabels := append(slices.Clone(specPath[:len(specPath)-1]), "metadata", "labels")
	release, _, _ := unstructured.NestedString(w.Object, append(templateLabels, manifest.ReleaseNameLabel)...)
	return release == self.Name
}

// podSpecConfig lists the ConfigMaps and Secrets a pod spec uses, as
// "ConfigMap/name" and "Secret/name": the references that versioning
// rewrites (env, envFrom, volumes, projected volumes, imagePullSecrets).
func podSpecConfig(spec map[string]any) []string {
	var out []string
	add := func(kind string, m map[string]any, key string) {
		if name, _ := m[key].(string); name != "" {
			out = append(out, kind+"/"+name)
		}
	}
	sub := func(m map[string]any, key string) map[string]any {
		v, _ := m[key].(map[string]any)
		return v
	}
	list := func(m map[string]any, key string) []map[string]any {
		items, _ := m[key].([]any)
		var out []map[string]any
		for _, it := range items {
			if v, ok := it.(map[string]any); ok {
				out = append(out, v)
			}
		}
		return out
	}
	for _, field := range []string{"initContainers", "containers", "ephemeralContainers"} {
		for _, c := range list(spec, field) {
			for _, env := range list(c, "env") {
				from := sub(env, "valueFrom")
				add(kindConfigMap, sub(from, "configMapKeyRef"), "name")
				add(kindSecret, sub(from, "secretKeyRef"), "name")
			}
			for _, from := range list(c, "envFrom") {
				add(kindConfigMap, sub(from, "configMapRef"), "name")
				add(kindSecret, sub(from, "secretRef"), "name")
			}
		}
	}
	for _, v := range list(spec, "volumes") {
		add(kindConfigMap, sub(v, "configMap"), "name")
		add(kindSecret, sub(v, "secret"), "secretName")
		for _, src := range list(sub(v, "projected"), "sources") {
			add(kindConfigMap, sub(src, "configMap"), "name")
			add(kindSecret, sub(src, "secret"), "name")
		}
	}
	for _, s := range list(spec, "imagePullSecrets") {
		add(kindSecret, s, "name")
	}
	return out
}
