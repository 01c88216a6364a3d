package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
)

// newServer returns the whole HTTP API: the routes, wrapped in the
// middleware every response goes through. It has no authentication.
func newServer(log *slog.Logger, store taskStore, cors corsPolicy) http.Handler {
	return newServerWithAuth(log, store, cors, nil)
}

// newServerWithAuth is newServer with bearer tokens required on the /api/
// routes (none when auth is nil). Authentication sits inside CORS, so a
// preflight is answered without a token and a 401 carries the CORS headers
// a browser needs to read it.
func newServerWithAuth(log *slog.Logger, store taskStore, cors corsPolicy, auth *authenticator) http.Handler {
	mux := http.NewServeMux()
	addRoutes(mux, log, store)
	return withLogging(log, withCORS(cors, withAuth(log, auth, mux, muxErrorsAsJSON(mux))))
}

// routeRegistrar is what addRoutes registers on: the server's
// *http.ServeMux, or a test's list of patterns.
type routeRegistrar interface {
	Handle(pattern string, handler http.Handler)
}

// addRoutes lists every endpoint of the service. openapi.json documents
// each of them; a test holds the two to each other.
func addRoutes(mux routeRegistrar, log *slog.Logger, store taskStore) {
	mux.Handle("GET /api/{user_id}/tasks", handleListTasks(log, store))
	mux.Handle("POST /api/{user_id}/tasks", handleCreateTask(log, store))
	mux.Handle("GET /api/{user_id}/tasks/{task_id}", handleGetTask(log, store))
	mux.Handle("PUT /api/{user_id}/tasks/{task_id}", handleUpdateTask(log, store))
	mux.Handle("DELETE /api/{user_id}/tasks/{task_id}", handleDeleteTask(log, store))
	mux.Handle("PATCH /api/{user_id}/tasks/{task_id}/complete", handleToggleTask(log, store))
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(log, store))
	mux.Handle("GET /openapi.json", handleOpenAPI())
	mux.Handle("GET /docs", handleDocs())
}

// handleHealthz answers 200 while the process runs.
func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// handleReadyz answers 200 when the store answers, 503 when it does not.
func handleReadyz(log *slog.Logger, store taskStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyzTimeout)
		defer cancel()
		if err := store.Ping(ctx); err != nil {
			writeError(w, r, log, fmt.Errorf("readyz: %w", err))
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}
