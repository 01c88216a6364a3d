package main

// The routes: every endpoint with its middleware, on one screen.

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// newServer returns the whole HTTP API: every route with its own
// middleware, wrapped in what every response goes through, outermost
// first: request ids, the access log and panic recovery; Connection: close
// while the service drains; CORS (so a preflight never reaches a route,
// and a 401 still carries the headers a browser needs to read it); JSON
// 404 and 405 for paths no route takes. A nil auth leaves the API open; a
// nil drain never drains.
func newServer(log *slog.Logger, store taskStore, cors corsPolicy, auth *authenticator, drain *drainer) http.Handler {
	mux := http.NewServeMux()
	for _, rt := range routes(log, store, auth, drain) {
		mux.Handle(rt.pattern, rt.handler)
	}
	return withLogging(log, withDrain(drain, withCORS(log, cors, muxErrorsAsJSON(log, mux))))
}

// route is one endpoint: a net/http pattern and the handler that serves it.
type route struct {
	pattern string
	handler http.Handler
}

// routes lists every endpoint of the service. The /api/ routes need the
// path's user to be authenticated (requireUser); the others are open.
// openapi.json documents each route; a test holds the two to each other.
func routes(log *slog.Logger, store taskStore, auth *authenticator, drain *drainer) []route {
	user := func(h http.Handler) http.Handler { return requireUser(log, auth, h) }
	return []route{
		{"GET /api/{user_id}/tasks", user(handleListTasks(log, store))},
		{"POST /api/{user_id}/tasks", user(handleCreateTask(log, store))},
		{"GET /api/{user_id}/tasks/{task_id}", user(handleGetTask(log, store))},
		{"GET /api/{user_id}/tasks/changes", user(handleTaskChanges(log, store))},
		{"GET /api/{user_id}/tasks/events", requireUserUntilExpiry(log, auth, handleTaskEvents(log, store, drain, defaultStreamTiming))},
		{"PUT /api/{user_id}/tasks/{task_id}", user(handleUpdateTask(log, store))},
		{"DELETE /api/{user_id}/tasks/{task_id}", user(handleDeleteTask(log, store))},
		{"PATCH /api/{user_id}/tasks/{task_id}/complete", user(handleToggleTask(log, store))},
		{"GET /healthz", handleHealthz()},
		{"GET /readyz", handleReadyz(log, store, drain)},
		{"GET /openapi.json", handleOpenAPI()},
		{"GET /docs", handleDocs()},
		{"GET /docs/{asset}", handleDocsAsset(log)},
	}
}

// handleHealthz answers 200 while the process runs.
func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// readyzTimeout bounds the store check of /readyz, so a load balancer's
// probe gets an answer even while the database hangs.
const readyzTimeout = 2 * time.Second

// handleReadyz answers 200 when the store answers, 503 when it does not or
// when the service drains, so that a load balancer sends elsewhere.
func handleReadyz(log *slog.Logger, store taskStore, drain *drainer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if drain.isDraining() {
			writeError(w, r, log, errDraining)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), readyzTimeout)
		defer cancel()
		if err := store.Ping(ctx); err != nil {
			writeError(w, r, log, fmt.Errorf("readyz: %w", err))
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}
