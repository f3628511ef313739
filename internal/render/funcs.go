package render

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"sigs.k8s.io/yaml"
)

// funcs is the template functions, a new map on every call, so no caller
// can change another's: the whole of Sprig, as Helm and Harness templates
// use it, but for what a deploy step must not offer (env and expandenv
// read the CI runner's environment, its secrets included; getHostByName
// reaches the network); Helm's toYaml, fromYaml, required, include and tpl
// (include and tpl are bound to the template by bind); and the helpers
// written here before Sprig was a dependency, which keep their exact
// output (Sprig's own quote and toJson, for one, differ on nil).
func funcs() template.FuncMap {
	m := sprig.TxtFuncMap()
	for _, name := range []string{"env", "expandenv", "getHostByName"} {
		delete(m, name)
	}
	maps.Copy(m, template.FuncMap{
		"default":  defaultFunc,
		"required": required,
		"dig":      dig,
		"quote":    quote,
		"squote":   squote,
		"toYaml":   toYAML,
		"fromYaml": fromYAML,
		"toJson":   toJSON,
		"indent":   indent,
		"nindent":  nindent,
		"b64enc":   b64enc,
		"b64dec":   b64dec,
		"int":      toInt,
		"upper":    func(v any) string { return strings.ToUpper(str(v)) },
		"lower":    func(v any) string { return strings.ToLower(str(v)) },
		"trim":     func(v any) string { return strings.TrimSpace(str(v)) },
		// Defined for Parse; bind gives them the template.
		"include": func(string, any) (string, error) { return "", errors.New("include: not bound") },
		"tpl":     func(string, any) (string, error) { return "", errors.New("tpl: not bound") },
	})
	return m
}

// maxIncludeDepth bounds include and tpl nesting, as Helm's does: a
// template that includes itself fails instead of exhausting the stack.
const maxIncludeDepth = 1000

// bind gives include and tpl the template they run in: include executes
// one of its named templates ({{define}}) to a string, tpl executes a
// string as a template with the same functions and named templates.
func bind(tmpl *template.Template) {
	depth := 0
	enter := func(what string) error {
		if depth++; depth > maxIncludeDepth {
			return fmt.Errorf("%s: nested more than %d deep: does a template include itself?", what, maxIncludeDepth)
		}
		return nil
	}
	tmpl.Funcs(template.FuncMap{
		"include": func(name string, data any) (string, error) {
			defer func() { depth-- }()
			if err := enter("include " + strconv.Quote(name)); err != nil {
				return "", err
			}
			var b strings.Builder
			err := tmpl.ExecuteTemplate(&b, name, data)
			return b.String(), err
		},
		"tpl": func(text string, data any) (string, error) {
			defer func() { depth-- }()
			if err := enter("tpl"); err != nil {
				return "", err
			}
			t, err := tmpl.Clone()
			if err != nil {
				return "", err
			}
			if t, err = t.New("tpl").Parse(text); err != nil {
				return "", fmt.Errorf("tpl: %w", err)
			}
			var b strings.Builder
			err = t.Execute(&b, data)
			return b.String(), err
		},
	})
}

// fromYAML is Helm's fromYaml: the map a YAML document holds; a document
// that does not parse gives a map whose "Error" says why, as Helm's does,
// so templates written for Helm behave the same.
func fromYAML(s string) map[string]any {
	m := map[string]any{}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

// defaultFunc is `value | default fallback`: fallback when value is empty
// (nil, false, 0, "", or an empty list or map).
func defaultFunc(fallback any, value ...any) any {
	if len(value) == 0 || empty(value[0]) {
		return fallback
	}
	return value[0]
}

// required is `required "message" value`: the message as an error when
// value is empty, so a template says what the user must set.
func required(message string, value any) (any, error) {
	if empty(value) {
		return nil, errors.New(message)
	}
	return value, nil
}

// dig is `dig "key" "subkey" fallback map`: the value at the keys, or
// fallback when a key on the way is missing. missingkey=error makes
// `.Values.a.b | default x` fail when a is missing; dig is how a template
// reads an optional value.
func dig(args ...any) (any, error) {
	if len(args) < 3 {
		return nil, errors.New(`dig needs keys, a default and a map: dig "a" "b" "fallback" .Values`)
	}
	keys, fallback, m := args[:len(args)-2], args[len(args)-2], args[len(args)-1]
	cur := m
	for _, k := range keys {
		key, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("dig: a key is a %T, not a string", k)
		}
		mm, ok := cur.(map[string]any)
		if !ok {
			return fallback, nil
		}
		if cur, ok = mm[key]; !ok {
			return fallback, nil
		}
	}
	return cur, nil
}

func empty(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String, reflect.Slice, reflect.Map, reflect.Array:
		return rv.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return rv.IsNil()
	}
	return rv.IsZero()
}

// str prints a value as a template would, nil as nothing.
func str(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case []byte:
		return string(v)
	}
	return fmt.Sprint(v)
}

// quote is a double-quoted YAML (and JSON) string of each argument, joined
// by spaces; strconv's escapes are valid in YAML's double quotes.
func quote(vs ...any) string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		if v != nil {
			out = append(out, strconv.Quote(str(v)))
		}
	}
	return strings.Join(out, " ")
}

// squote is a single-quoted YAML string: nothing is escaped in it but the
// quote itself, doubled.
func squote(vs ...any) string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		if v != nil {
			out = append(out, "'"+strings.ReplaceAll(str(v), "'", "''")+"'")
		}
	}
	return strings.Join(out, " ")
}

// toYAML marshals v as block YAML without the final newline, so that
// `{{ .Values.resources | toYaml | nindent 10 }}` lines up.
func toYAML(v any) (string, error) {
	b, err := yaml.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("toYaml: %w", err)
	}
	return strings.TrimSuffix(string(b), "\n"), nil
}

func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("toJson: %w", err)
	}
	return string(b), nil
}

// indent puts n spaces before every line of s.
func indent(n int, s any) string {
	pad := strings.Repeat(" ", max(n, 0))
	return pad + strings.ReplaceAll(str(s), "\n", "\n"+pad)
}

// nindent is indent after a newline: `key:{{ x | toYaml | nindent 2 }}`.
func nindent(n int, s any) string {
	return "\n" + indent(n, s)
}

func b64enc(v any) string {
	return base64.StdEncoding.EncodeToString([]byte(str(v)))
}

func b64dec(v any) (string, error) {
	b, err := base64.StdEncoding.DecodeString(str(v))
	if err != nil {
		return "", fmt.Errorf("b64dec: %w", err)
	}
	return string(b), nil
}

// toInt converts what a values file holds to an int, as Harness's examples
// use it (`replicas: {{int .Values.replicas}}`): numbers, numeric strings,
// booleans; nil is 0. Its errors say what is wrong with the value, never
// the value: `int` is how a PIN or a port of a Secret gets written, and
// the error names the template's file, line and expression already.
func toInt(v any) (int, error) {
	switch v := v.(type) {
	case nil:
		return 0, nil
	case int:
		return v, nil
	case int64:
		return int(v), nil
	case uint64:
		if v > math.MaxInt {
			return 0, errors.New("int: the number is too large (value hidden)")
		}
		return int(v), nil
	case float64:
		if v != math.Trunc(v) {
			return 0, errors.New("int: the number is not a whole number (value hidden)")
		}
		return int(v), nil
	case bool:
		if v {
			return 1, nil
		}
		return 0, nil
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return 0, errors.New("int: the string is not a whole number (value hidden)")
		}
		return n, nil
	}
	return 0, fmt.Errorf("int: cannot convert a %T", v)
}
