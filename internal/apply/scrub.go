package apply

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const redacted = "[redacted]"

// secretValues returns every form in which an API message could echo a
// Secret's values: as written, base64-decoded (data), Go- and JSON-quoted,
// and printed when the value is not a string at all (server-side apply
// prints the offending value of a type error). data and stringData are
// read whatever their shape: a manifest that gets them wrong (a string, a
// list or a number instead of a map) is exactly the one the API server
// answers with "expected map, got &{<the value>}". Longest first, so a
// value that contains another is replaced whole.
func secretValues(obj *unstructured.Unstructured) []string {
	if obj.GroupVersionKind().Group != groupCore || obj.GetKind() != kindSecret {
		return nil
	}
	seen := map[string]bool{}
	add := func(s string) {
		if s == "" {
			return
		}
		seen[s] = true
		if q := strconv.Quote(s); len(q) > 2 {
			seen[q[1:len(q)-1]] = true
		}
		if j, err := json.Marshal(s); err == nil && len(j) > 2 {
			seen[string(j[1:len(j)-1])] = true
		}
	}
	var leaves func(v any, decode bool)
	leaves = func(v any, decode bool) {
		switch v := v.(type) {
		case nil:
		case string:
			add(v)
			if decode {
				if b, err := base64.StdEncoding.DecodeString(v); err == nil {
					add(string(b))
				}
			}
		case map[string]any:
			// Keys are names, not values: an error may keep them.
			for _, e := range v {
				leaves(e, decode)
			}
		case []any:
			for _, e := range v {
				leaves(e, decode)
			}
		default:
			add(fmt.Sprint(v))
			add(fmt.Sprintf("%#v", v))
			if j, err := json.Marshal(v); err == nil {
				add(string(j))
			}
		}
	}
	for _, field := range []string{"data", "stringData"} {
		leaves(obj.Object[field], field == "data")
	}
	vals := make([]string, 0, len(seen))
	for s := range seen {
		vals = append(vals, s)
	}
	slices.SortFunc(vals, func(a, b string) int {
		return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b))
	})
	return vals
}

// scrub removes secret values from an error's message. A short value makes
// the message harder to read; that is the price of never printing it.
func scrub(err error, vals []string) error {
	if err == nil || len(vals) == 0 {
		return err
	}
	replace := func(s string) string {
		for _, v := range vals {
			s = strings.ReplaceAll(s, v, redacted)
		}
		return s
	}
	if msg := err.Error(); replace(msg) == msg {
		return err
	}
	// Keep an API error an API error, so callers can still ask
	// apierrors.IsInvalid and the like; any other error is flattened, as
	// its wrapped errors would still carry the value.
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Message == err.Error() {
		st := status.Status()
		s := *st.DeepCopy()
		s.Message = replace(s.Message)
		if s.Details != nil {
			s.Details.Name = replace(s.Details.Name)
			for i := range s.Details.Causes {
				s.Details.Causes[i].Message = replace(s.Details.Causes[i].Message)
				s.Details.Causes[i].Field = replace(s.Details.Causes[i].Field)
			}
		}
		return &apierrors.StatusError{ErrStatus: s}
	}
	return errors.New(replace(err.Error()))
}
