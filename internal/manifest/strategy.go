package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// The errors of OneWorkload, in Harness's words (KubernetesExceptionMessages),
// capitals included, so that a user searching for them finds Harness's
// documentation too.
var (
	ErrNoWorkload    = errors.New("Missing managed workload in kubernetes manifest")
	ErrManyWorkloads = errors.New("More than one workloads found in the manifests")
)

// HintError is an error about the manifests that says what was found and
// how to fix it. errors.Is matches Err.
type HintError struct {
	// Err is what is wrong, often a sentinel error.
	Err error
	// Found lists what was found, "" when it says nothing more.
	Found string
	// Hint tells the user what to change.
	Hint string
}

func (e *HintError) Error() string {
	s := e.Err.Error()
	if e.Found != "" {
		s += ": " + e.Found
	}
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

func (e *HintError) Unwrap() error { return e.Err }

// OneWorkload returns the one workload that a blue/green or canary deploy
// manages, as Harness picks it (ManifestHelper.getWorkloadsForCanaryAndBG):
// of the Deployments and OpenShift DeploymentConfigs not annotated
// harness.io/direct-apply, exactly one; only when there is none, exactly one
// such StatefulSet. DaemonSets and Jobs do not count: they are applied as
// they are. None or several is a *HintError wrapping ErrNoWorkload or
// ErrManyWorkloads; the latter lists the candidates as Kind/name, as Harness
// does.
func OneWorkload(nodes []*yaml.RNode) (*yaml.RNode, error) {
	var deployments, statefulSets []*yaml.RNode
	for _, n := range nodes {
		if RoleOf(n) == DirectApply {
			continue
		}
		switch groupKind(n) {
		case "apps/Deployment", "apps.openshift.io/DeploymentConfig":
			deployments = append(deployments, n)
		case "apps/StatefulSet":
			statefulSets = append(statefulSets, n)
		}
	}
	candidates := deployments
	if len(candidates) == 0 {
		candidates = statefulSets
	}
	switch len(candidates) {
	case 1:
		return candidates[0], nil
	case 0:
		return nil, &HintError{
			Err:  ErrNoWorkload,
			Hint: "add a Deployment, DeploymentConfig (OpenShift) or StatefulSet to the manifests",
		}
	}
	names := make([]string, len(candidates))
	for i, n := range candidates {
		names[i] = n.GetKind() + "/" + n.GetName()
	}
	return nil, &HintError{
		Err:   ErrManyWorkloads,
		Found: strings.Join(names, ", "),
		Hint:  fmt.Sprintf("annotate all but one of them %s: \"true\" to have them applied as they are", DirectApplyAnnotation),
	}
}

// variantAnnotation marks the objects a Variant renamed, with its suffix,
// so that applying it again changes nothing. ForApply removes it.
const variantAnnotation = InternalAnnotationPrefix + "variant"

// maxObjectName is the longest name of the objects a Variant renames
// (DNS-1123 subdomains).
const maxObjectName = 253

// Variant sets the one workload of a blue/green or canary deploy apart
// from the other pods of its app: the workload is renamed
// <name>-<Suffix>, and Label: Value is added to its pod template's labels
// and to its selector (spec.selector.matchLabels of an apps workload, the
// plain spec.selector map of a DeploymentConfig, which is left out when
// absent: it then defaults to the template's labels, which have the label).
//
// The objects that belong to the workload follow it, so that they act on
// the variant and not on the workload it was made from:
//   - a HorizontalPodAutoscaler whose scaleTargetRef names the workload (its
//     kind, and its group when the reference has an apiVersion) is renamed
//     <name>-<Suffix> and retargeted at the new name;
//   - a PodDisruptionBudget whose selector selects the workload's pods (its
//     matchLabels and matchExpressions hold for the template's labels) gets
//     Label: Value in its matchLabels and is renamed <name>-<Suffix>.
//
// Both must be in the workload's namespace and not annotated
// harness.io/direct-apply. Harness retargets a PodDisruptionBudget only when
// its matchLabels equal the workload's selector; every such budget selects
// the workload's pods, so it follows here too. A budget with an empty
// selector (all pods of the namespace) is not the workload's and stays.
type Variant struct {
	// Suffix is appended to the names, after a "-".
	Suffix string
	// Label and Value are added to the pod labels and the selectors.
	Label, Value string
}

// CanaryVariant is the canary of a workload: <name>-canary, labelled
// harness.io/track: canary.
func CanaryVariant() Variant {
	return Variant{Suffix: TrackCanary, Label: TrackLabel, Value: TrackCanary}
}

// ColorVariant is a blue/green workload of colour color: <name>-<color>,
// labelled harness.io/color: <color>.
func ColorVariant(color string) Variant {
	return Variant{Suffix: color, Label: ColorLabel, Value: color}
}

// Apply makes workload, one of nodes, the variant, and the objects of
// nodes that belong to it follow (see Variant). It edits the nodes in
// place and returns those it renamed: the workload first, then its
// followers in the order of nodes. Every problem is found before anything
// changes. Applying the same Variant again changes nothing and returns the
// same objects.
func (v Variant) Apply(nodes []*yaml.RNode, workload *yaml.RNode) ([]*yaml.RNode, error) {
	if v.Suffix == "" || v.Label == "" || v.Value == "" {
		return nil, fmt.Errorf("variant %+v: suffix, label and value are all required", v)
	}
	if workload.GetAnnotations(variantAnnotation)[variantAnnotation] == v.Suffix {
		out := []*yaml.RNode{workload}
		for _, n := range nodes {
			if n != workload && n.GetAnnotations(variantAnnotation)[variantAnnotation] == v.Suffix {
				out = append(out, n)
			}
		}
		return out, nil
	}
	subject := describe(workload)
	gk := groupKind(workload)
	switch gk {
	case "apps/Deployment", "apps/StatefulSet", "apps/DaemonSet", "apps.openshift.io/DeploymentConfig":
	default:
		return nil, fmt.Errorf("%s: not a Deployment, StatefulSet, DaemonSet or DeploymentConfig", subject)
	}
	tmpl, err := PodTemplate(workload)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", subject, err)
	}
	if tmpl == nil {
		return nil, fmt.Errorf("%s: spec.template is missing", subject)
	}
	// The map the label goes into: a DeploymentConfig's selector is
	// itself the map; an apps workload's is its matchLabels.
	selector, err := workload.Pipe(yaml.Lookup("spec", "selector"))
	if err != nil {
		return nil, fmt.Errorf("%s: spec.selector: %w", subject, err)
	}
	labelPath := []string{"matchLabels"}
	if gk == "apps.openshift.io/DeploymentConfig" {
		labelPath = nil
	} else if selector == nil {
		return nil, fmt.Errorf("%s: spec.selector is missing", subject)
	}
	if selector != nil && selector.YNode().Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: spec.selector is not a mapping", subject)
	}

	oldName := workload.GetName()
	podLabels := tmpl.GetLabels()
	var followers []*yaml.RNode
	var errs []error
	for _, n := range nodes {
		if n == workload || n.GetNamespace() != workload.GetNamespace() ||
			HasTrue(n.GetAnnotations(DirectApplyAnnotation), DirectApplyAnnotation) {
			continue
		}
		var follows bool
		switch groupKind(n) {
		case "autoscaling/HorizontalPodAutoscaler":
			follows = scales(n, workload, oldName)
		case "policy/PodDisruptionBudget":
			follows, err = selects(n, podLabels)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: spec.selector: %w", describe(n), err))
			}
		}
		if follows {
			followers = append(followers, n)
		}
	}
	for _, n := range append([]*yaml.RNode{workload}, followers...) {
		if name := n.GetName() + "-" + v.Suffix; len(name) > maxObjectName {
			errs = append(errs, fmt.Errorf("%s: name %s is longer than %d characters", describe(n), name, maxObjectName))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	label := yaml.SetField(v.Label, yaml.NewStringRNode(v.Value))
	newName := oldName + "-" + v.Suffix
	edits := []error{
		workload.SetName(newName),
		tmpl.PipeE(yaml.LookupCreate(yaml.MappingNode, "metadata", "labels"), label),
	}
	if selector != nil {
		edits = append(edits, selector.PipeE(yaml.LookupCreate(yaml.MappingNode, labelPath...), label))
	}
	if err := errors.Join(edits...); err != nil {
		return nil, fmt.Errorf("%s: %w", subject, err)
	}
	for _, n := range followers {
		var err error
		if groupKind(n) == "autoscaling/HorizontalPodAutoscaler" {
			err = n.PipeE(yaml.Lookup("spec", "scaleTargetRef"), yaml.SetField("name", yaml.NewStringRNode(newName)))
		} else {
			err = n.PipeE(yaml.LookupCreate(yaml.MappingNode, "spec", "selector", "matchLabels"), label)
		}
		if err == nil {
			err = n.SetName(n.GetName() + "-" + v.Suffix)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", describe(n), err)
		}
	}
	out := append([]*yaml.RNode{workload}, followers...)
	for _, n := range out {
		if err := n.PipeE(yaml.SetAnnotation(variantAnnotation, v.Suffix)); err != nil {
			return nil, fmt.Errorf("%s: %w", describe(n), err)
		}
	}
	return out, nil
}

// scales reports whether the HorizontalPodAutoscaler hpa scales workload,
// named name.
func scales(hpa, workload *yaml.RNode, name string) bool {
	if stringAt(hpa, "spec", "scaleTargetRef", "kind") != workload.GetKind() ||
		stringAt(hpa, "spec", "scaleTargetRef", "name") != name {
		return false
	}
	apiVersion := stringAt(hpa, "spec", "scaleTargetRef", "apiVersion")
	return apiVersion == "" || group(apiVersion) == group(workload.GetApiVersion())
}

// selects reports whether the PodDisruptionBudget pdb selects pods that
// carry podLabels. An empty or absent selector selects none here.
func selects(pdb *yaml.RNode, podLabels map[string]string) (bool, error) {
	node, err := pdb.Pipe(yaml.Lookup("spec", "selector"))
	if err != nil || node == nil {
		return false, err
	}
	raw, err := node.MarshalJSON()
	if err != nil {
		return false, err
	}
	var ls metav1.LabelSelector
	if err := json.Unmarshal(raw, &ls); err != nil {
		return false, err
	}
	if len(ls.MatchLabels) == 0 && len(ls.MatchExpressions) == 0 {
		return false, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil {
		return false, err
	}
	return sel.Matches(labels.Set(podLabels)), nil
}
