// Package render executes manifest files as Go templates with values, the
// way Harness renders Kubernetes manifests: templates see .Values (the
// values files merged in order) and .Release (name, namespace, number).
//
// A missing key is an error, never "<no value>" in a deployed object, and
// every error names the file and line of the template. The function set is
// small and pure on purpose: a template cannot read the environment, files
// or the network, so a manifest cannot leak the CI job's secrets.
package render

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/template"
)

// Release is what templates see as .Release.
type Release struct {
	// Name is the release name; empty for a step run without one.
	Name string
	// Namespace is the target namespace.
	Namespace string
	// Number is the release being deployed (rolling), or the newest one
	// recorded (apply, diff; 0 when there is none).
	Number int
}

// Renderer renders manifest files. It holds no state between files and may
// be used by several goroutines.
type Renderer struct {
	data map[string]any
}

// New returns a Renderer whose templates see values as .Values and rel as
// .Release. values may be nil (no values files).
func New(values map[string]any, rel Release) *Renderer {
	if values == nil {
		values = map[string]any{}
	}
	return &Renderer{data: map[string]any{
		"Values": values,
		// A map, not the struct, so that a misspelt field is the same
		// "map has no entry for key" error as a misspelt value.
		"Release": map[string]any{
			"Name":      rel.Name,
			"Namespace": rel.Namespace,
			"Number":    rel.Number,
		},
	}}
}

// noValue is what text/template prints for a nil value (a key present in
// the values with no value, `key:`). Helm prints nothing for it; so does
// this, rather than deploy the words "<no value>".
const noValue = "<no value>"

// MaxOutput bounds what one file may render to. A template that loops
// (`{{range 100000000}}...{{end}}`) fails with a clear error instead of
// filling the memory of the CI runner.
const MaxOutput = 64 << 20

// Render executes content, read from path, as a template. Content without
// "{{" is returned as it is. The error names path and the template's line.
func (r *Renderer) Render(path string, content []byte) ([]byte, error) {
	return r.RenderContext(context.Background(), path, content)
}

// RenderContext is Render that gives up when ctx ends: text/template
// cannot be interrupted, so a template still looping is left running in
// the background (the step fails and the process exits), and one that
// writes stops at its next write.
func (r *Renderer) RenderContext(ctx context.Context, path string, content []byte) ([]byte, error) {
	if !bytes.Contains(content, []byte("{{")) {
		return content, nil
	}
	tmpl, err := template.New(path).Option("missingkey=error").Funcs(funcs()).Parse(string(content))
	if err != nil {
		return nil, templateError(path, err)
	}
	bind(tmpl)
	out := &boundedBuffer{ctx: ctx, max: MaxOutput}
	done := make(chan error, 1)
	go func() { done <- tmpl.Execute(out, r.data) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		return nil, &Error{Path: path, Message: fmt.Sprintf("rendering did not finish: %v", ctx.Err())}
	}
	if err != nil {
		var limit *outputLimitError
		if errors.As(err, &limit) {
			return nil, &Error{Path: path, Message: limit.Error()}
		}
		return nil, templateError(path, err)
	}
	return bytes.ReplaceAll(out.buf.Bytes(), []byte(noValue), nil), nil
}

// boundedBuffer collects a template's output up to max bytes, and stops
// taking any once ctx has ended.
type boundedBuffer struct {
	ctx context.Context
	max int
	buf bytes.Buffer
}

type outputLimitError struct{ max int }

func (e *outputLimitError) Error() string {
	return fmt.Sprintf("renders to more than %d MiB: does a range loop without end?", e.max>>20)
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	if b.buf.Len()+len(p) > b.max {
		return 0, &outputLimitError{b.max}
	}
	return b.buf.Write(p)
}

// Error is a template that does not parse or execute.
type Error struct {
	// Path is the file.
	Path string
	// Line is the template's line, 0 when text/template did not say.
	Line int
	// Message is text/template's message without its prefixes, e.g.
	// `.Values.image: map has no entry for key "image"`.
	Message string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: template: %s", e.Path, e.Message)
	}
	return fmt.Sprintf("%s: line %d: template: %s", e.Path, e.Line, e.Message)
}

// executing matches the middle of an execution error: `executing "name" at
// <.Values.x>: `.
var executing = regexp.MustCompile(`^executing ".*?" at <(.*?)>: `)

// valueQuoting matches the few messages in which text/template prints a
// value, each up to the end of the message (a value may span lines), with
// what replaces it. The values may be a Secret's, and the expression
// already names them: `.Values.db.password: range can't iterate over
// (value hidden)`.
var valueQuoting = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`(?s)range can't iterate over .*`), "range can't iterate over the value (value hidden)"},
	{regexp.MustCompile(`(?s)can't use .* iterate over more than one variable.*`), "can't use the value to iterate over more than one variable (value hidden)"},
	{regexp.MustCompile(`(?s)if/with can't use .*`), "if/with can't use the value (value hidden)"},
	{regexp.MustCompile(`(?s)non-comparable types? .*`), "non-comparable types (value hidden)"},
}

// templateError rewrites text/template's "template: NAME:LINE[:COL]: ..."
// (NAME being path) as path, line and a message a user reads quickly,
// without any value text/template printed.
func templateError(path string, err error) error {
	msg := err.Error()
	for _, q := range valueQuoting {
		msg = q.re.ReplaceAllLiteralString(msg, q.with)
	}
	rest, ok := strings.CutPrefix(msg, "template: "+path+":")
	if !ok {
		return &Error{Path: path, Message: msg}
	}
	e := &Error{Path: path, Message: rest}
	lineCol, after, ok := strings.Cut(rest, ": ")
	if !ok {
		return e
	}
	lineStr, _, _ := strings.Cut(lineCol, ":")
	line, convErr := strconv.Atoi(lineStr)
	if convErr != nil {
		return e
	}
	e.Line = line
	if m := executing.FindStringSubmatchIndex(after); m != nil {
		after = after[m[2]:m[3]] + ": " + after[m[1]:]
	}
	e.Message = after
	return e
}
