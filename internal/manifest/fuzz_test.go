package manifest

import (
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// fuzzScope knows the kinds the fuzz seeds use, as a cluster's RESTMapper
// would; any other kind is unknown.
func fuzzScope(apiVersion, kind string) (bool, error) {
	switch kind {
	case "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition":
		return false, nil
	case "ConfigMap", "Secret", "Service", "ServiceAccount", "Deployment", "StatefulSet", "DaemonSet",
		"Job", "CronJob", "Pod", "Role", "RoleBinding", "Ingress", "PersistentVolumeClaim":
		return true, nil
	}
	return false, ErrUnknownKind
}

// FuzzLoad reads fuzzed file content as a manifest file (YAML, or JSON by
// its extension), then runs what a step runs on the objects: namespace,
// duplicate check, image overrides, release label, encoding for apply and
// for the log. Whatever the content, it must never panic; what Load
// accepts is an object with apiVersion, kind and name that knows its
// source. The seed corpus (testdata/fuzz/FuzzLoad) holds the repository's
// manifests; hack/fuzz.sh runs it for longer.
func FuzzLoad(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata: {k: v}\n"), false)
	f.Add([]byte(`{"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}]}`), true)
	dir := f.TempDir()
	overrides, err := ParseImageOverrides([]string{"registry.local/web=registry.local/web:2", "nginx:1.27"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, content []byte, isJSON bool) {
		name := "manifest.yaml"
		if isJSON {
			name = "manifest.json"
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		nodes, err := Load([]string{path})
		if err != nil {
			if nodes != nil {
				t.Fatalf("objects returned with the error %v", err)
			}
			return
		}
		for _, n := range nodes {
			if missing := missingFields(n); len(missing) > 0 {
				t.Fatalf("loaded an object without %v", missing)
			}
			if Source(n) == "" {
				t.Fatal("loaded an object that does not know its source")
			}
		}

		// The edits of a step; their errors are fine, panics are not.
		if nodes, err = (NamespaceFilter{Namespace: "prod", Scope: fuzzScope}).Filter(nodes); err != nil {
			return
		}
		if err := CheckDuplicates(nodes); err != nil {
			return
		}
		images := ImageFilter{Overrides: overrides}
		if _, err := images.Unmatched(nodes); err != nil {
			return
		}
		for _, filter := range []kio.Filter{images, ReleaseLabelFilter{Release: "web"}} {
			if nodes, err = filter.Filter(nodes); err != nil {
				return
			}
		}
		Images(nodes)
		clean, err := ForApply(nodes)
		if err != nil {
			return
		}
		for _, n := range clean {
			if _, err := n.MarshalJSON(); err != nil {
				return
			}
		}
		masked := make([]*yaml.RNode, len(nodes))
		for i, n := range nodes {
			masked[i] = Masked(n)
		}
		_, _ = String(masked)
	})
}
