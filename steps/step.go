// Package steps holds the deploy steps. Each is built from a narrow config
// of its own, prepares everything it can without writing (reading and
// rendering manifests, validating them, reading history), and only then
// changes the cluster.
package steps

import (
	"context"
	"io"

	"github.com/sirupsen/logrus"

	"github.com/kube-release/kube-release/internal/kube"
	"github.com/kube-release/kube-release/internal/release"
)

// Step is one deploy step.
type Step interface {
	// Run runs the step. The result is meaningful even with an error: a
	// failed deploy still reports its release number and status.
	Run(ctx context.Context) (Result, error)
}

// Result is what a step reports to the CI system.
type Result struct {
	// Outputs are the step's named results, in a stable order.
	Outputs []Output
	// Summary is Markdown for the CI system's step summary.
	Summary string
}

// Output is one named result, such as release_number=5.
type Output struct {
	Key, Value string
}

// Env is what every step gets from the plugin besides its own config.
type Env struct {
	Clients *kube.Clients
	Log     logrus.FieldLogger
	// Out receives the reports a step prints to be read or parsed whole
	// (history's table or JSON), without log formatting; nil discards them.
	Out io.Writer
	// Pipeline describes the CI run, recorded on each release (who
	// deployed what).
	Pipeline release.Pipeline
	// Lock configures the deploy lock every step that changes a release
	// takes.
	Lock LockConfig
	// OwnerCheck says what a deploy does when the release was last
	// deployed from another repository: "warn" (the default) or "fail".
	OwnerCheck OwnerCheck
	// Book opens the history of a release; nil opens it in the cluster.
	// Tests give books over memory stores.
	Book BookFunc
}
