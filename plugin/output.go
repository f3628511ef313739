package plugin

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Output is one named result of a step, such as release_number=5.
type Output struct {
	Key   string
	Value string
}

// OutputWriter is the one way step results leave the step.
type OutputWriter interface {
	// Write records the outputs, in the order given, in every destination
	// present. The warnings say what had to change to fit a destination;
	// that never fails the step.
	Write(outputs []Output) (warnings []string, err error)
	// Summary appends Markdown to the CI system's step summary, if it has one.
	Summary(markdown string) error
}

// Environment variables through which CI systems name their output files.
const (
	envDroneOutput       = "DRONE_OUTPUT"
	envHarnessOutputFile = "HARNESS_OUTPUT_FILE"
	envGitHubOutput      = "GITHUB_OUTPUT"
	envGitHubStepSummary = "GITHUB_STEP_SUMMARY"
)

// TektonResultsLimit bounds the bytes of all result values together. Tekton
// carries a step's results in its 4 KiB termination message, with JSON
// around each; what does not fit fails the TaskRun.
const TektonResultsLimit = 3 << 10

// truncationMarker ends a value cut to fit TektonResultsLimit.
const truncationMarker = "...[truncated]"

// Outputs writes the same outputs to every destination the environment
// names: dotenv files (Drone, Harness), GitHub's output file, and the Tekton
// results directory; and Markdown to GitHub's step summary.
type Outputs struct {
	dotenv       []outputFile
	github       string
	summary      string
	resultsDir   string
	newDelimiter func() string
}

// outputFile is a file to append to and the variable that named it, which
// errors mention so that the user knows which CI feature failed.
type outputFile struct {
	env  string
	path string
}

var _ OutputWriter = (*Outputs)(nil)

// NewOutputWriter finds the destinations in the environment (getenv is
// os.Getenv outside tests) and in resultsDir, the results_dir setting.
func NewOutputWriter(getenv func(string) string, resultsDir string) *Outputs {
	o := &Outputs{
		github:       getenv(envGitHubOutput),
		summary:      getenv(envGitHubStepSummary),
		resultsDir:   resultsDir,
		newDelimiter: randomDelimiter,
	}
	// Harness sets both names, possibly to one file; writing it twice would
	// only duplicate every line.
	seen := make(map[string]bool)
	for _, env := range []string{envDroneOutput, envHarnessOutputFile} {
		path := getenv(env)
		if path == "" || seen[filepath.Clean(path)] {
			continue
		}
		seen[filepath.Clean(path)] = true
		o.dotenv = append(o.dotenv, outputFile{env: env, path: path})
	}
	return o
}

// Destinations describes where outputs go, for a log line.
func (o *Outputs) Destinations() []string {
	var d []string
	for _, f := range o.dotenv {
		d = append(d, f.env+" "+f.path)
	}
	if o.github != "" {
		d = append(d, envGitHubOutput+" "+o.github)
	}
	if o.resultsDir != "" {
		d = append(d, "Tekton results "+o.resultsDir)
	}
	if o.summary != "" {
		d = append(d, envGitHubStepSummary+" "+o.summary)
	}
	return d
}

// Write implements OutputWriter. Every destination is attempted even when an
// earlier one fails, so one broken file costs no other output.
func (o *Outputs) Write(outputs []Output) ([]string, error) {
	if err := checkOutputKeys(outputs); err != nil {
		return nil, err
	}
	var errs []error
	if len(o.dotenv) > 0 {
		content := formatDotenv(outputs)
		for _, f := range o.dotenv {
			if err := appendFile(f.path, content); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", f.env, err))
			}
		}
	}
	if o.github != "" {
		if err := appendFile(o.github, o.formatGitHub(outputs)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", envGitHubOutput, err))
		}
	}
	var warnings []string
	if o.resultsDir != "" {
		w, err := writeTektonResults(o.resultsDir, outputs)
		warnings = append(warnings, w...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return warnings, errors.Join(errs...)
}

// Summary implements OutputWriter, appending to GITHUB_STEP_SUMMARY.
func (o *Outputs) Summary(markdown string) error {
	if o.summary == "" || markdown == "" {
		return nil
	}
	// Without a final newline, the next step's summary would continue
	// this one's last line.
	if !strings.HasSuffix(markdown, "\n") {
		markdown += "\n"
	}
	if err := appendFile(o.summary, markdown); err != nil {
		return fmt.Errorf("%s: %w", envGitHubStepSummary, err)
	}
	return nil
}

// checkOutputKeys accepts only keys valid everywhere: as dotenv and GitHub
// output names, and as Tekton result names, which are also file names.
func checkOutputKeys(outputs []Output) error {
	seen := make(map[string]bool, len(outputs))
	for _, out := range outputs {
		if !validOutputKey(out.Key) {
			return fmt.Errorf("output %q: a key is a letter, then letters, digits and underscores, not ending in an underscore", out.Key)
		}
		if seen[out.Key] {
			return fmt.Errorf("output %q: given twice", out.Key)
		}
		seen[out.Key] = true
	}
	return nil
}

func validOutputKey(key string) bool {
	if key == "" || strings.HasSuffix(key, "_") {
		return false
	}
	for i, r := range key {
		letter := ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')
		if !letter && (i == 0 || !('0' <= r && r <= '9') && r != '_') {
			return false
		}
	}
	return true
}

// formatDotenv writes KEY=value lines that godotenv, which Drone's and
// Harness's runners read the file with, reads back unchanged. A plain value
// stays bare; other one-line values go in single quotes, which godotenv
// takes literally; a value with a newline or a single quote goes in double
// quotes with \n, \" and \$ escapes. (godotenv cannot read back a double-
// quoted value that ends in a backslash; no output of this step does.)
func formatDotenv(outputs []Output) string {
	var b strings.Builder
	for _, out := range outputs {
		b.WriteString(out.Key)
		b.WriteByte('=')
		switch {
		case isPlainDotenvValue(out.Value):
			b.WriteString(out.Value)
		case !strings.ContainsAny(out.Value, "'\n\r"):
			b.WriteByte('\'')
			b.WriteString(out.Value)
			b.WriteByte('\'')
		default:
			b.WriteByte('"')
			for _, r := range out.Value {
				switch r {
				case '\\', '"', '$', '`':
					b.WriteByte('\\')
					b.WriteRune(r)
				case '\n':
					b.WriteString(`\n`)
				case '\r':
					b.WriteString(`\r`)
				default:
					b.WriteRune(r)
				}
			}
			b.WriteByte('"')
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// isPlainDotenvValue holds for values that need no quotes: nothing that
// godotenv trims, expands ($), unescapes or reads as a comment (#).
func isPlainDotenvValue(v string) bool {
	for _, r := range v {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		case strings.ContainsRune("-_./:@,+=%", r):
		default:
			return false
		}
	}
	return true
}

// formatGitHub writes name=value lines, and name<<DELIM blocks for values
// with line breaks, as the Actions toolkit does. The delimiter is random so
// that no value can end its block early or inject another output.
func (o *Outputs) formatGitHub(outputs []Output) string {
	var b strings.Builder
	for _, out := range outputs {
		if !strings.ContainsAny(out.Value, "\r\n") {
			fmt.Fprintf(&b, "%s=%s\n", out.Key, out.Value)
			continue
		}
		delim := o.newDelimiter()
		for strings.Contains(out.Value, delim) {
			delim = o.newDelimiter()
		}
		fmt.Fprintf(&b, "%s<<%s\n%s\n%s\n", out.Key, delim, out.Value, delim)
	}
	return b.String()
}

func randomDelimiter() string {
	return "ghadelimiter_" + rand.Text()
}

// writeTektonResults writes one file per output holding the raw value,
// replacing an earlier one: a result is a value, not a log.
func writeTektonResults(dir string, outputs []Output) ([]string, error) {
	capped, warning := capResults(outputs, TektonResultsLimit)
	var warnings []string
	if warning != "" {
		warnings = append(warnings, warning)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return warnings, fmt.Errorf("tekton results: %w", err)
	}
	var errs []error
	for _, out := range capped {
		if err := os.WriteFile(filepath.Join(dir, out.Key), []byte(out.Value), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("tekton result %s: %w", out.Key, err))
		}
	}
	return warnings, errors.Join(errs...)
}

// capResults shortens the longest values until all fit in limit bytes:
// every value longer than a common cap is cut to it, and the cap is the
// largest that fits, so short values are never touched. The warning names
// what was cut, or is empty.
func capResults(outputs []Output, limit int) ([]Output, string) {
	total, longest := 0, 0
	for _, out := range outputs {
		total += len(out.Value)
		longest = max(longest, len(out.Value))
	}
	if total <= limit {
		return outputs, ""
	}
	fits := func(c int) bool {
		sum := 0
		for _, out := range outputs {
			sum += min(len(out.Value), c)
		}
		return sum <= limit
	}
	lo, hi := 0, longest
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if fits(mid) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}

	capped := make([]Output, len(outputs))
	var cut []string
	for i, out := range outputs {
		capped[i] = out
		if len(out.Value) > lo {
			capped[i].Value = truncateValue(out.Value, lo)
			cut = append(cut, fmt.Sprintf("%s (%d bytes)", out.Key, len(out.Value)))
		}
	}
	return capped, fmt.Sprintf("tekton results: truncated %s to keep all results within %d bytes",
		strings.Join(cut, ", "), limit)
}

// truncateValue cuts v to at most n bytes, on a character boundary, ending
// in truncationMarker when it has room.
func truncateValue(v string, n int) string {
	suffix := truncationMarker
	if n < len(suffix) {
		suffix = ""
	}
	cut := n - len(suffix)
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return v[:cut] + suffix
}

// appendFile appends content in one write, creating the file if needed.
func appendFile(path, content string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(content)
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	return err
}
