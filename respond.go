package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
)

// writeJSONBytes writes a JSON body; if the header was already sent
// (headerSent) it writes only the rest of the body.
func writeJSONBytes(w http.ResponseWriter, status int, body []byte, headerSent bool) {
	if !headerSent {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
	}
	w.Write(body)
}

// writeTask writes one task with its ETag.
func writeTask(w http.ResponseWriter, status int, t Task) {
	w.Header().Set("ETag", etag(t))
	writeJSON(w, status, t)
}

// writeJSON marshals v and writes it with the status. Marshalling comes
// first, so a failure can still become a clean 500 (through the recover
// middleware: the types we write cannot fail, so it would be a bug).
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode %T response: %v", v, err))
	}
	writeJSONBytes(w, status, body, false)
}

// detail is FastAPI's error body.
type detail struct {
	Detail any `json:"detail"`
}

// retryAfterSeconds is the Retry-After sent with a 503.
const retryAfterSeconds = "5"

// logRequestError logs err once, where it is handled, with what identifies
// the request.
func logRequestError(log *slog.Logger, level slog.Level, msg string, w http.ResponseWriter, r *http.Request, err error) {
	log.Log(r.Context(), level, msg, "method", r.Method, "route", r.Pattern,
		"request_id", w.Header().Get(requestIDHeader), "err", err)
}

// writeError answers with the status and body the contract gives for err.
// An error it does not recognise is internal: it is logged with the request,
// and the client learns nothing about it.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	if verr, ok := errors.AsType[*validationError](err); ok {
		writeJSON(w, http.StatusUnprocessableEntity, detail{verr.items})
		return
	}
	if stale, ok := errors.AsType[*staleError](err); ok {
		w.Header().Set("ETag", etag(stale.Current))
		writeJSON(w, http.StatusPreconditionFailed, detail{"Precondition Failed: the task has changed since that ETag"})
		return
	}
	switch {
	case errors.Is(err, errTaskNotFound):
		writeJSON(w, http.StatusNotFound, detail{"Task not found"})
	case errors.Is(err, errKeyReused):
		writeJSON(w, http.StatusUnprocessableEntity, detail{[]fieldError{{Type: "value_error", Loc: []any{"header", "idempotency-key"},
			Msg: "Value error, this Idempotency-Key was already used for a different request"}}})

	case errors.Is(err, errBodyTooLarge):
		writeJSON(w, http.StatusRequestEntityTooLarge,
			detail{fmt.Sprintf("Request body is larger than %d bytes", maxBodyBytes)})
	case errors.Is(err, errBodyUnreadable):
		logRequestError(log, slog.LevelInfo, "request body unreadable", w, r, err)
		writeJSON(w, http.StatusBadRequest, detail{"Request body could not be read"})
	case r.Context().Err() != nil:
		// The client is gone; nobody reads this answer.
		logRequestError(log, slog.LevelInfo, "request cancelled", w, r, err)
		writeJSON(w, http.StatusServiceUnavailable, detail{"Request cancelled"})
	case errors.Is(err, errStoreUnavailable):
		logRequestError(log, slog.LevelWarn, "store unavailable", w, r, err)
		w.Header().Set("Retry-After", retryAfterSeconds)
		writeJSON(w, http.StatusServiceUnavailable, detail{"Database unavailable, try again shortly"})
	default:
		logRequestError(log, slog.LevelError, "internal error", w, r, err)
		writeJSON(w, http.StatusInternalServerError, detail{"Internal Server Error"})
	}
}
