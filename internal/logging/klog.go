package logging

import (
	"fmt"
	"strings"
	"sync"

	"github.com/go-logr/logr"
	"github.com/sirupsen/logrus"
)

// Klog returns a logr.Logger writing to log, for klog.SetLogger: what
// client-go prints through klog (a watch that broke, a request it gave up
// on, an error it could not return to anyone) becomes a line of the run's
// own log, in its format and with its timestamps, instead of a raw
// "E1207 10:04:05.123456 ..." line on stderr at every level. klog's info
// lines are debug lines here, and its errors warnings: the step reports
// what they mean for the deploy itself, once, as the error it ends with.
func Klog(log logrus.FieldLogger) logr.Logger {
	return logr.New(&klogSink{log: log})
}

// klogSink is a logr.LogSink over a logrus logger: a few lines of code
// rather than a dependency for them.
type klogSink struct {
	log    logrus.FieldLogger
	name   string
	values []any
}

func (s *klogSink) Init(logr.RuntimeInfo) {}

// Enabled admits only klog's unconditional lines (level 0). client-go
// logs URLs, headers and request and response bodies at its verbose
// levels (-v=6 and up), bodies that hold a Secret's data; no log level of
// kube-release shows them, even if something raised klog's verbosity.
func (s *klogSink) Enabled(level int) bool { return level <= 0 }

func (s *klogSink) Info(level int, msg string, keysAndValues ...any) {
	if !s.Enabled(level) {
		return
	}
	s.entry(keysAndValues).Debug(s.message(msg, nil))
}

func (s *klogSink) Error(err error, msg string, keysAndValues ...any) {
	s.entry(keysAndValues).Warn(s.message(msg, err))
}

func (s *klogSink) WithValues(keysAndValues ...any) logr.LogSink {
	c := *s
	c.values = append(append([]any(nil), s.values...), keysAndValues...)
	return &c
}

func (s *klogSink) WithName(name string) logr.LogSink {
	c := *s
	if c.name != "" {
		name = c.name + "/" + name
	}
	c.name = name
	return &c
}

// message is one line: klog's unstructured lines may end in or hold line
// breaks, and a line of the log is one entry with its prefix and time.
func (s *klogSink) message(msg string, err error) string {
	if err != nil {
		msg = strings.TrimRight(msg, "\n") + ": " + err.Error()
	}
	msg = oneLine(msg)
	if s.name != "" {
		msg = s.name + ": " + msg
	}
	return msg
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// entry carries the structured key/value pairs as the Formatter's fields.
func (s *klogSink) entry(keysAndValues []any) logrus.FieldLogger {
	kv := append(append([]any(nil), s.values...), keysAndValues...)
	if len(kv) == 0 {
		return s.log
	}
	fields := make(logrus.Fields, len(kv)/2+1)
	for i := 0; i < len(kv); i += 2 {
		key, ok := kv[i].(string)
		if !ok {
			continue
		}
		value := "(missing)"
		if i+1 < len(kv) {
			value = oneLine(fmt.Sprint(kv[i+1]))
		}
		fields[key] = value
	}
	return s.log.WithFields(fields)
}

// APIWarnings logs the warnings the API server sends with its answers (a
// deprecated API version, a field it dropped), each once, at warn level:
// the handler for rest.SetDefaultWarningHandler. client-go's own handler
// logs them through klog at info level, which the logger shows only at
// debug level; a deprecation is worth seeing at every level.
type APIWarnings struct {
	log  logrus.FieldLogger
	mu   sync.Mutex
	seen map[string]bool
}

// NewAPIWarnings returns the handler logging to log.
func NewAPIWarnings(log logrus.FieldLogger) *APIWarnings {
	return &APIWarnings{log: log, seen: map[string]bool{}}
}

// HandleWarningHeader implements client-go's rest.WarningHandler. Only code
// 299 is a warning meant for people (RFC 7234), as client-go has it.
func (w *APIWarnings) HandleWarningHeader(code int, _ string, message string) {
	if code != 299 || message == "" {
		return
	}
	w.mu.Lock()
	seen := w.seen[message]
	w.seen[message] = true
	w.mu.Unlock()
	if !seen {
		w.log.Warnf("API server: %s", oneLine(message))
	}
}
