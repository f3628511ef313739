package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"
)

// auditPolicy logs one event per request of the admin user, the user the
// measured tools and the bench itself run as, when the response is
// complete (for a watch: when it ends). The controllers, the scheduler and
// kwok run as other users and are not logged: their requests during a
// rollout are the cluster's work, the same for every tool.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted]
rules:
- level: Metadata
  users: [kube-release-admin]
- level: None
`

// benchUserAgent is the bench's own client, whose requests (setup,
// seeding) never count.
const benchUserAgent = "kube-release-bench"

// toolAgents are the User-Agent prefixes of the measured tools.
func toolAgents() []string { return []string{"kube-release/", "kubectl/"} }

// auditLog reads the API server's audit log as it grows.
type auditLog struct {
	path    string
	offset  int64
	partial []byte
	// pending are the tools' events read but not yet given to a run.
	pending []auditEvent
}

// auditEvent is the part of an audit.k8s.io/v1 Event the bench reads.
type auditEvent struct {
	Verb       string `json:"verb"`
	RequestURI string `json:"requestURI"`
	UserAgent  string `json:"userAgent"`
	ObjectRef  *struct {
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	Received time.Time `json:"requestReceivedTimestamp"`
	Done     time.Time `json:"stageTimestamp"`
}

func (a *auditLog) flags(policy string) []string {
	return []string{
		"--audit-policy-file=" + policy,
		"--audit-log-path=" + a.path,
		"--audit-log-format=json",
		// Synchronous, so an event is written before its response ends.
		"--audit-log-mode=blocking",
		// No rotation under the reader's feet.
		"--audit-log-maxsize=4096",
	}
}

// key says what a request was: "patch configmaps (dry run)", "get /apis".
func (e auditEvent) key() string {
	if e.ObjectRef == nil || e.ObjectRef.Resource == "" {
		path, _, _ := strings.Cut(e.RequestURI, "?")
		return e.Verb + " " + path
	}
	k := e.Verb + " " + e.ObjectRef.Resource
	if e.ObjectRef.Subresource != "" {
		k += "/" + e.ObjectRef.Subresource
	}
	if strings.Contains(e.RequestURI, "dryRun=") {
		k += " (dry run)"
	}
	return k
}

// workloadChange tells a write to a Deployment, StatefulSet or DaemonSet
// that is not a dry run: what starts a rollout.
func (e auditEvent) workloadChange() bool {
	if e.ObjectRef == nil || e.ObjectRef.Subresource != "" || strings.Contains(e.RequestURI, "dryRun=") {
		return false
	}
	switch e.Verb {
	case "create", "update", "patch":
	default:
		return false
	}
	switch e.ObjectRef.Resource {
	case "deployments", "statefulsets", "daemonsets":
		return true
	}
	return false
}

// rounds counts the requests that started after every earlier one had
// ended. A watch counts as a round trip to its first answer, taken as
// immediate: what follows it waits for its events, not for the request.
func rounds(events []auditEvent) int {
	sorted := slices.SortedFunc(slices.Values(events), func(a, b auditEvent) int { return a.Received.Compare(b.Received) })
	n := 0
	var busy time.Time
	for _, e := range sorted {
		end := e.Done
		if e.Verb == "watch" {
			end = e.Received
		}
		if n == 0 || e.Received.After(busy) {
			n++
			busy = end
		} else if end.After(busy) {
			busy = end
		}
	}
	return n
}

const (
	// settleQuiet is how long the log must stay still after a run before
	// its events are counted: a watch is logged once the API server
	// notices that the client went away.
	settleQuiet = 250 * time.Millisecond
	settleMax   = 5 * time.Second
)

// between returns the tools' requests received from start to end, once
// the log has settled.
func (a *auditLog) between(start, end time.Time) ([]auditEvent, error) {
	deadline := time.Now().Add(settleMax)
	still := time.Now()
	for {
		n, err := a.read()
		if err != nil {
			return nil, err
		}
		now := time.Now()
		if n > 0 {
			still = now
		}
		if now.Sub(still) >= settleQuiet || now.After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	var got, later []auditEvent
	for _, e := range a.pending {
		switch {
		case e.Received.After(end):
			later = append(later, e)
		case !e.Received.Before(start):
			got = append(got, e)
		}
		// Older ones belong to an earlier run that was not measured.
	}
	a.pending = later
	return got, nil
}

// read reads what the log gained since the last read and returns how many
// bytes that was.
func (a *auditLog) read() (int, error) {
	f, err := os.Open(a.path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if _, err := f.Seek(a.offset, io.SeekStart); err != nil {
		return 0, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return 0, err
	}
	n := len(data)
	a.offset += int64(n)
	data = append(a.partial, data...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		line := data[:i]
		data = data[i+1:]
		var e auditEvent
		if err := json.Unmarshal(line, &e); err != nil {
			return 0, fmt.Errorf("audit log %s: %w", a.path, err)
		}
		for _, prefix := range toolAgents() {
			if strings.HasPrefix(e.UserAgent, prefix) {
				a.pending = append(a.pending, e)
				break
			}
		}
	}
	a.partial = bytes.Clone(data)
	return n, nil
}
