package main

// The route list, and the health and readiness routes.

import (
	"net/http"
	"slices"
	"testing"
)

// registeredRoutes returns the pattern of every route the server serves.
func registeredRoutes(t testing.TB) []string {
	t.Helper()
	var patterns []string
	for _, rt := range routes(discardLogger(), newMemStore(defaultMaxTasks), nil, nil) {
		patterns = append(patterns, rt.pattern)
	}
	slices.Sort(patterns)
	return patterns
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	if rec := serve(t, h, "GET", "/healthz", ""); rec.Code != http.StatusOK {
		t.Errorf("healthz: %d", rec.Code)
	}
	if rec := serve(t, h, "GET", "/readyz", ""); rec.Code != http.StatusOK {
		t.Errorf("readyz on memory: %d", rec.Code)
	}
	down := newServer(discardLogger(), &stubStore{err: errStoreUnavailable}, testCORS, nil, nil)
	if rec := serve(t, down, "GET", "/healthz", ""); rec.Code != http.StatusOK {
		t.Errorf("healthz with the store down: %d, want 200", rec.Code)
	}
	rec := serve(t, down, "GET", "/readyz", "")
	decodeAs[struct{ Detail string }](t, rec, http.StatusServiceUnavailable)
	if rec.Header().Get("Retry-After") == "" {
		t.Error("readyz 503 has no Retry-After")
	}
}
