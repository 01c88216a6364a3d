package main

// The middleware every request goes through: request ids, the access log
// and panic recovery (withLogging), and JSON answers for the paths and
// methods no route takes (muxErrorsAsJSON). CORS is in cors.go, per-route
// authentication in auth.go.

import (
	"crypto/rand"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
)

// muxErrorsAsJSON makes the mux's own answers JSON. The standard mux writes
// 404 and 405 as text and redirects paths containing "//", "." or ".."
// segments to a cleaned path. The cleaned path may name another user's
// resource (/api/a/../b/tasks), so instead of redirecting we answer 404.
func muxErrorsAsJSON(log *slog.Logger, mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The escaped path, as the mux cleans it: %2F inside a segment is
		// part of a value ("a/" as a user id), not a separator.
		if !isCleanPath(r.URL.EscapedPath()) {
			writeError(w, r, log, errNoRoute)
			return
		}
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r) // sets the path values h would not see
			return
		}
		rec := &discardWriter{header: make(http.Header)}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", rec.header.Get("Allow"))
			writeError(w, r, log, errMethodNotAllowed)
			return
		}
		writeError(w, r, log, errNoRoute)
	})
}

// isCleanPath reports whether the mux would serve p as it is rather than
// redirect it: no empty, "." or ".." segments.
func isCleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for _, bad := range [...]string{"//", "/./", "/../"} {
		if strings.Contains(p, bad) {
			return false
		}
	}
	return !strings.HasSuffix(p, "/.") && !strings.HasSuffix(p, "/..")
}

// discardWriter keeps a response's status and headers and drops its body.
type discardWriter struct {
	header http.Header
	status int
}

func (d *discardWriter) Header() http.Header { return d.header }

func (d *discardWriter) WriteHeader(status int) {
	if d.status == 0 {
		d.status = status
	}
}

func (d *discardWriter) Write(b []byte) (int, error) {
	d.WriteHeader(http.StatusOK)
	return len(b), nil
}

// withLogging gives every request an X-Request-ID, writes one access-log
// line per request, and turns a panic in a handler into a logged stack and
// a JSON 500. The line names the route pattern, not the path, so user ids
// stay out of the log; task contents never enter it.
func withLogging(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(requestIDHeader)
		if !isSaneRequestID(id) {
			id = newRequestID()
		}
		// writeError reads it back from here to tag its log lines.
		w.Header().Set(requestIDHeader, id)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			p := recover()
			if p != nil && p != http.ErrAbortHandler {
				log.Error("panic", "method", r.Method, "route", r.Pattern, "request_id", id,
					"panic", p, "stack", string(debug.Stack()))
				if sw.status == 0 {
					writeError(sw, r, log, errPanicked)
					p = nil
				} else {
					// Part of the answer is out and its status cannot
					// change: abort it, so the client sees a broken
					// response rather than a short one that looks whole.
					p = http.ErrAbortHandler
				}
			}
			// LogAttrs: typed attributes are not boxed into interfaces, so
			// the line costs no allocations of its own.
			log.LogAttrs(r.Context(), slog.LevelInfo, "request", slog.String("method", r.Method),
				slog.String("route", r.Pattern), slog.Int("status", sw.status),
				slog.Duration("duration", time.Since(start)), slog.String("request_id", id),
				slog.Bool("aborted", p != nil))
			if p != nil {
				panic(p) // net/http's way to abort a response
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

const requestIDHeader = "X-Request-ID"

// isSaneRequestID accepts a caller's request id that is safe to echo and
// log: 1 to 128 characters that cannot break a header or a log line.
func isSaneRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("-_.:+/=@", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

// newRequestID makes a request id: 16 random characters (80 bits), so ids
// are unique across instances and restarts, and tell a client nothing of
// how many requests others have made (a counter would).
func newRequestID() string {
	return rand.Text()[:16]
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(status int) {
	if s.status == 0 {
		s.status = status
	}
	s.ResponseWriter.WriteHeader(status)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
