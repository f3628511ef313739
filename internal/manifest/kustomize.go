package manifest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/kio/kioutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigsyaml "sigs.k8s.io/yaml"
)

// loadKustomization builds the kustomization in dir with the kustomize
// library, as `kustomize build dir` would with its default options: no
// plugins, no Helm; a remote base is cloned with git, as kustomize does. Load
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
		if remote, ok := failedRemote(dir, err); ok {
			return nil, remote
		}
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

// RemoteError is a kustomization whose remote resource (a git repository
// or a URL) could not be fetched: no network on the runner, no access to
// the repository, a ref that does not exist. Its message names the
// kustomization file and the resource before kustomize's own account,
// which is long and spans lines.
type RemoteError struct {
	// File is the kustomization file listing Resource.
	File     string
	Resource string
	Err      error
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("%s: remote resource %s could not be fetched (kustomize clones it with git, which needs network access to the repository): %s",
		e.File, e.Resource, strings.Join(strings.Fields(e.Err.Error()), " "))
}

func (e *RemoteError) Unwrap() error { return e.Err }

// failedRemote finds, for a build of the kustomization in dir that failed
// with err, the remote resource that err is about, in that kustomization
// or a local base it reaches.
func failedRemote(dir string, err error) (*RemoteError, bool) {
	msg := err.Error()
	seen := map[string]bool{}
	var walk func(dir string) (*RemoteError, bool)
	walk = func(dir string) (*RemoteError, bool) {
		if seen[dir] {
			return nil, false
		}
		seen[dir] = true
		file, k, ok := readKustomization(dir)
		if !ok {
			return nil, false
		}
		entries := append(append(append([]string(nil), k.Resources...), k.Bases...), k.Components...)
		for _, e := range entries {
			if isRemote(dir, e) && strings.Contains(msg, "'"+e+"'") {
				return &RemoteError{File: file, Resource: e, Err: err}, true
			}
		}
		for _, e := range entries {
			if local := filepath.Join(dir, e); !isRemote(dir, e) {
				if r, ok := walk(local); ok {
					return r, true
				}
			}
		}
		return nil, false
	}
	return walk(filepath.Clean(dir))
}

// readKustomization reads the kustomization file of dir, by any name
// kustomize recognises; ok is false when there is none or it does not
// parse (then kustomize's error says so).
func readKustomization(dir string) (file string, k types.Kustomization, ok bool) {
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		if err := sigsyaml.Unmarshal(data, &k); err != nil {
			return "", k, false
		}
		return path, k, true
	}
	return "", k, false
}

// isRemote reports whether a kustomization entry names a remote resource
// rather than a local path: a URL (https://, ssh://, git::), scp-like git
// (git@host:repo), or a host and path without a scheme
// (github.com/org/repo/base?ref=v1), as kustomize reads them. A path that
// exists locally is local, whatever it looks like.
func isRemote(dir, entry string) bool {
	if _, err := os.Stat(filepath.Join(dir, entry)); err == nil {
		return false
	}
	if strings.Contains(entry, "://") || strings.HasPrefix(entry, "git@") || strings.HasPrefix(entry, "git::") {
		return true
	}
	host, rest, ok := strings.Cut(entry, "/")
	return ok && rest != "" && strings.Contains(host, ".") && strings.Trim(host, ".") != ""
}
