package e2e

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kube-release/kube-release/internal/release"
	"github.com/kube-release/kube-release/internal/testcluster"
)

// bulkyManifests is a Deployment and count ConfigMaps whose names gzip
// cannot shrink much (240 random letters and digits each), so that a few
// thousand of them fill most of the 1 MiB a history ConfigMap may hold.
func bulkyManifests(count int) string {
	var b strings.Builder
	b.WriteString(deploymentManifest("registry.local/web:1", ""))
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	for i := range count {
		var name []byte
		for j := 0; len(name) < 240; j++ {
			for _, c := range sha256.Sum256(fmt.Appendf(nil, "%d/%d", i, j)) {
				name = append(name, alphabet[int(c)%len(alphabet)])
			}
		}
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c%s\ndata: {v: \"%d\"}\n", name[:239], i)
	}
	return b.String()
}

// A history close to the 1 MiB limit still records its release; the next
// deploy, which would push it over, fails before anything is applied, says
// by how much and what to do, and leaves the history as it was; the fix it
// names then deploys.
func TestHistoryNearAndOverTheLimit(t *testing.T) {
	c := testcluster.Shared(t)
	cs, ns := c.Clientset(t), c.Namespace(t)
	ctx := context.Background()
	manifests := writeFile(t, "bulky.yaml", bulkyManifests(2300))
	deploy := func(extra map[string]string) run {
		env := adminEnv(c, ns, map[string]string{"PLUGIN_STEP": "rolling", "PLUGIN_MANIFESTS": manifests, "PLUGIN_TIMEOUT": "5m"})
		for k, v := range extra {
			env[k] = v
		}
		return kubeRelease(t, env)
	}

	// Release 1: near the limit, with a workload revision and 2301
	// created objects in its final record.
	if r := deploy(nil); r.code != 0 {
		t.Fatalf("release 1: exit %d\n%s", r.code, lastLines(r.out, 20))
	}
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	size := 0
	for _, v := range cm.Data {
		size += len(v)
	}
	t.Logf("the history of release 1 takes %d bytes", size)
	if size < 900<<10 || size > release.MaxObjectSize {
		t.Fatalf("the history takes %d bytes; the test wants it near 1 MiB", size)
	}
	h := legacyHistory(t, cs, ns, "web")
	if latest := h.Latest(); latest.Number != 1 || latest.Status != release.Succeeded || latest.Workloads[0].Revision == "" ||
		len(latest.Metadata.CreatedObjects) != 2301 {
		t.Fatalf("release %d %s, revision %q, %d created objects", latest.Number, latest.Status, latest.Workloads[0].Revision, len(latest.Metadata.CreatedObjects))
	}

	// Release 2 would hold its 2300 versioned ConfigMaps beside release 1's,
	// the last successful one: over the limit, refused before the first
	// write.
	r := deploy(nil)
	if r.code != 1 {
		t.Fatalf("release 2 over the limit: exit %d, want 1\n%s", r.code, lastLines(r.out, 20))
	}
	for _, want := range []string{
		"release history: configmap " + ns + "/web: too large: the history of 2 releases would make its data ",
		" bytes over 1020.0 KiB",
		"release 2 takes ", " for 2301 resources (2300 of them new objects, each recorded as created), and release 1, kept beside it",
		"nothing was changed. To deploy, do one of: deploy at most about ",
		"set enable_declarative_rollback: true, which keeps each release in a Secret of its own",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("the error lacks %q:\n%s", want, lastLines(r.out, 5))
		}
	}
	if strings.Contains(r.out, " created\n") || strings.Contains(r.out, " configured\n") {
		t.Errorf("objects were applied:\n%s", lastLines(r.out, 20))
	}
	after, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != cm.ResourceVersion {
		t.Error("the history was written by the refused deploy")
	}
	if h := legacyHistory(t, cs, ns, "web"); len(h) != 1 || h.Latest().Status != release.Succeeded {
		t.Errorf("history after the refused deploy: %d releases, newest %s", len(h), h.Latest().Status)
	}
	list, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range list.Items {
		if strings.HasSuffix(item.Name, "-2") {
			t.Fatalf("configmap %s of release 2 exists: the refused deploy applied it", item.Name)
		}
	}
	assertUnlocked(t, cs, ns, "web")

	// The fix the error names: each release in a Secret of its own.
	r = deploy(map[string]string{"PLUGIN_ENABLE_DECLARATIVE_ROLLBACK": "true"})
	if r.code != 0 {
		t.Fatalf("release 2 with enable_declarative_rollback: exit %d\n%s", r.code, lastLines(r.out, 20))
	}
	secret, err := release.NewSecretStore(c.Typed(t), ns, "web").Get(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if secret.Status != release.Succeeded || len(secret.Metadata.CreatedObjects) != 2300 {
		t.Errorf("declarative release 2: %s with %d created objects, want Succeeded with the 2300 unversioned ConfigMaps",
			secret.Status, len(secret.Metadata.CreatedObjects))
	}
}

// lastLines keeps a failure message readable: the run logs every object.
func lastLines(out string, n int) string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
