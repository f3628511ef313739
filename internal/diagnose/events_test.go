package diagnose

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func warning(kind, name, uid, reason, message string, count int32, last time.Time) corev1.Event {
	return corev1.Event{
		Type:           corev1.EventTypeWarning,
		InvolvedObject: corev1.ObjectReference{Kind: kind, Name: name, UID: types.UID(uid)},
		Reason:         reason,
		Message:        message,
		Count:          count,
		LastTimestamp:  metav1.NewTime(last),
	}
}

func TestSummarizeEvents(t *testing.T) {
	objects := involved{
		"Deployment/web":      "d1",
		"ReplicaSet/web-7d9f": "r1",
		"Pod/web-7d9f-a":      "p1",
		"Pod/web-7d9f-b":      "p2",
		"Pod/web-7d9f-c":      "", // UID unknown
	}
	since := at.Add(-15 * time.Minute)
	// An events.k8s.io event (the scheduler's) seen through core/v1.
	scheduler := corev1.Event{
		Type:           corev1.EventTypeWarning,
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-7d9f-a", UID: "p1"},
		Reason:         "FailedScheduling",
		Message:        "0/2 nodes are available",
		EventTime:      metav1.NewMicroTime(at.Add(-2 * time.Minute)),
		Series:         &corev1.EventSeries{Count: 4, LastObservedTime: metav1.NewMicroTime(at.Add(-time.Minute))},
	}
	tests := []struct {
		name   string
		events []corev1.Event
		limit  int
		want   []Event
		more   int
	}{{
		name: "none",
	}, {
		name: "the same event on several pods is one, the pod seen last first",
		events: []corev1.Event{
			warning("Pod", "web-7d9f-a", "p1", "BackOff", "Back-off pulling image", 3, at.Add(-3*time.Minute)),
			warning("Pod", "web-7d9f-b", "p2", "BackOff", "Back-off pulling image", 5, at.Add(-time.Minute)),
			warning("Pod", "web-7d9f-a", "p1", "BackOff", "Back-off pulling image", 1, at.Add(-4*time.Minute)),
		},
		limit: 10,
		want: []Event{{
			Objects: []string{"Pod/web-7d9f-b", "Pod/web-7d9f-a"}, Reason: "BackOff", Message: "Back-off pulling image",
			Count: 9, Last: at.Add(-time.Minute),
		}},
	}, {
		name: "other objects, other namesakes, old and normal events are left out",
		events: []corev1.Event{
			warning("Pod", "other-1", "x", "BackOff", "not ours", 1, at),
			warning("Deployment", "web", "d0", "Old", "a deleted namesake's", 1, at),
			warning("Pod", "web-7d9f-c", "any", "Unhealthy", "uid unknown: counts", 1, at.Add(-time.Second)),
			warning("ReplicaSet", "web-7d9f", "r1", "FailedCreate", "too old", 1, at.Add(-16*time.Minute)),
			{Type: corev1.EventTypeNormal, InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-7d9f-a"}, Reason: "Pulled"},
		},
		limit: 10,
		want: []Event{{
			Objects: []string{"Pod/web-7d9f-c"}, Reason: "Unhealthy", Message: "uid unknown: counts", Count: 1, Last: at.Add(-time.Second),
		}},
	}, {
		name: "newest first, bounded",
		events: []corev1.Event{
			warning("ReplicaSet", "web-7d9f", "r1", "FailedCreate", "quota", 2, at.Add(-5*time.Minute)),
			scheduler,
			warning("Deployment", "web", "d1", "Stalled", "", 0, at.Add(-10*time.Minute)),
		},
		limit: 2,
		want: []Event{{
			Objects: []string{"Pod/web-7d9f-a"}, Reason: "FailedScheduling", Message: "0/2 nodes are available", Count: 4, Last: at.Add(-time.Minute),
		}, {
			Objects: []string{"ReplicaSet/web-7d9f"}, Reason: "FailedCreate", Message: "quota", Count: 2, Last: at.Add(-5 * time.Minute),
		}},
		more: 1,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, more := summarizeEvents(tt.events, objects, since, tt.limit)
			if len(got) == 0 && len(tt.want) == 0 {
				got = nil
			}
			for i := range got {
				got[i].Last = got[i].Last.UTC()
			}
			if !reflect.DeepEqual(got, tt.want) || more != tt.more {
				t.Errorf("summarizeEvents:\n got %+v, %d more\nwant %+v, %d more", got, more, tt.want, tt.more)
			}
		})
	}
}

func TestOccurrencesAndLastSeen(t *testing.T) {
	created := metav1.NewTime(at.Add(-time.Hour))
	tests := []struct {
		name  string
		event corev1.Event
		count int32
		last  time.Time
	}{
		{"core event", corev1.Event{Count: 3, FirstTimestamp: created, LastTimestamp: metav1.NewTime(at)}, 3, at},
		{"events.k8s.io single", corev1.Event{EventTime: metav1.NewMicroTime(at)}, 1, at},
		{"events.k8s.io series", corev1.Event{
			EventTime: metav1.NewMicroTime(at.Add(-time.Minute)),
			Series:    &corev1.EventSeries{Count: 7, LastObservedTime: metav1.NewMicroTime(at)},
		}, 7, at},
		{"only created", corev1.Event{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: created}}, 1, created.Time},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := occurrences(&tt.event); got != tt.count {
				t.Errorf("occurrences = %d, want %d", got, tt.count)
			}
			if got := lastSeen(&tt.event); !got.Equal(tt.last) {
				t.Errorf("lastSeen = %s, want %s", got, tt.last)
			}
		})
	}
}
