// Package yamlerr words go-yaml's errors for the people who wrote the YAML:
// line numbers of the file they edit, and none of the document's values,
// since the document may be a Secret or a values file holding passwords.
package yamlerr

import (
	"bytes"
	"errors"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Hidden stands in for a value go-yaml would quote in a message.
const Hidden = "(value hidden)"

// lineNumber matches the line numbers in go-yaml's messages.
var lineNumber = regexp.MustCompile(`\bline (\d+)`)

// quotedValue matches a value go-yaml quotes in backticks, as in
// "cannot decode !!str `s3cret` as a !!int", which prints it whole.
var quotedValue = regexp.MustCompile("`[^`]*`")

// Message returns the message of err, an error of parsing text, without
// go-yaml's (and kyaml's) "yaml: " prefixes, with line numbers counted in
// the file, where text starts on line firstLine (1 for a whole file), and
// with every quoted value hidden.
func Message(err error, text []byte, firstLine int) string {
	msg := withoutPrefix(hideValues(err.Error()))
	// go-yaml counts lines from 0 in parser errors but from 1 in scanner
	// errors (it adds 1 for those only); only the messages tell them apart.
	// At the end of the stream (an unclosed bracket, say) its count is
	// already the last line's, and one more would be past it.
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		num, problem, _ := strings.Cut(rest, ": ")
		if n, err := strconv.Atoi(num); err == nil && isParserProblem(problem) {
			msg = "line " + strconv.Itoa(min(n+1, max(lineCount(text), 1))) + ": " + problem
		}
	}
	return shiftLines(msg, firstLine)
}

// withoutPrefix drops everything up to go-yaml's "yaml: ", the last one:
// kyaml wraps go-yaml's errors in its own.
func withoutPrefix(msg string) string {
	if i := strings.LastIndex(msg, "yaml: "); i >= 0 {
		return msg[i+len("yaml: "):]
	}
	return msg
}

// lineCount is the number of lines of text, a last one without a newline
// included.
func lineCount(text []byte) int {
	n := bytes.Count(text, []byte("\n"))
	if len(text) > 0 && text[len(text)-1] != '\n' {
		n++
	}
	return n
}

// Decode decodes n into v. It returns nil on success, else every problem
// worded as Message words it, with the line in the file (n being part of a
// document that starts on line firstLine). go-yaml names no line when a
// scalar does not fit its explicit tag (`!!int abc`); Decode finds it.
func Decode(n *yaml.Node, v any, firstLine int) []string {
	err := n.Decode(v)
	if err == nil {
		return nil
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, len(te.Errors))
		for i, e := range te.Errors {
			// Decoder messages count lines from 1, as the scanner's do.
			msgs[i] = hideValues(shiftLines(e, firstLine))
		}
		return msgs
	}
	msg := shiftLines(withoutPrefix(hideValues(err.Error())), firstLine)
	if !lineNumber.MatchString(msg) {
		if line := badScalarLine(n); line > 0 {
			msg = "line " + strconv.Itoa(line+firstLine-1) + ": " + msg
		}
	}
	return []string{msg}
}

// badScalarLine is the line of the first scalar under n that does not
// decode on its own, 0 when there is none.
func badScalarLine(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	if n.Kind == yaml.ScalarNode {
		var v any
		if err := n.Decode(&v); err != nil {
			return n.Line
		}
		return 0
	}
	for _, c := range n.Content {
		if line := badScalarLine(c); line > 0 {
			return line
		}
	}
	return 0
}

// isParserProblem tells the problems of go-yaml's parser (parserc.go) from
// those of its scanner, which never share a message.
func isParserProblem(problem string) bool {
	for _, p := range []string{
		"did not find expected ',' or ']'",
		"did not find expected ',' or '}'",
		"did not find expected '-' indicator",
		"did not find expected <document start>",
		"did not find expected key",
		"did not find expected node content",
		"found duplicate %",
		"found incompatible YAML document",
		"found undefined tag handle",
	} {
		if strings.HasPrefix(problem, p) {
			return true
		}
	}
	return false
}

// shiftLines turns "line N" of a document starting on file line firstLine
// into the line of the file.
func shiftLines(msg string, firstLine int) string {
	return lineNumber.ReplaceAllStringFunc(msg, func(s string) string {
		n, err := strconv.Atoi(strings.TrimPrefix(s, "line "))
		if err != nil {
			return s
		}
		return "line " + strconv.Itoa(n+firstLine-1)
	})
}

func hideValues(msg string) string {
	return quotedValue.ReplaceAllLiteralString(msg, Hidden)
}
