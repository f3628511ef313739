package release

import (
	"bytes"
	"cmp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/kube-release/kube-release/internal/manifest"
)

// History is the releases of one release name, newest (highest number) first.
type History []*Release

// NewHistory returns the releases sorted newest first. It does not copy them.
func NewHistory(releases ...*Release) History {
	h := History(slices.Clone(releases))
	h.sort()
	return h
}

func (h History) sort() {
	slices.SortStableFunc(h, func(a, b *Release) int { return cmp.Compare(b.Number, a.Number) })
}

// Latest is the newest release, nil for an empty history.
func (h History) Latest() *Release {
	if len(h) == 0 {
		return nil
	}
	return h[0]
}

// Get returns the release with that number, nil if there is none.
func (h History) Get(number int) *Release {
	for _, r := range h {
		if r.Number == number {
			return r
		}
	}
	return nil
}

// NextNumber is the number of the next release: the highest plus one, 1 for
// an empty history.
func (h History) NextNumber() int {
	highest := 0
	for _, r := range h {
		highest = max(highest, r.Number)
	}
	return highest + 1
}

// LastSuccessful is the newest Succeeded release numbered below the given
// number, nil if there is none: what a rollback returns to.
func (h History) LastSuccessful(below int) *Release {
	var last *Release
	for _, r := range h {
		if r.Status == Succeeded && r.Number < below && (last == nil || r.Number > last.Number) {
			last = r
		}
	}
	return last
}

// LegacyCleanup is the legacy cleanup at the start of a deploy: every
// Failed release, and every release older than the last successful one, is
// dropped, so the history keeps the last success and anything newer. The
// caller deletes the versioned ConfigMaps and Secrets of the dropped
// releases (see VersionedResources). As Harness's ReleaseHistory.cleanup,
// an InProgress release newer than the last success is kept.
func (h History) LegacyCleanup() (keep, drop History) {
	last := h.LastSuccessful(h.NextNumber())
	for _, r := range h {
		if r.Status == Failed || (last != nil && r.Number < last.Number) {
			drop = append(drop, r)
		} else {
			keep = append(keep, r)
		}
	}
	return keep, drop
}

// DeclarativeKeep is how many older non-failed releases declarative cleanup
// keeps (Harness's RELEASE_HISTORY_LIMIT).
const DeclarativeKeep = 2

// DeclarativeCleanup is the declarative cleanup before a deploy of release
// number current: every Failed release is dropped, and of the non-failed
// releases numbered below current (InProgress counts as non-failed) only the
// DeclarativeKeep newest are kept. Releases numbered current or above are
// never dropped unless Failed. The caller deletes the dropped releases'
// Secrets; declarative mode versions nothing, so no other object goes.
func (h History) DeclarativeCleanup(current int) (keep, drop History) {
	older := 0
	for _, r := range NewHistory(h...) {
		switch {
		case r.Status == Failed:
			drop = append(drop, r)
		case r.Number < current && older >= DeclarativeKeep:
			drop = append(drop, r)
		default:
			if r.Number < current {
				older++
			}
			keep = append(keep, r)
		}
	}
	return keep, drop
}

// VersionedResources are the versioned objects of the releases, in history
// order: what legacy cleanup deletes along with the releases it drops.
func (h History) VersionedResources() []ResourceID {
	var ids []ResourceID
	for _, r := range h {
		for _, id := range r.Resources {
			if id.Versioned {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// NextDeclarativeNumber numbers a declarative release: it continues the
// declarative history, and while that is empty it continues the legacy one,
// so a release moving to declarative rollback never reuses a number.
func NextDeclarativeNumber(declarative, legacy History) int {
	if len(declarative) > 0 {
		return declarative.NextNumber()
	}
	return legacy.NextNumber()
}

// OfColor is the releases of colour c, newest first.
func (h History) OfColor(c Color) History {
	var out History
	for _, r := range h {
		if r.Color == c && c != "" {
			out = append(out, r)
		}
	}
	return out
}

// LastSuccessfulOfColor is the newest Succeeded release of colour c, nil
// if there is none: what that colour's workload runs, as Harness's
// getLatestSuccessfulReleaseMatchingColor finds it.
func (h History) LastSuccessfulOfColor(c Color) *Release {
	for _, r := range h.OfColor(c) {
		if r.Status == Succeeded {
			return r
		}
	}
	return nil
}

// LatestIn is the newest release in environment e, whatever its status,
// nil if there is none: for StageEnvironment, what a stage scale down
// scales down, as Harness's getBlueGreenStageRelease finds it.
func (h History) LatestIn(e Environment) *Release {
	for _, r := range h {
		if r.Environment == e && e != "" {
			return r
		}
	}
	return nil
}

// LastSuccessfulBlueGreen is the newest Succeeded release of either
// colour, nil if there is none: the release a swap routes users to. It
// stays the same once the swap is done, so a swap that decides its
// target by it does nothing when run again; a rollback after a swap marks
// it Failed, and the one before it becomes the target.
func (h History) LastSuccessfulBlueGreen() *Release {
	for _, r := range h {
		if r.Status == Succeeded && r.Color.Valid() {
			return r
		}
	}
	return nil
}

// BlueGreenCleanup is the cleanup before a blue/green stage deploy of
// release current to colour stage, as Harness's cleanReleaseHistoryBG:
// every other release of the stage colour is dropped, whatever its
// status, since the deploy replaces that colour's workload; the releases
// of the primary colour, and those of no colour, are kept. The caller
// deletes the config that only the dropped releases used (see
// StaleConfig).
func (h History) BlueGreenCleanup(stage Color, current int) (keep, drop History) {
	for _, r := range h {
		if stage != "" && r.Color == stage && r.Number != current {
			drop = append(drop, r)
		} else {
			keep = append(keep, r)
		}
	}
	return keep, drop
}

// SwapEnvironments is what a swap that routes users to colour primary
// records: the newest Succeeded release of primary is in
// PrimaryEnvironment, that of the other colour in StageEnvironment. It
// returns copies of the releases whose environment changes, for the caller
// to update in that order, and changes nothing itself. The new primary
// comes first: a swap interrupted between the two updates then leaves two
// releases in PrimaryEnvironment, never the serving colour's alone in
// StageEnvironment, where a stage scale down would look for it.
//
// Harness flips each of the two between stage and primary; setting them
// to what the swap made them instead gives the same result once, and
// nothing more when a swap is run again. As Harness, a release that has
// no environment (recorded before blue/green) is left as it is.
func (h History) SwapEnvironments(primary Color) []*Release {
	var out []*Release
	for _, side := range []struct {
		color Color
		env   Environment
	}{{primary, PrimaryEnvironment}, {primary.Other(), StageEnvironment}} {
		r := h.LastSuccessfulOfColor(side.color)
		if r == nil || r.Environment == "" || r.Environment == side.env {
			continue
		}
		c := r.Clone()
		c.Environment = side.env
		out = append(out, c)
	}
	return out
}

// StaleConfig is the config of the releases drop that neither the releases
// keep nor the objects next (those of the release about to be deployed)
// list: what a blue/green cleanup deletes along with the releases it
// drops, once each, in history order. Of a legacy release that is its
// versioned ConfigMaps and Secrets, as Harness deletes them; of a
// declarative one, which versions nothing, its ConfigMaps and Secrets not
// annotated harness.io/skip-versioning, as Harness picks them
// (VersionUtils.shouldVersion). Harness deletes those even when the new
// release brings them back, as a declarative blue/green release whose
// config is suffixed with its colour does; kube-release leaves them to the
// apply, so that the pods still running never lose their config.
func StaleConfig(drop, keep History, next []ResourceID) []ResourceID {
	type key struct{ kind, namespace, name string }
	keyOf := func(id ResourceID) key { return key{id.Kind, id.Namespace, id.Name} }
	used := map[key]bool{}
	for _, id := range next {
		used[keyOf(id)] = true
	}
	for _, r := range keep {
		for _, id := range r.Resources {
			used[keyOf(id)] = true
		}
	}
	var out []ResourceID
	for _, r := range drop {
		var skipped map[key]bool
		if r.Manifests != nil {
			skipped = map[key]bool{}
			for _, id := range skipVersioning(r.Manifests) {
				skipped[keyOf(id)] = true
			}
		}
		for _, id := range r.Resources {
			k := keyOf(id)
			config := id.Kind == "ConfigMap" || id.Kind == "Secret"
			stale := id.Versioned || (r.Manifests != nil && config && !skipped[k])
			if stale && !used[k] {
				out = append(out, id)
				used[k] = true // once
			}
		}
	}
	return out
}

// skipVersioning lists the ConfigMaps and Secrets of stored manifests that
// are annotated harness.io/skip-versioning: "true" (in any case). The
// manifests read when the release did, so what does not read now is
// skipped.
func skipVersioning(manifests []byte) []ResourceID {
	var ids []ResourceID
	dec := yaml.NewDecoder(bytes.NewReader(manifests))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			return ids
		}
		if len(doc.Content) == 0 {
			continue
		}
		objects := []*yaml.Node{deref(doc.Content[0])}
		if items := mapValue(objects[0], "items"); strings.HasSuffix(objectID(objects[0]).Kind, "List") && items != nil && items.Kind == yaml.SequenceNode {
			objects = items.Content
		}
		for _, o := range objects {
			o = deref(o)
			if o.Kind != yaml.MappingNode {
				continue
			}
			id := objectID(o)
			if id.Kind != "ConfigMap" && id.Kind != "Secret" {
				continue
			}
			meta := mapValue(o, "metadata")
			if meta == nil || meta.Kind != yaml.MappingNode {
				continue
			}
			if a := mapValue(meta, "annotations"); a != nil && a.Kind == yaml.MappingNode &&
				manifest.IsTrue(scalarValue(mapValue(a, manifest.SkipVersioningAnnotation))) {
				ids = append(ids, id)
			}
		}
	}
}
