package logging

import (
	"bytes"
	"errors"
	"os"
	"regexp"
	"testing"

	"github.com/sirupsen/logrus"
)

func newTestLogger(opts Options) (*logrus.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	if opts.Color == nil {
		off := false
		opts.Color = &off
	}
	return New(&buf, opts), &buf
}

// logSample logs one of everything a step logs.
func logSample(log *logrus.Logger) {
	log.Info("Release Name: [web]")
	end := Section(log, logrus.InfoLevel, "Resources (2)")
	log.Info("Kind    Name\nDeployment    web")
	end()
	endDebug := Section(log, logrus.DebugLevel, "Rendered manifests")
	log.Debug("kind: Deployment")
	endDebug()
	log.Warn("unknown setting PLUGIN_NAMESAPCE, did you mean PLUGIN_NAMESPACE?")
	log.WithField("attempt", 2).Info("retrying")
	Succeeded(log, "Release %d of %s Succeeded", 5, "web")
	log.Error(errors.New("rolling: apply: 100% broken\nsecond line"))
}

func TestFormatPlain(t *testing.T) {
	log, buf := newTestLogger(Options{Level: logrus.InfoLevel})
	logSample(log)
	want := `Release Name: [web]
Resources (2)
Kind    Name
Deployment    web
warning: unknown setting PLUGIN_NAMESAPCE, did you mean PLUGIN_NAMESPACE?
retrying attempt=2
Release 5 of web Succeeded
error: rolling: apply: 100% broken
second line
`
	if got := buf.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestFormatDebugSection(t *testing.T) {
	log, buf := newTestLogger(Options{Level: logrus.DebugLevel})
	end := Section(log, logrus.DebugLevel, "Rendered manifests")
	log.Debug("kind: Deployment")
	end()
	if want := "debug: Rendered manifests\ndebug: kind: Deployment\n"; buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}

func TestFormatGitHub(t *testing.T) {
	log, buf := newTestLogger(Options{Level: logrus.InfoLevel, GitHubActions: true, Timestamps: true})
	logSample(log)
	stamp := `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ `
	want := regexp.MustCompile(`^` + stamp + `Release Name: \[web\]
::group::Resources \(2\)
` + stamp + `Kind    Name
Deployment    web
::endgroup::
::warning::unknown setting PLUGIN_NAMESAPCE, did you mean PLUGIN_NAMESPACE\?
` + stamp + `retrying attempt=2
::notice::Release 5 of web Succeeded
::error::rolling: apply: 100%25 broken%0Asecond line
$`)
	if !want.MatchString(buf.String()) {
		t.Errorf("got:\n%s\nwant to match:\n%s", buf.String(), want)
	}
}

func TestFormatColor(t *testing.T) {
	on := true
	log, buf := newTestLogger(Options{Level: logrus.InfoLevel, Color: &on})
	log.Info("plain")
	Succeeded(log, "done")
	log.Error("broken")
	want := "plain\n" + green + bold + "done" + reset + "\n" + red + bold + "error: broken" + reset + "\n"
	if buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}

func TestWantColor(t *testing.T) {
	none := func(string) string { return "" }
	noColor := func(k string) string {
		if k == "NO_COLOR" {
			return "1"
		}
		return ""
	}
	if WantColor(&bytes.Buffer{}, none) {
		t.Error("colour for a buffer, want none: only a terminal gets colour")
	}
	// A file that is no terminal (a CI log is a pipe or a file).
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if WantColor(f, none) {
		t.Error("colour for a regular file, want none")
	}
	// A terminal: TestWantColorOnTerminal.
	// New consults the Getenv it is given, not the process environment.
	log := New(&bytes.Buffer{}, Options{Getenv: noColor})
	if log.Formatter.(*Formatter).Color {
		t.Error("New chose colour with NO_COLOR set")
	}
}

func TestMask(t *testing.T) {
	log, buf := newTestLogger(Options{Level: logrus.ErrorLevel, GitHubActions: true})
	if err := Mask(log, "tok-1", "", "line one\n  line two\r\nline one\n", "50%\ncut"); err != nil {
		t.Fatal(err)
	}
	want := "::add-mask::tok-1\n::add-mask::line one\n::add-mask::line two\n::add-mask::50%25\n::add-mask::cut\n"
	if buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}

	plain, buf := newTestLogger(Options{Level: logrus.InfoLevel})
	if err := Mask(plain, "tok-1"); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Errorf("Mask outside GitHub wrote %q, want nothing", buf.String())
	}
}

// A log whose reader has gone (a closed pipe) fails no write: the lines are
// dropped, and the step that logs them carries on.
func TestClosedPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	off := false
	log := New(w, Options{Level: logrus.InfoLevel, Color: &off, GitHubActions: true})
	log.Info("before")
	r.Close()
	for range 3 {
		log.Info("after")
		log.Error(errors.New("still logged nowhere"))
	}
	if err := Mask(log, "s3cret"); err != nil {
		t.Errorf("Mask after the pipe closed: %v", err)
	}
	if _, err := log.Out.Write([]byte("report\n")); err != nil {
		t.Errorf("writing a report after the pipe closed: %v", err)
	}
}

// Other write errors than a closed pipe still reach the writer's caller.
func TestWriteErrorKept(t *testing.T) {
	off := false
	log := New(failingWriter{}, Options{Color: &off})
	if _, err := log.Out.Write([]byte("x\n")); !errors.Is(err, errDiskFull) {
		t.Errorf("got %v, want %v", err, errDiskFull)
	}
}

var errDiskFull = errors.New("no space left on device")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errDiskFull }
