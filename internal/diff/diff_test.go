package diff

import (
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or writes it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it):\ngot\n%s\nwant\n%s", path, got, want)
	}
}

// apply replays an edit script on a, checking it against b.
func replay(t *testing.T, a, b []string, edits []Edit) {
	t.Helper()
	var gotA, gotB []string
	for _, e := range edits {
		if e.Op != Insert {
			gotA = append(gotA, e.Line)
		}
		if e.Op != Delete {
			gotB = append(gotB, e.Line)
		}
	}
	if strings.Join(gotA, "\n") != strings.Join(a, "\n") || strings.Join(gotB, "\n") != strings.Join(b, "\n") {
		t.Fatalf("edit script does not turn %q into %q: %v", a, b, edits)
	}
}

// lcs is the textbook dynamic program, to check that Lines is minimal.
func lcs(a, b []string) int {
	dp := make([][]int, len(a)+1)
	for i := range dp {
		dp[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				dp[i][j] = dp[i+1][j+1] + 1
			} else {
				dp[i][j] = max(dp[i+1][j], dp[i][j+1])
			}
		}
	}
	return dp[0][0]
}

func changes(edits []Edit) int {
	n := 0
	for _, e := range edits {
		if e.Op != Equal {
			n++
		}
	}
	return n
}

func TestLines(t *testing.T) {
	tests := []struct {
		name string
		a, b string
	}{
		{name: "both empty", a: "", b: ""},
		{name: "insert all", a: "", b: "x y"},
		{name: "delete all", a: "x y", b: ""},
		{name: "equal", a: "a b c", b: "a b c"},
		{name: "change in the middle, deletes first", a: "a b c", b: "a x c"},
		{name: "insert at start", a: "b c", b: "a b c"},
		{name: "classic", a: "a b c a b b a", b: "c b a b a c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := strings.Fields(tt.a), strings.Fields(tt.b)
			edits := Lines(a, b)
			replay(t, a, b, edits)
			// Several scripts can be minimal; the count is what must hold.
			if changes(edits) != len(a)+len(b)-2*lcs(a, b) {
				t.Errorf("%d changes, want %d", changes(edits), len(a)+len(b)-2*lcs(a, b))
			}
			// Within a change, deletions come first.
			for i := 1; i < len(edits); i++ {
				if edits[i-1].Op == Insert && edits[i].Op == Delete {
					t.Errorf("insertion before deletion: %v", edits)
				}
			}
		})
	}
}

// Random texts over a small alphabet have many equal lines: the hard case.
func TestLinesRandomAreMinimal(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	gen := func() []string {
		n := r.IntN(30)
		s := make([]string, n)
		for i := range s {
			s[i] = string(rune('a' + r.IntN(4)))
		}
		return s
	}
	for range 2000 {
		a, b := gen(), gen()
		edits := Lines(a, b)
		replay(t, a, b, edits)
		if got, want := changes(edits), len(a)+len(b)-2*lcs(a, b); got != want {
			t.Fatalf("%q -> %q: %d changes, want %d", a, b, got, want)
		}
	}
}

func TestLinesLargeFallsBackCorrectly(t *testing.T) {
	var a, b []string
	for i := range 3000 {
		a = append(a, "a"+string(rune('0'+i%10)))
		b = append(b, "b"+string(rune('0'+i%10)))
	}
	edits := Lines(a, b)
	replay(t, a, b, edits)
}

func TestUnified(t *testing.T) {
	var a, b []string
	for i := 1; i <= 30; i++ {
		a = append(a, "line "+itoa(i))
	}
	b = append(b, a...)
	b[1] = "line 2 changed"       // first hunk
	b[5] = "line 6 changed"       // close enough to merge with it
	b = append(b[:20], b[21:]...) // line 21 removed: a second hunk
	b = append(b, "line 31")      // and an addition at the end: a third
	got := Unified("a.txt", "b.txt", strings.Join(a, "\n")+"\n", strings.Join(b, "\n")+"\n", 3)
	golden(t, "unified.diff", got)
	if Unified("a", "b", "same\n", "same\n", 3) != "" {
		t.Error("equal texts give a diff")
	}
}

func itoa(i int) string {
	s := ""
	for ; i > 0; i /= 10 {
		s = string(rune('0'+i%10)) + s
	}
	return s
}

func object(t *testing.T, y string) map[string]any {
	t.Helper()
	if y == "" {
		return nil
	}
	var m map[string]any
	if err := yaml.Unmarshal([]byte(y), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

const liveDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: prod
  uid: 0b4f6c6e-1111-2222-3333-444455556666
  resourceVersion: "1041"
  generation: 3
  creationTimestamp: "2025-01-01T00:00:00Z"
  annotations:
    deployment.kubernetes.io/revision: "3"
    kubectl.kubernetes.io/last-applied-configuration: '{"kind":"Deployment"}'
  managedFields:
  - manager: kube-release
    operation: Apply
    time: "2025-01-01T00:00:00Z"
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.local/web:1.0.0
        env:
        - {name: LOG_LEVEL, value: info}
        - {name: MODE, value: prod}
        ports:
        - containerPort: 8080
status:
  replicas: 2
  readyReplicas: 2
`

func TestCompareGolden(t *testing.T) {
	afterDeployment := strings.NewReplacer(
		"replicas: 2\n  selector", "replicas: 3\n  selector",
		"web:1.0.0", "web:1.1.0",
		`resourceVersion: "1041"`, `resourceVersion: "1042"`,
		`time: "2025-01-01T00:00:00Z"`, `time: "2025-02-02T00:00:00Z"`,
	).Replace(liveDeployment)
	onlyNoise := strings.NewReplacer(
		`resourceVersion: "1041"`, `resourceVersion: "1050"`,
		"generation: 3", "generation: 4",
		"readyReplicas: 2", "readyReplicas: 1",
		`'{"kind":"Deployment"}'`, `'{"kind":"Deployment","spec":{}}'`,
	).Replace(liveDeployment)

	tests := []struct {
		name        string
		live, after string
		action      Action
	}{
		{name: "deployment-change", live: liveDeployment, after: afterDeployment, action: Change},
		{name: "deployment-noise-only", live: liveDeployment, after: onlyNoise, action: Unchanged},
		{name: "configmap-create", after: `
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  namespace: prod
  uid: made-up-by-the-dry-run
  creationTimestamp: "2025-01-01T00:00:00Z"
data:
  LOG_LEVEL: info
`, action: Create},
	}
	var all strings.Builder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := Compare("Kind/prod/"+tt.name, object(t, tt.live), object(t, tt.after))
			if err != nil {
				t.Fatal(err)
			}
			if o.Action != tt.action {
				t.Errorf("action %s, want %s", o.Action, tt.action)
			}
			all.WriteString("# " + o.Header() + "\n" + o.Text)
		})
	}
	golden(t, "objects.diff", all.String())
}

// Secret values never show, in any form, in the diff: not in data, not in
// stringData, not in kubectl's last-applied copy. A changed value shows as a
// changed masked line.
func TestCompareSecretMasked(t *testing.T) {
	// base64 of the values: hunter2, s3cret-old, s3cret-new, gone-value, added-value.
	live := `
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: prod
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"stringData":{"password":"hunter2"}}'
type: Opaque
data:
  username: aHVudGVyMg==
  password: czNjcmV0LW9sZA==
  removed: Z29uZS12YWx1ZQ==
`
	after := `
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: prod
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"stringData":{"password":"hunter2"}}'
type: Opaque
data:
  username: aHVudGVyMg==
  password: czNjcmV0LW5ldw==
  added: YWRkZWQtdmFsdWU=
stringData:
  plain: hunter2
`
	o, err := Compare("Secret/prod/db", object(t, live), object(t, after))
	if err != nil {
		t.Fatal(err)
	}
	if o.Action != Change {
		t.Errorf("action %s, want change", o.Action)
	}
	for _, secret := range []string{"hunter2", "aHVudGVyMg", "s3cret", "czNjcmV0", "gone-value", "Z29uZS12YWx1ZQ", "added-value", "YWRkZWQtdmFsdWU"} {
		if strings.Contains(o.Text, secret) || strings.Contains(o.Name, secret) {
			t.Errorf("diff shows secret %q:\n%s", secret, o.Text)
		}
	}
	// Only the password changes value; username stays; removed and added keys show.
	for _, line := range []string{"-  password: '***'\n", "+  password: '*** (changed)'\n", "   username: '***'\n", "-  removed: '***'\n", "+  added: '***'\n"} {
		if !strings.Contains(o.Text, line) {
			t.Errorf("diff lacks %q:\n%s", line, o.Text)
		}
	}
	created, err := Compare("Secret/prod/new", nil, object(t, after))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "secret.diff", "# "+o.Header()+"\n"+o.Text+"# "+created.Header()+"\n"+created.Text)

	// A Secret whose values do not change is unchanged.
	same, err := Compare("Secret/prod/db", object(t, live), object(t, live))
	if err != nil {
		t.Fatal(err)
	}
	if same.Action != Unchanged || same.Text != "" {
		t.Errorf("unchanged secret: %s %q", same.Action, same.Text)
	}
}

// A Secret whose data or stringData is not a map, of any shape, shows
// masked whole.
func TestCompareSecretOfAnyShapeMasked(t *testing.T) {
	for _, shape := range []string{"data: hunter2-value", "data: [hunter2-value]", "stringData: hunter2-value", "stringData: {k: [hunter2-value]}", "data: 987654321"} {
		after := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: prod\n" + shape + "\n"
		o, err := Compare("Secret/prod/db", nil, object(t, after))
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"hunter2", "987654321"} {
			if strings.Contains(o.Text, secret) {
				t.Errorf("%q: diff shows %q:\n%s", shape, secret, o.Text)
			}
		}
		if !strings.Contains(o.Text, "'***'") {
			t.Errorf("%q: nothing masked:\n%s", shape, o.Text)
		}
	}
}

func TestSummary(t *testing.T) {
	var s Summary
	for _, a := range []Action{Create, Change, Change, Unchanged, Unchanged, Unchanged} {
		s.Add(Object{Action: a})
	}
	if got := s.String(); got != "1 to create, 2 to change, 3 unchanged" {
		t.Errorf("summary %q", got)
	}
	if s.Changes() != 3 {
		t.Errorf("changes %d", s.Changes())
	}
}
