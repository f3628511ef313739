// Package diff compares Kubernetes objects as a person reviews them: the
// live object against what an apply would make of it, noise removed, Secret
// values masked, as a unified diff of their YAML.
//
// The line diff is Myers' O(ND) algorithm, written here: the objects are
// small, and the usual Go diff modules are either unmaintained or bring a
// much larger API than these two functions.
package diff

import (
	"fmt"
	"strings"
)

// Op is what an edit does to a line.
type Op byte

// The edit operations.
const (
	Equal  Op = ' '
	Delete Op = '-'
	Insert Op = '+'
)

// Edit is one line of an edit script: Equal and Delete lines are from a,
// Insert lines from b.
type Edit struct {
	Op   Op
	Line string
}

// maxEditDistance bounds Myers' search, whose memory grows with the square
// of the distance. Past it the differing middle is reported as deleted and
// inserted whole: correct, only less minimal, for texts that share little.
const maxEditDistance = 2000

// Lines returns a shortest edit script from a to b (minimal up to
// maxEditDistance differences), deletions before insertions within a change.
func Lines(a, b []string) []Edit {
	// Common ends cost nothing to match and are most of a typical object.
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	edits := make([]Edit, 0, len(a)+len(b)-pre-suf)
	for _, l := range a[:pre] {
		edits = append(edits, Edit{Equal, l})
	}
	edits = append(edits, myers(a[pre:len(a)-suf], b[pre:len(b)-suf])...)
	for _, l := range a[len(a)-suf:] {
		edits = append(edits, Edit{Equal, l})
	}
	return edits
}

// myers is Myers' greedy algorithm ("An O(ND) Difference Algorithm and Its
// Variations", 1986), keeping each round's frontier to walk back the path.
func myers(a, b []string) []Edit {
	n, m := len(a), len(b)
	if n == 0 || m == 0 {
		return replaceAll(a, b)
	}
	maxD := min(n+m, maxEditDistance)
	offset := maxD + 1
	v := make([]int, 2*maxD+3)
	var trace [][]int
	for d := 0; d <= maxD; d++ {
		// Only diagonals -d..d are reachable in round d; keep just those.
		trace = append(trace, append([]int(nil), v[offset-d-1:offset+d+2]...))
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[offset+k-1] < v[offset+k+1]) {
				x = v[offset+k+1] // down: insert b[y]
			} else {
				x = v[offset+k-1] + 1 // right: delete a[x]
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x, y = x+1, y+1
			}
			v[offset+k] = x
			if x >= n && y >= m {
				return backtrack(a, b, trace, d)
			}
		}
	}
	return replaceAll(a, b)
}

// backtrack walks the frontiers back from (len(a), len(b)) to (0, 0).
func backtrack(a, b []string, trace [][]int, d int) []Edit {
	var rev []Edit
	x, y := len(a), len(b)
	for ; d > 0; d-- {
		frontier := trace[d] // diagonals -d-1..d+1 before round d
		at := func(k int) int { return frontier[k+d+1] }
		k := x - y
		var prevK int
		if k == -d || (k != d && at(k-1) < at(k+1)) {
			prevK = k + 1
		} else {
			prevK = k - 1
		}
		prevX := at(prevK)
		prevY := prevX - prevK
		for x > prevX && y > prevY {
			x, y = x-1, y-1
			rev = append(rev, Edit{Equal, a[x]})
		}
		if x == prevX {
			y--
			rev = append(rev, Edit{Insert, b[y]})
		} else {
			x--
			rev = append(rev, Edit{Delete, a[x]})
		}
	}
	for x > 0 && y > 0 {
		x, y = x-1, y-1
		rev = append(rev, Edit{Equal, a[x]})
	}
	edits := make([]Edit, len(rev))
	for i, e := range rev {
		edits[len(rev)-1-i] = e
	}
	return deletesFirst(edits)
}

// deletesFirst orders each run of changes as a reader expects: all the
// removed lines, then all the added ones.
func deletesFirst(edits []Edit) []Edit {
	out := make([]Edit, 0, len(edits))
	for i := 0; i < len(edits); {
		if edits[i].Op == Equal {
			out = append(out, edits[i])
			i++
			continue
		}
		j := i
		for j < len(edits) && edits[j].Op != Equal {
			j++
		}
		for _, e := range edits[i:j] {
			if e.Op == Delete {
				out = append(out, e)
			}
		}
		for _, e := range edits[i:j] {
			if e.Op == Insert {
				out = append(out, e)
			}
		}
		i = j
	}
	return out
}

func replaceAll(a, b []string) []Edit {
	edits := make([]Edit, 0, len(a)+len(b))
	for _, l := range a {
		edits = append(edits, Edit{Delete, l})
	}
	for _, l := range b {
		edits = append(edits, Edit{Insert, l})
	}
	return edits
}

// Unified returns the unified diff (as diff -u prints it, with context
// lines of context) that turns text a into text b, under the headers
// "--- from" and "+++ to"; "" when they are equal.
func Unified(from, to, a, b string, context int) string {
	if a == b {
		return ""
	}
	edits := Lines(splitLines(a), splitLines(b))
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", from, to)
	for _, h := range hunks(edits, context) {
		out.WriteString(h)
	}
	return out.String()
}

// splitLines splits text into lines without their newlines; "" has none.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// hunks groups the changes with up to context equal lines around each,
// merging groups whose context would touch.
func hunks(edits []Edit, context int) []string {
	var out []string
	// aLine and bLine are the 1-based line numbers of edits[i] in a and b.
	aLine, bLine := make([]int, len(edits)+1), make([]int, len(edits)+1)
	ai, bi := 1, 1
	for i, e := range edits {
		aLine[i], bLine[i] = ai, bi
		if e.Op != Insert {
			ai++
		}
		if e.Op != Delete {
			bi++
		}
	}
	aLine[len(edits)], bLine[len(edits)] = ai, bi

	for i := 0; i < len(edits); {
		if edits[i].Op == Equal {
			i++
			continue
		}
		start := max(i-context, 0)
		end := i // one past the last change of the hunk
		for j := i; j < len(edits); j++ {
			if edits[j].Op != Equal {
				end = j + 1
				continue
			}
			if j-end >= 2*context {
				break
			}
		}
		stop := min(end+context, len(edits))
		var b strings.Builder
		aCount, bCount := 0, 0
		for _, e := range edits[start:stop] {
			if e.Op != Insert {
				aCount++
			}
			if e.Op != Delete {
				bCount++
			}
		}
		fmt.Fprintf(&b, "@@ -%s +%s @@\n", hunkRange(aLine[start], aCount), hunkRange(bLine[start], bCount))
		for _, e := range edits[start:stop] {
			b.WriteByte(byte(e.Op))
			b.WriteString(e.Line)
			b.WriteByte('\n')
		}
		out = append(out, b.String())
		i = stop
	}
	return out
}

// hunkRange formats a hunk's range as GNU diff does: "l,n", "l" for one
// line, and for an empty range the line before it.
func hunkRange(line, count int) string {
	switch count {
	case 0:
		return fmt.Sprintf("%d,0", line-1)
	case 1:
		return fmt.Sprintf("%d", line)
	}
	return fmt.Sprintf("%d,%d", line, count)
}
