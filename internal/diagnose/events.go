package diagnose

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kube-release/kube-release/internal/rollout"
)

const (
	// eventPageSize and maxEventPages bound the one event list of a
	// namespace. The API lists events by name, not time, so a namespace
	// with more warnings than this may miss some; such a namespace has
	// bigger problems than this report can show.
	eventPageSize = 500
	maxEventPages = 4
)

// involved maps the "Kind/name" of the objects whose events count to
// their UID ("" when unknown).
type involved map[string]types.UID

func (in involved) has(ref corev1.ObjectReference) bool {
	uid, ok := in[ref.Kind+"/"+ref.Name]
	return ok && (uid == "" || ref.UID == "" || ref.UID == uid)
}

// namespaceEvents lists the Warning events of a namespace, once per
// Collect: every workload there filters the same list.
func (c *collector) namespaceEvents(ctx context.Context, namespace string) eventList {
	c.mu.Lock()
	e, ok := c.events[namespace]
	if !ok {
		e = &namespaceEvents{}
		c.events[namespace] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.list = c.listEvents(ctx, namespace) })
	return e.list
}

func (c *collector) listEvents(ctx context.Context, namespace string) eventList {
	var l eventList
	opts := metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("type", corev1.EventTypeWarning).String(),
		Limit:         eventPageSize,
	}
	for page := 0; page < maxEventPages; page++ {
		list, err := c.client.CoreV1().Events(namespace).List(ctx, opts)
		if c.read(err) != nil {
			l.err = err
			break
		}
		l.items = append(l.items, list.Items...)
		if list.Continue == "" {
			break
		}
		if page == maxEventPages-1 {
			l.err = fmt.Errorf("more than %d warning events, only the first were read", len(l.items))
		}
		opts.Continue = list.Continue
	}
	return l
}

// summarizeEvents picks the events about objects seen at or after since,
// merges those that say the same (reason, message and kind of object),
// and returns the newest limit of them and how many more there are.
func summarizeEvents(events []corev1.Event, objects involved, since time.Time, limit int) ([]Event, int) {
	type key struct{ kind, reason, message string }
	merged := map[key]*Event{}
	var order []key
	for i := range events {
		e := &events[i]
		if e.Type != corev1.EventTypeWarning || !objects.has(e.InvolvedObject) {
			continue
		}
		last := lastSeen(e)
		if last.Before(since) {
			continue
		}
		message := e.Message
		if e.Reason == reasonFailedScheduling {
			message = rollout.SchedulerMessage(message)
		}
		k := key{e.InvolvedObject.Kind, e.Reason, message}
		m := merged[k]
		if m == nil {
			m = &Event{Reason: e.Reason, Message: message}
			merged[k] = m
			order = append(order, k)
		}
		m.Count += occurrences(e)
		object := e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name
		if last.After(m.Last) {
			m.Last = last
			m.Objects = moveFirst(m.Objects, object)
		} else if !slices.Contains(m.Objects, object) {
			m.Objects = append(m.Objects, object)
		}
	}
	out := make([]Event, 0, len(order))
	for _, k := range order {
		out = append(out, *merged[k])
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Last.Equal(out[j].Last) {
			return out[i].Last.After(out[j].Last)
		}
		if out[i].Reason != out[j].Reason {
			return out[i].Reason < out[j].Reason
		}
		return out[i].Message < out[j].Message
	})
	if len(out) > limit {
		return out[:limit], len(out) - limit
	}
	return out, 0
}

// lastSeen is when an event last happened. Events written through the
// events.k8s.io API (the scheduler's) carry eventTime and a series
// instead of the core timestamps.
func lastSeen(e *corev1.Event) time.Time {
	switch {
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

// occurrences is how often an event happened; an events.k8s.io event
// without a series happened once and says count 0.
func occurrences(e *corev1.Event) int32 {
	n := e.Count
	if e.Series != nil && e.Series.Count > n {
		n = e.Series.Count
	}
	return max(n, 1)
}

func moveFirst(list []string, s string) []string {
	out := []string{s}
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

// reasonFailedScheduling is the reason of kube-scheduler's events about a
// pod it cannot place.
const reasonFailedScheduling = "FailedScheduling"
