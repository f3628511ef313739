package manifest

// The annotations and labels kube-release reads and writes on the objects
// it deploys, all in one place. The harness.io ones are Harness CD's, with
// its meaning and spelling, so manifests written for Harness behave the
// same; the kube-release.io ones are kube-release's own.
const (
	// DirectApplyAnnotation marks a workload that is applied but not managed:
	// no release label, no waiting for steady state, no rollback.
	DirectApplyAnnotation = "harness.io/direct-apply"
	// SkipVersioningAnnotation keeps a ConfigMap or Secret, and the
	// references to it, unversioned.
	SkipVersioningAnnotation = "harness.io/skip-versioning"
	// SkipPruningAnnotation keeps an object when pruning would delete it.
	SkipPruningAnnotation = "harness.io/skipPruning"
	// ReleaseNameLabel is set on the pod template of every managed workload.
	ReleaseNameLabel = "harness.io/release-name"

	// PrimaryServiceAnnotation and StageServiceAnnotation mark the two
	// Services of a blue/green deploy: the one that serves users and the
	// one that serves the colour being staged.
	PrimaryServiceAnnotation = "harness.io/primary-service"
	StageServiceAnnotation   = "harness.io/stage-service"
	// ColorLabel says which colour (blue or green) a blue/green workload's
	// pods are. It is in the pod labels and the selector of the workload,
	// and in the selector of both Services, which is what a swap moves.
	ColorLabel = "harness.io/color"
	// TrackLabel tells a canary's pods (TrackCanary) from those of the
	// stable workload (TrackStable).
	TrackLabel  = "harness.io/track"
	TrackCanary = "canary"
	TrackStable = "stable"

	// OwnerNameAnnotation and OwnerNamespaceAnnotation say which release an
	// object belongs to, as Helm marks its objects (see OwnerFilter).
	OwnerNameAnnotation      = "kube-release.io/release-name"
	OwnerNamespaceAnnotation = "kube-release.io/release-namespace"
)

// IsTrue reads a boolean annotation as Harness does: "true" in any case.
func IsTrue(value string) bool { return isTrue(value) }

// HasTrue reports whether the annotation key of an object is "true" in any
// case.
func HasTrue(annotations map[string]string, key string) bool { return isTrue(annotations[key]) }
