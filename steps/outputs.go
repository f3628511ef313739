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
		{OutputRelease, []string{"rolling", "rollback", "history"}, "the release name"},
		{OutputReleaseNumber, []string{"rolling", "rollback", "history"}, "rolling: the number of the release it created (empty when it failed before recording one, as in a failed dry run); rollback: the number of the release it returned to (empty when it did not roll back); history: the newest release (empty for none)"},
		{OutputPreviousReleaseNumber, []string{"rolling", "history"}, "the last successful release before this one, or before the newest (empty for none): what a rollback returns to"},
		{OutputRolledBackReleaseNumber, []string{"rollback"}, "the number of the release that was rolled back (empty when there was none)"},
		{OutputStatus, []string{"rolling", "rollback", "apply", "history"}, "rolling, apply: Succeeded or Failed; rollback: Succeeded, Failed or Skipped; history: the newest release's status"},
		{OutputWorkloads, []string{"rolling"}, "the managed workloads, comma-separated (Deployment/web,StatefulSet/db)"},
		{OutputImages, []string{"rolling", "apply"}, "the container images deployed, comma-separated"},
		{OutputApplied, []string{"apply"}, "how many objects were applied"},
		{OutputChanges, []string{"apply", "diff"}, "apply: the change set, one \"Kind/namespace/name created|configured|unchanged\" a line; diff: the objects an apply would create or change, \"Kind/namespace/name create|change\" a line (both cut at 2 KB with \"... and N more\")"},
		{OutputChangesFound, []string{"diff"}, "true when an apply would create or change an object, else false"},
		{OutputToCreate, []string{"diff"}, "how many objects an apply would create"},
		{OutputToChange, []string{"diff"}, "how many objects an apply would change"},
		{OutputUnchanged, []string{"diff"}, "how many objects an apply would leave unchanged"},
		{OutputReleases, []string{"history"}, "how many releases the history holds, both formats together"},
	}
}
