package yamlerr

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestMessage(t *testing.T) {
	tests := []struct {
		name, text string
		firstLine  int
		want       string
	}{
		// go-yaml says line 2 for both: its parser counts from 0.
		{name: "parser problem mid-stream", text: "a: 1\nb: 2\n- c\nd: 4\n", firstLine: 1, want: "line 3: did not find expected key"},
		{name: "unclosed bracket at the end", text: "a: 1\nb: [1\n", firstLine: 1, want: "line 2: did not find expected ',' or ']'"},
		{name: "unclosed bracket, no final newline", text: "a: 1\nb: [1", firstLine: 1, want: "line 2: did not find expected ',' or ']'"},
		{name: "scanner problem", text: "a: 1\n\tb: 2\n", firstLine: 1, want: "line 2: found a tab character that violates indentation"},
		{name: "document later in the file", text: "a: 1\nb: 2\n- c\n", firstLine: 10, want: "line 12: did not find expected key"},
		{name: "value hidden", text: "password: !!int s3cret\n", firstLine: 1, want: "cannot decode !!str " + Hidden + " as a !!int"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v any
			err := yaml.Unmarshal([]byte(tt.text), &v)
			if err == nil {
				t.Fatal("no error")
			}
			if got := Message(err, []byte(tt.text), tt.firstLine); got != tt.want {
				t.Errorf("Message(%q) = %q, want %q", err, got, tt.want)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	var doc yaml.Node
	text := "db:\n  user: admin\n  password: !!float s3cret-pw\n"
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	var v any
	got := strings.Join(Decode(&doc, &v, 5), "; ")
	if want := "line 7: cannot decode !!str " + Hidden + " as a !!float"; got != want {
		t.Errorf("Decode = %q, want %q", got, want)
	}
	var ok any
	if msgs := Decode(&yaml.Node{Kind: yaml.ScalarNode, Value: "x"}, &ok, 1); msgs != nil {
		t.Errorf("Decode of a good node = %q", msgs)
	}
}
