package kube

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestFence(t *testing.T) {
	var served []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served = append(served, r.Method+" "+r.URL.Path)
	}))
	defer srv.Close()
	fence := &Fence{}
	client := &http.Client{Transport: fence.wrap(http.DefaultTransport)}
	do := func(method, path string) error {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	lost := errors.New("deploy lock lost")
	for _, tc := range []struct {
		check        func() error
		method, path string
		refused      bool
	}{
		{nil, http.MethodPatch, "/api/v1/namespaces/a/configmaps/x", false},
		{func() error { return nil }, http.MethodPatch, "/api/v1/namespaces/a/configmaps/x", false},
		{func() error { return lost }, http.MethodGet, "/api/v1/namespaces/a/configmaps/x", false},
		{func() error { return lost }, http.MethodPatch, "/api/v1/namespaces/a/configmaps/x", true},
		{func() error { return lost }, http.MethodDelete, "/apis/apps/v1/namespaces/a/deployments/web", true},
		{func() error { return lost }, http.MethodPost, "/api/v1/namespaces/a/secrets", true},
		{func() error { return lost }, http.MethodPut, "/apis/coordination.k8s.io/v1/namespaces/a/leases/kube-release.web", false},
	} {
		fence.Set(tc.check)
		served = nil
		err := do(tc.method, tc.path)
		if tc.refused {
			if !errors.Is(err, ErrFenced) || !errors.Is(err, lost) || len(served) != 0 {
				t.Errorf("%s %s: err %v, served %v; want refused before sending", tc.method, tc.path, err, served)
			}
		} else if err != nil || len(served) != 1 {
			t.Errorf("%s %s: err %v, served %v; want sent", tc.method, tc.path, err, served)
		}
	}
	var nilFence *Fence
	nilFence.Set(func() error { return lost })
	if err := nilFence.Check(); err != nil {
		t.Errorf("nil fence: %v", err)
	}
}
