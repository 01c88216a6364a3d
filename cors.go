package main

// CORS: which browser origins may call the API (CORS_ORIGINS), the headers
// their scripts may read, and preflights answered without reaching a route.

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// corsPolicy says which browser origins may call the API.
type corsPolicy struct {
	anyOrigin bool
	origins   []string
}

func (p corsPolicy) allows(origin string) bool {
	return p.anyOrigin || slices.Contains(p.origins, origin)
}

// parseCORSOrigins reads CORS_ORIGINS: "*" or a comma-separated list of
// origins such as http://localhost:3000. A trailing slash is dropped, since
// browsers never send one and the entry would otherwise never match.
func parseCORSOrigins(s string) (corsPolicy, error) {
	var p corsPolicy
	for _, o := range strings.Split(s, ",") {
		o = strings.TrimRight(strings.TrimSpace(o), "/")
		switch {
		case o == "":
			continue
		case o == "*":
			p.anyOrigin = true
			continue
		}
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" || u.RawQuery != "" {
			return corsPolicy{}, fmt.Errorf("CORS_ORIGINS: %q is not an origin like http://localhost:3000", o)
		}
		p.origins = append(p.origins, o)
	}
	return p, nil
}

// CORS answers, as FastAPI's CORSMiddleware configured for this service
// would give them.
var corsMethods = []string{"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}

const (
	corsExposeHeaders = "ETag, Idempotent-Replayed, Link, Location, Retry-After, WWW-Authenticate, X-Request-ID"
	corsMaxAge        = "600"
)

// withCORS adds CORS headers for allowed origins and answers preflight
// requests itself, without reaching the routes or the store.
func withCORS(log *slog.Logger, p corsPolicy, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if !p.anyOrigin {
			h.Add("Vary", "Origin") // the answer depends on the origin
		}
		origin := r.Header.Get("Origin")
		preflight := r.Method == http.MethodOptions && origin != "" &&
			r.Header.Get("Access-Control-Request-Method") != ""
		if origin == "" || !p.allows(origin) {
			if preflight {
				writeError(w, r, log, errCORSOrigin)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if p.anyOrigin {
			h.Set("Access-Control-Allow-Origin", "*")
		} else {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if !preflight {
			h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
			next.ServeHTTP(w, r)
			return
		}
		method := r.Header.Get("Access-Control-Request-Method")
		if !slices.Contains(corsMethods, method) {
			writeError(w, r, log, errCORSMethod)
			return
		}
		h.Set("Access-Control-Allow-Methods", strings.Join(corsMethods, ", "))
		if reqHeaders := r.Header.Get("Access-Control-Request-Headers"); reqHeaders != "" {
			h.Set("Access-Control-Allow-Headers", reqHeaders)
		}
		h.Set("Access-Control-Max-Age", corsMaxAge)
		w.WriteHeader(http.StatusNoContent)
	})
}
