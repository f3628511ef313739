package manifest

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/kio/kioutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// loadKustomization builds the kustomization in dir with the kustomize
// library, as `kustomize build dir` would with its default options: no
// plugins, no Helm, no remote resources fetched through exec'd tools. Load
// treats the directory as one source, so every object of the build names
// dir as its file (Source prints "dir (object n)" for the n-th one); the
// files inside are patches and bases, not objects, and would mislead as a
// source.
//
// Templates are not rendered inside a kustomization: kustomize has its own
// means (patches, replacements, images) and its files are read by the
// library, not by Load.
func loadKustomization(dir string) ([]*yaml.RNode, error) {
	// The library's defaults keep the order of the kustomization's output
	// (the apply orders by dependency anyway), allow no files outside the
	// kustomization's root but its bases, and run no plugins.
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	resMap, err := k.Run(filesys.MakeFsOnDisk(), abs)
	if err != nil {
		return nil, fmt.Errorf("%s: kustomize build: %w", dir, err)
	}
	nodes := resMap.ToRNodeSlice()
	out := make([]*yaml.RNode, 0, len(nodes))
	var errs []error
	for i, node := range nodes {
		// kustomize keeps its own bookkeeping annotations off its output;
		// these are Load's, so Source names the kustomization.
		err := checkObject(node, fmt.Sprintf("%s: object %d", dir, i+1), []yaml.Filter{
			yaml.SetAnnotation(kioutil.PathAnnotation, dir),
			yaml.SetAnnotation(kustomizeObjectAnnotation, strconv.Itoa(i)),
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, node)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// kustomizeObjectAnnotation records the 0-based position of an object in the
// output of a kustomize build, so two objects of one kustomization can be
// told apart in messages.
const kustomizeObjectAnnotation = InternalAnnotationPrefix + "kustomize-object"
