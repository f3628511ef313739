package logging

import (
	"fmt"
	"io"
	"strings"

	"github.com/sirupsen/logrus"
)

// markKey is the entry field through which Section and Outcome tell the
// Formatter what an entry is; the Formatter never prints it.
const markKey = "kube-release.mark"

// Values of markKey.
const (
	sectionStart     = "section-start"
	sectionEnd       = "section-end"
	outcomeSucceeded = "outcome-succeeded"
)

// Section starts a section of the log titled title, and returns the
// function that ends it. Under GitHub Actions the entries in between fold
// under the title (::group::); elsewhere the title is a line of its own and
// nothing marks the end. Both marks are logged at level, so a section of
// debug output disappears entirely at info level. Sections do not nest
// (GitHub's do not), and a warning or error inside one is folded away with
// it, so keep both outside.
//
// Steps use it without knowing which CI runs them:
//
//	end := logging.Section(log, logrus.InfoLevel, "Resources (3)")
//	log.Info(table)
//	end()
func Section(log logrus.FieldLogger, level logrus.Level, title string) (end func()) {
	log.WithField(markKey, sectionStart).Log(level, title)
	return func() { log.WithField(markKey, sectionEnd).Log(level, "") }
}

// Succeeded logs the final line of a step that succeeded, such as
// "Release 5 of web Succeeded", so that it stands out: in bold green on a
// terminal, as a notice annotation under GitHub Actions. A failure needs no
// counterpart: main prints the step's error once, as an error.
func Succeeded(log logrus.FieldLogger, format string, args ...any) {
	log.WithField(markKey, outcomeSucceeded).Infof(format, args...)
}

// Mask asks GitHub Actions to hide each value wherever it would appear in
// the log from now on (::add-mask::), whatever the log level. Elsewhere it
// writes nothing: no other CI system has such a command, and kube-release
// never logs a secret anyway; this only guards what other steps of the job
// print. A value of several lines is masked line by line, since the runner
// matches a line at a time.
func Mask(log *logrus.Logger, values ...string) error {
	f, ok := log.Formatter.(*Formatter)
	if !ok || !f.GitHub {
		return nil
	}
	var b strings.Builder
	seen := make(map[string]bool)
	for _, v := range values {
		for _, line := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == '\r' }) {
			line = strings.TrimSpace(line)
			if line == "" || seen[line] {
				continue
			}
			seen[line] = true
			b.WriteString("::add-mask::" + escapeData(line) + "\n")
		}
	}
	if b.Len() == 0 {
		return nil
	}
	if _, err := io.WriteString(log.Out, b.String()); err != nil {
		return fmt.Errorf("mask secrets: %w", err)
	}
	return nil
}
