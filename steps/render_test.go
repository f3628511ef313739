package steps

import (
	"strings"
	"testing"
)

func TestIsValuesFile(t *testing.T) {
	for path, want := range map[string]bool{
		"values.yaml":             true,
		"k8s/values.yml":          true,
		"k8s/Values.YAML":         true,
		"k8s/prod.values.yaml":    true,
		"k8s/prod.values.yml":     true,
		"k8s/values.json":         false,
		"k8s/values-prod.yaml":    false,
		"k8s/myvalues.yaml":       false,
		"k8s/values.yaml.d/a.yml": false,
		"k8s/deployment.yaml":     false,
	} {
		if got := isValuesFile(path); got != want {
			t.Errorf("isValuesFile(%q) = %t, want %t", path, got, want)
		}
	}
}

func TestCapLines(t *testing.T) {
	lines := []string{"aaaa", "bbbb", "cccc", "dddd", "eeee"}
	tests := []struct {
		limit int
		want  string
	}{
		{limit: 100, want: "aaaa\nbbbb\ncccc\ndddd\neeee"},
		{limit: 24, want: "aaaa\nbbbb\ncccc\ndddd\neeee"},
		{limit: 23, want: "aaaa\n... and 4 more"},
		{limit: 18, want: "... and 5 more"},
	}
	for _, tt := range tests {
		got := capLines(lines, tt.limit)
		if got != tt.want {
			t.Errorf("capLines(limit %d) = %q, want %q", tt.limit, got, tt.want)
		}
		if len(got) > tt.limit && tt.limit >= len("... and 5 more") {
			t.Errorf("capLines(limit %d) is %d bytes", tt.limit, len(got))
		}
	}
	if got := capLines(nil, 10); got != "" {
		t.Errorf("capLines(nil) = %q", got)
	}
	many := make([]string, 500)
	for i := range many {
		many[i] = "Deployment/production/service-" + strings.Repeat("x", i%20) + " configured"
	}
	if got := capLines(many, changesOutputLimit); len(got) > changesOutputLimit || !strings.HasSuffix(got, "more") {
		t.Errorf("500 changes: %d bytes, ends %q", len(got), got[len(got)-20:])
	}
}
