package main

// CORS: preflights and the headers on simple requests.

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestCORS(t *testing.T) {
	t.Parallel()
	const origin = "http://localhost:3000"
	preflight := func(origin, method string) []string {
		return []string{"Origin", origin, "Access-Control-Request-Method", method, "Access-Control-Request-Headers", "content-type"}
	}

	t.Run("preflight answered without the store", func(t *testing.T) {
		store := &stubStore{err: errors.New("store touched"), panics: true}
		h := newServer(discardLogger(), store, testCORS, nil, nil)
		for _, ep := range endpoints {
			target := ep.target("u", missingID)
			rec := serve(t, h, "OPTIONS", target, "", preflight(origin, ep.method)...)
			if rec.Code != http.StatusNoContent {
				t.Fatalf("preflight %s %s: %d %s", ep.method, target, rec.Code, rec.Body)
			}
			hd := rec.Header()
			if hd.Get("Access-Control-Allow-Origin") != origin || !strings.Contains(hd.Get("Access-Control-Allow-Methods"), ep.method) ||
				hd.Get("Access-Control-Allow-Headers") != "content-type" || hd.Get("Access-Control-Max-Age") == "" {
				t.Errorf("preflight headers: %v", hd)
			}
		}
		if n := store.calls.Load(); n != 0 {
			t.Errorf("preflight called the store %d times", n)
		}
	})
	t.Run("preflight from another origin", func(t *testing.T) {
		h := newTestServer(t)
		rec := serve(t, h, "OPTIONS", "/api/u/tasks", "", preflight("https://evil.example", "POST")...)
		wantDetail(t, rec, http.StatusBadRequest, "Disallowed CORS origin")
		if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("Access-Control-Allow-Origin = %q for a disallowed origin", got)
		}
	})
	t.Run("preflight for an unknown method", func(t *testing.T) {
		h := newTestServer(t)
		rec := serve(t, h, "OPTIONS", "/api/u/tasks", "", preflight(origin, "TRACE")...)
		wantDetail(t, rec, http.StatusBadRequest, "Disallowed CORS method")
	})
	t.Run("simple request from the allowed origin", func(t *testing.T) {
		h := newTestServer(t)
		rec := serve(t, h, "POST", "/api/u/tasks", `{"title": "t"}`, "Origin", origin)
		hd := rec.Header()
		if hd.Get("Access-Control-Allow-Origin") != origin || !strings.Contains(hd.Get("Access-Control-Expose-Headers"), "Location") ||
			hd.Get("Vary") != "Origin" {
			t.Errorf("CORS headers: %v", hd)
		}
	})
	t.Run("errors carry CORS headers too", func(t *testing.T) {
		h := newTestServer(t)
		rec := serve(t, h, "GET", "/api/u/tasks/nope", "", "Origin", origin)
		if rec.Code != http.StatusUnprocessableEntity || rec.Header().Get("Access-Control-Allow-Origin") != origin {
			t.Errorf("422 without CORS headers: %d %v", rec.Code, rec.Header())
		}
	})
	t.Run("simple request from another origin", func(t *testing.T) {
		h := newTestServer(t)
		rec := serve(t, h, "GET", "/api/u/tasks", "", "Origin", "https://evil.example")
		if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "" || rec.Code != http.StatusOK {
			t.Errorf("status %d, Access-Control-Allow-Origin = %q", rec.Code, got)
		}
	})
	t.Run("any origin", func(t *testing.T) {
		h := newServer(discardLogger(), newMemStore(defaultMaxTasks), corsPolicy{anyOrigin: true}, nil, nil)
		rec := serve(t, h, "OPTIONS", "/api/u/tasks", "", preflight("https://anywhere.example", "DELETE")...)
		if rec.Code != http.StatusNoContent || rec.Header().Get("Access-Control-Allow-Origin") != "*" ||
			rec.Header().Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("wildcard preflight: %d %v", rec.Code, rec.Header())
		}
	})
}

// TestCORSHeaderValues: the exact values docs/api.md lists. A preflight
// gets every allowed method, the requested headers echoed, a max age of
// 600 and credentials; a simple request may read exactly the documented
// headers; every answer says Vary: Origin, with or without an Origin.
func TestCORSHeaderValues(t *testing.T) {
	t.Parallel()
	const origin = "http://localhost:3000"
	h := newTestServer(t)
	wantHeader := func(t *testing.T, what string, hd http.Header, name string, want ...string) {
		t.Helper()
		if got := hd.Values(name); !slices.Equal(got, want) {
			t.Errorf("%s: %s = %q, want %q", what, name, got, want)
		}
	}

	requested := "authorization, content-type, if-match, idempotency-key, x-request-id"
	rec := serve(t, h, "OPTIONS", "/api/u/tasks", "", "Origin", origin,
		"Access-Control-Request-Method", "PATCH", "Access-Control-Request-Headers", requested)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("preflight: %d %s", rec.Code, rec.Body)
	}
	wantHeader(t, "preflight", rec.Header(), "Access-Control-Allow-Origin", origin)
	wantHeader(t, "preflight", rec.Header(), "Access-Control-Allow-Credentials", "true")
	wantHeader(t, "preflight", rec.Header(), "Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, PATCH, OPTIONS")
	wantHeader(t, "preflight", rec.Header(), "Access-Control-Allow-Headers", requested)
	wantHeader(t, "preflight", rec.Header(), "Access-Control-Max-Age", "600")
	wantHeader(t, "preflight", rec.Header(), "Vary", "Origin")

	rec = serve(t, h, "GET", "/api/u/tasks", "", "Origin", origin)
	wantHeader(t, "simple request", rec.Header(), "Access-Control-Allow-Origin", origin)
	wantHeader(t, "simple request", rec.Header(), "Access-Control-Allow-Credentials", "true")
	wantHeader(t, "simple request", rec.Header(), "Vary", "Origin")
	exposed := strings.Split(rec.Header().Get("Access-Control-Expose-Headers"), ", ")
	slices.Sort(exposed)
	if want := []string{"ETag", "Idempotent-Replayed", "Link", "Location", "Retry-After", "WWW-Authenticate", "X-Request-ID"}; !slices.Equal(exposed, want) {
		t.Errorf("Access-Control-Expose-Headers names %q, want %q", exposed, want)
	}

	for _, header := range [][]string{nil, {"Origin", "https://evil.example"}} {
		rec := serve(t, h, "GET", "/api/u/tasks", "", header...)
		wantHeader(t, fmt.Sprintf("a request with %q", header), rec.Header(), "Vary", "Origin")
	}
}
