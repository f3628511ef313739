package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// brokenKustomization is kustomize's message for the patch of
// testdata/load/kustomize-broken, whose target is not among its resources.
const brokenKustomization = `no resource matches strategic merge patch "Deployment.v1.apps/not-in-the-resources.[noNs]": ` +
	`no matches for Id Deployment.v1.apps/not-in-the-resources.[noNs]; ` +
	`failed to find unique target for patch Deployment.v1.apps/not-in-the-resources.[noNs]`

// The overlay prefixes names, patches replicas, changes the image tag and
// merges into a generated ConfigMap whose hashed name the Deployment's
// reference follows: kustomize's own work, not re-implemented here.
func TestLoadKustomizeOverlay(t *testing.T) {
	nodes, err := Load([]string{"../../testdata/kustomize/overlays/prod"})
	if err != nil {
		t.Fatal(err)
	}
	wantSources := []string{
		`../../testdata/kustomize/overlays/prod (object 1) Deployment apps/v1 "prod-shop"`,
		`../../testdata/kustomize/overlays/prod (object 2) Service v1 "prod-shop"`,
		`../../testdata/kustomize/overlays/prod (object 3) ConfigMap v1 "prod-shop-config-dfk4bdbtkk"`,
	}
	if got := sources(nodes); strings.Join(got, "\n") != strings.Join(wantSources, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantSources, "\n"))
	}
	got, err := String(nodes)
	if err != nil {
		t.Fatal(err)
	}
	want := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: prod-shop
  labels:
    app.kubernetes.io/name: shop
spec:
  replicas: 2
  selector:
    matchLabels:
      app: shop
  template:
    metadata:
      labels:
        app: shop
    spec:
      containers:
      - name: shop
        image: registry.local/shop:1.1.0
        envFrom:
        - configMapRef:
            name: prod-shop-config-dfk4bdbtkk
---
apiVersion: v1
kind: Service
metadata:
  name: prod-shop
  labels:
    app.kubernetes.io/name: shop
spec:
  selector:
    app: shop
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: prod-shop-config-dfk4bdbtkk
  labels:
    app.kubernetes.io/name: shop
data:
  LOG_LEVEL: warn
`
	if got != want {
		t.Errorf("built\n%s\nwant\n%s", got, want)
	}
}

// microservices-demo is a real kustomization (Google's Online Boutique), kept
// unedited: eleven files of Deployments, Services and ServiceAccounts.
func TestLoadKustomizeMicroservicesDemo(t *testing.T) {
	nodes, err := Load([]string{"../../testdata/microservices-demo"})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, n := range nodes {
		kinds[n.GetKind()]++
		if !strings.HasPrefix(Source(n), "../../testdata/microservices-demo (object ") {
			t.Errorf("%s: source %q does not name the kustomization", ID(n), Source(n))
		}
	}
	// The kustomization leaves loadgenerator.yaml out; redis-cart comes
	// with cartservice and frontend has a second, external Service.
	want := map[string]int{"Deployment": 11, "Service": 12, "ServiceAccount": 10}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d %s objects, want %d (all: %v)", kinds[k], k, n, kinds)
		}
	}
	if len(nodes) != 33 {
		t.Errorf("%d objects, want 33", len(nodes))
	}
	for _, n := range nodes {
		if n.GetName() == "loadgenerator" {
			t.Error("loadgenerator is commented out of the kustomization but was built")
		}
	}
}

// A kustomization among plain files is built once, its own files never read
// as objects, whether found in a walk or named.
func TestLoadKustomizeInsideDirectory(t *testing.T) {
	nodes, err := Load([]string{"testdata/load/kustomized", "testdata/load/app/service.yml"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`testdata/load/kustomized (object 1) Deployment apps/v1 "kustomized"`,
		`testdata/load/app/service.yml (document 1) ServiceAccount v1 "web"`,
	}
	if got := sources(nodes); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	clean, err := ForApply(nodes)
	if err != nil {
		t.Fatal(err)
	}
	if a := clean[0].GetAnnotations(); len(a) != 0 {
		t.Errorf("bookkeeping annotations left for the apply: %v", a)
	}
}

// A remote base that cannot be fetched (.invalid never resolves) is named
// with the kustomization file that lists it, also from a local base.
func TestLoadKustomizeRemoteBaseUnreachable(t *testing.T) {
	const remote = "https://kube-release.invalid/org/repo//base?ref=v1"
	for _, tt := range []struct {
		name     string
		files    map[string]string
		load     string
		wantFile string
		resource string
	}{
		{
			name:     "in the kustomization",
			files:    map[string]string{"deploy/kustomization.yaml": "resources:\n- " + remote + "\n"},
			load:     "deploy",
			wantFile: "deploy/kustomization.yaml",
			resource: remote,
		},
		{
			name:     "host and path without a scheme",
			files:    map[string]string{"deploy/kustomization.yml": "resources:\n- kube-release.invalid/org/repo/base?ref=v1\n"},
			load:     "deploy",
			wantFile: "deploy/kustomization.yml",
			resource: "kube-release.invalid/org/repo/base?ref=v1",
		},
		{
			name: "in a local base",
			files: map[string]string{
				"overlays/prod/kustomization.yaml": "resources:\n- ../../base\n",
				"base/kustomization.yaml":          "bases:\n- " + remote + "\n",
			},
			load:     "overlays/prod",
			wantFile: "overlays/prod/../../base/kustomization.yaml",
			resource: remote,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tt.files {
				path := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			t.Chdir(dir)
			_, err := Load([]string{tt.load})
			var remoteErr *RemoteError
			if !errors.As(err, &remoteErr) {
				t.Fatalf("error %v, want a RemoteError", err)
			}
			if filepath.Clean(remoteErr.File) != filepath.Clean(tt.wantFile) || remoteErr.Resource != tt.resource {
				t.Errorf("file %q, resource %q; want %q, %q", remoteErr.File, remoteErr.Resource, tt.wantFile, tt.resource)
			}
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, remoteErr.File+": remote resource "+tt.resource+" could not be fetched") {
				t.Errorf("message %q", msg)
			}
		})
	}
}

// A local path that does not exist is not remote, whatever it looks like.
func TestIsRemote(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "v1.2/base"), 0o755); err != nil {
		t.Fatal(err)
	}
	for entry, want := range map[string]bool{
		"https://github.com/org/repo//base?ref=v1": true,
		"github.com/org/repo/base?ref=v1":          true,
		"git@github.com:org/repo.git//base":        true,
		"git::https://example.com/repo.git":        true,
		"ssh://git@example.com/repo.git":           true,
		"missing.yaml":                             false,
		"../base":                                  false,
		"./base":                                   false,
		"v1.2/base":                                false,
	} {
		if got := isRemote(dir, entry); got != want {
			t.Errorf("isRemote(%q) = %v, want %v", entry, got, want)
		}
	}
}
