package logging

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	"k8s.io/klog/v2"
)

// klog's lines, as client-go writes them during an API outage, come out
// through the logger: in its format, at its level, never raw.
func TestKlogThroughTheLogger(t *testing.T) {
	for _, tt := range []struct {
		name  string
		level logrus.Level
		want  []string
	}{
		{name: "info hides klog's info lines", level: logrus.InfoLevel, want: []string{
			`warning: Unhandled Error: watch of *v1.Deployment ended: connection refused logger=UnhandledError`,
			`warning: failed to renew: connect: connection refused`,
		}},
		{name: "debug shows them", level: logrus.DebugLevel, want: []string{
			`debug: Warning: v1 ComponentStatus is deprecated in v1.19+`,
			`debug: Failed to watch: the server is currently unable to handle the request logger=reflector resource=deployments`,
			`warning: Unhandled Error: watch of *v1.Deployment ended: connection refused logger=UnhandledError`,
			`warning: failed to renew: connect: connection refused`,
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			log, buf := newTestLogger(Options{Level: tt.level, Timestamps: true})
			klog.SetLogger(Klog(log))
			t.Cleanup(klog.ClearLogger)

			klog.Warning("Warning: v1 ComponentStatus is deprecated in v1.19+\n")
			klog.Background().WithName("reflector").Info("Failed to watch:\nthe server is currently unable to handle the request", "resource", "deployments")
			klog.ErrorS(errors.New("watch of *v1.Deployment ended: connection refused"), "Unhandled Error", "logger", "UnhandledError")
			klog.Errorf("failed to renew: %v", "connect: connection refused")
			// client-go's request and response bodies (-v=8): never shown.
			klog.V(8).Infof("Response Body: %s", `{"kind":"Secret","data":{"password":"aHVudGVyMg=="}}`)
			klog.Background().V(8).Info("Request Body", "body", `{"data":{"password":"aHVudGVyMg=="}}`)
			klog.Flush()

			stamp := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ `)
			var got []string
			for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
				if !stamp.MatchString(line) {
					t.Errorf("line without the logger's format: %q", line)
				}
				got = append(got, stamp.ReplaceAllString(line, ""))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// Even at trace level and with klog's own verbosity raised, no verbose
// line (the bodies client-go logs from -v=6 on) gets through.
func TestKlogVerboseLinesNeverShown(t *testing.T) {
	log, buf := newTestLogger(Options{Level: logrus.TraceLevel})
	sink := Klog(log)
	for v := 1; v <= 10; v++ {
		sink.V(v).Info("Response Body", "body", "aHVudGVyMg==")
	}
	if sink.V(6).Enabled() {
		t.Error("verbose levels are enabled")
	}
	if buf.Len() != 0 {
		t.Errorf("verbose lines printed:\n%s", buf.String())
	}
}

// Names and values given to the logger stay with its lines.
func TestKlogNamesAndValues(t *testing.T) {
	log, buf := newTestLogger(Options{Level: logrus.DebugLevel})
	l := Klog(log).WithName("leader").WithName("lease").WithValues("namespace", "prod")
	l.Error(errors.New("connection\nrefused"), "renew failed", "attempt", 3, "odd")
	l.Info("renewed")
	want := "warning: leader/lease: renew failed: connection refused attempt=3 namespace=prod odd=(missing)\n" +
		"debug: leader/lease: renewed namespace=prod\n"
	if buf.String() != want {
		t.Errorf("got\n%swant\n%s", buf.String(), want)
	}
}

// The API server's warnings show at warn level, each once.
func TestAPIWarnings(t *testing.T) {
	log, buf := newTestLogger(Options{Level: logrus.InfoLevel})
	w := NewAPIWarnings(log)
	w.HandleWarningHeader(299, "", "policy/v1beta1 PodDisruptionBudget is deprecated in v1.21+, unavailable in v1.25+")
	w.HandleWarningHeader(299, "", "policy/v1beta1 PodDisruptionBudget is deprecated in v1.21+, unavailable in v1.25+")
	w.HandleWarningHeader(299, "", `unknown field "spec.replica"`)
	w.HandleWarningHeader(199, "", "miscellaneous")
	want := "warning: API server: policy/v1beta1 PodDisruptionBudget is deprecated in v1.21+, unavailable in v1.25+\n" +
		"warning: API server: unknown field \"spec.replica\"\n"
	if buf.String() != want {
		t.Errorf("got\n%swant\n%s", buf.String(), want)
	}
}
