package steps

import (
	"strings"
	"testing"
)

// A canary's size: a count, or a percentage of the stable replicas
// rounded half up, at least 1 (and said so); never 0, never above 100%.
func TestCanaryInstances(t *testing.T) {
	for _, tc := range []struct {
		instances string
		current   int
		want      int
		bumped    bool
		wantErr   string
	}{
		{instances: "25%", current: 4, want: 1},
		{instances: "60%", current: 4, want: 2}, // 2.4
		{instances: "50%", current: 3, want: 2}, // 1.5 rounds up
		{instances: "1%", current: 4, want: 1, bumped: true},
		{instances: "12.5%", current: 8, want: 1},
		{instances: "100%", current: 4, want: 4},
		{instances: " 2 ", current: 4, want: 2},
		{instances: "6", current: 4, want: 6},
		{instances: "10%", current: 0, want: 1, bumped: true},
		{instances: "", current: 4, wantErr: "instances: required"},
		{instances: "0", current: 4, wantErr: "want a count of at least 1"},
		{instances: "0%", current: 4, wantErr: "want a percentage above 0 and at most 100"},
		{instances: "150%", current: 4, wantErr: "at most 100"},
		{instances: "half", current: 4, wantErr: "want a count of at least 1"},
	} {
		got, bumped, err := CanaryInstances(tc.instances, tc.current)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("CanaryInstances(%q, %d) = %d, %v, want an error with %q", tc.instances, tc.current, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want || bumped != tc.bumped {
			t.Errorf("CanaryInstances(%q, %d) = %d, %v, %v, want %d, %v", tc.instances, tc.current, got, bumped, err, tc.want, tc.bumped)
		}
	}
}
