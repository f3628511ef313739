package steps

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kube-release/kube-release/internal/apply"
	"github.com/kube-release/kube-release/internal/logging"
	"github.com/kube-release/kube-release/internal/manifest"
	"github.com/kube-release/kube-release/internal/object"
	"github.com/kube-release/kube-release/internal/release"
)

// ScaleConfig is what the scale step needs of the settings.
type ScaleConfig struct {
	Release   string
	Namespace string
	// Workload is the Deployment or StatefulSet to scale: "Kind/name", or
	// with the namespace as Harness writes it, "namespace/Kind/name"
	// (parseObjectName); the namespace must be Namespace.
	Workload string
	// Instances is what to scale to: a count ("3") or a percentage of the
	// workload's replicas when the step starts ("50%"; see scaledCount).
	Instances string
	// SkipSteadyStateCheck returns once scaled, without waiting.
	SkipSteadyStateCheck bool
	// Timeout bounds the step.
	Timeout       time.Duration
	FailFast      bool
	FailFastAfter time.Duration
}

// Scale sets the replicas of one workload of a release, as Harness's
// K8sScale does, and waits for it to reach steady state. It refuses a
// workload the release does not own, and records no release: the next
// deploy applies the manifests' replicas again.
type Scale struct{ base[ScaleConfig] }

// NewScale returns the scale step.
func NewScale(cfg ScaleConfig, env Env) *Scale { return &Scale{base[ScaleConfig]{cfg, env}} }

// scalePlan is what the step decided: the workload, and its replicas
// before and after.
type scalePlan struct {
	workload object.Ref
	from, to int
}

// Run implements Step, under the release's deploy lock. The settings are
// checked before the lock is taken.
func (s *Scale) Run(ctx context.Context) (Result, error) {
	w, count, err := s.parse()
	if err != nil {
		return s.failed(nil, err)
	}
	res, err := withLock(ctx, s.env, s.cfg.Namespace, s.cfg.Release, func(ctx context.Context) (Result, error) {
		ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		defer cancel()
		return s.run(ctx, w, count)
	})
	if err != nil && res.Outputs == nil {
		// The lock was not taken: nothing was changed.
		return s.failed(nil, err)
	}
	return res, err
}

// parse reads the workload and instances settings.
func (s *Scale) parse() (object.Ref, instances, error) {
	if s.cfg.Release == "" {
		return object.Ref{}, instances{}, errors.New("scale: release is required: the step scales only a workload of the release")
	}
	n, err := parseObjectName(s.cfg.Workload, s.cfg.Namespace)
	if err != nil {
		return object.Ref{}, instances{}, fmt.Errorf("workload: %w", err)
	}
	w := object.Ref{Group: "apps", Kind: n.Kind, Namespace: s.cfg.Namespace, Name: n.Name}
	switch {
	case n.Group != "" && n.Group != "apps":
		return object.Ref{}, instances{}, fmt.Errorf("workload %s: only a Deployment or StatefulSet can be scaled, and %s is of group %s; nothing was changed", s.cfg.Workload, n.Kind, n.Group)
	case strings.EqualFold(n.Kind, "Deployment"):
		w.Kind = "Deployment"
	case strings.EqualFold(n.Kind, "StatefulSet"):
		w.Kind = "StatefulSet"
	default:
		return object.Ref{}, instances{}, fmt.Errorf("workload %s: only a Deployment or StatefulSet can be scaled, not a %s; nothing was changed", s.cfg.Workload, n.Kind)
	}
	count, err := parseInstances(s.cfg.Instances)
	if err != nil {
		return object.Ref{}, instances{}, fmt.Errorf("instances: %w", err)
	}
	return w, count, nil
}

func (s *Scale) run(ctx context.Context, w object.Ref, count instances) (Result, error) {
	log := s.env.Log
	live, err := s.live(ctx, w)
	if err != nil {
		return s.failed(nil, err)
	}
	if err := s.checkOwner(ctx, w, live); err != nil {
		return s.failed(nil, err)
	}
	from := 1 // the API's default
	if replicas, found, err := unstructured.NestedInt64(live.Object, "spec", "replicas"); err != nil {
		return s.failed(nil, fmt.Errorf("%s: spec.replicas: %w", w.Subject(), err))
	} else if found {
		from = int(replicas)
	}
	to, err := count.of(from)
	if err != nil {
		return s.failed(nil, fmt.Errorf("%s: %w; nothing was changed", w.Subject(), err))
	}
	plan := &scalePlan{workload: w, from: from, to: to}
	log.Infof("Scaling %s/%s from %d to %d instances", w.Kind, w.Name, from, to)
	if err := scaleTo(ctx, s.env, w, to); err != nil {
		return s.failed(plan, err)
	}
	log.Infof("%s/%s scaled to %d instances", w.Kind, w.Name, to)
	if s.cfg.SkipSteadyStateCheck {
		log.Infof("Not waiting for %s/%s (skip_steady_state_check)", w.Kind, w.Name)
	} else {
		waited, err := waitSteady(ctx, s.env, []object.Ref{w}, s.cfg.FailFast, s.cfg.FailFastAfter)
		if err != nil {
			return s.failed(plan, err)
		}
		for _, r := range waited {
			log.Infof("%s ready at revision %s", r.Workload, r.Revision)
		}
	}
	logging.Succeeded(log, "Scaled %s/%s from %d to %d instances", w.Kind, w.Name, from, to)
	return s.result(statusSucceeded, plan, nil), nil
}

// live reads the workload; one that does not exist is an error that says
// so.
func (s *Scale) live(ctx context.Context, w object.Ref) (*unstructured.Unstructured, error) {
	gvr, ok := scalable(w)
	if !ok {
		return nil, fmt.Errorf("%s: only a Deployment or StatefulSet can be scaled", w.Subject())
	}
	live, err := s.env.Clients.Dynamic.Resource(gvr).Namespace(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("%s does not exist, so it cannot be scaled; nothing was changed", w.Subject())
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", w.Subject(), err)
	}
	return live, nil
}

// checkOwner refuses a workload that is not the release's. The owner
// annotations say whose an object is; one without them (Harness deployed
// it) is the release's when a release of its history names it.
func (s *Scale) checkOwner(ctx context.Context, w object.Ref, live *unstructured.Unstructured) error {
	self := apply.Owner{Namespace: s.cfg.Namespace, Name: s.cfg.Release}
	if o, ok := apply.OwnerOf(live.GetAnnotations()); ok {
		if o == self {
			return nil
		}
		return fmt.Errorf("%s belongs to release %s, not to release %s: scale it with release %s; nothing was changed", w.Subject(), o, self, o.Name)
	}
	book := s.env.book(s.cfg.Namespace, s.cfg.Release)
	unreadable, err := readBook(ctx, book)
	if err != nil {
		return err
	}
	if names, err := historyObjects(book, s.cfg.Namespace); err != nil {
		return err
	} else if names.has(w) {
		return nil
	}
	msg := fmt.Sprintf("%s is not a workload of release %s: it has no %s annotation and no release of its history names it; nothing was changed",
		w.Subject(), s.cfg.Release, manifest.OwnerNameAnnotation)
	if unreadable != nil {
		msg += fmt.Sprintf(" (%d releases of the history cannot be read: %v)", len(unreadable.Releases), unreadable)
	}
	return errors.New(msg)
}

func (s *Scale) failed(plan *scalePlan, err error) (Result, error) {
	return s.result(statusFailed, plan, err), err
}

func (s *Scale) result(status string, plan *scalePlan, failure error) Result {
	sum := summary{Step: "scale", Release: s.cfg.Release, Namespace: s.cfg.Namespace, Status: status, Failure: failure}
	outputs := []Output{{OutputRelease, s.cfg.Release}, {OutputStatus, status}, {OutputInstances, ""}}
	if plan != nil {
		outputs[2].Value = strconv.Itoa(plan.to)
		sum.Facts = []fact{
			{"Workload", "`" + plan.workload.Kind + "/" + plan.workload.Name + "`"},
			{"Instances before", strconv.Itoa(plan.from)},
			{"Instances after", strconv.Itoa(plan.to)},
		}
	}
	return Result{Outputs: outputs, Summary: sum.Markdown()}
}

// CheckScaleInstances checks the scale step's instances setting, so that
// a bad one is a settings error before the step runs.
func CheckScaleInstances(s string) error {
	_, err := parseInstances(s)
	return err
}

// instances is the instances setting: a count, or a percentage.
type instances struct {
	n       int
	percent bool
}

// parseInstances reads "3" or "50%": a whole number, 0 or more.
func parseInstances(s string) (instances, error) {
	t := strings.TrimSpace(s)
	percent := strings.HasSuffix(t, "%")
	digits := strings.TrimSpace(strings.TrimSuffix(t, "%"))
	n, err := strconv.ParseInt(digits, 10, 32)
	if err != nil || n < 0 || digits == "" || strings.HasPrefix(digits, "+") {
		return instances{}, fmt.Errorf("%q is not a count (3) or a percentage (50%%): a whole number, 0 or more", s)
	}
	return instances{n: int(n), percent: percent}, nil
}

// of is the count to scale a workload of current replicas to.
func (i instances) of(current int) (int, error) {
	if !i.percent {
		return i.n, nil
	}
	n := scaledCount(i.n, current)
	if n > math.MaxInt32 {
		return 0, fmt.Errorf("%d%% of %d replicas is more replicas than a workload can have", i.n, current)
	}
	return int(n), nil
}

// scaledCount is percent of current, rounded half up, as Harness's K8sScale
// rounds (50% of 3 is 2); at least 1 for any percentage above 0, so that
// a percentage never scales a workload away.
func scaledCount(percent, current int) int64 {
	if percent <= 0 {
		return 0
	}
	n := (int64(percent)*int64(current) + 50) / 100
	return max(n, 1)
}

// objectName is an object as a setting names it (workload, resources).
type objectName struct {
	// Group is the API group when the kind is qualified by it
	// ("Widget.example.com"), else "".
	Group, Kind string
	// Namespace is the namespace the name gives, "" for none.
	Namespace, Name string
}

// parseObjectName reads "Kind/name", with the kind optionally qualified
// by its API group as kubectl writes it ("Widget.example.com/gizmo"), and
// optionally with the namespace: Harness's "namespace/Kind/name", or
// "Kind/namespace/name" as kube-release prints objects. The namespace,
// when given, must be namespace: a step never reaches outside its own.
func parseObjectName(s, namespace string) (objectName, error) {
	parts := strings.Split(strings.TrimSpace(s), "/")
	for _, p := range parts {
		if p == "" || strings.ContainsAny(p, " \t") {
			parts = nil // not a name
			break
		}
	}
	var n objectName
	switch {
	case len(parts) == 2:
		n.Kind, n.Name = parts[0], parts[1]
	case len(parts) == 3 && parts[0] == namespace:
		n.Namespace, n.Kind, n.Name = parts[0], parts[1], parts[2]
	case len(parts) == 3 && parts[1] == namespace:
		n.Kind, n.Namespace, n.Name = parts[0], parts[1], parts[2]
	case len(parts) == 3:
		return objectName{}, fmt.Errorf("%q names an object outside namespace %s, the step's (namespace/Kind/name or Kind/namespace/name); nothing was changed", s, namespace)
	default:
		return objectName{}, fmt.Errorf("%q is not Kind/name (or namespace/Kind/name)", s)
	}
	if kind, group, ok := strings.Cut(n.Kind, "."); ok {
		if kind == "" || group == "" {
			return objectName{}, fmt.Errorf("%q: %q is not a kind, nor Kind.group", s, n.Kind)
		}
		n.Kind, n.Group = kind, group
	}
	return n, nil
}

// historyNames are the objects a release's history names: what every
// release of it records (Harness records no owner annotations, so this is
// how a step knows the objects Harness deployed for the release).
type historyNames struct {
	namespace string
	refs      []object.Ref
}

// historyObjects are the objects every readable release of book, a
// history in namespace, names: its resources and managed workloads, a
// declarative release's also from its manifests, with their API groups.
func historyObjects(book *release.Book, namespace string) (historyNames, error) {
	names := historyNames{namespace: namespace}
	for _, r := range book.History() {
		format, _ := book.Format(r.Number)
		declarative := format == release.Declarative
		refs, err := releaseObjects(r, declarative)
		if err != nil {
			return historyNames{}, err
		}
		names.refs = append(names.refs, refs...)
		for _, id := range r.Resources {
			names.refs = append(names.refs, id.Ref())
		}
		names.refs = append(names.refs, workloadsOf(&stored{Release: r, declarative: declarative})...)
	}
	return names, nil
}

// releaseObjects are the objects release r records, in the order it
// lists them: a declarative release's manifests, with their API groups,
// or the resources a legacy one lists.
func releaseObjects(r *release.Release, declarative bool) ([]object.Ref, error) {
	if !declarative || len(r.Manifests) == 0 {
		refs := make([]object.Ref, len(r.Resources))
		for i, id := range r.Resources {
			refs[i] = id.Ref()
		}
		return refs, nil
	}
	objs, err := decodeManifests(r.Manifests)
	if err != nil {
		return nil, fmt.Errorf("release %d: its manifests: %w", r.Number, err)
	}
	refs := make([]object.Ref, len(objs))
	for i, obj := range objs {
		refs[i] = object.Of(obj)
	}
	return refs, nil
}

// has reports whether the history names ref: by kind and name, by API
// group where both say one, and by namespace for a namespaced object
// (a record without a namespace is of the release's). A cluster-scoped
// ref (no namespace) matches whatever namespace a record gives it:
// Harness's records of cluster-scoped objects may carry one.
func (h historyNames) has(ref object.Ref) bool {
	for _, r := range h.refs {
		if r.Kind != ref.Kind || r.Name != ref.Name {
			continue
		}
		if r.Group != "" && ref.Group != "" && r.Group != ref.Group {
			continue
		}
		if ref.Namespace == "" || r.Namespace == ref.Namespace || (r.Namespace == "" && ref.Namespace == h.namespace) {
			return true
		}
	}
	return false
}
