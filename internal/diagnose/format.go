package diagnose

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/kube-release/kube-release/internal/rollout"
)

// Lines renders the report for the log: per workload a summary line, what
// could not be read, the warning events, then each not-ready pod with its
// conditions, containers and log tails; every line starts with the
// workload, as the wait's progress lines do. A last line says when the
// cluster serves no logs. A nil report has no lines.
func (r *Report) Lines() []string {
	if r == nil {
		return nil
	}
	var lines []string
	for _, w := range r.Workloads {
		subject := w.Workload.String() + ": "
		add := func(s string) { lines = append(lines, subject+s) }
		add(w.summary(r.Since))
		for _, u := range w.Unread {
			add("could not read " + u)
		}
		for _, e := range w.Events {
			add(e.line(r.At))
		}
		if w.MoreEvents > 0 {
			add(fmt.Sprintf("... and %s", count(w.MoreEvents, "more warning event")))
		}
		for _, p := range w.NotReadyPods {
			pod := "pod " + p.Name + ": "
			add(pod + p.status())
			for _, c := range p.Conditions {
				add(pod + "condition " + c.Type + "=" + c.Status + joined(c.Reason, c.Message))
			}
			for _, c := range p.Containers {
				ct := pod + c.subject() + ": "
				add(ct + c.status())
				for _, l := range c.Logs {
					what := "log"
					if l.Previous {
						what = "previous log"
					}
					switch {
					case l.Err != "":
						add(ct + what + " unavailable: " + l.Err)
					case len(l.Lines) == 0:
						add(ct + what + " is empty")
					}
					for _, line := range l.Lines {
						add(ct + what + ": " + line)
					}
				}
			}
		}
		if more := w.NotReady - len(w.NotReadyPods); more > 0 {
			add(fmt.Sprintf("... and %s not ready", count(more, "more pod")))
		}
	}
	if r.LogsUnavailable != "" {
		lines = append(lines, r.logsUnavailableLine())
	}
	return lines
}

func (r *Report) logsUnavailableLine() string {
	return "container logs are not available from this cluster: " + r.LogsUnavailable
}

// summary says in one line how many pods are not ready and how many
// warnings there were: "1 of 3 pods not ready, 2 warning events in the
// last 15m".
func (w WorkloadReport) summary(since time.Duration) string {
	var pods string
	switch {
	case w.Pods == 0:
		pods = "no pods"
	case w.NotReady == 0:
		pods = count(w.Pods, "pod") + " ready"
	default:
		pods = fmt.Sprintf("%d of %s not ready", w.NotReady, count(w.Pods, "pod"))
	}
	events := "no warning events"
	if n := len(w.Events) + w.MoreEvents; n > 0 {
		events = count(n, "warning event")
	}
	return pods + ", " + events + " in the last " + window(since)
}

// window formats the event window as set: "15m", "1h", "1h30m".
func window(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// line renders an event: "warning BackOff on Pod/web-abc and 2 more:
// Back-off pulling image "x" (12 times, last 20s ago)".
func (e Event) line(now time.Time) string {
	return fmt.Sprintf("warning %s on %s%s (%s)", e.Reason, e.objects(), joined("", e.Message), e.when(now))
}

func (e Event) objects() string {
	switch len(e.Objects) {
	case 0:
		return "?"
	case 1:
		return e.Objects[0]
	}
	return fmt.Sprintf("%s and %d more", e.Objects[0], len(e.Objects)-1)
}

// when says how often and how long ago: "12 times, last 20s ago".
func (e Event) when(now time.Time) string {
	when := ago(now, e.Last)
	if e.Count <= 1 {
		return when
	}
	return fmt.Sprintf("%d times, last %s", e.Count, when)
}

func ago(now, t time.Time) string {
	return duration.HumanDuration(max(now.Sub(t), 0)) + " ago"
}

// status is the pod's phase and node: "Pending on node n1", "Failed:
// Evicted: The node was low on resource: memory."
func (p Pod) status() string {
	s := p.Phase
	if s == "" {
		s = "no phase yet"
	}
	if p.Node != "" {
		s += " on node " + p.Node
	}
	return s + joined(p.Reason, p.Message)
}

func (c Container) subject() string {
	if c.Init {
		return "init container " + c.Name
	}
	return "container " + c.Name
}

// status is the container's state, restarts and last termination:
// "waiting: CrashLoopBackOff: back-off 40s restarting failed
// container=app; 3 restarts; last terminated: Error (exit code 1)".
func (c Container) status() string {
	s := c.State.String()
	if c.State.State == Running {
		if c.Ready {
			s += ", ready"
		} else {
			s += ", not ready"
		}
	}
	if c.Restarts > 0 {
		s += "; " + count(int(c.Restarts), "restart")
	}
	if c.LastState.State != "" {
		s += "; last " + c.LastState.String()
	}
	return s
}

// String renders a state: "waiting: ImagePullBackOff: Back-off pulling
// image "x"", "running", "terminated: Error (exit code 1)".
func (s State) String() string {
	switch s.State {
	case "":
		return "no state yet"
	case Terminated:
		return fmt.Sprintf("%s: %s (exit code %d)%s", Terminated, cmp.Or(s.Reason, "Error"), s.ExitCode, joined("", s.Message))
	}
	return s.State + joined(s.Reason, s.Message)
}

// joined appends ": reason: message" for the parts that are set, the
// message on one line.
func joined(reason, message string) string {
	var s string
	for _, part := range []string{reason, rollout.OneLine(message)} {
		if part != "" {
			s += ": " + part
		}
	}
	return s
}

// count formats "1 pod", "3 pods".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// Markdown renders the report for a GitHub step summary: a section per
// workload (a level-4 heading, to nest under the caller's level-3 one)
// with a table of warning events, and per not-ready pod its conditions
// and containers as tables and its log tails as code blocks. A nil report
// renders as "".
func (r *Report) Markdown() string {
	if r == nil {
		return ""
	}
	var b strings.Builder
	for _, w := range r.Workloads {
		fmt.Fprintf(&b, "#### %s\n\n", mdText(w.Workload.String()))
		fmt.Fprintf(&b, "%s.\n\n", mdText(capitalize(w.summary(r.Since))))
		if len(w.Unread) > 0 {
			b.WriteString("Could not read:\n\n")
			for _, u := range w.Unread {
				fmt.Fprintf(&b, "- %s\n", mdText(u))
			}
			b.WriteString("\n")
		}
		if len(w.Events) > 0 {
			b.WriteString("| Last seen | Object | Reason | Message | Count |\n|---|---|---|---|---|\n")
			for _, e := range w.Events {
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %d |\n",
					mdText(ago(r.At, e.Last)), mdText(e.objects()), mdText(e.Reason), mdText(e.Message), max(e.Count, 1))
			}
			if w.MoreEvents > 0 {
				fmt.Fprintf(&b, "\n_... and %s._\n", count(w.MoreEvents, "more warning event"))
			}
			b.WriteString("\n")
		}
		for _, p := range w.NotReadyPods {
			p.markdown(&b)
		}
		if more := w.NotReady - len(w.NotReadyPods); more > 0 {
			fmt.Fprintf(&b, "_... and %s not ready._\n\n", count(more, "more pod"))
		}
	}
	if r.LogsUnavailable != "" {
		fmt.Fprintf(&b, "_%s._\n", mdText(capitalize(r.logsUnavailableLine())))
	}
	return b.String()
}

func (p Pod) markdown(b *strings.Builder) {
	fmt.Fprintf(b, "##### Pod %s\n\n%s\n\n", mdText(p.Name), mdText(p.status()))
	if len(p.Conditions) > 0 {
		b.WriteString("| Condition | Status | Reason | Message |\n|---|---|---|---|\n")
		for _, c := range p.Conditions {
			fmt.Fprintf(b, "| %s | %s | %s | %s |\n", mdText(c.Type), mdText(c.Status), mdText(c.Reason), mdText(c.Message))
		}
		b.WriteString("\n")
	}
	if len(p.Containers) == 0 {
		return
	}
	b.WriteString("| Container | State | Reason | Message | Restarts | Last termination |\n|---|---|---|---|---|---|\n")
	for _, c := range p.Containers {
		name := c.Name
		if c.Init {
			name += " (init)"
		}
		state := cmp.Or(c.State.State, "unknown")
		switch {
		case c.State.State == Terminated:
			state += fmt.Sprintf(" (exit code %d)", c.State.ExitCode)
		case c.State.State == Running && c.Ready:
			state += ", ready"
		case c.State.State == Running:
			state += ", not ready"
		}
		var last string
		if c.LastState.State != "" {
			last = strings.TrimPrefix(c.LastState.String(), Terminated+": ")
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %d | %s |\n",
			mdText(name), mdText(state), mdText(c.State.Reason), mdText(c.State.Message), c.Restarts, mdText(last))
	}
	b.WriteString("\n")
	for _, c := range p.Containers {
		for _, l := range c.Logs {
			what := "Log"
			if l.Previous {
				what = "Previous log"
			}
			what += " of " + c.subject()
			switch {
			case l.Err != "":
				fmt.Fprintf(b, "%s unavailable: %s\n\n", mdText(what), mdText(l.Err))
			case len(l.Lines) == 0:
				fmt.Fprintf(b, "%s is empty.\n\n", mdText(what))
			default:
				fmt.Fprintf(b, "%s, last lines:\n\n", mdText(what))
				codeBlock(b, l.Lines)
			}
		}
	}
}

// mdEscaper escapes what GitHub would read as markup, table cells' pipes
// and HTML included: messages quote arbitrary text ("<none>", "a|b").
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`,
	"<", `\<`, ">", `\>`, "|", `\|`, "~", `\~`, "&", `\&`, "#", `\#`,
)

// mdText makes text safe for a Markdown line or table cell.
func mdText(s string) string {
	return mdEscaper.Replace(rollout.OneLine(s))
}

// codeBlock writes lines as a fenced block, its fence longer than any
// run of backticks in them so that no log line can close it.
func codeBlock(b *strings.Builder, lines []string) {
	longest := 0
	for _, line := range lines {
		run := 0
		for _, r := range line {
			if r == '`' {
				run++
				longest = max(longest, run)
			} else {
				run = 0
			}
		}
	}
	fence := strings.Repeat("`", max(3, longest+1))
	b.WriteString(fence + "text\n")
	for _, line := range lines {
		b.WriteString(line + "\n")
	}
	b.WriteString(fence + "\n\n")
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
