package apply

import (
	"strings"

	"github.com/kube-release/kube-release/internal/object"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Action is what applying or deleting did to an object.
type Action string

const (
	// Created: the object did not exist before this Apply (see the
	// package documentation for an answer that was lost).
	Created Action = "created"
	// Configured: the object existed and was changed, or existed and no dry
	// run told what it looked like before (see Options.Baseline).
	Configured Action = "configured"
	// Unchanged: the object existed and the apply did not change it.
	Unchanged Action = "unchanged"
	// Deleted: Delete removed the object.
	Deleted Action = "deleted"
)

// Change is one entry of a change set.
type Change struct {
	Ref    object.Ref
	Action Action
	// Object is the API server's response: the object as applied (for a dry
	// run, as it would be), with its uid, resourceVersion and generation.
	// Nil for deletions.
	Object *unstructured.Unstructured
}

// String formats the change as Flux does: Deployment/default/web configured.
func (c Change) String() string { return c.Ref.String() + " " + string(c.Action) }

// Skip is an object a dry run could not check.
type Skip struct {
	Ref object.Ref
	// Reason names the Namespace or CustomResourceDefinition of the same
	// set that does not exist yet.
	Reason string
}

// String formats the skip for a debug log line.
func (s Skip) String() string { return s.Ref.String() + " skipped: " + s.Reason }

// Result is the outcome of Apply.
type Result struct {
	// Changes has one entry per applied object, in apply order. After an
	// error it holds the objects applied before the failure.
	Changes []Change
	// Skipped lists what a dry run could not check because a Namespace or
	// CustomResourceDefinition it needs is part of the same set and does not
	// exist yet. Always empty for a real apply.
	Skipped []Skip
	// MaybeCreated lists the objects whose apply failed with its outcome
	// unknown although the Baseline found them new: a request was cut off
	// before its answer (the context ended, the connection dropped) and no
	// later attempt settled it. Such an object may exist now, and if it
	// does, this Apply created it. Their failures are among Apply's
	// errors; Object is the object as sent, Action is Created. An object
	// the Baseline saw existing is never listed.
	MaybeCreated []Change
	// Unproven lists the objects a cut-off request may have created where
	// no Baseline says whether they existed before: they are reported
	// configured (or failed), and nothing tells whether this Apply created
	// them.
	Unproven []object.Ref
}

// String formats the change set one entry per line.
func (r *Result) String() string {
	var b strings.Builder
	for _, c := range r.Changes {
		b.WriteString(c.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// ObjectError is the failure of one object. Its message names the object
// first: Deployment default/web: <the API's message>.
type ObjectError struct {
	Ref object.Ref
	Err error
}

func (e *ObjectError) Error() string { return e.Ref.Subject() + ": " + e.Err.Error() }

func (e *ObjectError) Unwrap() error { return e.Err }
