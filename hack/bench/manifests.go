package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kube-release/kube-release/internal/bluegreen"
	"github.com/kube-release/kube-release/internal/manifest"
	"github.com/kube-release/kube-release/internal/release"
)

// appImages are the images of the case a app (testdata/sample), each given
// a fresh tag by every run.
func appImages() []string {
	return []string{"registry.local/web", "registry.local/web-migrate", "registry.local/cache", "registry.local/log-agent"}
}

// appWorkloads are the app's workloads, as kubectl names them.
func appWorkloads() []string {
	return []string{"deployment/web", "statefulset/cache", "daemonset/log-agent"}
}

// appObjects is how many objects the app has.
const appObjects = 10

// extraObject makes testdata/sample's 9 objects 10.
const extraObject = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: web
`

// writeApp writes the case a app to dir: testdata/sample/v1, 3 workloads
// and their config, plus a ServiceAccount.
func writeApp(dir, root string) (string, error) {
	if err := copyManifests(dir, filepath.Join(root, "testdata", "sample", "v1"), nil, nil); err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, "serviceaccount.yaml"), []byte(extraObject), 0o644)
}

// copyManifests copies the files of src that keep accepts (all of them
// when keep is nil) to dst, each through edit when it is not nil.
func copyManifests(dst, src string, keep func(name string) bool, edit func(data []byte) ([]byte, error)) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if keep != nil && !keep(e.Name()) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		if edit != nil {
			if data, err = edit(data); err != nil {
				return fmt.Errorf("%s: %w", e.Name(), err)
			}
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// imagesSetting is kube-release's images setting giving each of images
// tag.
func imagesSetting(tag string, images []string) string {
	var pairs []string
	for _, image := range images {
		pairs = append(pairs, image+"="+image+":"+tag)
	}
	return strings.Join(pairs, ",")
}

// imageRef matches an app image reference in a manifest.
var imageRef = regexp.MustCompile(`(image:\s*)(registry\.local/[a-z0-9-]+):[^\s"']+`)

// retag tags every app image of a manifest tag.
func retag(data []byte, tag string) []byte {
	return imageRef.ReplaceAll(data, []byte("${1}${2}:"+tag))
}

// writeAppVersion copies the app with every image tagged tag: what a CI
// script does for kubectl (sed on the manifests, or kustomize edit).
func writeAppVersion(dst, app, tag string) error {
	return copyManifests(dst, app, nil, func(data []byte) ([]byte, error) { return retag(data, tag), nil })
}

// The blue/green app of case f: the web part of the case a app, whose one
// Deployment is deployed as web-<colour> behind the Service web, and
// web-stage for the colour that waits for the swap.
const (
	blueGreenWorkload = "web"
	primaryService    = "web"
	stageService      = primaryService + bluegreen.StageSuffix
	// blueGreenObjects counts the stage Service with the app's 7.
	blueGreenObjects = 8
)

// blueGreenFiles are the case a app's files that make the blue/green app:
// the web Deployment and Service, their config and ServiceAccount.
func blueGreenFiles() []string { return []string{"config.yaml", "serviceaccount.yaml", "web.yaml"} }

// blueGreenImages are the images of the blue/green app.
func blueGreenImages() []string { return []string{"registry.local/web", "registry.local/web-migrate"} }

// writeBlueGreenApp writes the blue/green app to dir, from the case a app.
func writeBlueGreenApp(dir, app string) (string, error) {
	return dir, copyManifests(dir, app, func(name string) bool { return slices.Contains(blueGreenFiles(), name) }, nil)
}

// writeBlueGreenVersion copies the blue/green app with every image tagged
// tag and coloured as a script doing blue/green by hand colours it while
// the primary Service serves primary (see colorByHand).
func writeBlueGreenVersion(dst, app, tag string, primary release.Color) error {
	return copyManifests(dst, app, nil, func(data []byte) ([]byte, error) { return colorByHand(retag(data, tag), primary) })
}

// colorByHand is what a script doing blue/green by hand does to the
// manifests (with yq, or a kustomize overlay per colour) for a deploy to
// the colour primary does not serve: the Deployment becomes
// web-<stage colour>, its pods and selector labelled with that colour;
// the Service web keeps selecting primary, and its copy web-stage selects
// the stage colour. The objects are those kube-release's stage deploy
// applies, less its own labels and annotations.
func colorByHand(data []byte, primary release.Color) ([]byte, error) {
	nodes, err := kio.FromBytes(data)
	if err != nil {
		return nil, err
	}
	stage := primary.Other()
	color := func(c release.Color) yaml.Filter {
		return yaml.SetField(manifest.ColorLabel, yaml.NewStringRNode(string(c)))
	}
	var out []*yaml.RNode
	for _, n := range nodes {
		out = append(out, n)
		var errs []error
		switch {
		case n.GetKind() == "Deployment" && n.GetName() == blueGreenWorkload:
			errs = append(errs,
				n.SetName(blueGreenWorkload+"-"+string(stage)),
				n.PipeE(yaml.LookupCreate(yaml.MappingNode, "spec", "selector", "matchLabels"), color(stage)),
				n.PipeE(yaml.LookupCreate(yaml.MappingNode, "spec", "template", "metadata", "labels"), color(stage)))
		case n.GetKind() == "Service" && n.GetName() == primaryService:
			s := n.Copy()
			out = append(out, s)
			errs = append(errs,
				n.PipeE(yaml.LookupCreate(yaml.MappingNode, "spec", "selector"), color(primary)),
				s.SetName(stageService),
				s.PipeE(yaml.LookupCreate(yaml.MappingNode, "spec", "selector"), color(stage)))
		}
		if err := errors.Join(errs...); err != nil {
			return nil, fmt.Errorf("%s/%s: %w", n.GetKind(), n.GetName(), err)
		}
	}
	s, err := kio.StringAll(out)
	return []byte(s), err
}

// selectorPatch is the patch of a Service's selector to colour c, as
// kubectl patch takes it.
func selectorPatch(c release.Color) string {
	return fmt.Sprintf(`{"spec":{"selector":{%q:%q}}}`, manifest.ColorLabel, c)
}

// appManifests is the app as one multi-document YAML, as a declarative
// release stores it.
func appManifests(app string) ([]byte, error) {
	entries, err := os.ReadDir(app)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(app, e.Name()))
		if err != nil {
			return nil, err
		}
		b.WriteString("---\n")
		b.Write(bytes.TrimSpace(data))
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// objectsPerFile splits case b's objects over files, as a repository would.
const objectsPerFile = 100

// writeObjects writes n ConfigMaps, Secrets and Services (4:3:3) to dir,
// each carrying version, so that every run changes every object.
func writeObjects(dir string, n int, version string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var b bytes.Buffer
	flush := func(file int) error {
		if b.Len() == 0 {
			return nil
		}
		err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("objects-%02d.yaml", file)), b.Bytes(), 0o644)
		b.Reset()
		return err
	}
	for i := range n {
		if i > 0 && i%objectsPerFile == 0 {
			if err := flush(i/objectsPerFile - 1); err != nil {
				return err
			}
		}
		b.WriteString("---\n")
		switch i % 10 {
		case 0, 1, 2, 3:
			fmt.Fprintf(&b, `apiVersion: v1
kind: ConfigMap
metadata:
  name: config-%04d
  labels:
    app: bulk
data:
  version: %q
  app.properties: |
    name=config-%04d
    color=blue
    replicas=3
`, i, version, i)
		case 4, 5, 6:
			fmt.Fprintf(&b, `apiVersion: v1
kind: Secret
metadata:
  name: secret-%04d
  labels:
    app: bulk
type: Opaque
stringData:
  version: %q
  token: not-a-real-token-%04d
`, i, version, i)
		default:
			fmt.Fprintf(&b, `apiVersion: v1
kind: Service
metadata:
  name: service-%04d
  labels:
    app: bulk
  annotations:
    bench.kube-release.io/version: %q
spec:
  selector:
    app: bulk-%04d
  ports:
  - port: 80
    targetPort: 8080
`, i, version, i)
		}
	}
	return flush((n - 1) / objectsPerFile)
}
