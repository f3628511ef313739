package diff

import (
	"fmt"

	"sigs.k8s.io/yaml"
)

// Action is what an apply would do to an object.
type Action string

// The actions of a diff.
const (
	Create    Action = "create"
	Change    Action = "change"
	Unchanged Action = "unchanged"
)

// Object is the diff of one object.
type Object struct {
	// Name identifies the object, e.g. Deployment/prod/web.
	Name   string
	Action Action
	// Text is the unified diff, "" when unchanged.
	Text string
}

// Masked stands for a Secret value; Changed for one that the apply would
// change. A diff shows that a value changes, never what it is or was.
const (
	Masked  = "***"
	Changed = "*** (changed)"
)

// contextLines is the context around each change, as diff -u's default.
const contextLines = 3

// lastApplied is kubectl's full copy of the object, Secret data included.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// Compare diffs the live object (nil when it does not exist) against after,
// the object as an apply would leave it (the server's dry-run answer). Both
// are JSON-like maps as unstructured.Unstructured holds them; neither is
// modified. Fields the server maintains (status, managedFields,
// resourceVersion, generation, uid, creationTimestamp, kubectl's
// last-applied annotation) are left out, and for a core Secret every value
// of data and stringData is masked.
func Compare(name string, live, after map[string]any) (Object, error) {
	a, b := Normalize(live), Normalize(after)
	if isSecret(after) || isSecret(live) {
		maskSecrets(a, b)
	}
	from, err := toYAML(a)
	if err != nil {
		return Object{}, fmt.Errorf("%s: %w", name, err)
	}
	to, err := toYAML(b)
	if err != nil {
		return Object{}, fmt.Errorf("%s: %w", name, err)
	}
	o := Object{Name: name, Action: Change}
	switch {
	case live == nil:
		o.Action = Create
		o.Text = Unified("/dev/null", name+" (after apply)", "", to, contextLines)
	case from == to:
		o.Action = Unchanged
	default:
		o.Text = Unified(name+" (live)", name+" (after apply)", from, to, contextLines)
	}
	return o, nil
}

// Normalize returns a deep copy of obj without the fields the API server
// maintains, which change on every apply and say nothing about the
// manifests: what a reviewer should see is what the manifests change.
func Normalize(obj map[string]any) map[string]any {
	if obj == nil {
		return nil
	}
	c := deepCopy(obj).(map[string]any)
	delete(c, "status")
	if meta, ok := c["metadata"].(map[string]any); ok {
		for _, f := range []string{"managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink"} {
			delete(meta, f)
		}
		if ann, ok := meta["annotations"].(map[string]any); ok {
			delete(ann, lastApplied)
			if len(ann) == 0 {
				delete(meta, "annotations")
			}
		}
	}
	return c
}

func isSecret(obj map[string]any) bool {
	return obj != nil && obj["apiVersion"] == "v1" && obj["kind"] == "Secret"
}

// maskSecrets replaces the values of data and stringData in both objects.
// A value of after that differs from live's under the same key becomes
// Changed, so the diff shows the changed line without the value; stringData
// is write-only (the server folds it into data), so it is only masked.
func maskSecrets(live, after map[string]any) {
	// A data or stringData that is no map (which the API server rejects)
	// is one value, masked whole.
	for _, obj := range []map[string]any{live, after} {
		for _, f := range []string{"data", "stringData"} {
			if v, ok := obj[f]; ok && v != nil {
				if _, isMap := v.(map[string]any); !isMap {
					obj[f] = Masked
				}
			}
		}
	}
	liveData, _ := field(live, "data").(map[string]any)
	afterData, _ := field(after, "data").(map[string]any)
	for k, v := range afterData {
		old, existed := liveData[k]
		if existed && !equal(old, v) {
			afterData[k] = Changed
		} else {
			afterData[k] = Masked
		}
	}
	for k := range liveData {
		liveData[k] = Masked
	}
	for _, obj := range []map[string]any{live, after} {
		if sd, ok := field(obj, "stringData").(map[string]any); ok {
			for k := range sd {
				sd[k] = Masked
			}
		}
	}
}

func field(obj map[string]any, name string) any {
	if obj == nil {
		return nil
	}
	return obj[name]
}

func equal(a, b any) bool {
	return fmt.Sprintf("%#v", a) == fmt.Sprintf("%#v", b)
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(v))
		for k, e := range v {
			c[k] = deepCopy(e)
		}
		return c
	case []any:
		c := make([]any, len(v))
		for i, e := range v {
			c[i] = deepCopy(e)
		}
		return c
	}
	return v
}

// toYAML prints obj with sorted keys (sigs.k8s.io/yaml goes through JSON),
// so the same object always prints the same lines.
func toYAML(obj map[string]any) (string, error) {
	if obj == nil {
		return "", nil
	}
	b, err := yaml.Marshal(obj)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// Summary counts the objects of a diff by action.
type Summary struct {
	Create, Change, Unchanged int
}

// Add counts o.
func (s *Summary) Add(o Object) {
	switch o.Action {
	case Create:
		s.Create++
	case Change:
		s.Change++
	default:
		s.Unchanged++
	}
}

// Changes is the number of objects an apply would create or change.
func (s Summary) Changes() int { return s.Create + s.Change }

// String is the summary line: "2 to create, 1 to change, 5 unchanged".
func (s Summary) String() string {
	return fmt.Sprintf("%d to create, %d to change, %d unchanged", s.Create, s.Change, s.Unchanged)
}

// Header is the line that introduces an object's diff in a log:
// "Deployment/prod/web: change".
func (o Object) Header() string {
	return o.Name + ": " + string(o.Action)
}
