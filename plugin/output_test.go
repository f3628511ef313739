package plugin

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// envFunc is a getenv over a fixed map, so the tests need no process env.
func envFunc(env map[string]string) func(string) string {
	return func(key string) string { return env[key] }
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// fixedDelimiters hands out EOF1, EOF2, ... so GitHub output is predictable.
func fixedDelimiters() func() string {
	n := 0
	return func() string {
		n++
		return "EOF" + string(rune('0'+n))
	}
}

var sampleOutputs = []Output{
	{Key: "release_name", Value: "web"},
	{Key: "release_number", Value: "5"},
	{Key: "previous_release_number", Value: ""},
	{Key: "status", Value: "Succeeded"},
	{Key: "images", Value: "registry.example.com/web:1.2.3,registry.example.com/sidecar@sha256:abc"},
	{Key: "workloads", Value: "Deployment/default/web 13\nStatefulSet/default/db 4"},
	{Key: "message", Value: `it's "done" for $HOME #1`},
	{Key: "note", Value: "spaces and #hash"},
}

func TestDotenvOutput(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "drone.env")
	writeFile(t, path, "EARLIER=step\n")
	o := NewOutputWriter(envFunc(map[string]string{"DRONE_OUTPUT": path}), "")
	warnings, err := o.Write(sampleOutputs)
	if err != nil || len(warnings) != 0 {
		t.Fatalf("Write = %q, %v", warnings, err)
	}
	want := `EARLIER=step
release_name=web
release_number=5
previous_release_number=
status=Succeeded
images=registry.example.com/web:1.2.3,registry.example.com/sidecar@sha256:abc
workloads="Deployment/default/web 13\nStatefulSet/default/db 4"
message="it's \"done\" for \$HOME #1"
note='spaces and #hash'
`
	if got := readFile(t, path); got != want {
		t.Errorf("DRONE_OUTPUT:\n%s\nwant:\n%s", got, want)
	}
}

// TestDotenvRoundTrip reads the file back the way godotenv does, for the
// quoting forms written: bare, single-quoted (literal) and double-quoted
// (\n, \r, \" , \\, \$ and \` unescaped).
func TestDotenvRoundTrip(t *testing.T) {
	values := []string{
		"", "plain", "a b", " padded ", "#hash", "a=b", "$HOME", "${X}", `back\slash`,
		"it's", `"quoted"`, "multi\nline\n", "cr\r\nlf", "tab\there", "ünïcödé", "`tick`",
		"it's\n$HOME", `\n literal`,
	}
	var outputs []Output
	for i, v := range values {
		outputs = append(outputs, Output{Key: "k" + string(rune('a'+i)), Value: v})
	}
	for _, line := range strings.Split(strings.TrimSuffix(formatDotenv(outputs), "\n"), "\n") {
		key, raw, _ := strings.Cut(line, "=")
		i := int(key[1] - 'a')
		if got := readDotenvValue(t, raw); got != values[i] {
			t.Errorf("value %q written as %s reads back as %q", values[i], raw, got)
		}
	}
}

// readDotenvValue parses one value as godotenv does for the forms above.
func readDotenvValue(t *testing.T, raw string) string {
	t.Helper()
	switch {
	case strings.HasPrefix(raw, "'"):
		return strings.TrimSuffix(strings.TrimPrefix(raw, "'"), "'")
	case strings.HasPrefix(raw, `"`):
		inner := strings.TrimSuffix(strings.TrimPrefix(raw, `"`), `"`)
		var b strings.Builder
		for i := 0; i < len(inner); i++ {
			if inner[i] != '\\' || i+1 == len(inner) {
				if inner[i] == '"' || inner[i] == '$' {
					t.Errorf("unescaped %c in %s", inner[i], raw)
				}
				b.WriteByte(inner[i])
				continue
			}
			i++
			switch inner[i] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			default:
				b.WriteByte(inner[i])
			}
		}
		return b.String()
	default:
		if strings.ContainsAny(raw, " \t#$\"'\\") {
			t.Errorf("bare value %q would be trimmed, expanded or cut", raw)
		}
		return raw
	}
}

func TestHarnessOutputFiles(t *testing.T) {
	dir := t.TempDir()
	drone := filepath.Join(dir, "drone.env")
	harness := filepath.Join(dir, "harness.env")
	outputs := []Output{{Key: "release_number", Value: "5"}}

	o := NewOutputWriter(envFunc(map[string]string{"DRONE_OUTPUT": drone, "HARNESS_OUTPUT_FILE": harness}), "")
	if _, err := o.Write(outputs); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{drone, harness} {
		if got := readFile(t, path); got != "release_number=5\n" {
			t.Errorf("%s = %q", path, got)
		}
	}

	same := filepath.Join(dir, "same.env")
	o = NewOutputWriter(envFunc(map[string]string{"DRONE_OUTPUT": same, "HARNESS_OUTPUT_FILE": same + "/."}), "")
	if _, err := o.Write(outputs); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, same); got != "release_number=5\n" {
		t.Errorf("one file named twice holds %q, want each line once", got)
	}
}

func TestGitHubOutput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "github_output")
	writeFile(t, path, "earlier=1\n")
	o := NewOutputWriter(envFunc(map[string]string{"GITHUB_OUTPUT": path}), "")
	o.newDelimiter = fixedDelimiters()
	outputs := []Output{
		{Key: "release_number", Value: "5"},
		{Key: "empty", Value: ""},
		{Key: "workloads", Value: "Deployment/default/web 13\nStatefulSet/default/db 4"},
		{Key: "trailing", Value: "line\n"},
		// The first delimiter occurs in the value, so a second is drawn.
		{Key: "tricky", Value: "EOF3\nx"},
		{Key: "equals", Value: "a=b<<c"},
	}
	if _, err := o.Write(outputs); err != nil {
		t.Fatal(err)
	}
	want := `earlier=1
release_number=5
empty=
workloads<<EOF1
Deployment/default/web 13
StatefulSet/default/db 4
EOF1
trailing<<EOF2
line

EOF2
tricky<<EOF4
EOF3
x
EOF4
equals=a=b<<c
`
	if got := readFile(t, path); got != want {
		t.Errorf("GITHUB_OUTPUT:\n%s\nwant:\n%s", got, want)
	}
}

func TestGitHubDelimiterIsRandom(t *testing.T) {
	a, b := randomDelimiter(), randomDelimiter()
	if a == b || !strings.HasPrefix(a, "ghadelimiter_") || len(a) < len("ghadelimiter_")+20 {
		t.Errorf("delimiters %q and %q are not random enough", a, b)
	}
}

func TestTektonResults(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "results")
	o := NewOutputWriter(envFunc(nil), dir)
	writeFile(t, filepath.Join(dir, "status"), "stale value from an earlier write")
	warnings, err := o.Write(sampleOutputs)
	if err != nil || len(warnings) != 0 {
		t.Fatalf("Write = %q, %v", warnings, err)
	}
	for _, out := range sampleOutputs {
		path := filepath.Join(dir, out.Key)
		if got := readFile(t, path); got != out.Value {
			t.Errorf("result %s = %q, want the raw value %q", out.Key, got, out.Value)
		}
	}
	info, err := os.Stat(filepath.Join(dir, "release_number"))
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o644&^currentUmask(t) {
		t.Errorf("result file mode = %v, want 0644", perm)
	}
}

func currentUmask(t *testing.T) os.FileMode {
	t.Helper()
	path := filepath.Join(t.TempDir(), "probe")
	if err := os.WriteFile(path, nil, 0o777); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return 0o777 &^ info.Mode().Perm()
}

func TestTektonResultsCap(t *testing.T) {
	long := strings.Repeat("a", 2000)
	longer := strings.Repeat("b", 3000)
	outputs := []Output{
		{Key: "release_number", Value: "5"},
		{Key: "manifest", Value: longer},
		{Key: "status", Value: "Succeeded"},
		{Key: "images", Value: long},
	}
	dir := t.TempDir()
	o := NewOutputWriter(envFunc(nil), dir)
	warnings, err := o.Write(outputs)
	if err != nil {
		t.Fatal(err)
	}
	wantWarning := "tekton results: truncated manifest (3000 bytes), images (2000 bytes) to keep all results within 3072 bytes"
	if !reflect.DeepEqual(warnings, []string{wantWarning}) {
		t.Errorf("warnings = %q, want [%q]", warnings, wantWarning)
	}
	total := 0
	for _, out := range outputs {
		got := readFile(t, filepath.Join(dir, out.Key))
		total += len(got)
		switch out.Key {
		case "release_number", "status":
			if got != out.Value {
				t.Errorf("short result %s = %q, want it untouched", out.Key, got)
			}
		default:
			if !strings.HasSuffix(got, truncationMarker) || !strings.HasPrefix(out.Value, strings.TrimSuffix(got, truncationMarker)) {
				t.Errorf("result %s = %.40q..., want a prefix and the marker", out.Key, got)
			}
		}
	}
	// Both long values get the same share: (3072 - 1 - 9) / 2 bytes each.
	if total != 1+9+1531*2 {
		t.Errorf("results hold %d bytes, want the whole budget, %d", total, 1+9+1531*2)
	}
}

func TestCapResults(t *testing.T) {
	tests := []struct {
		name    string
		values  []string
		limit   int
		want    []string
		warning bool
	}{
		{name: "fits", values: []string{"abc", "de"}, limit: 5, want: []string{"abc", "de"}},
		{name: "longest cut first", values: []string{"aaaaaaaaaaaaaaaaaaaa", "bb"}, limit: 18,
			want: []string{"aa...[truncated]", "bb"}, warning: true},
		{name: "no room for the marker", values: []string{"aaaaaaaaaa", "bbbbbbbbbb"}, limit: 8,
			want: []string{"aaaa", "bbbb"}, warning: true},
		{name: "cut on a character boundary", values: []string{strings.Repeat("é", 20)}, limit: 19,
			want: []string{"éé...[truncated]"}, warning: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var outputs []Output
			for i, v := range tt.values {
				outputs = append(outputs, Output{Key: "k" + string(rune('a'+i)), Value: v})
			}
			capped, warning := capResults(outputs, tt.limit)
			total := 0
			for i, out := range capped {
				total += len(out.Value)
				if !utf8.ValidString(out.Value) {
					t.Errorf("value %d is not valid UTF-8: %q", i, out.Value)
				}
				if out.Value != tt.want[i] {
					t.Errorf("value %d = %q, want %q", i, out.Value, tt.want[i])
				}
			}
			if total > tt.limit {
				t.Errorf("total %d > limit %d", total, tt.limit)
			}
			if (warning != "") != tt.warning {
				t.Errorf("warning = %q, want one: %v", warning, tt.warning)
			}
			if outputs[0].Value != tt.values[0] {
				t.Error("capResults changed its input")
			}
		})
	}
}

func TestStepSummary(t *testing.T) {
	path := filepath.Join(t.TempDir(), "summary.md")
	o := NewOutputWriter(envFunc(map[string]string{"GITHUB_STEP_SUMMARY": path}), "")
	if err := o.Summary("## Release web\n\n| Kind | Name |\n|---|---|\n| Deployment | web |\n"); err != nil {
		t.Fatal(err)
	}
	if err := o.Summary("Rolled out in 42s"); err != nil {
		t.Fatal(err)
	}
	if err := o.Summary(""); err != nil {
		t.Fatal(err)
	}
	want := "## Release web\n\n| Kind | Name |\n|---|---|\n| Deployment | web |\nRolled out in 42s\n"
	if got := readFile(t, path); got != want {
		t.Errorf("GITHUB_STEP_SUMMARY:\n%s\nwant:\n%s", got, want)
	}
	// Outputs do not go to the summary, nor the summary to outputs.
	if _, err := o.Write([]Output{{Key: "status", Value: "Succeeded"}}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); got != want {
		t.Errorf("Write changed the summary: %q", got)
	}
}

func TestOutputsEverywhere(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{
		"DRONE_OUTPUT":        filepath.Join(dir, "drone.env"),
		"GITHUB_OUTPUT":       filepath.Join(dir, "github"),
		"GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary.md"),
	}
	results := filepath.Join(dir, "results")
	o := NewOutputWriter(envFunc(env), results)
	wantDest := []string{
		"DRONE_OUTPUT " + env["DRONE_OUTPUT"],
		"GITHUB_OUTPUT " + env["GITHUB_OUTPUT"],
		"Tekton results " + results,
		"GITHUB_STEP_SUMMARY " + env["GITHUB_STEP_SUMMARY"],
	}
	if got := o.Destinations(); !reflect.DeepEqual(got, wantDest) {
		t.Errorf("Destinations() = %q, want %q", got, wantDest)
	}
	if _, err := o.Write([]Output{{Key: "status", Value: "Succeeded"}}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{env["DRONE_OUTPUT"], env["GITHUB_OUTPUT"]} {
		if got := readFile(t, path); got != "status=Succeeded\n" {
			t.Errorf("%s = %q", path, got)
		}
	}
	if got := readFile(t, filepath.Join(results, "status")); got != "Succeeded" {
		t.Errorf("tekton result = %q", got)
	}
	if _, err := os.Stat(env["GITHUB_STEP_SUMMARY"]); !os.IsNotExist(err) {
		t.Errorf("summary written by Write: %v", err)
	}
}

func TestOutputsNowhere(t *testing.T) {
	o := NewOutputWriter(envFunc(nil), "")
	if d := o.Destinations(); len(d) != 0 {
		t.Errorf("Destinations() = %q, want none", d)
	}
	if w, err := o.Write(sampleOutputs); err != nil || len(w) != 0 {
		t.Errorf("Write = %q, %v, want nothing", w, err)
	}
	if err := o.Summary("# hi"); err != nil {
		t.Errorf("Summary: %v", err)
	}
}

func TestOutputErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "no", "such", "dir", "file")
	good := filepath.Join(dir, "github")
	o := NewOutputWriter(envFunc(map[string]string{
		"DRONE_OUTPUT":        missing,
		"GITHUB_OUTPUT":       good,
		"GITHUB_STEP_SUMMARY": missing,
	}), "")
	_, err := o.Write([]Output{{Key: "status", Value: "Failed"}})
	if err == nil || !strings.Contains(err.Error(), "DRONE_OUTPUT: open "+missing) {
		t.Errorf("Write error = %v, want it to name DRONE_OUTPUT and %s", err, missing)
	}
	if got := readFile(t, good); got != "status=Failed\n" {
		t.Errorf("a failing destination stopped the others: GITHUB_OUTPUT = %q", got)
	}
	if err := o.Summary("x"); err == nil || !strings.Contains(err.Error(), "GITHUB_STEP_SUMMARY: open "+missing) {
		t.Errorf("Summary error = %v, want it to name the file", err)
	}

	blocker := writeFile(t, filepath.Join(dir, "file"), "")
	o = NewOutputWriter(envFunc(nil), filepath.Join(blocker, "results"))
	if _, err := o.Write([]Output{{Key: "status", Value: "Failed"}}); err == nil || !strings.Contains(err.Error(), blocker) {
		t.Errorf("Tekton error = %v, want it to name %s", err, blocker)
	}
}

func TestOutputKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out")
	o := NewOutputWriter(envFunc(map[string]string{"DRONE_OUTPUT": path}), "")
	for _, key := range []string{"", "1st", "_x", "x_", "a-b", "a.b", "a/b", "a=b", "a b", "ü"} {
		if _, err := o.Write([]Output{{Key: key, Value: "v"}}); err == nil {
			t.Errorf("key %q accepted", key)
		}
	}
	if _, err := o.Write([]Output{{Key: "a", Value: "1"}, {Key: "a", Value: "2"}}); err == nil {
		t.Error("duplicate key accepted")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Error("bad outputs were partly written")
	}
	for _, key := range []string{"a", "A", "release_number", "x1", "a_1b"} {
		if _, err := o.Write([]Output{{Key: key, Value: "v"}}); err != nil {
			t.Errorf("key %q rejected: %v", key, err)
		}
	}
}
