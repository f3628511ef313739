package plugin

import "testing"

// The settings of canary, canary_delete, scale and delete: required where
// the step needs them, refused anywhere else, and bad values named by
// their setting.
func TestValidateStrategySteps(t *testing.T) {
	tests := []validateCase{
		{name: "canary by percentage", modify: func(s *Settings) { s.Step, s.Instances = StepCanary, "25%" }},
		{name: "canary by count", modify: func(s *Settings) { s.Step, s.Instances = StepCanary, "2" }},
		{name: "canary without instances", modify: func(s *Settings) { s.Step = StepCanary },
			want: []string{`PLUGIN_INSTANCES: instances: required: a count (2) or a percentage (25%) of the stable workload's 1 replicas`}},
		{name: "canary above 100%", modify: func(s *Settings) { s.Step, s.Instances = StepCanary, "150%" },
			want: []string{`PLUGIN_INSTANCES: instances "150%": want a percentage above 0 and at most 100`}},
		{name: "canary pruning", modify: func(s *Settings) {
			s.Step, s.Instances, s.Pruning, s.EnableDeclarativeRollback = StepCanary, "1", true, true
		}, want: []string{`PLUGIN_PRUNING: does not apply to step "canary": the rolling deploy prunes; the last successful release before a blue/green or canary deploy keeps serving`}},
		{name: "instances on rolling", modify: func(s *Settings) { s.Instances = "2" },
			want: []string{`PLUGIN_INSTANCES: applies only to step "canary" and "scale", not "rolling"`}},
		{name: "canary_delete with its output", modify: func(s *Settings) {
			s.Step, s.Manifests, s.CanaryWorkload = StepCanaryDelete, nil, "ns/Deployment/web-canary"
		}},
		{name: "canary_workload elsewhere", modify: func(s *Settings) { s.CanaryWorkload = "ns/Deployment/web-canary" },
			want: []string{`PLUGIN_CANARY_WORKLOAD: applies only to step "canary_delete", not "rolling"`}},

		{name: "scale", modify: func(s *Settings) {
			s.Step, s.Manifests, s.Workload, s.Instances = StepScale, nil, "Deployment/web", "50%"
		}},
		{name: "scale without wait", modify: func(s *Settings) {
			s.Step, s.Manifests, s.Workload, s.Instances, s.SkipSteadyStateCheck = StepScale, nil, "Deployment/web", "0", true
		}},
		{name: "scale needs release, workload and instances", modify: func(s *Settings) { s.Step, s.Release, s.Manifests = StepScale, "", nil },
			want: []string{
				`PLUGIN_RELEASE: required for step "scale"`,
				`PLUGIN_INSTANCES: required for step "scale": a count (3) or a percentage (50%) of the workload's replicas`,
				`PLUGIN_WORKLOAD: required for step "scale": the Deployment or StatefulSet to scale, as Kind/name`,
			}},
		{name: "scale bad instances", modify: func(s *Settings) {
			s.Step, s.Manifests, s.Workload, s.Instances = StepScale, nil, "Deployment/web", "1.5"
		},
			want: []string{`PLUGIN_INSTANCES: "1.5" is not a count (3) or a percentage (50%): a whole number, 0 or more`}},
		{name: "workload elsewhere", modify: func(s *Settings) { s.Workload = "Deployment/web" },
			want: []string{`PLUGIN_WORKLOAD: applies only to step "scale", not "rolling"`}},
		{name: "skip steady state check on rolling", modify: func(s *Settings) { s.SkipSteadyStateCheck = true },
			want: []string{`PLUGIN_SKIP_STEADY_STATE_CHECK: applies only to step "apply" and "scale", not "rolling"`}},

		{name: "delete resources without release", modify: func(s *Settings) {
			s.Step, s.Release, s.Manifests, s.Resources = StepDelete, "", nil, List{"ConfigMap/a", "Secret/b"}
		}},
		{name: "delete by manifests with values", modify: func(s *Settings) { s.Step, s.Values = StepDelete, List{"values.yaml"} }},
		{name: "delete release objects", modify: func(s *Settings) {
			s.Step, s.Manifests, s.DeleteReleaseObjects, s.DeleteNamespace = StepDelete, nil, true, true
		}},
		{name: "delete nothing", modify: func(s *Settings) { s.Step, s.Manifests = StepDelete, nil },
			want: []string{`PLUGIN_RESOURCES: step "delete" needs what to delete: PLUGIN_RESOURCES, PLUGIN_DELETE_RELEASE_OBJECTS or PLUGIN_MANIFESTS`}},
		{name: "delete two ways", modify: func(s *Settings) { s.Step, s.Resources = StepDelete, List{"ConfigMap/a"} },
			want: []string{`PLUGIN_MANIFESTS: cannot be combined with PLUGIN_RESOURCES: give one of PLUGIN_RESOURCES, PLUGIN_DELETE_RELEASE_OBJECTS and PLUGIN_MANIFESTS`}},
		{name: "delete release objects without release", modify: func(s *Settings) {
			s.Step, s.Release, s.Manifests, s.DeleteReleaseObjects = StepDelete, "", nil, true
		}, want: []string{`PLUGIN_RELEASE: required with PLUGIN_DELETE_RELEASE_OBJECTS`}},
		{name: "delete namespace alone", modify: func(s *Settings) { s.Step, s.DeleteNamespace = StepDelete, true },
			want: []string{`PLUGIN_DELETE_NAMESPACE: goes only with PLUGIN_DELETE_RELEASE_OBJECTS`}},
		{name: "resources elsewhere", modify: func(s *Settings) { s.Resources = List{"ConfigMap/a"} },
			want: []string{`PLUGIN_RESOURCES: applies only to step "delete", not "rolling"`}},
		{name: "image pull secrets", modify: func(s *Settings) { s.ImagePullSecrets = List{"registry", "mirror.example"} }},
		{name: "image pull secret not a name", modify: func(s *Settings) { s.ImagePullSecrets = List{"Registry_Creds"} },
			want: []string{`PLUGIN_IMAGE_PULL_SECRETS: "Registry_Creds" is not a Secret name: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`}},
		{name: "image pull secrets on rollback", modify: func(s *Settings) { s.Step, s.Manifests, s.ImagePullSecrets = StepRollback, nil, List{"registry"} },
			want: []string{`PLUGIN_IMAGE_PULL_SECRETS: applies only to the steps that read manifests (rolling, bluegreen, canary, apply, diff, delete), not "rollback"`}},
		{name: "diff on delete", modify: func(s *Settings) { s.Step, s.Diff = StepDelete, true },
			want: []string{`PLUGIN_DIFF: applies only to steps "rolling", "bluegreen", "canary" and "apply", not "delete"`}},
	}
	runValidateCases(t, tests)
}
