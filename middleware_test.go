package main

// What wraps every handler: the mux's 404 and 405 as JSON, request ids,
// the access log, and panics.

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRouting: the mux's own 404 and 405 answers are JSON, and paths the
// mux would redirect are 404s.
func TestRouting(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	tests := []struct {
		method, target string
		status         int
		detail, allow  string
	}{
		{"GET", "/", 404, "Not Found", ""},
		{"GET", "/nope", 404, "Not Found", ""},
		{"GET", "/api/u", 404, "Not Found", ""},
		{"GET", "/api/u/tasks/", 404, "Not Found", ""},
		{"GET", "/api/u/tasks/" + missingID + "/", 404, "Not Found", ""},
		{"GET", "/api/u/tasks/" + missingID + "/complete/x", 404, "Not Found", ""},
		{"GET", "/api//tasks", 404, "Not Found", ""},
		{"GET", "/api/a/../b/tasks", 404, "Not Found", ""},
		{"PUT", "/api/a/tasks/../../b/tasks/" + missingID, 404, "Not Found", ""},
		{"GET", "/api/./tasks", 404, "Not Found", ""},
		{"GET", "/api/u/./tasks", 404, "Not Found", ""},
		{"DELETE", "/api/u/tasks", 405, "Method Not Allowed", "GET, HEAD, POST"},
		{"PATCH", "/api/u/tasks", 405, "Method Not Allowed", "GET, HEAD, POST"},
		{"POST", "/api/u/tasks/" + missingID, 405, "Method Not Allowed", "DELETE, GET, HEAD, PUT"},
		{"GET", "/api/u/tasks/" + missingID + "/complete", 405, "Method Not Allowed", "PATCH"},
		{"POST", "/healthz", 405, "Method Not Allowed", "GET, HEAD"},
		{"OPTIONS", "/api/u/tasks", 405, "Method Not Allowed", "GET, HEAD, POST"},
	}
	for _, tt := range tests {
		rec := serve(t, h, tt.method, tt.target, "")
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			wantDetail(t, rec, tt.status, tt.detail)
			if got := rec.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
			if loc := rec.Header().Get("Location"); loc != "" {
				t.Errorf("redirected to %q", loc)
			}
		})
	}
}

// TestRequestID: every response carries an X-Request-ID: the caller's when
// it is safe to echo, a fresh one otherwise.
func TestRequestID(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	seen := make(map[string]bool)
	for _, tt := range []struct{ sent, want string }{
		{"", ""},
		{"abc-123_x.y:z", "abc-123_x.y:z"},
		{"b64+/=@host", "b64+/=@host"},
		{strings.Repeat("a", 128), strings.Repeat("a", 128)},
		{strings.Repeat("a", 129), ""},
		{"has space", ""},
		{"<script>", ""},
		{"é", ""},
	} {
		for _, target := range []string{"/api/u/tasks", "/no/such/route", "/api/u/tasks/not-a-uuid"} {
			var header []string
			if tt.sent != "" {
				header = []string{"X-Request-ID", tt.sent}
			}
			got := serve(t, h, "GET", target, "", header...).Header().Get("X-Request-ID")
			switch {
			case tt.want != "" && got != tt.want:
				t.Errorf("%s with %q: X-Request-ID = %q, want it echoed", target, tt.sent, got)
			case tt.want == "" && (got == "" || got == tt.sent || !isSaneRequestID(got)):
				t.Errorf("%s with %q: X-Request-ID = %q, want a fresh one", target, tt.sent, got)
			case tt.want == "" && seen[got]:
				t.Errorf("%s: X-Request-ID %q was given twice", target, got)
			case tt.want == "" && (len(got) != 16 || strings.ContainsFunc(got, func(r rune) bool { return !('A' <= r && r <= 'Z' || '2' <= r && r <= '7') })):
				t.Errorf("%s: X-Request-ID %q is not the 16 random base32 characters it should be", target, got)
			}
			seen[got] = true
		}
	}
}

// TestAccessLog: one line per request with method, route pattern, status,
// duration and request id, and neither the user id nor the task's text.
func TestAccessLog(t *testing.T) {
	t.Parallel()
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, nil))
	h := newServer(log, newMemStore(defaultMaxTasks), testCORS, nil, nil)
	rec := serve(t, h, "POST", "/api/alice@example.com/tasks", `{"title": "secret plan"}`, "X-Request-ID", "req-1")
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST: %d", rec.Code)
	}
	serve(t, h, "GET", "/nowhere", "", "X-Request-ID", "req-2")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines, want one per request:\n%s", len(lines), buf.String())
	}
	for i, want := range []string{
		`msg=request method=POST route="POST /api/{user_id}/tasks" status=201 duration=`,
		`msg=request method=GET route="" status=404 duration=`,
	} {
		if !strings.Contains(lines[i], want) || !strings.Contains(lines[i], fmt.Sprintf("request_id=req-%d", i+1)) {
			t.Errorf("line %d = %s\nwant %s… request_id=req-%d", i, lines[i], want, i+1)
		}
	}
	if strings.Contains(buf.String(), "alice") || strings.Contains(buf.String(), "secret") {
		t.Errorf("the log shows a user id or task text:\n%s", buf.String())
	}
}

// TestPanicAfterHeadersAbortsTheResponse: a panic once part of an answer is
// out cannot become a 500; the connection is aborted, so the client sees a
// broken response, and the request still gets its access-log line. The
// same holds for http.ErrAbortHandler.
func TestPanicAfterHeadersAbortsTheResponse(t *testing.T) {
	t.Parallel()
	for _, p := range []any{"boom", http.ErrAbortHandler} {
		var buf syncBuffer
		log := slog.New(slog.NewTextHandler(&buf, nil))
		srv := httptest.NewServer(withLogging(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			w.Write([]byte(`[{"id": "1"},`))
			w.(http.Flusher).Flush()
			panic(p)
		})))
		resp, err := srv.Client().Get(srv.URL)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		srv.Close() // waits for the handler, and so for its log lines
		if err == nil {
			t.Errorf("panic(%v) after the headers: the client read a complete response", p)
		}
		if !strings.Contains(buf.String(), "msg=request") || !strings.Contains(buf.String(), "aborted=true") {
			t.Errorf("panic(%v): no access line marked aborted:\n%s", p, buf.String())
		}
	}
}
