package steps

// The keys of the outputs the steps write. CI systems need them declared
// up front (action.yml outputs, Tekton Task results), so a step writes no
// key that is not listed in OutputKeys; the plugin tests hold those files
// to this list.
const (
	OutputRelease                 = "release"
	OutputReleaseNumber           = "release_number"
	OutputPreviousReleaseNumber   = "previous_release_number"
	OutputRolledBackReleaseNumber = "rolled_back_release_number"
	OutputStatus                  = "status"
	OutputWorkloads               = "workloads"
	OutputImages                  = "images"
	OutputApplied                 = "applied"
	OutputChanges                 = "changes"
	OutputChangesFound            = "changes_found"
	OutputToCreate                = "to_create"
	OutputToChange                = "to_change"
	OutputUnchanged               = "unchanged"
	OutputReleases                = "releases"
	OutputPrimaryService          = "primary_service"
	OutputStageService            = "stage_service"
	OutputPrimaryColor            = "primary_color"
	OutputStageColor              = "stage_color"
	OutputTargetInstances         = "target_instances"
	OutputCanaryWorkload          = "canary_workload"
	OutputInstances               = "instances"
	OutputDeleted                 = "deleted"
)

// OutputKey documents one output key.
type OutputKey struct {
	Name string
	// Steps names the steps that write it.
	Steps []string
	// Description is what the value means, for action.yml, the Tekton Task
	// and the README.
	Description string
}

// OutputKeys lists every output key, in the order the steps write them. It
// is a function, not a variable, so that no caller can change the list
// under another.
func OutputKeys() []OutputKey {
	return []OutputKey{
		{OutputRelease, []string{"rolling", "bluegreen", "canary", "canary_delete", "swap", "stage_scale_down", "scale", "delete", "rollback", "history"}, "the release name"},
		{OutputReleaseNumber, []string{"rolling", "bluegreen", "canary", "canary_delete", "swap", "stage_scale_down", "rollback", "history"}, "rolling, bluegreen, canary: the number of the release it created (a rolling deploy after a canary completes the canary's) (empty when it failed before recording one, as in a failed dry run); canary_delete: the release whose canary it deleted; rollback: the number of the release it returned to (empty when it did not roll back); swap: the release it routed users to; stage_scale_down: the release it scaled down (empty for none); history: the newest release (empty for none)"},
		{OutputPreviousReleaseNumber, []string{"rolling", "bluegreen", "canary", "history"}, "the last successful release before this one, or before the newest (empty for none): what a rollback returns to"},
		{OutputRolledBackReleaseNumber, []string{"rollback"}, "the number of the release that was rolled back (empty when there was none)"},
		{OutputStatus, []string{"rolling", "bluegreen", "canary", "swap", "stage_scale_down", "canary_delete", "scale", "delete", "rollback", "apply", "history"}, "rolling, bluegreen, swap, apply, canary_delete, scale, delete: Succeeded or Failed; canary: InProgress (the rolling deploy completes the release) or Failed; stage_scale_down, rollback: Succeeded, Failed or Skipped; history: the newest release's status"},
		{OutputWorkloads, []string{"rolling", "bluegreen", "canary"}, "the managed workloads, comma-separated (Deployment/web,StatefulSet/db)"},
		{OutputImages, []string{"rolling", "bluegreen", "canary", "apply"}, "the container images deployed, comma-separated"},
		{OutputApplied, []string{"apply"}, "how many objects were applied"},
		{OutputChanges, []string{"apply", "diff"}, "apply: the change set, one \"Kind/namespace/name created|configured|unchanged\" a line; diff: the objects an apply would create or change, \"Kind/namespace/name create|change\" a line (both cut at 2 KB with \"... and N more\")"},
		{OutputChangesFound, []string{"diff"}, "true when an apply would create or change an object, else false"},
		{OutputToCreate, []string{"diff"}, "how many objects an apply would create"},
		{OutputToChange, []string{"diff"}, "how many objects an apply would change"},
		{OutputUnchanged, []string{"diff"}, "how many objects an apply would leave unchanged"},
		{OutputReleases, []string{"history"}, "how many releases the history holds, both formats together"},
		{OutputPrimaryService, []string{"bluegreen", "swap", "stage_scale_down", "rollback"}, "blue/green: the primary Service, the one users reach"},
		{OutputStageService, []string{"bluegreen", "swap", "stage_scale_down", "rollback"}, "blue/green: the stage Service, which selects the colour waiting for a swap"},
		{OutputPrimaryColor, []string{"bluegreen", "swap", "stage_scale_down", "rollback"}, "blue/green: the colour the primary Service selects once the step is done (blue or green)"},
		{OutputStageColor, []string{"bluegreen", "swap", "stage_scale_down", "rollback"}, "blue/green: the colour the stage Service selects once the step is done"},
		{OutputTargetInstances, []string{"canary"}, "how many replicas the canary workload runs"},
		{OutputCanaryWorkload, []string{"canary"}, "the canary's objects, namespace/Kind/name, comma-separated: what canary_delete deletes"},
		{OutputInstances, []string{"scale"}, "the replicas the workload was scaled to (empty when the step failed before scaling)"},
		{OutputDeleted, []string{"delete"}, "how many objects were deleted (those already gone not counted)"},
	}
}
