package main

// Error answers: what a store failure becomes for the client, and what is
// logged of it.

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// TestStoreFailures: a database that cannot be reached is a 503 with
// Retry-After; any other failure or panic is a bare 500. Nothing internal
// reaches the client.
func TestStoreFailures(t *testing.T) {
	t.Parallel()
	secret := `pq: relation "task" does not exist at /srv/secret.go:42`
	tests := []struct {
		name   string
		store  *stubStore
		status int
		detail string
	}{
		{"unavailable", &stubStore{err: fmt.Errorf("list: %w: %s", errStoreUnavailable, secret)}, 503, "Database unavailable, try again shortly"},
		{"internal", &stubStore{err: errors.New(secret)}, 500, "Internal Server Error"},
		{"panic", &stubStore{err: errors.New(secret), panics: true}, 500, "Internal Server Error"},
	}
	for _, tt := range tests {
		for _, ep := range endpoints {
			target := ep.target("u", missingID)
			t.Run(tt.name+" "+ep.method+" "+target, func(t *testing.T) {
				h := newServer(discardLogger(), tt.store, testCORS, nil, nil)
				rec := serve(t, h, ep.method, target, ep.body)
				wantDetail(t, rec, tt.status, tt.detail)
				if retry := rec.Header().Get("Retry-After"); (tt.status == 503) != (retry != "") {
					t.Errorf("Retry-After = %q with status %d", retry, tt.status)
				}
				if strings.Contains(rec.Body.String(), "secret") || strings.Contains(rec.Body.String(), "pq:") {
					t.Errorf("response leaks internals: %s", rec.Body)
				}
			})
		}
	}
}

// TestErrorLoggedOnceWithCause: an internal error is logged once, with its
// cause and the request id, and the client sees neither.
func TestErrorLoggedOnceWithCause(t *testing.T) {
	t.Parallel()
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, nil))
	store := &stubStore{err: errors.New("disk on fire")}
	rec := serve(t, newServer(log, store, testCORS, nil, nil), "GET", "/api/u/tasks", "", "X-Request-ID", "req-9")
	wantDetail(t, rec, http.StatusInternalServerError, "Internal Server Error")
	if strings.Contains(rec.Body.String(), "fire") {
		t.Errorf("the response shows the cause: %s", rec.Body.String())
	}
	if n := strings.Count(buf.String(), "disk on fire"); n != 1 {
		t.Errorf("cause logged %d times, want once:\n%s", n, buf.String())
	}
	if !strings.Contains(buf.String(), `level=ERROR msg="internal error" method=GET route="GET /api/{user_id}/tasks" request_id=req-9`) {
		t.Errorf("error line lacks the route or request id:\n%s", buf.String())
	}
}
