package main

// The route list, and the health and readiness routes.

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
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

// TestHeadAnswersAsGet: every GET route also answers HEAD, on the wire,
// with the same status and headers (but the Date and the request id) and
// no body: lists and pages with their Link, a task with its ETag, a
// missing task's 404, the change feed and the operational routes.
func TestHeadAnswersAsGet(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	task := createTask(t, h, "u", `{"title": "a"}`)
	createTask(t, h, "u", `{"title": "b"}`)
	srv := httptest.NewServer(h)
	defer srv.Close()
	targets := map[string][]string{
		"GET /api/{user_id}/tasks":           {"/api/u/tasks", "/api/u/tasks?limit=1", "/api/nobody/tasks"},
		"GET /api/{user_id}/tasks/{task_id}": {"/api/u/tasks/" + task.ID, "/api/u/tasks/" + missingID},
		"GET /api/{user_id}/tasks/changes":   {"/api/u/tasks/changes"},
		"GET /healthz":                       {"/healthz"},
		"GET /readyz":                        {"/readyz"},
		"GET /openapi.json":                  {"/openapi.json"},
		"GET /docs":                          {"/docs"},
		"GET /docs/{asset}":                  {"/docs/swagger-ui.css"},
	}
	for _, pattern := range registeredRoutes(t) {
		if pattern == "GET /api/{user_id}/tasks/events" {
			continue // a stream, whose GET never ends: TestEventsHead
		}
		if strings.HasPrefix(pattern, "GET ") && targets[pattern] == nil {
			t.Errorf("no HEAD case for %s", pattern)
		}
	}
	comparable := func(hd http.Header) http.Header {
		hd = hd.Clone()
		hd.Del("Date")
		hd.Del(requestIDHeader)
		return hd
	}
	for _, list := range targets {
		for _, target := range list {
			get, head := serveVia(t, srv, "GET", target), serveVia(t, srv, "HEAD", target)
			if head.Code != get.Code {
				t.Errorf("HEAD %s: %d, GET %d", target, head.Code, get.Code)
			}
			if get.Body.Len() == 0 {
				t.Errorf("GET %s: no body to leave out", target)
			}
			if head.Body.Len() != 0 {
				t.Errorf("HEAD %s: a body of %d bytes", target, head.Body.Len())
			}
			if g, hd := comparable(get.Header()), comparable(head.Header()); !reflect.DeepEqual(g, hd) {
				t.Errorf("HEAD %s headers differ from GET's:\nHEAD %v\nGET  %v", target, hd, g)
			}
			if hl, gl := head.Header().Get("Content-Length"), get.Header().Get("Content-Length"); hl != gl {
				t.Errorf("HEAD %s: Content-Length %q, GET %q", target, hl, gl)
			}
		}
	}
}
