package render

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"text/template"

	"sigs.k8s.io/yaml"
)

// funcs is a new map on every call, so no caller can change another's.
// Names and argument order follow Sprig's (as Helm and Harness templates
// use them), so templates written for either keep working; Sprig itself is
// not a dependency because it brings ~15 modules for this dozen helpers,
// and functions such as env and expandenv that a deploy step must not offer.
func funcs() template.FuncMap {
	return template.FuncMap{
		"default":  defaultFunc,
		"required": required,
		"dig":      dig,
		"quote":    quote,
		"squote":   squote,
		"toYaml":   toYAML,
		"toJson":   toJSON,
		"indent":   indent,
		"nindent":  nindent,
		"b64enc":   b64enc,
		"b64dec":   b64dec,
		"int":      toInt,
		"upper":    func(v any) string { return strings.ToUpper(str(v)) },
		"lower":    func(v any) string { return strings.ToLower(str(v)) },
		"trim":     func(v any) string { return strings.TrimSpace(str(v)) },
	}
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
