package steps

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kube-release/kube-release/internal/release"
)

// The history formats, as the history step names them.
const (
	FormatLegacy      = string(release.Legacy)
	FormatDeclarative = string(release.Declarative)
)

// HistoryConfig is what the history step needs of the settings.
type HistoryConfig struct {
	Release   string
	Namespace string
	// Output is OutputText (default) or OutputJSON.
	Output OutputFormat
	// Timeout bounds the reads.
	Timeout time.Duration
}

// History prints the releases of a release name, newest first, from both
// history formats. It only reads.
type History struct{ base[HistoryConfig] }

// NewHistory returns the history step.
func NewHistory(cfg HistoryConfig, env Env) *History {
	return &History{base[HistoryConfig]{cfg, env}}
}

// historyEntry is one release and the format it is stored in.
type historyEntry struct {
	format string
	*release.Release
}

// historyEntries are the releases each format stores, newest first; a
// number found in both formats is listed twice, declarative first, though
// the history has only the declarative one (see release.Book).
func historyEntries(b *release.Book) []historyEntry {
	var entries []historyEntry
	for _, f := range []release.Format{release.Declarative, release.Legacy} {
		for _, r := range b.Stored(f) {
			entries = append(entries, historyEntry{format: string(f), Release: r})
		}
	}
	// Stable: within a number, the order of formats (declarative first).
	slices.SortStableFunc(entries, func(a, b historyEntry) int { return cmp.Compare(b.Number, a.Number) })
	return entries
}

// Run implements Step.
func (h *History) Run(ctx context.Context) (Result, error) {
	if h.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.cfg.Timeout)
		defer cancel()
	}
	book := h.env.book(h.cfg.Namespace, h.cfg.Release)
	// The releases that cannot be read are named; the others are worth
	// showing all the same.
	unreadable, err := unreadableOf(book.Read(ctx))
	if err != nil {
		return Result{}, err
	}
	warnUnreadable(h.env, unreadable)
	entries := historyEntries(book)
	out := h.env.Out
	if out == nil {
		out = io.Discard
	}
	if h.cfg.Output == OutputJSON {
		err = writeHistoryJSON(out, h.cfg.Release, h.cfg.Namespace, entries)
	} else {
		_, err = io.WriteString(out, historyText(h.cfg.Release, h.cfg.Namespace, entries))
	}
	if err != nil {
		return Result{}, fmt.Errorf("print history: %w", err)
	}
	return h.result(book, entries), nil
}

// result reports the newest release and the last success before it, what
// a rollback of it returns to, by the book's rules.
func (h *History) result(book *release.Book, entries []historyEntry) Result {
	number, status, previous := "", "", ""
	if newest := book.Newest(); newest != nil {
		number, status = strconv.Itoa(newest.Number), string(newest.Status)
		if last := book.LastSuccessful(newest.Number); last != nil {
			previous = strconv.Itoa(last.Number)
		}
	}
	return Result{Summary: historyMarkdown(h.cfg.Release, h.cfg.Namespace, entries), Outputs: []Output{
		{OutputRelease, h.cfg.Release},
		{OutputReleaseNumber, number},
		{OutputStatus, status},
		{OutputPreviousReleaseNumber, previous},
		{OutputReleases, strconv.Itoa(len(entries))},
	}}
}

// historyMarkdown is the history as a table, for the CI's step summary.
func historyMarkdown(name, namespace string, entries []historyEntry) string {
	s := summary{Step: "history", Release: name, Namespace: namespace}
	if len(entries) == 0 {
		s.Note = "No releases."
		return s.Markdown()
	}
	t := table{Header: []string{"Release", "Status", "Created", "Format", "Images", "Deployed by"}}
	for _, e := range entries {
		created := ""
		if !e.Metadata.Created.IsZero() {
			created = e.Metadata.Created.UTC().Format(time.RFC3339)
		}
		status := string(e.Status)
		if e.Metadata.FailureReason != "" {
			status += " (" + e.Metadata.FailureReason + ")"
		}
		t.Rows = append(t.Rows, []string{strconv.Itoa(e.Number), status, created, e.format,
			strings.Join(e.Metadata.Images, "<br>"), deployedBy(e.Metadata.Pipeline)})
	}
	s.Tables = []table{t}
	return s.Markdown()
}

// historyText is the history for people, one block per release:
//
//	5  Succeeded  2025-03-01T10:00:00Z  declarative
//	   images:      registry.local/web:2.0.0
//	   deployed by: acme/web@3f2a1b9c0d1e (main), build 42 https://ci.example/42, by ci-bot
func historyText(name, namespace string, entries []historyEntry) string {
	var b strings.Builder
	if len(entries) == 0 {
		fmt.Fprintf(&b, "No releases of %s in namespace %s.\n", name, namespace)
		return b.String()
	}
	fmt.Fprintf(&b, "Releases of %s in namespace %s, newest first (%d):\n", name, namespace, len(entries))
	width, statusWidth := 0, 0
	for _, e := range entries {
		width = max(width, len(strconv.Itoa(e.Number)))
		statusWidth = max(statusWidth, len(e.Status))
	}
	indent := strings.Repeat(" ", width+2)
	for _, e := range entries {
		created := "-"
		if !e.Metadata.Created.IsZero() {
			created = e.Metadata.Created.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(&b, "\n%*d  %-*s  %-20s  %s\n", width, e.Number, statusWidth, e.Status, created, e.format)
		line := func(label, value string) {
			if value != "" {
				fmt.Fprintf(&b, "%s%-13s%s\n", indent, label+":", value)
			}
		}
		line("failure", e.Metadata.FailureReason)
		line("workloads", workloadList(e.Workloads))
		line("images", strings.Join(e.Metadata.Images, ", "))
		if len(e.Workloads) == 0 && len(e.Resources) > 0 {
			line("objects", objectSummary(e.Resources))
		}
		line("deployed by", deployedBy(e.Metadata.Pipeline))
	}
	return b.String()
}

// objectSummary names the first few objects of a release and counts the
// rest: a declarative release records objects, not workloads.
func objectSummary(ids []release.ResourceID) string {
	const shown = 4
	names := make([]string, 0, shown)
	for i, id := range ids {
		if i == shown {
			names = append(names, fmt.Sprintf("and %d more", len(ids)-shown))
			break
		}
		names = append(names, id.Kind+"/"+id.Name)
	}
	return strings.Join(names, ", ")
}

func workloadList(ws []release.Workload) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = w.ID.Kind + "/" + w.ID.Name
		if w.Revision != "" {
			parts[i] += " revision " + w.Revision
		}
	}
	return strings.Join(parts, ", ")
}

// deployedBy says which CI run made a release: "acme/web@3f2a1b9c0d1e
// (main), build 42 https://ci.example/42, by ci-bot, push".
func deployedBy(p release.Pipeline) string {
	var parts []string
	source := p.Repository
	if p.Commit != "" {
		commit := p.Commit
		if len(commit) > 12 {
			commit = commit[:12]
		}
		source += "@" + commit
	}
	if p.Branch != "" {
		source += " (" + p.Branch + ")"
	}
	if source = strings.TrimSpace(source); source != "" {
		parts = append(parts, source)
	}
	if build := strings.TrimSpace(p.Build + " " + p.BuildLink); build != "" {
		parts = append(parts, "build "+build)
	}
	if p.Actor != "" {
		parts = append(parts, "by "+p.Actor)
	}
	if p.Event != "" {
		parts = append(parts, p.Event)
	}
	return strings.Join(parts, ", ")
}

// HistoryJSON is what `output: json` prints: a stable shape for scripts
// (jq) and dashboards. Lists are [] rather than absent; optional strings
// are absent when unknown.
type HistoryJSON struct {
	Release   string `json:"release"`
	Namespace string `json:"namespace"`
	// Releases are newest first.
	Releases []ReleaseJSON `json:"releases"`
}

// ReleaseJSON is one release in HistoryJSON.
type ReleaseJSON struct {
	Number int `json:"number"`
	// Status is InProgress, Succeeded or Failed.
	Status string `json:"status"`
	// Format is "legacy" (the ConfigMap) or "declarative" (a Secret).
	Format string `json:"format"`
	// Created is RFC 3339 in UTC; absent for a release Harness recorded.
	Created       string `json:"created,omitempty"`
	FailureReason string `json:"failureReason,omitempty"`
	// Workloads are the managed workloads and the revision each reached
	// (legacy format; the revision is absent until it is known).
	Workloads []WorkloadJSON `json:"workloads"`
	Images    []string       `json:"images"`
	// Resources are every object of the release.
	Resources []ResourceJSON `json:"resources"`
	// Pipeline is the CI run that made the release; absent when unknown.
	Pipeline *release.Pipeline `json:"pipeline,omitempty"`
}

// WorkloadJSON is a managed workload of a release.
type WorkloadJSON struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Revision  string `json:"revision,omitempty"`
}

// ResourceJSON is an object of a release.
type ResourceJSON struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// Versioned is true for a ConfigMap or Secret renamed <name>-<number>.
	Versioned bool `json:"versioned"`
}

func writeHistoryJSON(w io.Writer, name, namespace string, entries []historyEntry) error {
	doc := HistoryJSON{Release: name, Namespace: namespace, Releases: make([]ReleaseJSON, len(entries))}
	for i, e := range entries {
		r := ReleaseJSON{
			Number:        e.Number,
			Status:        string(e.Status),
			Format:        e.format,
			FailureReason: e.Metadata.FailureReason,
			Workloads:     make([]WorkloadJSON, len(e.Workloads)),
			Images:        append([]string{}, e.Metadata.Images...),
			Resources:     make([]ResourceJSON, len(e.Resources)),
		}
		if !e.Metadata.Created.IsZero() {
			r.Created = e.Metadata.Created.UTC().Format(time.RFC3339)
		}
		if p := e.Metadata.Pipeline; p != (release.Pipeline{}) {
			r.Pipeline = &p
		}
		for j, wl := range e.Workloads {
			r.Workloads[j] = WorkloadJSON{Kind: wl.ID.Kind, Namespace: wl.ID.Namespace, Name: wl.ID.Name, Revision: wl.Revision}
		}
		for j, id := range e.Resources {
			r.Resources[j] = ResourceJSON{Kind: id.Kind, Namespace: id.Namespace, Name: id.Name, Versioned: id.Versioned}
		}
		doc.Releases[i] = r
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
