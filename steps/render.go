package steps

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/sirupsen/logrus"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kube-release/kube-release/internal/logging"
	"github.com/kube-release/kube-release/internal/manifest"
	"github.com/kube-release/kube-release/internal/object"
	"github.com/kube-release/kube-release/internal/render"
)

// RenderConfig is how every step that reads manifests (rolling, apply,
// diff) turns them into objects.
type RenderConfig struct {
	// Values are YAML values files for the templates, merged in order
	// (later wins, mappings merged key by key).
	Values []string
	// SkipRendering reads the manifests as they are, "{{" included.
	SkipRendering bool
	// Images are image overrides, "name=image" or "image" (see
	// manifest.ParseImageOverrides), applied to every workload.
	Images []string
	// ImagePullSecrets are added to every pod spec (see
	// manifest.PullSecretsFilter).
	ImagePullSecrets []string
}

// isValuesFile tells a values file by its name: values.yaml or values.yml,
// or a name ending in .values.yaml or .values.yml (prod.values.yaml), in any
// case. Such a file among the manifests is never applied, whether or not
// it is listed in the values setting; it holds a template's values, not
// Kubernetes objects.
func isValuesFile(path string) bool {
	name := strings.ToLower(filepath.Base(path))
	for _, ext := range []string{".yaml", ".yml"} {
		if name == "values"+ext || strings.HasSuffix(name, ".values"+ext) {
			return true
		}
	}
	return false
}

// renderManifests is how a step reads its manifests: values files and
// templates (unless skipped), kustomizations, the target namespace on
// namespaced objects without one, duplicate check, image overrides. It logs
// the objects it rendered; the caller logs the manifests at debug level
// (logManifests) once it has made its own edits. Nothing is written to the
// cluster.
//
// rel is what templates see as .Release: the caller knows the release
// number, so a rolling deploy reads its history before rendering.
func renderManifests(ctx context.Context, env Env, patterns []string, namespace string, cfg RenderConfig, rel render.Release) ([]*yaml.RNode, error) {
	overrides, err := manifest.ParseImageOverrides(cfg.Images)
	if err != nil {
		return nil, fmt.Errorf("images: %w", err)
	}
	nodes, err := loadManifests(ctx, env.Log, patterns, cfg, rel)
	if err != nil {
		return nil, err
	}
	scope := manifest.NamespaceFilter{Namespace: namespace, Scope: manifest.ScopeFromRESTMapper(env.Clients.Mapper)}
	if nodes, err = scope.Filter(nodes); err != nil {
		return nil, err
	}
	if err := manifest.CheckDuplicates(nodes); err != nil {
		return nil, err
	}
	if nodes, err = overrideImages(env.Log, nodes, overrides); err != nil {
		return nil, err
	}
	if nodes, err = (manifest.PullSecretsFilter{Names: cfg.ImagePullSecrets}).Filter(nodes); err != nil {
		return nil, fmt.Errorf("image_pull_secrets: %w", err)
	}
	logObjects(env.Log, nodes)
	return nodes, nil
}

// loadManifests reads the manifests, rendering them as templates unless
// skipped. The values files are left out of the manifests by path,
// wherever they sit, and files named like values files by name.
func loadManifests(ctx context.Context, log logrus.FieldLogger, patterns []string, cfg RenderConfig, rel render.Release) ([]*yaml.RNode, error) {
	valuesPaths := map[string]bool{}
	for _, v := range cfg.Values {
		valuesPaths[absPath(v)] = true
	}
	var namedValues []string
	opts := manifest.LoadOptions{
		Skip: func(path string) bool {
			if valuesPaths[absPath(path)] {
				return true
			}
			if isValuesFile(path) {
				namedValues = append(namedValues, path)
				return true
			}
			return false
		},
	}
	if cfg.SkipRendering {
		if len(cfg.Values) > 0 {
			log.Warn("values are not used: skip_rendering is set, so manifests are not templates")
		}
	} else {
		values, err := render.LoadValues(cfg.Values)
		if err != nil {
			return nil, err
		}
		renderer := render.New(values, rel)
		opts.Render = func(path string, content []byte) ([]byte, error) {
			return renderer.RenderContext(ctx, path, content)
		}
	}
	nodes, err := opts.Load(patterns)
	for _, path := range namedValues {
		log.Infof("%s is a values file by its name, not applied (list it in values to use it)", path)
	}
	if err != nil {
		return nil, err
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("manifests %s: no objects found", strings.Join(patterns, ", "))
	}
	return nodes, nil
}

// overrideImages applies the image overrides, warning about each that
// matches no container.
func overrideImages(log logrus.FieldLogger, nodes []*yaml.RNode, overrides []manifest.ImageOverride) ([]*yaml.RNode, error) {
	images := manifest.ImageFilter{Overrides: overrides}
	unmatched, err := images.Unmatched(nodes)
	if err != nil {
		return nil, fmt.Errorf("images: %w", err)
	}
	for _, name := range unmatched {
		log.Warnf("image override %s matches no container: check its repository against the manifests' images", name)
	}
	if nodes, err = images.Filter(nodes); err != nil {
		return nil, fmt.Errorf("images: %w", err)
	}
	return nodes, nil
}

// logObjects prints the rendered objects, one Kind/namespace/name a line
// (the change set's form), folded under GitHub Actions.
func logObjects(log logrus.FieldLogger, nodes []*yaml.RNode) {
	end := logging.Section(log, logrus.InfoLevel, fmt.Sprintf("Rendered %d objects", len(nodes)))
	defer end()
	for _, n := range nodes {
		log.Info(object.OfNode(n).String())
	}
}

func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return filepath.Clean(p)
}
