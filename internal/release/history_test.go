package release

import (
	"slices"
	"testing"
)

// hist builds a history from "number:status" shorthand, in the order given.
func hist(specs ...string) History {
	var h History
	for _, s := range specs {
		var r Release
		var st string
		for i := range s {
			if s[i] == ':' {
				st = s[i+1:]
				for _, c := range s[:i] {
					r.Number = r.Number*10 + int(c-'0')
				}
				break
			}
		}
		switch st {
		case "S":
			r.Status = Succeeded
		case "F":
			r.Status = Failed
		case "P":
			r.Status = InProgress
		}
		h = append(h, &r)
	}
	return h
}

func numbers(h History) []int {
	ns := []int{}
	for _, r := range h {
		ns = append(ns, r.Number)
	}
	return ns
}

func TestNextNumber(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    History
		want int
	}{
		{"empty history starts at 1", nil, 1},
		{"highest plus one", hist("3:S", "2:F", "1:S"), 4},
		{"order does not matter", hist("2:S", "7:F", "5:S"), 8},
		{"gaps left by cleanup", hist("45:S", "46:F"), 47},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.h.NextNumber(); got != tc.want {
				t.Errorf("NextNumber() = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestLatestAndGet(t *testing.T) {
	h := NewHistory(hist("2:S", "7:F", "5:S")...)
	if got := numbers(h); !slices.Equal(got, []int{7, 5, 2}) {
		t.Fatalf("NewHistory order = %v, want newest first", got)
	}
	if h.Latest().Number != 7 {
		t.Errorf("Latest() = %d, want 7", h.Latest().Number)
	}
	if History(nil).Latest() != nil {
		t.Error("Latest() of an empty history is not nil")
	}
	if h.Get(5) == nil || h.Get(4) != nil {
		t.Error("Get(5) missing or Get(4) present")
	}
}

func TestLastSuccessful(t *testing.T) {
	for _, tc := range []struct {
		name  string
		h     History
		below int
		want  int // 0: none
	}{
		{"empty history", nil, 1, 0},
		{"newest success below current", hist("5:F", "4:S", "3:S"), 5, 4},
		{"skips failed and in-progress", hist("6:P", "5:F", "4:F", "3:S"), 6, 3},
		{"the current release itself does not count", hist("5:S", "4:S"), 5, 4},
		{"only successes above", hist("5:S"), 5, 0},
		{"none succeeded", hist("2:F", "1:F"), 3, 0},
		{"unsorted input", hist("3:S", "9:F", "7:S", "8:P"), 9, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.h.LastSuccessful(tc.below)
			switch {
			case tc.want == 0 && got != nil:
				t.Errorf("LastSuccessful(%d) = %d, want none", tc.below, got.Number)
			case tc.want != 0 && (got == nil || got.Number != tc.want):
				t.Errorf("LastSuccessful(%d) = %v, want %d", tc.below, got, tc.want)
			}
		})
	}
}

func TestLegacyCleanup(t *testing.T) {
	for _, tc := range []struct {
		name       string
		h          History
		keep, drop []int
	}{
		{"empty", nil, []int{}, []int{}},
		{"keeps the last success and newer", hist("5:P", "4:S", "3:S", "2:S"), []int{5, 4}, []int{3, 2}},
		{"drops every failed release", hist("6:F", "5:S", "4:F"), []int{5}, []int{6, 4}},
		{"in-progress newer than the success stays", hist("7:P", "6:F", "5:S", "4:P"), []int{7, 5}, []int{6, 4}},
		{"no success: only failed go", hist("3:P", "2:F", "1:P"), []int{3, 1}, []int{2}},
		{"as Harness left it after a failed deploy", hist("46:F", "45:S"), []int{45}, []int{46}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keep, drop := NewHistory(tc.h...).LegacyCleanup()
			if !slices.Equal(numbers(keep), tc.keep) || !slices.Equal(numbers(drop), tc.drop) {
				t.Errorf("LegacyCleanup() keep %v drop %v, want keep %v drop %v",
					numbers(keep), numbers(drop), tc.keep, tc.drop)
			}
		})
	}
}

func TestDeclarativeCleanup(t *testing.T) {
	for _, tc := range []struct {
		name       string
		h          History
		current    int
		keep, drop []int
	}{
		{"empty", nil, 1, []int{}, []int{}},
		{"two older are kept", hist("2:S", "1:S"), 3, []int{2, 1}, []int{}},
		{"only the two newest older ones", hist("4:S", "3:S", "2:S", "1:S"), 5, []int{4, 3}, []int{2, 1}},
		{"failed always go", hist("4:F", "3:S", "2:F", "1:S"), 5, []int{3, 1}, []int{4, 2}},
		{"in-progress counts as non-failed", hist("4:P", "3:S", "2:S"), 5, []int{4, 3}, []int{2}},
		// "older" means numbered below the release being deployed: when
		// cleanup runs after the new release is recorded, that release is
		// not one of the two.
		{"the current release is not counted", hist("5:P", "4:S", "3:S", "2:S"), 5, []int{5, 4, 3}, []int{2}},
		// Harness's own test (K8sReleaseHistoryHelperTest), with a limit of 2.
		{"Harness's example", hist("1:S", "2:F", "3:S", "4:F", "5:S", "6:F", "7:S", "8:S", "9:S"), 10,
			[]int{9, 8}, []int{7, 6, 5, 4, 3, 2, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keep, drop := tc.h.DeclarativeCleanup(tc.current)
			if !slices.Equal(numbers(keep), tc.keep) || !slices.Equal(numbers(drop), tc.drop) {
				t.Errorf("DeclarativeCleanup(%d) keep %v drop %v, want keep %v drop %v",
					tc.current, numbers(keep), numbers(drop), tc.keep, tc.drop)
			}
		})
	}
}

func TestNextDeclarativeNumber(t *testing.T) {
	for _, tc := range []struct {
		name                string
		declarative, legacy History
		want                int
	}{
		{"nothing anywhere", nil, nil, 1},
		{"continues the legacy history", nil, hist("46:F", "45:S"), 47},
		{"declarative history wins once it exists", hist("48:S", "47:S"), hist("46:F", "45:S"), 49},
		{"declarative without legacy", hist("2:S"), nil, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := NextDeclarativeNumber(tc.declarative, tc.legacy); got != tc.want {
				t.Errorf("NextDeclarativeNumber() = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestVersionedResources(t *testing.T) {
	h := History{
		{Number: 3, Status: Failed, Resources: []ResourceID{
			{Kind: "ConfigMap", Name: "web-config-3", Namespace: "default", Versioned: true},
			{Kind: "Deployment", Name: "web", Namespace: "default"},
		}},
		{Number: 2, Status: Succeeded, Resources: []ResourceID{
			{Kind: "Secret", Name: "web-secret-2", Namespace: "default", Versioned: true},
		}},
	}
	got := h.VersionedResources()
	want := []ResourceID{
		{Kind: "ConfigMap", Name: "web-config-3", Namespace: "default", Versioned: true},
		{Kind: "Secret", Name: "web-secret-2", Namespace: "default", Versioned: true},
	}
	if !slices.Equal(got, want) {
		t.Errorf("VersionedResources() = %v, want %v", got, want)
	}
}
