package steps

// The choices settings make, declared once: plugin parses and validates
// the settings into these.

// OnFirstFailure is what a rollback does when the failed release has no
// successful one before it.
type OnFirstFailure string

const (
	// OnFirstFailureKeep leaves the failed release's objects as they are.
	OnFirstFailureKeep OnFirstFailure = "keep"
	// OnFirstFailureDelete deletes the objects the failed release created.
	OnFirstFailureDelete OnFirstFailure = "delete"
)

// OutputFormat is how the history step prints the history.
type OutputFormat string

const (
	OutputText OutputFormat = "text"
	OutputJSON OutputFormat = "json"
)

// OwnerCheck is what a deploy does when the release was last deployed from
// another repository.
type OwnerCheck string

const (
	OwnerCheckWarn OwnerCheck = "warn"
	OwnerCheckFail OwnerCheck = "fail"
)

// Status is the status output of a step that records no release of its
// own (rollback, apply).
type Status string

const (
	StatusSucceeded Status = "Succeeded"
	StatusFailed    Status = "Failed"
	StatusSkipped   Status = "Skipped"
)
