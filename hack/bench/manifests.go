package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
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
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	src := filepath.Join(root, "testdata", "sample", "v1")
	entries, err := os.ReadDir(src)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			return "", err
		}
	}
	return dir, os.WriteFile(filepath.Join(dir, "serviceaccount.yaml"), []byte(extraObject), 0o644)
}

// imagesSetting is kube-release's images setting giving every app image tag.
func imagesSetting(tag string) string {
	var pairs []string
	for _, image := range appImages() {
		pairs = append(pairs, image+"="+image+":"+tag)
	}
	return strings.Join(pairs, ",")
}

// imageRef matches an app image reference in a manifest.
var imageRef = regexp.MustCompile(`(image:\s*)(registry\.local/[a-z0-9-]+):[^\s"']+`)

// writeAppVersion copies the app with every image tagged tag: what a CI
// script does for kubectl (sed on the manifests, or kustomize edit).
func writeAppVersion(dst, app, tag string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(app)
	if err != nil {
		return err
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(app, e.Name()))
		if err != nil {
			return err
		}
		data = imageRef.ReplaceAll(data, []byte("${1}${2}:"+tag))
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			return err
		}
	}
	return nil
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
