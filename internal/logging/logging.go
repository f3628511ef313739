// Package logging configures the one logger of a run: plain lines a person
// reads in a CI log, colour only where it helps, never a secret.
package logging

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/term"
)

// Options shape the log output.
type Options struct {
	Level      logrus.Level
	Timestamps bool
	// Color forces colour on or off; nil decides from the terminal and
	// NO_COLOR.
	Color *bool
	// GitHubActions writes GitHub's workflow commands: sections fold
	// (::group::), errors and warnings become annotations, and Mask
	// registers secrets (::add-mask::).
	GitHubActions bool
	// Getenv reads the environment (NO_COLOR); nil means os.Getenv.
	Getenv func(string) string
}

// New returns a logger writing to w. Once w's reader has gone (a closed
// pipe), the logger's lines are dropped without an error: main ignores
// SIGPIPE so that the step carries on, and nothing of the step depends on
// its log being read.
func New(w io.Writer, opts Options) *logrus.Logger {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	color := false
	if opts.Color != nil {
		color = *opts.Color
	} else {
		color = WantColor(w, getenv)
	}
	return &logrus.Logger{
		Out:       &pipeTolerant{w: w},
		Formatter: &Formatter{Timestamps: opts.Timestamps, Color: color, GitHub: opts.GitHubActions},
		Hooks:     make(logrus.LevelHooks),
		Level:     opts.Level,
		ExitFunc:  os.Exit,
	}
}

// WantColor reports whether output to w should be coloured: only on a
// terminal, and never when NO_COLOR is set (https://no-color.org).
func WantColor(w io.Writer, getenv func(string) string) bool {
	if getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Formatter prints one plain line per entry: the message as it is at info
// level, a short prefix at every other level, and fields as key=value.
// With GitHub set, errors, warnings, outcomes and sections are GitHub
// workflow commands instead, which the runner turns into annotations and
// folds.
type Formatter struct {
	Timestamps bool
	Color      bool
	GitHub     bool
}

const (
	red    = "\x1b[31m"
	green  = "\x1b[32m"
	yellow = "\x1b[33m"
	gray   = "\x1b[90m"
	bold   = "\x1b[1m"
	reset  = "\x1b[0m"
)

// Format implements logrus.Formatter.
func (f *Formatter) Format(e *logrus.Entry) ([]byte, error) {
	mark, _ := e.Data[markKey].(string)
	if f.GitHub {
		if line, ok := f.githubCommand(e, mark); ok {
			return []byte(line), nil
		}
	}
	if mark == sectionEnd {
		// Outside GitHub a section is only its title line.
		return nil, nil
	}

	var b bytes.Buffer
	if f.Timestamps {
		b.WriteString(e.Time.UTC().Format(time.RFC3339))
		b.WriteByte(' ')
	}
	prefix, color := "", ""
	switch e.Level {
	case logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel:
		prefix, color = "error: ", red+bold
	case logrus.WarnLevel:
		prefix, color = "warning: ", yellow
	case logrus.DebugLevel:
		prefix, color = "debug: ", gray
	case logrus.TraceLevel:
		prefix, color = "trace: ", gray
	}
	switch mark {
	case outcomeSucceeded:
		color = green + bold
	case sectionStart:
		color += bold
	}
	if f.Color && color != "" {
		b.WriteString(color)
	}
	b.WriteString(prefix)
	b.WriteString(strings.TrimRight(e.Message, "\n"))
	for _, k := range slices.Sorted(maps.Keys(e.Data)) {
		if k == markKey {
			continue
		}
		fmt.Fprintf(&b, " %s=%v", k, e.Data[k])
	}
	if f.Color && color != "" {
		b.WriteString(reset)
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// githubCommand formats the entries that GitHub shows better as workflow
// commands. Commands carry no timestamp or colour: the runner recognises
// them only at the start of a line, and stamps every line itself.
func (f *Formatter) githubCommand(e *logrus.Entry, mark string) (string, bool) {
	msg := strings.TrimRight(e.Message, "\n")
	switch {
	case mark == sectionStart:
		return "::group::" + escapeData(firstLine(msg)) + "\n", true
	case mark == sectionEnd:
		return "::endgroup::\n", true
	case mark == outcomeSucceeded:
		return "::notice::" + escapeData(msg) + "\n", true
	case e.Level <= logrus.ErrorLevel:
		return "::error::" + escapeData(msg) + "\n", true
	case e.Level == logrus.WarnLevel:
		return "::warning::" + escapeData(msg) + "\n", true
	}
	return "", false
}

// escapeData escapes a workflow command's data as the Actions toolkit does,
// so that a message of several lines stays one command.
// dataEscaper escapes a GitHub workflow command's data.
var dataEscaper = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")

func escapeData(s string) string { return dataEscaper.Replace(s) }

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
