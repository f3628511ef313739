package steps

import (
	"errors"
	"testing"
)

func TestReleaseSummary(t *testing.T) {
	tests := []struct {
		name string
		s    releaseSummary
		want string
	}{
		{
			name: "succeeded",
			s: releaseSummary{Step: "rolling", Release: "web", Namespace: "prod", Number: 5, Status: "Succeeded", Previous: 4,
				Images:    []string{"registry.local/web:1.2", "registry.local/proxy:3"},
				Workloads: []summaryWorkload{{"Deployment", "web", "13"}, {"StatefulSet", "db", "4"}}},
			want: "### ✅ kube-release rolling: `web` release 5 Succeeded\n\n" +
				"| | |\n|---|---|\n" +
				"| Release | `web` |\n| Release number | 5 |\n| Status | Succeeded |\n| Namespace | `prod` |\n" +
				"| Previous successful release | 4 |\n" +
				"| Images | `registry.local/web:1.2`<br>`registry.local/proxy:3` |\n" +
				"\n| Workload | Revision |\n|---|---|\n| Deployment/web | 13 |\n| StatefulSet/db | 4 |\n",
		},
		{
			name: "failed, with evidence",
			s: releaseSummary{Step: "rolling", Release: "web", Namespace: "prod", Number: 6, Status: "Failed",
				Workloads: []summaryWorkload{{"Deployment", "web", ""}},
				Failure:   errors.New("wait for steady state: pod web-1: ImagePullBackOff"),
				Evidence:  "| Pod | State |\n|---|---|\n| web-1 | waiting |\n"},
			want: "### ❌ kube-release rolling: `web` release 6 Failed\n\n" +
				"| | |\n|---|---|\n" +
				"| Release | `web` |\n| Release number | 6 |\n| Status | Failed |\n| Namespace | `prod` |\n" +
				"| Previous successful release | none |\n" +
				"\n| Workload | Revision |\n|---|---|\n| Deployment/web | – |\n" +
				"\n#### Why it failed\n\n```text\nwait for steady state: pod web-1: ImagePullBackOff\n```\n" +
				"\n| Pod | State |\n|---|---|\n| web-1 | waiting |\n",
		},
		{
			name: "skipped, with a note",
			s:    releaseSummary{Step: "rollback", Release: "web", Namespace: "prod", Status: "Skipped", Note: "No failed release found."},
			want: "### ⏭️ kube-release rollback: `web` Skipped\n\nNo failed release found.\n\n" +
				"| | |\n|---|---|\n| Release | `web` |\n| Status | Skipped |\n| Namespace | `prod` |\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.Markdown(); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestCodeBlock(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                 "```text\nplain\n```\n",
		"has ``` inside\n":      "````text\nhas ``` inside\n````\n",
		"has ```` and ``` both": "`````text\nhas ```` and ``` both\n`````\n",
	} {
		if got := CodeBlock(in); got != want {
			t.Errorf("CodeBlock(%q) = %q, want %q", in, got, want)
		}
	}
}
