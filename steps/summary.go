package steps

import (
	"fmt"
	"strconv"
	"strings"
)

// releaseSummary is what a step tells a person in the CI system's step
// summary (GitHub's job summary): which release, how it ended, the
// workloads, and why it failed.
type releaseSummary struct {
	Step      string
	Release   string
	Namespace string
	// Number is the release the step created or acted on; 0 for none.
	Number int
	Status string
	// Previous is the last successful release before Number; 0 for none.
	Previous  int
	Workloads []summaryWorkload
	Images    []string
	// Note is one sentence of Markdown under the heading.
	Note string
	// Failure is the error that ended the step, shown verbatim.
	Failure error
	// Evidence is Markdown that shows why it failed (events, pod states).
	Evidence string
}

type summaryWorkload struct {
	Kind, Name, Revision string
}

// Markdown renders the summary. A step's summary follows the ones before it
// in the same job, so it starts with a heading that names the step.
func (s releaseSummary) Markdown() string {
	var b strings.Builder
	s.writeTitle(&b)
	s.writeTable(&b)
	if len(s.Workloads) > 0 {
		b.WriteString("\n| Workload | Revision |\n|---|---|\n")
		for _, w := range s.Workloads {
			revision := w.Revision
			if revision == "" {
				revision = "–"
			}
			fmt.Fprintf(&b, "| %s/%s | %s |\n", w.Kind, w.Name, revision)
		}
	}
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
func (s releaseSummary) writeTitle(b *strings.Builder) {
	icon := ""
	switch s.Status {
	case "Succeeded":
		icon = "✅ "
	case "Failed":
		icon = "❌ "
	case "Skipped":
		icon = "⏭️ "
	}
	fmt.Fprintf(b, "### %skube-release %s: `%s`", icon, s.Step, s.Release)
	if s.Number > 0 {
		fmt.Fprintf(b, " release %d", s.Number)
	}
	if s.Status != "" {
		fmt.Fprintf(b, " %s", s.Status)
	}
	b.WriteString("\n\n")
	if s.Note != "" {
		b.WriteString(s.Note + "\n\n")
	}
}

// writeTable writes the release's facts as a two-column table.
func (s releaseSummary) writeTable(b *strings.Builder) {
	b.WriteString("| | |\n|---|---|\n")
	fmt.Fprintf(b, "| Release | `%s` |\n", s.Release)
	if s.Number > 0 {
		fmt.Fprintf(b, "| Release number | %d |\n", s.Number)
	}
	if s.Status != "" {
		fmt.Fprintf(b, "| Status | %s |\n", s.Status)
	}
	fmt.Fprintf(b, "| Namespace | `%s` |\n", s.Namespace)
	if s.Step == "rolling" {
		previous := "none"
		if s.Previous > 0 {
			previous = strconv.Itoa(s.Previous)
		}
		fmt.Fprintf(b, "| Previous successful release | %s |\n", previous)
	}
	if len(s.Images) > 0 {
		images := make([]string, len(s.Images))
		for i, image := range s.Images {
			images[i] = "`" + image + "`"
		}
		fmt.Fprintf(b, "| Images | %s |\n", strings.Join(images, "<br>"))
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
