// Package apply applies objects with server-side apply, in dependency
// order, and deletes them in the reverse order.
//
// Each object costs exactly one PATCH: what happened to it is read from the
// response, not from a GET before or after. A new object answers 201; an
// existing one 200 with its resourceVersion unchanged when the apply changed
// nothing. The old resourceVersion comes from a preceding dry run, which
// answers (measured against kube-apiserver v1.34.4):
//   - for a new object: 201, an empty resourceVersion, and a made-up uid and
//     creationTimestamp that differ on every dry run;
//   - for an existing object: 200 and the live object's resourceVersion,
//     whether or not the apply would change it.
//
// So a dry run tells new from existing but not changed from unchanged; the
// real apply that follows tells all three (see Options.Baseline).
//
// An answer can be lost after the server acted on the request (the API
// server dies, the connection drops): the retry then answers 200 for an
// object that the lost attempt created. Given a Baseline that found the
// object new, it is still reported created; an object whose outcome stays
// unknown is listed in Result.MaybeCreated when the Baseline found it new,
// in Result.Unproven when there is no Baseline to say.
package apply

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"sync"
	"time"

	"github.com/kube-release/kube-release/internal/kube"
	"github.com/kube-release/kube-release/internal/object"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
)

// FieldManager is the default field manager of every apply.
const FieldManager = "kube-release"

// Config configures an Applier. The zero value is the default.
type Config struct {
	// FieldManager owns the applied fields; default FieldManager.
	FieldManager string
	// Concurrency bounds the parallel requests of one stage; default
	// DefaultConcurrency.
	Concurrency int
	// Retry bounds the retries of transient failures.
	Retry kube.Backoff
	// CRDTimeout bounds the wait for applied CustomResourceDefinitions to
	// become Established; default 1 minute. The context still applies.
	CRDTimeout time.Duration
	// WaitForCRDs replaces the wait for applied CustomResourceDefinitions
	// (the server's responses); it runs before the kinds they define are
	// mapped. Nil: WaitEstablished on each, bounded by CRDTimeout.
	WaitForCRDs func(ctx context.Context, crds []*unstructured.Unstructured) error
}

// DefaultConcurrency is how many requests of a stage are in flight at
// once by default. A server-side apply takes the API server a few
// milliseconds of work and the network a round trip; 16 at once keep a
// small API server busy (1000 ConfigMaps, Secrets and Services: 1.5 s at 8,
// 1.1 s at 16, no better at 32, on the 2-core test machine; see
// docs/benchmarks.md) while staying well inside the API server's
// concurrency limits for one client.
const DefaultConcurrency = 16

// Applier applies and deletes objects. It is safe for concurrent use.
type Applier struct {
	clients     *kube.Clients
	rest        rest.Interface     // each request sent once: the Applier retries
	meta        metadata.Interface // metadata only: owners, never a Secret's data
	manager     string
	concurrency int
	backoff     kube.Backoff
	crdTimeout  time.Duration
	waitForCRDs func(ctx context.Context, crds []*unstructured.Unstructured) error
}

// New returns an Applier for the clients' cluster. It makes no request.
func New(clients *kube.Clients, cfg Config) (*Applier, error) {
	a := &Applier{
		clients:     clients,
		rest:        clients.REST,
		meta:        clients.Metadata,
		manager:     cfg.FieldManager,
		concurrency: cfg.Concurrency,
		backoff:     cfg.Retry.WithDefaults(),
		crdTimeout:  cfg.CRDTimeout,
		waitForCRDs: cfg.WaitForCRDs,
	}
	if a.manager == "" {
		a.manager = FieldManager
	}
	if a.concurrency <= 0 {
		a.concurrency = DefaultConcurrency
	}
	if a.crdTimeout <= 0 {
		a.crdTimeout = time.Minute
	}
	if a.waitForCRDs == nil {
		a.waitForCRDs = a.waitEstablished
	}
	return a, nil
}

// Options are the options of one Apply.
type Options struct {
	// DryRun validates and defaults every object on the server
	// (dryRun=All) without persisting anything, and reports every failure,
	// not only the first stage's. Objects that need a Namespace or a
	// CustomResourceDefinition of the same set that does not exist yet
	// cannot be checked; they are listed in Result.Skipped. Changes report
	// created for new objects and configured for existing ones, changed or
	// not: only the real apply can tell.
	DryRun bool
	// Baseline is the result of a dry run of the same objects run just
	// before a real apply. An object whose resourceVersion has not moved
	// since is reported unchanged; without a baseline an existing object is
	// reported configured, as telling would cost a GET per object.
	Baseline *Result
}

// Apply applies objs with server-side apply, forcing conflicts, stage by
// stage in the order of Order. The objects of a stage are applied in
// parallel; a real apply stops after the first stage with a failure, whose
// failures it all reports as *ObjectError values joined by errors.Join.
// A dry run checks every object and reports every failure; it needs only
// the Namespaces and CRDs before the rest (see dryRun).
// After the CustomResourceDefinitions it waits until they are Established
// and resets the RESTMapper, so custom resources of the set resolve.
// The Result holds what was applied, also when an error is returned.
func (a *Applier) Apply(ctx context.Context, objs []*unstructured.Unstructured, opts Options) (*Result, error) {
	if opts.DryRun {
		return a.dryRun(ctx, objs, opts)
	}
	r := newRun(a, objs, opts)
	res := &Result{}
	for _, st := range stages(objs) {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		outs := make([]outcome, len(st.objs))
		a.parallel(len(st.objs), func(i int) { outs[i] = r.apply(ctx, st.objs[i]) })
		changes, errs := res.add(outs)
		if len(errs) > 0 {
			return res, errors.Join(errs...)
		}
		if st.stage == stageCRDs {
			if err := a.crdsReady(ctx, changes); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// dryRun is Apply with DryRun. A dry run persists nothing, so no object
// of the set can depend on another's dry run: the stage order matters
// only for what the Namespaces and CRDs stages teach (which of them are
// new, so that their dependents are skipped). Those go first, then every
// other object at once, which spares a round trip, and a wait for the
// slowest request, per stage. The result lists the objects in stage
// order all the same.
func (a *Applier) dryRun(ctx context.Context, objs []*unstructured.Unstructured, opts Options) (*Result, error) {
	r := newRun(a, objs, opts)
	all := stages(objs)
	// outs[i] is the outcomes of stage i, nil until it ran.
	outs := make([][]outcome, len(all))
	early := func(st stage) bool { return st == stageNamespaces || st == stageCRDs }
	// result gathers the outcomes of the stages that ran, in stage order.
	result := func(more ...error) (*Result, error) {
		res := &Result{}
		var errs []error
		for _, o := range outs {
			_, e := res.add(o)
			errs = append(errs, e...)
		}
		return res, errors.Join(append(errs, more...)...)
	}
	batch := func(in func(stage) bool) {
		type item struct{ stage, index int }
		var items []item
		for i, st := range all {
			if in(st.stage) {
				outs[i] = make([]outcome, len(st.objs))
				for j := range st.objs {
					items = append(items, item{i, j})
				}
			}
		}
		a.parallel(len(items), func(k int) {
			it := items[k]
			outs[it.stage][it.index] = r.apply(ctx, all[it.stage].objs[it.index])
		})
	}

	if err := ctx.Err(); err != nil {
		return result(err)
	}
	batch(early)
	for i, st := range all {
		if early(st.stage) {
			r.learn(st.stage, st.objs, outs[i])
		}
	}
	if err := ctx.Err(); err != nil {
		return result(err)
	}
	batch(func(st stage) bool { return !early(st) })
	return result()
}

// add records the outcomes of one stage: skips, changes and what may have
// been created in res, in order. It returns the stage's changes and its
// failures.
func (res *Result) add(outs []outcome) (changes []Change, errs []error) {
	for _, o := range outs {
		switch {
		case o.err != nil:
			errs = append(errs, o.err)
			if o.maybeCreated != nil {
				res.MaybeCreated = append(res.MaybeCreated, *o.maybeCreated)
			}
		case o.skip != nil:
			res.Skipped = append(res.Skipped, *o.skip)
		default:
			changes = append(changes, o.change)
		}
		if o.unproven != nil {
			res.Unproven = append(res.Unproven, *o.unproven)
		}
	}
	res.Changes = append(res.Changes, changes...)
	return changes, errs
}

// crdsReady waits for applied CRDs and makes their kinds resolvable.
func (a *Applier) crdsReady(ctx context.Context, changes []Change) error {
	crds := make([]*unstructured.Unstructured, len(changes))
	changed := false
	for i, c := range changes {
		crds[i] = c.Object
		changed = changed || c.Action != Unchanged
	}
	if err := a.waitForCRDs(ctx, crds); err != nil {
		return err
	}
	// The mapper caches discovery from before the CRDs; an unchanged set of
	// CRDs spares the rediscovery.
	if !changed {
		return nil
	}
	a.clients.Mapper.Reset()
	// Discovery can lag a moment behind Established: wait here, once for
	// each kind, rather than in every custom resource's apply.
	return a.retry(ctx, "discovery of the new kinds", nil, func() error {
		var errs []error
		for _, crd := range crds {
			gk, _ := definedKind(crd)
			for _, v := range servedVersions(crd) {
				_, err := a.clients.Mapper.RESTMapping(gk, v)
				if meta.IsNoMatchError(err) {
					a.clients.Mapper.Reset()
					return kube.Retryable(&ObjectError{Ref: object.Of(crd), Err: fmt.Errorf("version %s not in discovery: %w", v, err)})
				}
				if err != nil {
					errs = append(errs, &ObjectError{Ref: object.Of(crd), Err: err})
				}
			}
		}
		// Discovery's requests were retried already.
		return kube.Permanent(errors.Join(errs...))
	})
}

// servedVersions lists the versions a CRD serves.
func servedVersions(crd *unstructured.Unstructured) []string {
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	var out []string
	for _, v := range versions {
		m, _ := v.(map[string]any)
		if name, _ := m["name"].(string); name != "" && m["served"] == true {
			out = append(out, name)
		}
	}
	return out
}

func (a *Applier) parallel(n int, fn func(i int)) {
	sem := make(chan struct{}, a.concurrency)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(i)
		})
	}
	wg.Wait()
}

// outcome is the result of one object: exactly one of change, skip and
// err is set. maybeCreated may come with err, unproven with err or change
// (see Result).
type outcome struct {
	change       Change
	skip         *Skip
	err          error
	maybeCreated *Change
	unproven     *object.Ref
}

// run is the state of one Apply.
type run struct {
	a    *Applier
	opts Options
	// baseline maps existing objects to their resourceVersion in the dry
	// run; absent holds the objects it found new (created, or skipped
	// because their Namespace or CRD is new too).
	baseline map[object.Ref]string
	absent   map[object.Ref]bool
	// setNamespaces and setKinds are the Namespaces and the kinds of the
	// CRDs (to the CRD's name) in the set.
	setNamespaces map[string]bool
	setKinds      map[schema.GroupKind]string
	// newNamespaces and newKinds are those a dry run found not to exist
	// yet. Written between stages only.
	newNamespaces map[string]bool
	newKinds      map[schema.GroupKind]string
}

func newRun(a *Applier, objs []*unstructured.Unstructured, opts Options) *run {
	r := &run{
		a:             a,
		opts:          opts,
		baseline:      map[object.Ref]string{},
		absent:        map[object.Ref]bool{},
		setNamespaces: map[string]bool{},
		setKinds:      map[schema.GroupKind]string{},
		newNamespaces: map[string]bool{},
		newKinds:      map[schema.GroupKind]string{},
	}
	if opts.Baseline != nil && !opts.DryRun {
		for _, c := range opts.Baseline.Changes {
			switch {
			case c.Action == Created:
				r.absent[c.Ref] = true
			case c.Object != nil:
				r.baseline[c.Ref] = c.Object.GetResourceVersion()
			}
		}
		for _, s := range opts.Baseline.Skipped {
			r.absent[s.Ref] = true
		}
	}
	for _, obj := range objs {
		switch obj.GroupVersionKind().GroupKind() {
		case schema.GroupKind{Group: groupCore, Kind: kindNamespace}:
			r.setNamespaces[obj.GetName()] = true
		case schema.GroupKind{Group: groupExtensions, Kind: kindCRD}:
			if gk, ok := definedKind(obj); ok {
				r.setKinds[gk] = obj.GetName()
			}
		}
	}
	return r
}

// guardedBody returns the apply of a ConfigMap or Secret that the dry run
// found existing with its resourceVersion then as a precondition, or nil.
// Config is what a stale run (one frozen past its deploy lock) would
// silently overwrite, and nothing but a deploy writes it, so a write that
// was decided before a freeze and sent after it meets a conflict instead.
// Workloads are left unguarded: their controllers write them all the time.
func (r *run) guardedBody(obj *unstructured.Unstructured, ref object.Ref) ([]byte, error) {
	gvk := obj.GroupVersionKind()
	if r.opts.DryRun || gvk.Group != groupCore || (gvk.Kind != kindSecret && gvk.Kind != kindConfigMap) {
		return nil, nil
	}
	rv := r.baseline[ref]
	if rv == "" {
		return nil, nil
	}
	guarded := obj.DeepCopy()
	guarded.SetResourceVersion(rv)
	return guarded.MarshalJSON()
}

// definedKind is the kind a CustomResourceDefinition defines.
func definedKind(crd *unstructured.Unstructured) (schema.GroupKind, bool) {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
	return schema.GroupKind{Group: group, Kind: kind}, kind != ""
}

// learn records, after a dry-run stage, which Namespaces and CRDs of the
// set are new, so their dependents are skipped without a request.
func (r *run) learn(st stage, objs []*unstructured.Unstructured, outs []outcome) {
	for i, o := range outs {
		if o.err != nil || o.skip != nil || o.change.Action != Created {
			continue
		}
		switch st {
		case stageNamespaces:
			r.newNamespaces[objs[i].GetName()] = true
		case stageCRDs:
			if gk, ok := definedKind(objs[i]); ok {
				r.newKinds[gk] = objs[i].GetName()
			}
		}
	}
}

// apply applies one object.
func (r *run) apply(ctx context.Context, obj *unstructured.Unstructured) outcome {
	a := r.a
	ref := object.Of(obj)
	asGiven := ref // as a dry run that skipped the object recorded it
	gvk := obj.GroupVersionKind()
	fail := func(err error) outcome {
		return outcome{err: &ObjectError{Ref: ref, Err: scrub(err, secretValues(obj))}}
	}
	skip := func(reason string) outcome { return outcome{skip: &Skip{Ref: ref, Reason: reason}} }
	crd, kindInSet := r.setKinds[gvk.GroupKind()]
	if name, ok := r.newKinds[gvk.GroupKind()]; ok {
		return skip(kindCRD + " " + name + " is created by the same set")
	}

	var mapping *meta.RESTMapping
	err := a.retry(ctx, "discovery of "+gvk.GroupKind().String(), nil, func() error {
		m, err := a.clients.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if meta.IsNoMatchError(err) && kindInSet && !r.opts.DryRun {
			// Discovery can lag behind Established for a moment.
			a.clients.Mapper.Reset()
			return kube.Retryable(err)
		}
		mapping = m
		// Discovery's requests were retried already.
		return kube.Permanent(err)
	})
	if err != nil {
		if meta.IsNoMatchError(err) && kindInSet && r.opts.DryRun {
			return skip(kindCRD + " " + crd + " of the same set does not serve this version yet")
		}
		return fail(err)
	}

	namespaced := mapping.Scope.Name() == meta.RESTScopeNameNamespace
	switch {
	case namespaced && ref.Namespace == "":
		return fail(errors.New("namespaced object has no namespace"))
	case !namespaced && ref.Namespace != "":
		// The API refuses a cluster-scoped object that names a namespace.
		obj = obj.DeepCopy()
		obj.SetNamespace("")
		ref.Namespace = ""
	}
	if r.opts.DryRun && namespaced && r.newNamespaces[ref.Namespace] {
		return skip(kindNamespace + " " + ref.Namespace + " is created by the same set")
	}

	body, err := obj.MarshalJSON()
	if err != nil {
		return fail(err)
	}
	guarded, err := r.guardedBody(obj, ref)
	if err != nil {
		return fail(err)
	}
	var code int
	var raw []byte
	// cut is set once an attempt failed in a way that does not prove the
	// server refused it: the object may have been applied, its answer lost.
	cut := false
	path := resourcePath(mapping, ref.Namespace, ref.Name)
	err = a.retry(ctx, kube.Describe(http.MethodPatch, path), secretValues(obj), func() error {
		if err := ctx.Err(); err != nil {
			return err // not sent
		}
		send := body
		if guarded != nil {
			send = guarded
		}
		req := a.rest.Patch(types.ApplyPatchType).
			AbsPath(path).
			Param("fieldManager", a.manager).
			Param("force", "true").
			Body(send)
		if r.opts.DryRun {
			req = req.Param("dryRun", "All")
		}
		res := req.Do(ctx).StatusCode(&code)
		if err := res.Error(); err != nil {
			if guarded != nil && apierrors.IsConflict(err) {
				// Changed since the dry run: by an attempt of ours whose
				// answer was lost, or by another writer. Apply it again
				// unguarded; the client's fence is asked again first.
				guarded = nil
				return kube.Retryable(err)
			}
			cut = cut || !kube.Refused(err)
			return err
		}
		raw, _ = res.Raw()
		return nil
	})
	absent := r.absent[ref] || r.absent[asGiven]
	noBaseline := r.opts.Baseline == nil && !r.opts.DryRun
	if err != nil {
		if r.opts.DryRun && namespaceMissing(err, ref.Namespace) && r.setNamespaces[ref.Namespace] {
			return skip(kindNamespace + " " + ref.Namespace + " is created by the same set")
		}
		o := fail(err)
		switch {
		case cut && absent:
			o.maybeCreated = &Change{Ref: ref, Action: Created, Object: obj}
		case cut && noBaseline:
			o.unproven = &ref
		}
		return o
	}
	out := &unstructured.Unstructured{}
	if err := out.UnmarshalJSON(raw); err != nil {
		return fail(fmt.Errorf("decoding the response: %w", err))
	}

	// Whether this Apply created the object is decided from what the run
	// observed, not from the object: its creationTimestamp and the times
	// in its managedFields come from the server's clock with second
	// precision, and an object that an earlier deploy applied carries the
	// same field manager. So:
	//   - 201: created.
	//   - 200 after an attempt that was cut off (the connection dropped or
	//     the API server died after writing, and the answer was lost):
	//     created when the dry run just before found the object new, since
	//     the lost attempt is then what created it. Only another writer
	//     creating the very same object between the dry run and this
	//     attempt could make that wrong.
	//   - 200 after a cut-off attempt without a dry run: unknown. It is
	//     reported configured and listed in Result.Unproven: an object that
	//     may have existed before the run must never be taken for one it
	//     created, or a first-failure rollback would delete it.
	//   - 200 to an attempt with none cut off before it: the object existed
	//     before this Apply, whatever the dry run said.
	o := outcome{change: Change{Ref: ref, Action: Configured, Object: out}}
	switch {
	case code == http.StatusCreated, cut && absent:
		o.change.Action = Created
	case cut && noBaseline:
		o.unproven = &ref
	default:
		if rv, ok := r.baseline[ref]; ok && rv != "" && rv == out.GetResourceVersion() {
			o.change.Action = Unchanged
		}
	}
	return o
}

// namespaceMissing tells whether err is the API's answer for an object in a
// namespace that does not exist.
func namespaceMissing(err error, namespace string) bool {
	var status apierrors.APIStatus
	if namespace == "" || !apierrors.IsNotFound(err) || !errors.As(err, &status) {
		return false
	}
	d := status.Status().Details
	return d != nil && d.Kind == "namespaces" && d.Name == namespace
}

// resourcePath is the URL path of an object, as the dynamic client builds it.
func resourcePath(m *meta.RESTMapping, namespace, name string) string {
	gv := m.Resource.GroupVersion()
	segs := []string{"/apis", gv.Group, gv.Version}
	if gv.Group == "" {
		segs = []string{"/api", gv.Version}
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		segs = append(segs, "namespaces", namespace)
	}
	return path.Join(append(segs, m.Resource.Resource, name)...)
}
