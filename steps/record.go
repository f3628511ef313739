package steps

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kube-release/kube-release/internal/apply"
	"github.com/kube-release/kube-release/internal/object"
	"github.com/kube-release/kube-release/internal/release"
)

// cleanupDrop is the releases the deploy's cleanup drops from the history,
// by the rule of its format (see cleanup).
func (r *Rolling) cleanupDrop(p *rollingPlan) release.History {
	h := p.book.Stored(r.format())
	if r.strategy != nil {
		return r.strategy.cleanup(h, p.number)
	}
	if r.cfg.Declarative {
		_, drop := h.DeclarativeCleanup(p.number)
		return drop
	}
	_, drop := h.LegacyCleanup()
	return drop
}

// longestFailureReason stands in for the failure reason a release may get
// in the size check: longer than any kube-release records.
var longestFailureReason = strings.Repeat("x", 32)

// finalRecord is rel as large as its last write can make it: Succeeded,
// every workload at a revision of the most digits a revision has, a
// failure reason (a rollback may add one later), and every object the
// apply may record as created. No record of the deploy is larger, so if
// this one fits, none of its writes is the first to find the history full.
func finalRecord(rel *release.Release, p *rollingPlan) *release.Release {
	f := rel.Clone()
	f.Status = release.Succeeded
	for i := range f.Workloads {
		// Distinct digits, as real revisions are: equal ones would
		// compress better than they do.
		f.Workloads[i].Revision = fmt.Sprintf("%019d", (uint64(i)+1)*0x9E3779B97F4A7C15%1e19)
	}
	f.Metadata.FailureReason = longestFailureReason
	f.Metadata.CreatedObjects = mayCreate(p)
	return f
}

// mayCreate is every object the apply may record as created: those the dry
// run found new, or all of them without a dry run.
func mayCreate(p *rollingPlan) []release.ObjectRef {
	if p.baseline != nil {
		return plannedCreations(p)
	}
	refs := make([]release.ObjectRef, len(p.objects))
	for i, obj := range p.objects {
		refs[i] = objectRef(object.Of(obj), obj)
	}
	return refs
}

// plannedCreations are the objects the dry run found new (created, or
// skipped because their Namespace or CRD is new too): what this deploy
// creates once it applies them. The InProgress record lists them, so that
// a run killed outright, which records nothing more, still tells a
// first-failure rollback what it may have created; none of them existed
// when the dry run looked. Without a dry run nothing is known in advance.
func plannedCreations(p *rollingPlan) []release.ObjectRef {
	if p.baseline == nil {
		return nil
	}
	var refs []release.ObjectRef
	for _, c := range p.baseline.Changes {
		if c.Action == apply.Created {
			refs = append(refs, objectRef(c.Ref, c.Object))
		}
	}
	for _, s := range p.baseline.Skipped {
		for _, obj := range p.objects {
			if object.Of(obj) == s.Ref {
				refs = append(refs, objectRef(s.Ref, obj))
				break
			}
		}
	}
	return refs
}

func objectRef(ref object.Ref, obj *unstructured.Unstructured) release.ObjectRef {
	apiVersion := ""
	if obj != nil {
		apiVersion = obj.GetAPIVersion()
	}
	return release.ObjectRefOf(ref, apiVersion)
}

// checkRecordSize fails before the deploy's first write (the cleanup's
// deletions, then the InProgress record) when the history cannot hold rel
// in its final form beside the releases the cleanup keeps. Found only at
// the Succeeded record, that left the release InProgress after everything
// had been applied, and every later deploy failed the same way. Nothing
// is recorded: nothing was changed, so there is nothing to roll back.
func (r *Rolling) checkRecordSize(p *rollingPlan, rel *release.Release) error {
	drop := r.cleanupDrop(p)
	final := finalRecord(rel, p)
	err := p.book.Fits(r.format(), final, numbersIn(drop)...)
	size, ok := errors.AsType[*release.SizeError](err)
	if !ok {
		if err != nil {
			return fmt.Errorf("release history: %w", err)
		}
		return nil
	}
	var kept []int
	for _, old := range p.book.Stored(r.format()) {
		if old.Number != rel.Number && drop.Get(old.Number) == nil {
			kept = append(kept, old.Number)
		}
	}
	return fmt.Errorf("release history: %w; %s", err, r.sizeAdvice(size, final, kept))
}

// sizeAdvice says what takes the room and what would make the release fit,
// with numbers: a fix the user can act on, in the order most likely to
// help.
func (r *Rolling) sizeAdvice(size *release.SizeError, final *release.Release, kept []int) string {
	resources, created := len(final.Resources), len(final.Metadata.CreatedObjects)
	versioned := 0
	for _, id := range final.Resources {
		if id.Versioned {
			versioned++
		}
	}
	var b strings.Builder
	own := size.Size - size.Rest
	fmt.Fprintf(&b, "release %d takes %s of it for %d resources (%d of them new objects, each recorded as created)",
		final.Number, sizeOf(own), resources, created)
	// "release 1 takes", "releases 1 and 2 take"
	verb := func(singular string) string {
		if len(kept) == 1 {
			return singular
		}
		return strings.TrimSuffix(singular, "s")
	}
	if len(kept) > 0 && !r.cfg.Declarative { // a release Secret holds one release
		fmt.Fprintf(&b, ", and %s, kept beside it (a rollback returns to the last successful one), %s %s",
			plural(kept, "release"), verb("takes"), sizeOf(size.Rest))
	}
	b.WriteString("; nothing was changed. To deploy, ")
	var fixes []string
	if resources > 0 && own > 0 {
		if fit := int(int64(size.Limit-size.Rest) * int64(resources) / int64(own)); fit > 0 {
			fixes = append(fixes, fmt.Sprintf("deploy at most about %d objects per release (split the manifests across several release names)", fit*9/10))
		}
	}
	if versioned > 0 && !r.cfg.Declarative {
		fixes = append(fixes, fmt.Sprintf("set skip_resource_versioning: true: each of the %d versioned ConfigMaps and Secrets is a new object in every release, "+
			"recorded as created each time, where an unversioned one is recorded only by the first release that creates it", versioned))
	}
	switch {
	case !r.cfg.Declarative && len(kept) > 0:
		fixes = append(fixes, fmt.Sprintf("set enable_declarative_rollback: true, which keeps each release in a Secret of its own, "+
			"so that %s no longer %s its 1 MiB", plural(kept, "release"), verb("shares")))
	case r.cfg.Declarative:
		fixes = append(fixes, "deploy smaller manifests per release, or leave enable_declarative_rollback off: "+
			"the legacy history records only the objects' names, not their manifests")
	}
	if len(fixes) == 0 {
		fixes = append(fixes, "deploy fewer objects per release")
	}
	b.WriteString("do one of: " + strings.Join(fixes, "; or "))
	return b.String()
}

func numbersIn(h release.History) []int {
	n := make([]int, len(h))
	for i, r := range h {
		n[i] = r.Number
	}
	return n
}

// plural names releases: "release 4", "releases 3 and 4", "releases 2, 3 and 4".
func plural(numbers []int, noun string) string {
	s := make([]string, len(numbers))
	for i, n := range numbers {
		s[i] = strconv.Itoa(n)
	}
	if len(s) == 1 {
		return noun + " " + s[0]
	}
	return noun + "s " + strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func sizeOf(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// createdObjects are the objects an apply created, for the release record
// (what on_first_failure: delete may remove): those it says it created,
// and those whose outcome is unknown but which did not exist before.
func createdObjects(res *apply.Result) []release.ObjectRef {
	if res == nil {
		return nil
	}
	var refs []release.ObjectRef
	for _, c := range slices.Concat(res.Changes, res.MaybeCreated) {
		if c.Action == apply.Created {
			refs = append(refs, objectRef(c.Ref, c.Object))
		}
	}
	return refs
}

// warnUnproven says which objects the apply may have created without
// knowing it: they are not recorded as created, so a first-failure
// rollback leaves them.
func warnUnproven(env Env, res *apply.Result) {
	if res == nil || len(res.Unproven) == 0 {
		return
	}
	names := make([]string, len(res.Unproven))
	for i, ref := range res.Unproven {
		names[i] = ref.String()
	}
	env.Log.Warnf("The answer to the apply of %d objects was lost and, without a dry run (skip_dry_run), nothing tells whether they existed before; "+
		"they are not recorded as created, so on_first_failure: delete leaves them: %s", len(names), strings.Join(names, ", "))
}
