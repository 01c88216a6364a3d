package main

// The API's own description: openapi.json, embedded in the binary and
// served as is at /openapi.json. /docs shows it with Swagger UI (docs.go).

import (
	_ "embed"
	"net/http"
)

//go:embed openapi.json
var openapiJSON []byte

// handleOpenAPI answers GET /openapi.json with the embedded document.
func handleOpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write(openapiJSON)
	})
}
