package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The image builds on this machine with buildah (offline: FROM scratch),
// holds only the static binary and the CA bundle, runs as a non-root user,
// and its binary prints the version it was built with. hack/image.sh does
// the building and checking; this runs it as CI would.
func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a container image; skipped with -short")
	}
	buildah, err := exec.LookPath("buildah")
	if err != nil {
		t.Skip("buildah is not installed, so the image cannot be built here (apt-get install buildah; hack/image.sh installs it itself when run as root)")
	}
	root := t.TempDir()
	probe := exec.Command(buildah, "--root", filepath.Join(root, "probe"), "--runroot", filepath.Join(root, "probe-run"),
		"--storage-driver", "vfs", "info")
	if out, err := probe.CombinedOutput(); err != nil {
		t.Skipf("buildah cannot run here (%v), so the image cannot be built:\n%s", err, out)
	}

	cmd := exec.Command("bash", filepath.Join("..", "hack", "image.sh"), "-t", "localhost/kube-release:e2e")
	cmd.Env = append(os.Environ(),
		"BUILDAH_ROOT="+root,
		"VERSION=v0.0.0-e2e",
		"COMMIT=0123abc",
		"DATE=2001-02-03T04:05:06Z",
	)
	out, err := cmd.CombinedOutput()
	t.Logf("hack/image.sh:\n%s", out)
	if err != nil {
		t.Fatalf("hack/image.sh: %v", err)
	}
	for _, want := range []string{
		"\nuser: 65532:65532\n",
		"\nentrypoint: [/kube-release]\n",
		"\nfiles: ./etc/ssl/certs/ca-certificates.crt ./kube-release \n",
		"\nkube-release v0.0.0-e2e (commit 0123abc, built 2001-02-03T04:05:06Z)\n",
		"\n--- image localhost/kube-release:e2e ok\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("hack/image.sh output lacks %q", strings.TrimSpace(want))
		}
	}
}

// The binary links only the Kubernetes API types it uses: client-go's
// clientset, its discovery package and kubectl's libraries each register
// every API group and would double its size (see docs/design.md).
func TestBinaryLinksNoClientset(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "..").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, banned := range []string{"k8s.io/client-go/kubernetes", "k8s.io/client-go/discovery", "k8s.io/kubectl/"} {
			if pkg == banned || strings.HasPrefix(pkg, strings.TrimSuffix(banned, "/")+"/") {
				t.Errorf("the binary imports %s", pkg)
			}
		}
	}
}
