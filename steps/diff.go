package steps

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kube-release/kube-release/internal/apply"
	"github.com/kube-release/kube-release/internal/diff"
	"github.com/kube-release/kube-release/internal/logging"
	"github.com/kube-release/kube-release/internal/object"
)

// DiffConfig is what the diff step needs of the settings.
type DiffConfig struct {
	// Release, when set, names the history whose newest release number
	// templates see as .Release.Number.
	Release   string
	Namespace string
	Manifests []string
	Render    RenderConfig
	// Timeout bounds the step.
	Timeout time.Duration
	// DetailedExitCode makes the step end with ChangesFound (exit code 3)
	// when an apply would create or change an object.
	DetailedExitCode bool
}

// Diff prints what applying the manifests would change, and changes
// nothing: the manifests are rendered as apply renders them (no
// versioning), dry-run on the server, and compared with the live objects.
type Diff struct {
	base[DiffConfig]
	src source
}

// NewDiff returns the diff step.
func NewDiff(cfg DiffConfig, env Env) *Diff {
	return &Diff{base[DiffConfig]{cfg, env}, source{Release: cfg.Release, Namespace: cfg.Namespace, Manifests: cfg.Manifests, Render: cfg.Render}}
}

// ChangesFound is the diff step's outcome with detailed_exitcode when an
// apply would change something. It is a result, not a failure: the step
// has printed the diff and the summary, and main exits 3 without an error
// line, as terraform plan -detailed-exitcode does.
type ChangesFound struct {
	Summary diff.Summary
}

func (c *ChangesFound) Error() string { return "changes found: " + c.Summary.String() }

// ExitCode is 3, for main.
func (c *ChangesFound) ExitCode() int { return 3 }

// Quiet tells main that everything has been said already.
func (c *ChangesFound) Quiet() bool { return true }

// Run implements Step.
func (d *Diff) Run(ctx context.Context) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	nodes, err := d.src.renderNewest(ctx, d.env)
	if err != nil {
		return Result{}, err
	}
	logManifests(d.env.Log, nodes)
	objs, applier, err := objects(d.env, nodes)
	if err != nil {
		return Result{}, err
	}
	dry, err := dryRun(ctx, d.env, applier, objs)
	if err != nil {
		return Result{}, err
	}
	objects, summary, err := diffObjects(ctx, d.env, objs, dry)
	if err != nil {
		return Result{}, err
	}
	logDiff(d.env, objects, summary)

	var changed []string
	for _, o := range objects {
		if o.Action != diff.Unchanged {
			changed = append(changed, o.Name+" "+string(o.Action))
		}
	}
	res := Result{
		Outputs: []Output{
			{OutputChangesFound, strconv.FormatBool(summary.Changes() > 0)},
			{OutputToCreate, strconv.Itoa(summary.Create)},
			{OutputToChange, strconv.Itoa(summary.Change)},
			{OutputUnchanged, strconv.Itoa(summary.Unchanged)},
			{OutputChanges, capLines(changed, changesOutputLimit)},
		},
		Summary: diffSummaryMarkdown(d.cfg.Release, d.cfg.Namespace, objects, summary),
	}
	if d.cfg.DetailedExitCode && summary.Changes() > 0 {
		return res, &ChangesFound{Summary: summary}
	}
	return res, nil
}

// diffObjects compares what the dry run says each object would become with
// the live object, in apply order. Objects the dry run skipped (their
// Namespace or CRD is new in the same set) are new too and shown as the
// manifests have them. It costs one GET per existing object.
func diffObjects(ctx context.Context, env Env, objs []*unstructured.Unstructured, dry *apply.Result) ([]diff.Object, diff.Summary, error) {
	var (
		out     []diff.Object
		summary diff.Summary
		errs    []error
	)
	add := func(o diff.Object, err error) {
		if err != nil {
			errs = append(errs, err)
			return
		}
		summary.Add(o)
		out = append(out, o)
	}
	for _, c := range dry.Changes {
		var live map[string]any
		if c.Action != apply.Created {
			obj, err := getLive(ctx, env, c.Object)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: read the live object: %w", c.Ref, err))
				continue
			}
			if obj != nil {
				live = obj.Object
			}
		}
		add(diff.Compare(c.Ref.String(), live, c.Object.Object))
	}
	local := map[object.Ref]*unstructured.Unstructured{}
	for _, obj := range objs {
		local[object.Of(obj)] = obj
	}
	for _, s := range dry.Skipped {
		obj, ok := local[s.Ref]
		if !ok {
			continue
		}
		add(diff.Compare(s.Ref.String(), nil, obj.Object))
	}
	return out, summary, errors.Join(errs...)
}

// getLive reads the object as it is on the cluster; nil when it is gone.
func getLive(ctx context.Context, env Env, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	gvk := obj.GroupVersionKind()
	mapping, err := env.Clients.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, err
	}
	client := env.Clients.Dynamic.Resource(mapping.Resource)
	var live *unstructured.Unstructured
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		live, err = client.Namespace(obj.GetNamespace()).Get(ctx, obj.GetName(), metav1.GetOptions{})
	} else {
		live, err = client.Get(ctx, obj.GetName(), metav1.GetOptions{})
	}
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return live, err
}

// logDiff prints each object that would change with its diff, then the
// summary line. Unchanged objects are listed at debug level only.
func logDiff(env Env, objects []diff.Object, summary diff.Summary) {
	for _, o := range objects {
		if o.Action == diff.Unchanged {
			env.Log.Debug(o.Header())
			continue
		}
		end := logging.Section(env.Log, logrus.InfoLevel, o.Header())
		env.Log.Info(strings.TrimSuffix(o.Text, "\n"))
		end()
	}
	env.Log.Info("Diff: " + summary.String())
}

func diffSummaryMarkdown(release, namespace string, objects []diff.Object, changes diff.Summary) string {
	s := summary{Step: "diff", Release: release, Namespace: namespace, Note: changes.String() + "."}
	for _, o := range objects {
		if o.Action == diff.Unchanged {
			continue
		}
		if len(s.Details) == summaryRowLimit {
			s.More = changes.Changes() - len(s.Details)
			break
		}
		s.Details = append(s.Details, detail{Title: "<code>" + o.Name + "</code> " + string(o.Action), Body: o.Text, Lang: "diff"})
	}
	return s.Markdown()
}

// changesOutputLimit bounds the changes output: Tekton allows about 3 KB for
// all of a step's results together. The log always has the whole list.
const changesOutputLimit = 2048

// summaryRowLimit bounds the objects detailed in a step summary.
const summaryRowLimit = 50

// capLines joins lines with newlines, ending with "... and N more" when the
// whole would exceed limit bytes; it never cuts a line.
func capLines(lines []string, limit int) string {
	if all := strings.Join(lines, "\n"); len(all) <= limit {
		return all
	}
	var b strings.Builder
	for i, l := range lines {
		sep := ""
		if i > 0 {
			sep = "\n"
		}
		// The line must leave room for the marker of the lines after it.
		if b.Len()+len(sep)+len(l)+len(fmt.Sprintf("\n... and %d more", len(lines)-i-1)) > limit {
			fmt.Fprintf(&b, "%s... and %d more", sep, len(lines)-i)
			break
		}
		b.WriteString(sep + l)
	}
	return b.String()
}
