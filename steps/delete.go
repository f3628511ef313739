package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kube-release/kube-release/internal/apply"
	"github.com/kube-release/kube-release/internal/logging"
	"github.com/kube-release/kube-release/internal/object"
	"github.com/kube-release/kube-release/internal/release"
)

// DeleteConfig is what the delete step needs of the settings. Exactly one
// of Resources, ReleaseObjects and Manifests says what to delete.
type DeleteConfig struct {
	// Release is optional, except with ReleaseObjects. When set, the step
	// holds the release's deploy lock, deletes no object of another
	// release, and may delete what the release's history names outside
	// the namespace (cluster-scoped objects, other namespaces).
	Release   string
	Namespace string
	// Resources are the objects to delete, each "Kind/name" (see
	// parseObjectName), in the namespace.
	Resources []string
	// ReleaseObjects deletes every object the release's history records.
	ReleaseObjects bool
	// DeleteNamespace, with ReleaseObjects, also deletes the Namespaces
	// the history records, as Harness's Delete namespace does; without it
	// they stay.
	DeleteNamespace bool
	// Manifests are manifests whose objects to delete, rendered as the
	// apply step renders them (templates see the newest release number).
	Manifests []string
	Render    RenderConfig
	// Timeout bounds the step.
	Timeout time.Duration
}

// Delete deletes objects, as Harness's K8sDelete does: those it names,
// those of the release's history, or those manifests render to. It never
// reaches outside the namespace but for what the release's history
// names, spares what another release owns or uses, and takes an object
// already gone for deleted. It records no release.
type Delete struct {
	base[DeleteConfig]
	src source
}

// NewDelete returns the delete step.
func NewDelete(cfg DeleteConfig, env Env) *Delete {
	src := source{cfg.Release, cfg.Namespace, cfg.Manifests, cfg.Render, false, renderedManifests{}}
	return &Delete{base[DeleteConfig]{cfg, env}, src}
}

// What a delete selects its objects by, for its log and summary.
const (
	deleteByResources      = "resources"
	deleteByReleaseObjects = "release objects"
	deleteByManifests      = "manifests"
)

// deletePlan is what a delete settled: the objects, and what became of
// them.
type deletePlan struct {
	by       string
	objects  int
	notFound int
	deleted  int
}

// Run implements Step: under the release's deploy lock when Release is
// set. The settings are checked first.
func (d *Delete) Run(ctx context.Context) (Result, error) {
	by, err := d.selection()
	if err != nil {
		return d.failed(nil, err)
	}
	plan := &deletePlan{by: by}
	if d.cfg.Release == "" {
		return d.run(ctx, plan)
	}
	res, err := withLock(ctx, d.env, d.cfg.Namespace, d.cfg.Release, func(ctx context.Context) (Result, error) {
		return d.run(ctx, plan)
	})
	if err != nil && res.Outputs == nil {
		// The lock was not taken: nothing was deleted.
		return d.failed(nil, err)
	}
	return res, err
}

// selection says which setting selects the objects, and refuses none or
// several.
func (d *Delete) selection() (string, error) {
	var set []string
	if len(d.cfg.Resources) > 0 {
		set = append(set, deleteByResources)
	}
	if d.cfg.ReleaseObjects {
		set = append(set, deleteByReleaseObjects)
	}
	if len(d.cfg.Manifests) > 0 {
		set = append(set, deleteByManifests)
	}
	switch {
	case len(set) != 1:
		return "", fmt.Errorf("delete: give exactly one of resources, delete_release_objects and manifests to say what to delete (got %d%s)",
			len(set), listedIn(set))
	case d.cfg.DeleteNamespace && set[0] != deleteByReleaseObjects:
		return "", errors.New("delete: delete_namespace goes with delete_release_objects only")
	case set[0] == deleteByReleaseObjects && d.cfg.Release == "":
		return "", errors.New("delete: delete_release_objects needs the release whose objects to delete")
	}
	return set[0], nil
}

func listedIn(set []string) string {
	if len(set) == 0 {
		return ""
	}
	return ": " + strings.Join(set, ", ")
}

// target is an object to delete, and whether the release's history names
// it: only then may it be outside the namespace.
type target struct {
	ref     object.Ref
	history bool
	// strict makes a kind the cluster does not serve an error: the user
	// wrote it, and a typo must not pass for "already gone".
	strict bool
	// mapping is the object's resource, once resolved.
	mapping *meta.RESTMapping
}

func (d *Delete) run(ctx context.Context, plan *deletePlan) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	log := d.env.Log

	existing, err := d.prepare(ctx, plan)
	if err != nil {
		return d.failed(plan, err)
	}
	if plan.objects == 0 {
		logging.Succeeded(log, "Nothing to delete")
		return d.result(statusSucceeded, plan, nil), nil
	}
	applier, err := apply.New(d.env.Clients, apply.Config{})
	if err != nil {
		return d.failed(plan, err)
	}
	plan.deleted, err = deleteReported(ctx, d.env, applier, existing, owner{Namespace: d.cfg.Namespace, Name: d.cfg.Release}, "%s deleted")
	if err != nil {
		return d.failed(plan, fmt.Errorf("delete: %w", err))
	}
	logging.Succeeded(log, "Deleted %d objects of %d (%d not found)", plan.deleted, plan.objects, plan.notFound)
	return d.result(statusSucceeded, plan, nil), nil
}

// prepare settles what to delete, and deletes nothing: the objects the
// settings select that exist, every one checked first.
func (d *Delete) prepare(ctx context.Context, plan *deletePlan) ([]object.Ref, error) {
	var book *release.Book
	names := historyNames{namespace: d.cfg.Namespace}
	if d.cfg.Release != "" {
		book = d.env.book(d.cfg.Namespace, d.cfg.Release)
		unreadable, err := readBook(ctx, book)
		if err != nil {
			return nil, err
		}
		warnUnreadable(d.env, unreadable)
		if names, err = historyObjects(book, d.cfg.Namespace); err != nil {
			return nil, err
		}
	}
	targets, err := d.targets(ctx, plan.by, book)
	if err != nil {
		return nil, err
	}
	refs, err := d.resolve(targets, names)
	if err != nil || len(refs) == 0 {
		return nil, err
	}
	plan.objects = len(refs)
	d.env.Log.Infof("Objects to delete (%s):", plan.by)
	for _, t := range refs {
		d.env.Log.Infof("  %s", t.ref)
	}
	existing, err := d.existing(ctx, refs)
	if err != nil {
		return nil, err
	}
	plan.notFound = len(refs) - len(existing)
	return existing, nil
}

// targets are the objects the setting selects, in its order.
func (d *Delete) targets(ctx context.Context, by string, book *release.Book) ([]target, error) {
	switch by {
	case deleteByResources:
		var targets []target
		var errs []error
		for _, s := range d.cfg.Resources {
			n, err := parseObjectName(s, d.cfg.Namespace)
			if err != nil {
				errs = append(errs, fmt.Errorf("resources: %w", err))
				continue
			}
			targets = append(targets, target{ref: object.Ref{Group: n.Group, Kind: n.Kind, Namespace: d.cfg.Namespace, Name: n.Name}, strict: true})
		}
		return targets, errors.Join(errs...)
	case deleteByReleaseObjects:
		return d.releaseTargets(book)
	}
	number := 0
	if book != nil {
		number = book.Highest()
	}
	nodes, err := d.src.render(ctx, d.env, number)
	if err != nil {
		return nil, err
	}
	objs, err := toUnstructured(nodes)
	if err != nil {
		return nil, err
	}
	targets := make([]target, len(objs))
	for i, obj := range objs {
		targets[i] = target{ref: object.Of(obj)}
	}
	return targets, nil
}

// releaseTargets are the objects every readable release of the history
// records, newest release first: the last successful release's versioned
// config as well as the newest release's objects, so that nothing the
// release deployed is left behind. Namespaces stay without
// DeleteNamespace.
func (d *Delete) releaseTargets(book *release.Book) ([]target, error) {
	log := d.env.Log
	history := book.History()
	if len(history) == 0 {
		log.Infof("Release %s has no history in namespace %s", d.cfg.Release, d.cfg.Namespace)
		return nil, nil
	}
	numbers := make([]string, len(history))
	var targets []target
	for i, r := range history {
		numbers[i] = strconv.Itoa(r.Number)
		format, _ := book.Format(r.Number)
		refs, err := releaseObjects(r, format == release.Declarative)
		if err != nil {
			return nil, err
		}
		for _, ref := range refs {
			if ref.Kind == "Namespace" && (ref.Group == "" || ref.Group == "core") && !d.cfg.DeleteNamespace {
				log.Infof("Namespace %s not deleted: set delete_namespace to delete the namespaces of the release", ref.Name)
				continue
			}
			targets = append(targets, target{ref: ref, history: true})
		}
	}
	log.Infof("Deleting the objects of release %s, releases %s", d.cfg.Release, strings.Join(numbers, ", "))
	return targets, nil
}

// resolve maps each target to its resource, by discovery, and gives it
// its API group and scope: a namespaced object without a namespace is in
// the step's. It refuses, before anything is deleted, what is outside the
// namespace (cluster-scoped objects, Namespaces included, and objects of
// other namespaces) unless the release's history names it, a kind the
// cluster does not serve that the user named, and a kind several API
// groups serve. Duplicates are left out.
func (d *Delete) resolve(targets []target, names historyNames) ([]target, error) {
	var out []target
	var errs []error
	seen := map[object.Ref]bool{}
	for _, t := range targets {
		m, err := resolveKind(d.env.Clients.Mapper, t.ref.Group, t.ref.Kind)
		switch {
		case errors.Is(err, errUnknownKind) && !t.strict:
			d.env.Log.Infof("%s not found: %v", t.ref, err)
			continue
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", t.ref.Subject(), err))
			continue
		}
		ref := t.ref
		ref.Group, ref.Kind = m.GroupVersionKind.Group, m.GroupVersionKind.Kind
		if gvk, err := d.env.Clients.Mapper.KindFor(m.Resource); err == nil {
			// The kind as the API spells it, whatever case the user wrote.
			ref.Kind = gvk.Kind
		}
		namespaced := m.Scope.Name() == meta.RESTScopeNameNamespace
		switch {
		case !namespaced:
			ref.Namespace = ""
		case ref.Namespace == "":
			ref.Namespace = d.cfg.Namespace
		}
		if seen[ref] {
			continue
		}
		seen[ref] = true
		if (!namespaced || ref.Namespace != d.cfg.Namespace) && !t.history && !names.has(ref) {
			where := "is cluster-scoped"
			if namespaced {
				where = "is in namespace " + ref.Namespace
			}
			errs = append(errs, fmt.Errorf("%s %s, outside namespace %s: a delete reaches outside its namespace only for the objects the release's history names", ref.Subject(), where, d.cfg.Namespace))
			continue
		}
		t.ref, t.mapping = ref, m
		out = append(out, t)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("nothing was deleted:\n%w", errors.Join(errs...))
	}
	return out, nil
}

// existing are the targets that exist; each that does not is logged, as
// success: what is to be deleted is gone.
func (d *Delete) existing(ctx context.Context, targets []target) ([]object.Ref, error) {
	found := make([]bool, len(targets))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	limit := make(chan struct{}, apply.DefaultConcurrency)
	for i, t := range targets {
		wg.Go(func() {
			limit <- struct{}{}
			defer func() { <-limit }()
			client := d.env.Clients.Metadata.Resource(t.mapping.Resource)
			var err error
			if t.ref.Namespace == "" {
				_, err = client.Get(ctx, t.ref.Name, metav1.GetOptions{})
			} else {
				_, err = client.Namespace(t.ref.Namespace).Get(ctx, t.ref.Name, metav1.GetOptions{})
			}
			switch {
			case apierrors.IsNotFound(err):
			case err != nil:
				errs[i] = fmt.Errorf("%s: %w", t.ref.Subject(), err)
			default:
				found[i] = true
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("nothing was deleted: %w", err)
	}
	var refs []object.Ref
	for i, t := range targets {
		if found[i] {
			refs = append(refs, t.ref)
		} else {
			d.env.Log.Infof("%s not found: already deleted", t.ref)
		}
	}
	return refs, nil
}

func (d *Delete) failed(plan *deletePlan, err error) (Result, error) {
	return d.result(statusFailed, plan, err), err
}

func (d *Delete) result(status string, plan *deletePlan, failure error) Result {
	sum := summary{Step: "delete", Release: d.cfg.Release, Namespace: d.cfg.Namespace, Status: status, Failure: failure}
	deleted := 0
	if plan != nil {
		deleted = plan.deleted
		sum.Facts = []fact{{"Selected by", plan.by}}
		if plan.objects > 0 {
			sum.Facts = append(sum.Facts,
				fact{"Objects", strconv.Itoa(plan.objects)},
				fact{"Deleted", strconv.Itoa(plan.deleted)},
				fact{"Not found", strconv.Itoa(plan.notFound)})
		}
		sum.Note = fmt.Sprintf("%d objects deleted.", plan.deleted)
	}
	outputs := []Output{{OutputRelease, d.cfg.Release}, {OutputStatus, status}, {OutputDeleted, strconv.Itoa(deleted)}}
	return Result{Outputs: outputs, Summary: sum.Markdown()}
}

// Why resolveKind cannot map a kind.
var (
	errUnknownKind   = errors.New("the cluster serves no such kind")
	errAmbiguousKind = errors.New("several API groups serve that kind")
)

// resolveKind maps a kind, of group when given, to its resource, as the
// apply engine maps a reference: without a group, a core kind first,
// then the kind alone, which must name one API group ("Kind.group" names
// one of several).
func resolveKind(mapper meta.RESTMapper, group, kind string) (*meta.RESTMapping, error) {
	if group != "" {
		m, err := mapper.RESTMapping(schema.GroupKind{Group: group, Kind: kind})
		if meta.IsNoMatchError(err) {
			return nil, fmt.Errorf("%w: %s in API group %s", errUnknownKind, kind, group)
		}
		return m, err
	}
	m, err := mapper.RESTMapping(schema.GroupKind{Kind: kind})
	if err == nil || !meta.IsNoMatchError(err) {
		return m, err
	}
	kinds, err := mapper.KindsFor(schema.GroupVersionResource{Resource: strings.ToLower(kind)})
	if err != nil && !meta.IsNoMatchError(err) {
		return nil, err
	}
	var gks []schema.GroupKind
	for _, gvk := range kinds {
		if !slices.Contains(gks, gvk.GroupKind()) {
			gks = append(gks, gvk.GroupKind())
		}
	}
	switch len(gks) {
	case 0:
		return nil, fmt.Errorf("%w: %s (check its spelling, or install its CustomResourceDefinition)", errUnknownKind, kind)
	case 1:
		return mapper.RESTMapping(gks[0])
	}
	groups := make([]string, len(gks))
	for i, gk := range gks {
		groups[i] = gk.Group
	}
	slices.Sort(groups)
	return nil, fmt.Errorf("%w: %s is served by API groups %s; name one, as %s.%s/name", errAmbiguousKind, kind, strings.Join(groups, ", "), gks[0].Kind, groups[0])
}
