// Package release is kube-release's release model and the two on-cluster
// history formats it shares with Harness CD, so a team can move between
// Harness's delegate and kube-release in either direction and keep its
// history and its rollbacks:
//
//   - legacy: one ConfigMap named like the release, whose key releaseHistory
//     holds every release as YAML (gzip, then standard base64);
//   - declarative: one Secret per release, harness.release.<release>.<n>,
//     whose key release holds the gzip of the release's rendered manifests.
//
// The history rules (numbering, last successful release, cleanup) are pure
// functions of History. Storage sits behind Store, after Helm's
// pkg/storage/driver: ConfigMapStore, SecretStore and MemoryStore.
//
// testdata/README.md records what Harness's own code writes and reads, and
// why kube-release keeps its extra per-release metadata where it does.
package release

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Status is the state of a release. Harness knows exactly these three
// (IK8sRelease.Status); anything else on the cluster is rejected on read.
type Status string

// The statuses of a release.
const (
	InProgress Status = "InProgress"
	Succeeded  Status = "Succeeded"
	Failed     Status = "Failed"
)

func (s Status) valid() bool {
	return s == InProgress || s == Succeeded || s == Failed
}

// Color is the colour of a blue/green release: which of the two sets of
// workload and config it deployed. Harness knows exactly Blue and Green
// (K8sReleaseConstants.BLUE_GREEN_COLORS); a history may hold anything,
// which matches neither.
type Color string

// The colours of blue/green releases (HarnessLabelValues).
const (
	Blue  Color = "blue"
	Green Color = "green"
)

// Valid reports whether c is Blue or Green.
func (c Color) Valid() bool { return c == Blue || c == Green }

// Other is the other colour, "" for anything but Blue or Green.
func (c Color) Other() Color {
	switch c {
	case Blue:
		return Green
	case Green:
		return Blue
	}
	return ""
}

// Environment is where a blue/green release stands: its colour serves
// users through the primary Service, or waits behind the stage Service for
// a swap. Harness spells them as HarnessLabelValues.bgPrimaryEnv and
// bgStageEnv.
type Environment string

// The environments of blue/green releases.
const (
	PrimaryEnvironment Environment = "primary"
	StageEnvironment   Environment = "stage"
)

// ResourceID names an object of a release, as Harness records it
// (KubernetesResourceId). Versioned marks a ConfigMap or Secret renamed
// <name>-<release number>: cleanup deletes those of dropped releases.
type ResourceID struct {
	Kind      string
	Name      string
	Namespace string
	Versioned bool
}

// String reads like the rest of kube-release's messages: "Deployment default/web".
func (id ResourceID) String() string {
	if id.Namespace == "" {
		return id.Kind + " " + id.Name
	}
	return id.Kind + " " + id.Namespace + "/" + id.Name
}

// Workload is a managed workload of a release and the rollout revision it
// reached (the revision a rollback undoes to, as with
// kubectl rollout undo --to-revision).
type Workload struct {
	ID       ResourceID
	Revision string
}

// ObjectRef names an object completely enough to delete it. ResourceID has
// no API version because Harness's format has none; kube-release's own
// metadata does.
type ObjectRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

func (o ObjectRef) String() string {
	if o.Namespace == "" {
		return o.Kind + " " + o.Name
	}
	return o.Kind + " " + o.Namespace + "/" + o.Name
}

// Pipeline says which CI run made a release.
type Pipeline struct {
	Repository string `json:"repository,omitempty"`
	Branch     string `json:"branch,omitempty"`
	Commit     string `json:"commit,omitempty"`
	Build      string `json:"build,omitempty"`
	BuildLink  string `json:"buildLink,omitempty"`
	// Event is what started the run (push, tag, pull_request, cron, ...).
	Event string `json:"event,omitempty"`
	// Actor is who started it.
	Actor string `json:"actor,omitempty"`
}

// Metadata is what kube-release records about a release beyond Harness's
// format. Harness neither writes nor reads it: a history written by Harness
// has none, and Harness keeps it untouched (see testdata/README.md).
type Metadata struct {
	Created  time.Time `json:"created,omitzero"`
	Pipeline Pipeline  `json:"pipeline,omitzero"`
	// FailureReason is a short cause for a Failed release, for example
	// "interrupted" or "ProgressDeadlineExceeded".
	FailureReason string   `json:"failureReason,omitempty"`
	Images        []string `json:"images,omitempty"`
	// CreatedObjects are the objects this release created (they did not
	// exist before it): what on_first_failure: delete removes. While the
	// release is InProgress, the objects its dry run found new, which it
	// is about to create: a run killed outright records nothing more.
	CreatedObjects []ObjectRef `json:"createdObjects,omitempty"`
}

// IsZero reports whether m records nothing.
func (m Metadata) IsZero() bool {
	return m.Created.IsZero() && m.Pipeline == (Pipeline{}) && m.FailureReason == "" &&
		len(m.Images) == 0 && len(m.CreatedObjects) == 0
}

// Release is one deployment of a release name.
type Release struct {
	Number int
	Status Status
	// Resources are the objects of the release. Legacy: as recorded.
	// Declarative: read from Manifests.
	Resources []ResourceID
	// Workloads are the managed workloads and their revisions (legacy only).
	Workloads []Workload
	// Manifests is the multi-document YAML of every rendered manifest
	// (declarative only; see JoinManifests).
	Manifests []byte
	Metadata  Metadata

	// Color and Environment are those of a blue/green release, empty for
	// any other. Declarative: the labels color and
	// harness.io/bg-environment of its Secret. Legacy: the field
	// bgEnvironment; the legacy format has no colour, so Harness reads it
	// from the name of ManagedWorkload (<name>-<colour>), and so does
	// DecodeConfigMap; EncodeConfigMap refuses a Color that name does not
	// say. An update whose release leaves them empty keeps what the
	// history holds: a release never leaves blue/green.
	Color       Color
	Environment Environment
	// ManagedWorkload is Harness's single managed workload of a legacy
	// release, its fields managedWorkload and managedWorkloadRevision:
	// older delegates recorded every release's so, before Workloads was
	// a list, and current ones still record a blue/green or canary
	// release's so (the coloured or canary workload), leaving Workloads
	// empty. Reading, a release without Workloads gets this one as its
	// list. nil for none; an update whose release has none keeps the
	// history's.
	ManagedWorkload *Workload

	// harness holds the fields of a legacy release that kube-release does
	// not model (customWorkloads, resourcesWithSpec, manifestHash, ...),
	// verbatim, so rewriting a history Harness wrote loses none of them;
	// and those it models beside (bgEnvironment, managedWorkload,
	// managedWorkloadRevision), written as read while the release says
	// the same of them.
	harness []field
}

// Clone returns a deep copy of r.
func (r *Release) Clone() *Release {
	if r == nil {
		return nil
	}
	c := *r
	c.Resources = slices.Clone(r.Resources)
	c.Workloads = slices.Clone(r.Workloads)
	c.Manifests = slices.Clone(r.Manifests)
	c.Metadata.Images = slices.Clone(r.Metadata.Images)
	c.Metadata.CreatedObjects = slices.Clone(r.Metadata.CreatedObjects)
	if r.ManagedWorkload != nil {
		w := *r.ManagedWorkload
		c.ManagedWorkload = &w
	}
	c.harness = slices.Clone(r.harness) // the nodes are never modified in place
	return &c
}

// keepStored fills in what an update's release r leaves out from old, the
// release it replaces, as the stores keep it: Harness's fields that
// kube-release does not model, the creation time and the blue/green
// record.
func (r *Release) keepStored(old *Release) {
	r.harness = old.harness
	if r.Metadata.Created.IsZero() {
		r.Metadata.Created = old.Metadata.Created
	}
	if r.Color == "" {
		r.Color = old.Color
	}
	if r.Environment == "" {
		r.Environment = old.Environment
	}
	if r.ManagedWorkload == nil && old.ManagedWorkload != nil {
		w := *old.ManagedWorkload
		r.ManagedWorkload = &w
	}
}

func (r *Release) validate() error {
	if r == nil {
		return errors.New("release is nil")
	}
	if r.Number < 1 {
		return fmt.Errorf("release number %d: must be 1 or more", r.Number)
	}
	if !r.Status.valid() {
		return fmt.Errorf("release %d: status %q is not %s, %s or %s", r.Number, r.Status, InProgress, Succeeded, Failed)
	}
	return nil
}

// Sentinel errors of the stores, mapped from API errors at the edge.
var (
	// ErrNotFound: no release with that number.
	ErrNotFound = errors.New("release not found")
	// ErrExists: the release number is taken; another writer won the race.
	ErrExists = errors.New("release number already taken")
	// ErrCorrupt: the stored history cannot be read (see CorruptError).
	ErrCorrupt = errors.New("release history is corrupt")
	// ErrTooLarge: the object to write would exceed MaxObjectSize; nothing
	// was written (see SizeError).
	ErrTooLarge = errors.New("too large")
)

// UnreadableError is the error of a List that read some releases and not
// others: the History returned beside it holds the readable ones. A caller
// that needs none of the unreadable ones (a rollback to a release that
// reads fine) can go on, and should say which they are and why.
// errors.Is(err, ErrCorrupt) holds for it.
type UnreadableError struct {
	// Releases are the unreadable releases, highest number first.
	Releases []Unreadable
}

// Unreadable is a release that cannot be read, and what is known of it.
type Unreadable struct {
	// Number is the release's number, 0 when nothing says.
	Number int
	// Status is its status, "" when that cannot be read either.
	Status Status
	// Secret names the object: "secret default/harness.release.web.3".
	Secret string
	// Err says what is wrong and how to repair it (a *CorruptError).
	Err error
}

func (e *UnreadableError) Error() string {
	msgs := make([]string, len(e.Releases))
	for i, u := range e.Releases {
		msgs[i] = u.Err.Error()
	}
	return strings.Join(msgs, "\n")
}

func (e *UnreadableError) Unwrap() []error {
	errs := []error{ErrCorrupt}
	for _, u := range e.Releases {
		errs = append(errs, u.Err)
	}
	return errs
}

// Get returns the unreadable release numbered n, nil if there is none (or
// e is nil).
func (e *UnreadableError) Get(n int) *Unreadable {
	if e == nil {
		return nil
	}
	for i := range e.Releases {
		if e.Releases[i].Number == n {
			return &e.Releases[i]
		}
	}
	return nil
}

// Highest is the highest number of an unreadable release, 0 when no number
// is known: numbering must go on above it, or a new release would take
// the name of a Secret that exists.
func (e *UnreadableError) Highest() int {
	if e == nil {
		return 0
	}
	highest := 0
	for _, u := range e.Releases {
		highest = max(highest, u.Number)
	}
	return highest
}

// SizeError says that an object of the history would be too large, and by
// how much. errors.Is(err, ErrTooLarge) holds for it.
type SizeError struct {
	// Object is the object that would be written: "configmap default/web".
	Object string
	// Kind is ConfigMap or Secret.
	Kind string
	// Content says what it would hold: "the history of 2 releases".
	Content string
	// Size is what its data would take, as the API server counts it: the
	// bytes of every value (a Secret's decoded).
	Size int
	// Limit is what the data may take: MaxObjectSize, or less of it for
	// Fits (see Headroom).
	Limit int
	// Rest is what the data takes without the release Fits was asked
	// about: the other releases and keys. Zero from the encoders.
	Rest int
}

// Over is how many bytes too many the data would take.
func (e *SizeError) Over() int { return e.Size - e.Limit }

func (e *SizeError) Error() string {
	limit := fmt.Sprintf("the %s limit of a %s", sizeString(MaxObjectSize), e.Kind)
	if e.Limit < MaxObjectSize {
		limit = fmt.Sprintf("%s (%s, less %s kept free for the updates that follow)",
			sizeString(e.Limit), limit, sizeString(MaxObjectSize-e.Limit))
	}
	return fmt.Sprintf("%s: %v: %s would make its data %s, %d bytes over %s",
		e.Object, ErrTooLarge, e.Content, sizeString(e.Size), e.Over(), limit)
}

func (e *SizeError) Unwrap() error { return ErrTooLarge }

// CorruptError says which stored object cannot be read, why, and how to
// repair it. errors.Is(err, ErrCorrupt) holds for it.
type CorruptError struct {
	// Object is the stored object: "configmap default/web".
	Object string
	// Part is the part of it that is wrong: "key releaseHistory".
	Part string
	Err  error
	// Repair tells the user what to do.
	Repair string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("%s: %s: %v; %s", e.Object, e.Part, e.Err, e.Repair)
}

func (e *CorruptError) Unwrap() []error { return []error{ErrCorrupt, e.Err} }
