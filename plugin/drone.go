package plugin

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// decodeJSONList reads a list setting that Drone or Harness encoded as JSON
// because the YAML held a map or a list with a map in it. isJSON is false
// for anything else, such as a glob that starts with "[".
func decodeJSONList(value string) (items List, isJSON bool, err error) {
	value = strings.TrimSpace(value)
	if !strings.HasPrefix(value, "[") && !strings.HasPrefix(value, "{") {
		return nil, false, nil
	}
	var v any
	if json.Unmarshal([]byte(value), &v) != nil {
		return nil, false, nil
	}
	switch v := v.(type) {
	case []any:
		for i, e := range v {
			s, ok := jsonScalar(e)
			if !ok {
				return nil, true, fmt.Errorf("item %d is a map or a list: want a list of strings, or a map of strings", i+1)
			}
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			s, ok := jsonScalar(v[k])
			if !ok {
				return nil, true, fmt.Errorf("%q holds a map or a list: want a map of strings", k)
			}
			items = append(items, strings.TrimSpace(k)+"="+strings.TrimSpace(s))
		}
	default:
		return nil, false, nil
	}
	return items, true, nil
}

// jsonScalar formats a JSON scalar as YAML would have read it.
func jsonScalar(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(v), true
	case nil:
		return "", true
	}
	return "", false
}
