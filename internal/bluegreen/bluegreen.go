// Package bluegreen holds the decisions of Harness CD's blue/green
// strategy as pure functions of the manifests, of the two Services as the
// cluster has them and of the release history, so that the steps
// (stage deploy, swap, stage scale down, rollback) only read, print and
// write. Nothing here talks to a cluster.
//
// A stage deploy, in order:
//   - PickServices: the primary and the stage Service of the manifests,
//     the stage one made from the primary when none is marked;
//   - DecideColors: the primary colour from the primary Service as it is
//     in the cluster (LiveService), and the stage colour, the other one;
//   - ColorWorkload: the one workload (manifest.OneWorkload) becomes
//     <name>-<stage colour>, its HPAs and PDBs following;
//   - ConfigFilter: a declarative deploy suffixes ConfigMaps and Secrets
//     with the stage colour (a legacy one versions them by number);
//   - ColorServices: each Service's selector selects its colour.
//
// PrepareStage does all but the first, which tells the caller which
// Service to read from the cluster. A swap is planned by PlanSwap, towards the
// colour SwapTarget reads from the history; a stage scale down checks its
// colour with ScaleDownColor. The lines Harness prints, which users grep
// their logs for, are in logs.go.
package bluegreen

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kube-release/kube-release/internal/manifest"
	"github.com/kube-release/kube-release/internal/release"
	"github.com/kube-release/kube-release/internal/versioning"
)

// The errors of PickServices, in Harness's words (KubernetesExceptionMessages,
// KubernetesExceptionExplanation, ManifestHelper), so that a user
// searching for them finds Harness's documentation too. Each comes as a
// *manifest.HintError that says which Services and what to change.
var (
	ErrNoService        = errors.New("Service is required for BlueGreen deployments")
	ErrUnmarkedServices = errors.New("Multiple unmarked services found in manifest")
	ErrManyPrimaries    = errors.New("More than one service is marked Primary")
	ErrManyStages       = errors.New("More than one service is marked Stage")
)

// ErrConflictingService: the primary Service exists in the cluster and
// selects no colour, so it is not a blue/green one (see DecideColors).
var ErrConflictingService = errors.New("conflicting service")

// StageSuffix names the stage Service made from the primary one:
// <primary>-stage.
const StageSuffix = "-stage"

// Services are the two Services of a blue/green deploy, among the
// manifests.
type Services struct {
	Primary, Stage *yaml.RNode
	// Created says Stage is not in the manifests as written: PickServices
	// made it from Primary.
	Created bool
}

// PickServices finds the Services of a blue/green deploy among nodes, as
// Harness does: the primary is the Service annotated
// harness.io/primary-service: "true" (in any case), or the only Service
// when none is; the stage one is the Service annotated
// harness.io/stage-service, or, when none is, a copy of the primary named
// <primary>-stage, which is appended to the nodes returned.
//
// The copy keeps the primary's labels, annotations and spec, less what two
// Services cannot share: a clusterIP other than None, node ports, a load
// balancer's IP. Harness copies those too, and the apply of the copy then
// fails. It is marked stage in place of primary, so that its manifest
// (which a declarative release stores, and the cluster shows) says what
// it is. Where the manifests have a Service of that name that is not
// marked stage, the copy would replace it: that is an error.
func PickServices(nodes []*yaml.RNode) (Services, []*yaml.RNode, error) {
	var services, primaries, stages []*yaml.RNode
	for _, n := range nodes {
		if n.GetKind() != "Service" || n.GetApiVersion() != "v1" {
			continue
		}
		services = append(services, n)
		a := n.GetAnnotations(manifest.PrimaryServiceAnnotation, manifest.StageServiceAnnotation)
		primary := manifest.HasTrue(a, manifest.PrimaryServiceAnnotation)
		stage := manifest.HasTrue(a, manifest.StageServiceAnnotation)
		if primary && stage {
			return Services{}, nil, fmt.Errorf("%s: annotated both %s and %s: a Service is one or the other",
				describe(n), manifest.PrimaryServiceAnnotation, manifest.StageServiceAnnotation)
		}
		if primary {
			primaries = append(primaries, n)
		}
		if stage {
			stages = append(stages, n)
		}
	}
	mark := func(annotation string) string {
		return fmt.Sprintf("annotate only one of them %s: \"true\"", annotation)
	}
	switch {
	case len(primaries) > 1:
		return Services{}, nil, &manifest.HintError{Err: ErrManyPrimaries, Found: names(primaries), Hint: mark(manifest.PrimaryServiceAnnotation)}
	case len(stages) > 1:
		return Services{}, nil, &manifest.HintError{Err: ErrManyStages, Found: names(stages), Hint: mark(manifest.StageServiceAnnotation)}
	case len(services) == 0:
		return Services{}, nil, &manifest.HintError{Err: ErrNoService, Hint: fmt.Sprintf(
			"add a Service to the manifests; with two, annotate them %s: \"true\" and %s: \"true\"",
			manifest.PrimaryServiceAnnotation, manifest.StageServiceAnnotation)}
	}
	var s Services
	switch {
	case len(primaries) == 1:
		s.Primary = primaries[0]
	case len(services) == 1 && len(stages) == 0:
		s.Primary = services[0]
	default:
		// Several Services and none marked primary, or the only one
		// marked stage: which serves users is for the manifests to say.
		return Services{}, nil, &manifest.HintError{Err: ErrUnmarkedServices, Found: names(services), Hint: fmt.Sprintf(
			"annotate the primary Service %s: \"true\" and the stage one %s: \"true\"",
			manifest.PrimaryServiceAnnotation, manifest.StageServiceAnnotation)}
	}
	if len(stages) == 1 {
		s.Stage = stages[0]
		return s, nodes, nil
	}
	stage, err := stageCopy(s.Primary)
	if err != nil {
		return Services{}, nil, err
	}
	for _, n := range services {
		if n.GetName() == stage.GetName() && n.GetNamespace() == stage.GetNamespace() {
			return Services{}, nil, fmt.Errorf("%s: the stage Service made from the primary one, %s, would replace it; annotate it %s: \"true\" if it is the stage Service, or rename it",
				describe(n), describe(s.Primary), manifest.StageServiceAnnotation)
		}
	}
	s.Stage, s.Created = stage, true
	return s, append(slices.Clone(nodes), stage), nil
}

// stageCopy makes the stage Service from the primary one.
func stageCopy(primary *yaml.RNode) (*yaml.RNode, error) {
	stage := primary.Copy()
	mark := yaml.NewStringRNode("true")
	mark.YNode().Style = yaml.DoubleQuotedStyle // as manifests write it
	edits := []error{
		stage.SetName(primary.GetName() + StageSuffix),
		stage.PipeE(yaml.ClearAnnotation(manifest.PrimaryServiceAnnotation)),
		stage.PipeE(yaml.LookupCreate(yaml.MappingNode, "metadata", "annotations"),
			yaml.SetField(manifest.StageServiceAnnotation, mark),
		),
		stage.PipeE(yaml.Lookup("spec"), yaml.Clear("loadBalancerIP")),
		stage.PipeE(yaml.Lookup("spec"), yaml.Clear("healthCheckNodePort")),
	}
	// A headless primary makes a headless stage Service; any other
	// address is the primary's own.
	if ip, _ := stage.Pipe(yaml.Lookup("spec", "clusterIP")); ip == nil || ip.YNode().Value != "None" {
		edits = append(edits,
			stage.PipeE(yaml.Lookup("spec"), yaml.Clear("clusterIP")),
			stage.PipeE(yaml.Lookup("spec"), yaml.Clear("clusterIPs")))
	}
	if ports, err := stage.Pipe(yaml.Lookup("spec", "ports")); err == nil && ports != nil && ports.YNode().Kind == yaml.SequenceNode {
		for _, p := range ports.Content() {
			edits = append(edits, yaml.NewRNode(p).PipeE(yaml.Clear("nodePort")))
		}
	}
	if err := errors.Join(edits...); err != nil {
		return nil, fmt.Errorf("%s: make the stage Service: %w", describe(primary), err)
	}
	return stage, nil
}

// LiveService is a Service of a blue/green deploy as the cluster has it.
type LiveService struct {
	Name string
	// Exists is false when the cluster has no Service of that name.
	Exists bool
	// Selector is its spec.selector.
	Selector map[string]string
}

// Color is the colour the Service selects: the harness.io/color of its
// selector, "" for none.
func (s LiveService) Color() release.Color {
	return release.Color(s.Selector[manifest.ColorLabel])
}

// Colors are the colours of a stage deploy.
type Colors struct {
	// Primary is the colour the primary Service selects, and keeps
	// selecting through the deploy; Stage is the one deployed to.
	Primary, Stage release.Color
	// FirstDeploy says the primary Service does not exist yet. It is
	// created selecting Primary, which has no pods: it serves nothing
	// until the first swap (see FirstDeployNote).
	FirstDeploy bool
}

// DefaultPrimary is the colour a primary Service that does not exist yet
// selects (HarnessLabelValues.colorDefault): the first deploy goes to
// the other, blue.
const DefaultPrimary = release.Green

// DecideColors decides the colours of a stage deploy from the primary
// Service as the cluster has it: its colour is the primary one, green when
// it does not exist yet; the stage colour is the other. A Service that
// exists and selects no colour was not made by a blue/green deploy, and
// taking it over would move its traffic: that is an error wrapping
// ErrConflictingService, in Harness's words. So is a colour other than
// blue or green.
func DecideColors(primary LiveService) (Colors, error) {
	if !primary.Exists {
		return Colors{Primary: DefaultPrimary, Stage: DefaultPrimary.Other(), FirstDeploy: true}, nil
	}
	c := primary.Color()
	if c == "" {
		return Colors{}, &manifest.HintError{
			Err: fmt.Errorf("Found %w [%s] in the cluster. For blue/green deployment, the label [%s] is required in service selector. Delete this existing service to proceed",
				ErrConflictingService, primary.Name, manifest.ColorLabel),
		}
	}
	if !c.Valid() {
		return Colors{}, fmt.Errorf("primary Service [%s] in the cluster selects %s: %q, which is neither %s nor %s; set it to one of them, or delete the Service to proceed",
			primary.Name, manifest.ColorLabel, c, release.Blue, release.Green)
	}
	return Colors{Primary: c, Stage: c.Other()}, nil
}

// ColorWorkload makes workload, the one workload of nodes
// (manifest.OneWorkload), that of colour c: <name>-<c>, labelled
// harness.io/color: <c> in its pods and selector, its HPAs and PDBs
// following (see manifest.Variant). It returns the objects it renamed,
// the workload first.
func ColorWorkload(nodes []*yaml.RNode, workload *yaml.RNode, c release.Color) ([]*yaml.RNode, error) {
	if !c.Valid() {
		return nil, fmt.Errorf("colour %q is neither %s nor %s", c, release.Blue, release.Green)
	}
	return manifest.ColorVariant(string(c)).Apply(nodes, workload)
}

// ConfigFilter is how a declarative stage deploy to colour c names its
// ConfigMaps and Secrets: <name>-<c>, the references rewritten, so the
// colours never share config. A legacy one versions them by release
// number instead, as a rolling deploy does (versioning.Filter{Release: n});
// Harness's documentation says blue/green does not version, its code does.
func ConfigFilter(c release.Color) versioning.Filter {
	return versioning.Filter{Suffix: string(c)}
}

// ColorServices makes the primary Service select the primary colour and
// the stage Service the stage colour: harness.io/color in each selector,
// the other keys as written. Re-applying the primary Service so moves no
// traffic: it selects what it selects in the cluster already.
func ColorServices(s Services, c Colors) error {
	for _, side := range []struct {
		node  *yaml.RNode
		color release.Color
	}{{s.Primary, c.Primary}, {s.Stage, c.Stage}} {
		if !side.color.Valid() {
			return fmt.Errorf("%s: colour %q is neither %s nor %s", describe(side.node), side.color, release.Blue, release.Green)
		}
		sel, err := side.node.Pipe(yaml.Lookup("spec", "selector"))
		if err == nil && (sel == nil || sel.YNode().Kind != yaml.MappingNode) {
			err = fmt.Errorf("spec.selector is missing: a blue/green Service selects its pods by %s", manifest.ColorLabel)
		}
		if err == nil {
			err = sel.PipeE(yaml.SetField(manifest.ColorLabel, yaml.NewStringRNode(string(side.color))))
		}
		if err != nil {
			return fmt.Errorf("%s: %w", describe(side.node), err)
		}
	}
	return nil
}

// Stage is a stage deploy's manifests, prepared.
type Stage struct {
	Services Services
	Colors   Colors
	// Workload is the coloured workload; Renamed every object renamed
	// with it, the workload first (its HPAs and PDBs follow).
	Workload *yaml.RNode
	Renamed  []*yaml.RNode
	// Nodes are the manifests to apply: the nodes given, edited, and the
	// stage Service when it was Created.
	Nodes []*yaml.RNode
}

// PrepareStage prepares the manifests of a stage deploy, after
// PickServices, as the package documentation lists the steps: nodes (those
// PickServices returned) are edited in place, nothing is written anywhere.
// primary is s.Primary as the cluster has it. A declarative deploy
// suffixes its config with the stage colour; a legacy one leaves config
// to the caller, who versions it by release number as a rolling deploy
// does (and sets the release label, manifest.ReleaseLabelFilter).
func PrepareStage(nodes []*yaml.RNode, s Services, primary LiveService, declarative bool) (*Stage, error) {
	if primary.Name != s.Primary.GetName() {
		return nil, fmt.Errorf("the live Service given is %q, the primary Service of the manifests %q", primary.Name, s.Primary.GetName())
	}
	c, err := DecideColors(primary)
	if err != nil {
		return nil, err
	}
	w, err := manifest.OneWorkload(nodes)
	if err != nil {
		return nil, err
	}
	if declarative {
		if nodes, err = ConfigFilter(c.Stage).Filter(nodes); err != nil {
			return nil, err
		}
	}
	renamed, err := ColorWorkload(nodes, w, c.Stage)
	if err != nil {
		return nil, err
	}
	if err := ColorServices(s, c); err != nil {
		return nil, err
	}
	return &Stage{Services: s, Colors: c, Workload: w, Renamed: renamed, Nodes: nodes}, nil
}

// ScaleDownColor is the colour a stage scale down scales down: that of
// the stage release (release.History.LatestIn(release.StageEnvironment)),
// which must not be the colour the primary Service selects in the
// cluster: scaling it down would leave users with no pods. That happens
// when the history and the Services disagree, say after a swap that
// recorded only half of it; the error says what to do.
func ScaleDownColor(stage *release.Release, primary LiveService) (release.Color, error) {
	if stage == nil {
		return "", errors.New(NoStageToScaleDown)
	}
	if !stage.Color.Valid() {
		return "", fmt.Errorf("release %d is in the stage environment but has no blue/green colour (%q); nothing to scale down", stage.Number, stage.Color)
	}
	if primary.Exists && primary.Color() == stage.Color {
		return "", fmt.Errorf("release %d is in the stage environment, but its colour, %s, is what the primary Service [%s] selects: scaling it down would leave the Service without pods; run the swap again to finish it, or check the Services' selectors",
			stage.Number, stage.Color, primary.Name)
	}
	return stage.Color, nil
}

// names lists objects as Harness does, Kind/name, comma-separated.
func names(nodes []*yaml.RNode) string {
	s := make([]string, len(nodes))
	for i, n := range nodes {
		s[i] = n.GetKind() + "/" + n.GetName()
	}
	return strings.Join(s, ", ")
}

func describe(node *yaml.RNode) string {
	if src := manifest.Source(node); src != "" {
		return src + ": " + manifest.ID(node)
	}
	return manifest.ID(node)
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
