package steps

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/kube-release/kube-release/internal/release"
)

// summary is what a step tells a person in the CI system's step summary
// (GitHub's job summary). Every step fills one, and all render alike: a
// heading that names the step, its release and how it ended, a note, a
// table of facts, the step's tables, and why it failed.
type summary struct {
	Step string
	// Release is the release the step acted on; "" for an apply or diff
	// of no release.
	Release   string
	Namespace string
	// Number is the release the step created or acted on; 0 for none.
	Number int
	// Status is how the step ended; "" when it has no status (history).
	Status string
	// Note is one sentence of Markdown under the heading.
	Note string
	// Facts are the step's own rows of the facts table, after the
	// release's number, status and namespace, before the images.
	Facts  []fact
	Images []string
	// Tables follow the facts table, each with at most summaryRowLimit
	// rows.
	Tables []table
	// Details are collapsible sections (a diff per object), at most
	// summaryRowLimit of them.
	Details []detail
	// More counts the details left out (see the log).
	More int
	// Failure is the error that ended the step, shown verbatim.
	Failure error
	// Evidence is Markdown that shows why it failed (events, pod states).
	Evidence string
}

type fact struct{ Name, Value string }

type table struct {
	Header []string
	Rows   [][]string
}

type detail struct{ Title, Body, Lang string }

// Markdown renders the summary. A step's summary follows the ones before it
// in the same job, so it starts with a heading that names the step.
func (s summary) Markdown() string {
	var b strings.Builder
	s.writeTitle(&b)
	s.writeFacts(&b)
	for _, t := range s.Tables {
		b.WriteString("\n")
		t.write(&b)
	}
	s.writeDetails(&b)
	b.WriteString(failureMarkdown(s.Failure))
	if s.Evidence != "" {
		if s.Failure == nil {
			b.WriteString("\n#### Why it failed\n")
		}
		b.WriteString("\n" + strings.TrimRight(s.Evidence, "\n") + "\n")
	}
	return b.String()
}

// writeTitle writes the heading, with an icon for the status, and the note.
func (s summary) writeTitle(b *strings.Builder) {
	icon := ""
	switch Status(s.Status) {
	case StatusSucceeded:
		icon = "✅"
	case StatusFailed:
		icon = "❌"
	case StatusSkipped:
		icon = "⏭️"
	}
	words := []string{"###", icon, "kube-release", s.Step + ":"}
	if s.Release != "" {
		words = append(words, "`"+s.Release+"`")
	}
	if s.Number > 0 {
		words = append(words, "release", strconv.Itoa(s.Number))
	}
	words = append(words, s.Status)
	b.WriteString(strings.Join(slices.DeleteFunc(words, func(w string) bool { return w == "" }), " ") + "\n\n")
	if s.Note != "" {
		b.WriteString(s.Note + "\n\n")
	}
}

// writeFacts writes the release's facts as a two-column table.
func (s summary) writeFacts(b *strings.Builder) {
	b.WriteString("| | |\n|---|---|\n")
	if s.Release != "" {
		fmt.Fprintf(b, "| Release | `%s` |\n", s.Release)
	}
	if s.Number > 0 {
		fmt.Fprintf(b, "| Release number | %d |\n", s.Number)
	}
	if s.Status != "" {
		fmt.Fprintf(b, "| Status | %s |\n", s.Status)
	}
	fmt.Fprintf(b, "| Namespace | `%s` |\n", s.Namespace)
	for _, f := range s.Facts {
		fmt.Fprintf(b, "| %s | %s |\n", f.Name, f.Value)
	}
	if len(s.Images) > 0 {
		images := make([]string, len(s.Images))
		for i, image := range s.Images {
			images[i] = "`" + image + "`"
		}
		fmt.Fprintf(b, "| Images | %s |\n", strings.Join(images, "<br>"))
	}
}

// write writes the table, its rows capped at summaryRowLimit. A cell's
// pipes are escaped; an empty cell shows as a dash.
func (t table) write(b *strings.Builder) {
	row := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			if c == "" {
				c = "–"
			}
			b.WriteString(" " + strings.ReplaceAll(c, "|", "\\|") + " |")
		}
		b.WriteString("\n")
	}
	row(t.Header)
	b.WriteString(strings.Repeat("|---", len(t.Header)) + "|\n")
	for i, r := range t.Rows {
		if i == summaryRowLimit {
			b.WriteString(fmt.Sprintf("| ... and %d more |", len(t.Rows)-i) + strings.Repeat(" |", len(t.Header)-1) + "\n")
			break
		}
		row(r)
	}
}

// writeDetails writes each detail as a collapsed block.
func (s summary) writeDetails(b *strings.Builder) {
	if len(s.Details) > 0 {
		b.WriteString("\n")
	}
	for _, d := range s.Details {
		fmt.Fprintf(b, "<details><summary>%s</summary>\n\n```%s\n%s```\n</details>\n", d.Title, d.Lang, d.Body)
	}
	if s.More > 0 {
		fmt.Fprintf(b, "\n... and %d more (see the log)\n", s.More)
	}
}

// failureMarkdown is the section of a summary that shows the error that
// ended a step, or nothing for none.
func failureMarkdown(err error) string {
	if err == nil {
		return ""
	}
	return "\n#### Why it failed\n\n" + CodeBlock(err.Error())
}

// CodeBlock fences text so that nothing in it, backticks included, can end
// the block or render as Markdown.
func CodeBlock(text string) string {
	fence := "```"
	for strings.Contains(text, fence) {
		fence += "`"
	}
	return fence + "text\n" + strings.TrimRight(text, "\n") + "\n" + fence + "\n"
}

// workloadTable is the table of a release's workloads and the revisions
// they reached, none when it has no workloads.
func workloadTable(workloads []release.Workload) []table {
	if len(workloads) == 0 {
		return nil
	}
	t := table{Header: []string{"Workload", "Revision"}}
	for _, w := range workloads {
		t.Rows = append(t.Rows, []string{w.ID.Kind + "/" + w.ID.Name, w.Revision})
	}
	return []table{t}
}
