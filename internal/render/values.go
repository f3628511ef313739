package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/kube-release/kube-release/internal/yamlerr"
)

// LoadValues reads the values files in order and merges them: a later file
// wins, mappings are merged key by key at every depth, and anything else (a
// list, a scalar, null) replaces what was there. An empty file adds nothing.
// It reports every file that cannot be read.
func LoadValues(paths []string) (map[string]any, error) {
	values := map[string]any{}
	var errs []error
	for _, path := range paths {
		v, err := readValues(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		values = Merge(values, v)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return values, nil
}

func readValues(path string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("values %s: %w", path, err)
	}
	// Through a node, so that a problem is reported with its line in the
	// file and without the value, which may be a password.
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("values %s: %s", path, yamlerr.Message(err, data, 1))
	}
	var v any
	if msgs := yamlerr.Decode(&doc, &v, 1); len(msgs) > 0 {
		return nil, fmt.Errorf("values %s: %s", path, strings.Join(msgs, "; "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("values %s: more than one YAML document: merge them into one, or list each file in values", path)
	}
	switch m := v.(type) {
	case nil:
		return map[string]any{}, nil
	case map[string]any:
		return m, nil
	}
	what := "scalar"
	if _, ok := v.([]any); ok {
		what = "list"
	}
	return nil, fmt.Errorf("values %s: a values file is a mapping (key: value), not a %s", path, what)
}

// Merge returns dst with src merged into it: src wins, except that two
// mappings under one key are merged recursively. It modifies dst and may
// share src's nested values.
func Merge(dst, src map[string]any) map[string]any {
	if dst == nil {
		dst = map[string]any{}
	}
	for k, v := range src {
		sv, srcMap := v.(map[string]any)
		dv, dstMap := dst[k].(map[string]any)
		if srcMap && dstMap {
			dst[k] = Merge(dv, sv)
			continue
		}
		dst[k] = v
	}
	return dst
}
