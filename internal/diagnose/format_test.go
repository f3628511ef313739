package diagnose

import (
	"strings"
	"testing"
	"time"

	"github.com/kube-release/kube-release/internal/object"
	"github.com/kube-release/kube-release/internal/rollout"
)

var (
	at  = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	web = object.Ref{Kind: rollout.KindDeployment, Namespace: "shop", Name: "web"}
)

func crashingPod() Pod {
	return Pod{
		Name:  "web-7d9f-abcde",
		Phase: "Running",
		Node:  "node-1",
		Conditions: []Condition{
			{Type: "Ready", Status: "False", Reason: "ContainersNotReady", Message: "containers with unready status: [app]"},
		},
		Containers: []Container{{
			Name: "setup", Init: true, Ready: true,
			State: State{State: Terminated, Reason: "Completed"},
		}, {
			Name:      "app",
			Restarts:  3,
			State:     State{State: Waiting, Reason: "CrashLoopBackOff", Message: "back-off 40s restarting failed container=app"},
			LastState: State{State: Terminated, Reason: "Error", ExitCode: 1},
			Logs: []Log{{
				Previous: true,
				Lines:    []string{"connecting to db:5432", "panic: dial tcp: connection refused"},
			}},
		}, {
			Name: "proxy", Ready: true,
			State: State{State: Running},
		}},
	}
}

func TestLines(t *testing.T) {
	tests := []struct {
		name   string
		report *Report
		want   []string
	}{{
		name: "nil report",
	}, {
		name: "healthy workload",
		report: &Report{At: at, Since: 15 * time.Minute, Workloads: []WorkloadReport{{
			Workload: web, Pods: 3,
		}}},
		want: []string{"Deployment/shop/web: 3 pods ready, no warning events in the last 15m"},
	}, {
		name: "crash loop with the previous log",
		report: &Report{At: at, Since: 15 * time.Minute, Workloads: []WorkloadReport{{
			Workload: web, Pods: 2, NotReady: 2,
			Events: []Event{{
				Objects: []string{"Pod/web-7d9f-abcde", "Pod/web-7d9f-fghij"},
				Reason:  "BackOff", Message: "Back-off restarting failed container app in pod web",
				Count: 12, Last: at.Add(-20 * time.Second),
			}, {
				Objects: []string{"ReplicaSet/web-7d9f"},
				Reason:  "FailedCreate", Message: "pods \"web-7d9f-x\" is forbidden:\n  exceeded quota",
				Count: 1, Last: at.Add(-3 * time.Minute),
			}},
			MoreEvents:   2,
			NotReadyPods: []Pod{crashingPod()},
		}}},
		want: []string{
			"Deployment/shop/web: 2 of 2 pods not ready, 4 warning events in the last 15m",
			"Deployment/shop/web: warning BackOff on Pod/web-7d9f-abcde and 1 more: Back-off restarting failed container app in pod web (12 times, last 20s ago)",
			`Deployment/shop/web: warning FailedCreate on ReplicaSet/web-7d9f: pods "web-7d9f-x" is forbidden: exceeded quota (3m ago)`,
			"Deployment/shop/web: ... and 2 more warning events",
			"Deployment/shop/web: pod web-7d9f-abcde: Running on node node-1",
			"Deployment/shop/web: pod web-7d9f-abcde: condition Ready=False: ContainersNotReady: containers with unready status: [app]",
			"Deployment/shop/web: pod web-7d9f-abcde: init container setup: terminated: Completed (exit code 0)",
			"Deployment/shop/web: pod web-7d9f-abcde: container app: waiting: CrashLoopBackOff: back-off 40s restarting failed container=app; 3 restarts; last terminated: Error (exit code 1)",
			"Deployment/shop/web: pod web-7d9f-abcde: container app: previous log: connecting to db:5432",
			"Deployment/shop/web: pod web-7d9f-abcde: container app: previous log: panic: dial tcp: connection refused",
			"Deployment/shop/web: pod web-7d9f-abcde: container proxy: running, ready",
			"Deployment/shop/web: ... and 1 more pod not ready",
		},
	}, {
		name: "unschedulable, and logs the cluster does not serve",
		report: &Report{At: at, Since: time.Hour, Workloads: []WorkloadReport{{
			Workload: object.Ref{Kind: rollout.KindStatefulSet, Namespace: "shop", Name: "db"},
			Pods:     1, NotReady: 1,
			Events: []Event{{
				Objects: []string{"Pod/db-0"}, Reason: "FailedScheduling",
				Message: "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.",
				Count:   1, Last: at.Add(-90 * time.Second),
			}},
			NotReadyPods: []Pod{{
				Name: "db-0", Phase: "Pending",
				Conditions: []Condition{{Type: "PodScheduled", Status: "False", Reason: "Unschedulable", Message: "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."}},
			}},
		}, {
			Workload: object.Ref{Kind: rollout.KindJob, Namespace: "shop", Name: "migrate"},
			Pods:     1, NotReady: 1,
			NotReadyPods: []Pod{{
				Name: "migrate-x1", Phase: "Failed", Node: "node-2",
				Containers: []Container{{
					Name: "app", State: State{State: Terminated, Reason: "Error", ExitCode: 2, Message: "migration 7 failed"},
					Logs: []Log{{Err: "container \"app\" in pod \"migrate-x1\" is terminated"}, {Previous: true}},
				}},
			}},
		}},
			LogsUnavailable: "dial tcp 10.0.0.7:10250: connect: connection refused",
		},
		want: []string{
			"StatefulSet/shop/db: 1 of 1 pod not ready, 1 warning event in the last 1h",
			"StatefulSet/shop/db: warning FailedScheduling on Pod/db-0: 0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. (90s ago)",
			"StatefulSet/shop/db: pod db-0: Pending",
			"StatefulSet/shop/db: pod db-0: condition PodScheduled=False: Unschedulable: 0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.",
			"Job/shop/migrate: 1 of 1 pod not ready, no warning events in the last 1h",
			"Job/shop/migrate: pod migrate-x1: Failed on node node-2",
			"Job/shop/migrate: pod migrate-x1: container app: terminated: Error (exit code 2): migration 7 failed",
			`Job/shop/migrate: pod migrate-x1: container app: log unavailable: container "app" in pod "migrate-x1" is terminated`,
			"Job/shop/migrate: pod migrate-x1: container app: previous log is empty",
			"container logs are not available from this cluster: dial tcp 10.0.0.7:10250: connect: connection refused",
		},
	}, {
		name: "nothing readable about a workload",
		report: &Report{At: at, Since: 15 * time.Minute, Workloads: []WorkloadReport{{
			Workload: web,
			Unread:   []string{`workload: deployments.apps "web" is forbidden`, "events: timed out"},
		}}},
		want: []string{
			"Deployment/shop/web: no pods, no warning events in the last 15m",
			`Deployment/shop/web: could not read workload: deployments.apps "web" is forbidden`,
			"Deployment/shop/web: could not read events: timed out",
		},
	}, {
		name: "evicted pod, waiting container without state details",
		report: &Report{At: at, Since: 15 * time.Minute, Workloads: []WorkloadReport{{
			Workload: web, Pods: 1, NotReady: 1,
			NotReadyPods: []Pod{{
				Name: "web-1", Phase: "Failed", Reason: "Evicted", Message: "The node was low on resource: memory.",
				Containers: []Container{{Name: "app", State: State{State: Running}, Restarts: 1}, {Name: "new"}},
			}},
		}}},
		want: []string{
			"Deployment/shop/web: 1 of 1 pod not ready, no warning events in the last 15m",
			"Deployment/shop/web: pod web-1: Failed: Evicted: The node was low on resource: memory.",
			"Deployment/shop/web: pod web-1: container app: running, not ready; 1 restart",
			"Deployment/shop/web: pod web-1: container new: no state yet",
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.report.Lines()
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Lines:\n got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestMarkdown(t *testing.T) {
	tests := []struct {
		name   string
		report *Report
		want   string
	}{{
		name: "nil report",
	}, {
		name: "crash loop with the previous log",
		report: &Report{At: at, Since: 15 * time.Minute, Workloads: []WorkloadReport{{
			Workload: web, Pods: 2, NotReady: 2,
			Events: []Event{{
				Objects: []string{"Pod/web-7d9f-abcde", "Pod/web-7d9f-fghij"},
				Reason:  "BackOff", Message: "Back-off restarting failed container app",
				Count: 12, Last: at.Add(-20 * time.Second),
			}},
			MoreEvents:   1,
			NotReadyPods: []Pod{crashingPod()},
		}}},
		want: `#### Deployment/shop/web

2 of 2 pods not ready, 2 warning events in the last 15m.

| Last seen | Object | Reason | Message | Count |
|---|---|---|---|---|
| 20s ago | Pod/web-7d9f-abcde and 1 more | BackOff | Back-off restarting failed container app | 12 |

_... and 1 more warning event._

##### Pod web-7d9f-abcde

Running on node node-1

| Condition | Status | Reason | Message |
|---|---|---|---|
| Ready | False | ContainersNotReady | containers with unready status: \[app\] |

| Container | State | Reason | Message | Restarts | Last termination |
|---|---|---|---|---|---|
| setup (init) | terminated (exit code 0) | Completed |  | 0 |  |
| app | waiting | CrashLoopBackOff | back-off 40s restarting failed container=app | 3 | Error (exit code 1) |
| proxy | running, ready |  |  | 0 |  |

Previous log of container app, last lines:

` + "```" + `text
connecting to db:5432
panic: dial tcp: connection refused
` + "```" + `

_... and 1 more pod not ready._

`,
	}, {
		name: "markup in messages and logs is text",
		report: &Report{At: at, Since: 15 * time.Minute, Workloads: []WorkloadReport{{
			Workload: web, Pods: 1, NotReady: 1,
			Unread: []string{"replica sets: <nil> *boom*"},
			NotReadyPods: []Pod{{
				Name: "web_1", Phase: "Pending",
				Conditions: []Condition{{Type: "Ready", Status: "False", Message: "a|b <none>\nnext line"}},
				Containers: []Container{{
					Name:  "app",
					State: State{State: Terminated, Reason: "Error", ExitCode: 1},
					Logs:  []Log{{Lines: []string{"see ```code```", "end"}}, {Previous: true, Err: "gone"}},
				}},
			}},
		}},
			LogsUnavailable: "",
		},
		want: `#### Deployment/shop/web

1 of 1 pod not ready, no warning events in the last 15m.

Could not read:

- replica sets: \<nil\> \*boom\*

##### Pod web\_1

Pending

| Condition | Status | Reason | Message |
|---|---|---|---|
| Ready | False |  | a\|b \<none\> next line |

| Container | State | Reason | Message | Restarts | Last termination |
|---|---|---|---|---|---|
| app | terminated (exit code 1) | Error |  | 0 |  |

Log of container app, last lines:

` + "````" + `text
see ` + "```code```" + `
end
` + "````" + `

Previous log of container app unavailable: gone

`,
	}, {
		name: "logs not available",
		report: &Report{At: at, Since: 15 * time.Minute, Workloads: []WorkloadReport{{
			Workload: web, Pods: 1,
		}}, LogsUnavailable: "dial tcp 127.0.0.1:10250: connect: connection refused"},
		want: `#### Deployment/shop/web

1 pod ready, no warning events in the last 15m.

_Container logs are not available from this cluster: dial tcp 127.0.0.1:10250: connect: connection refused._
`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.report.Markdown(); got != tt.want {
				t.Errorf("Markdown:\n got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}
