package apply

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func secret(data, stringData map[string]any) *unstructured.Unstructured {
	u := testObject("v1", "Secret", "ns", "creds")
	if data != nil {
		u.Object["data"] = data
	}
	if stringData != nil {
		u.Object["stringData"] = stringData
	}
	return u
}

// secretShaped is a Secret whose field holds v, whatever its shape.
func secretShaped(field string, v any) *unstructured.Unstructured {
	u := testObject("v1", "Secret", "ns", "creds")
	u.Object[field] = v
	return u
}

func TestScrub(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name   string
		obj    *unstructured.Unstructured
		err    error
		hidden []string
		want   string
	}{
		{
			name:   "stringData value",
			obj:    secret(nil, map[string]any{"password": "hunter2-long"}),
			err:    errors.New(`bad value "hunter2-long" here`),
			hidden: []string{"hunter2-long"},
			want:   `bad value "[redacted]" here`,
		},
		{
			name:   "data value, encoded and decoded",
			obj:    secret(map[string]any{"token": b64("s3cr3t token")}, nil),
			err:    errors.New(`label "s3cr3t token" or ` + b64("s3cr3t token")),
			hidden: []string{"s3cr3t token", b64("s3cr3t token")},
			want:   `label "[redacted]" or [redacted]`,
		},
		{
			name:   "value that is not a string",
			obj:    secret(nil, map[string]any{"pin": int64(987654321), "nested": map[string]any{"k": "deep-value"}}),
			err:    errors.New(`.stringData.pin: expected string, got &value.valueUnstructured{Value:987654321}; {"k":"deep-value"}`),
			hidden: []string{"987654321", "deep-value"},
		},
		{
			name:   "quoted forms",
			obj:    secret(nil, map[string]any{"cert": "line1\nline2\"q"}),
			err:    errors.New(`Invalid value: "line1\nline2\"q"`),
			hidden: []string{`line1\nline2\"q`, "line1\nline2"},
			want:   `Invalid value: "[redacted]"`,
		},
		{
			name:   "data that is a string, not a map",
			obj:    secretShaped("data", "hunter2-value"),
			err:    errors.New(`.data: expected map, got &{hunter2-value}`),
			hidden: []string{"hunter2-value"},
			want:   `.data: expected map, got &{[redacted]}`,
		},
		{
			name:   "stringData that is a list",
			obj:    secretShaped("stringData", []any{"hunter2-one", "hunter2-two"}),
			err:    errors.New(`.stringData: expected map, got &{[hunter2-one hunter2-two]}`),
			hidden: []string{"hunter2-one", "hunter2-two"},
			want:   `.stringData: expected map, got &{[[redacted] [redacted]]}`,
		},
		{
			name:   "data that is a number",
			obj:    secretShaped("data", int64(987654321)),
			err:    errors.New(`.data: expected map, got &{987654321}`),
			hidden: []string{"987654321"},
		},
		{
			name:   "data nested, encoded",
			obj:    secretShaped("data", map[string]any{"k": []any{map[string]any{"n": b64("deep s3cret")}}}),
			err:    errors.New(`.data.k: expected string, got [map[n:` + b64("deep s3cret") + `]] ("deep s3cret")`),
			hidden: []string{"deep s3cret", b64("deep s3cret")},
		},
		{
			name: "not a secret",
			obj: func() *unstructured.Unstructured {
				u := testObject("v1", "ConfigMap", "ns", "c")
				u.Object["data"] = map[string]any{"a": "visible"}
				return u
			}(),
			err:  errors.New(`value "visible"`),
			want: `value "visible"`,
		},
		{
			name: "secret-like kind of another group",
			obj: func() *unstructured.Unstructured {
				u := testObject("example.com/v1", "Secret", "ns", "c")
				u.Object["data"] = map[string]any{"a": "visible"}
				return u
			}(),
			err:  errors.New(`value "visible"`),
			want: `value "visible"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := scrub(tt.err, secretValues(tt.obj)).Error()
			for _, h := range tt.hidden {
				if strings.Contains(got, h) {
					t.Errorf("scrubbed message %q still contains %q", got, h)
				}
			}
			if tt.want != "" && got != tt.want {
				t.Errorf("scrubbed message %q, want %q", got, tt.want)
			}
		})
	}
}

func TestScrubKeepsAPIStatus(t *testing.T) {
	obj := secret(nil, map[string]any{"k": "bad value!"})
	err := apierrors.NewInvalid(schema.GroupKind{Kind: "Secret"}, "creds", field.ErrorList{
		field.Invalid(field.NewPath("metadata", "labels"), "bad value!", "a valid label must..."),
	})
	got := scrub(err, secretValues(obj))
	if !apierrors.IsInvalid(got) {
		t.Fatalf("scrubbed error %T is no longer Invalid", got)
	}
	if strings.Contains(got.Error(), "bad value!") {
		t.Errorf("message still holds the value: %s", got)
	}
	var status apierrors.APIStatus
	errors.As(got, &status)
	for _, c := range status.Status().Details.Causes {
		if strings.Contains(c.Message, "bad value!") {
			t.Errorf("cause still holds the value: %s", c.Message)
		}
	}
	if untouched := apierrors.NewBadRequest("nothing secret"); scrub(untouched, secretValues(obj)) != untouched {
		t.Error("an error without secret values was replaced")
	}
}
