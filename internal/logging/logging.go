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
}

// New returns a logger writing to w.
func New(w io.Writer, opts Options) *logrus.Logger {
	color := false
	if opts.Color != nil {
		color = *opts.Color
	} else {
		color = WantColor(w, os.Getenv)
	}
	return &logrus.Logger{
		Out:       w,
		Formatter: &Formatter{Timestamps: opts.Timestamps, Color: color},
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
type Formatter struct {
	Timestamps bool
	Color      bool
}

const (
	red    = "\x1b[31m"
	yellow = "\x1b[33m"
	gray   = "\x1b[90m"
	bold   = "\x1b[1m"
	reset  = "\x1b[0m"
)

// Format implements logrus.Formatter.
func (f *Formatter) Format(e *logrus.Entry) ([]byte, error) {
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
	if f.Color && color != "" {
		b.WriteString(color)
	}
	b.WriteString(prefix)
	b.WriteString(strings.TrimRight(e.Message, "\n"))
	for _, k := range slices.Sorted(maps.Keys(e.Data)) {
		fmt.Fprintf(&b, " %s=%v", k, e.Data[k])
	}
	if f.Color && color != "" {
		b.WriteString(reset)
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}
