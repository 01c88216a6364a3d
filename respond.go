package main

// Answers: writeJSON for every JSON body, and writeError, the one place an
// error becomes a status and a FastAPI-shaped detail.

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
)

// writeJSONBytes writes a whole JSON body, with its Content-Length.
func writeJSONBytes(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// taskArray writes a JSON array of tasks as they are added, in pieces of
// about taskArrayPiece bytes. An array that fits one piece goes out whole,
// with a Content-Length. Once a piece is out the status is sent, so a
// failure after it (fail, or a write the client does not take) aborts the
// connection with http.ErrAbortHandler: the access log marks it aborted.
type taskArray struct {
	w       http.ResponseWriter
	buf     []byte
	n       int  // tasks added
	started bool // the status and the first piece are sent
}

// taskArrayPiece is how much of an array is gathered before it is written.
const taskArrayPiece = 32 << 10

// add appends tasks to the array, writing each full piece.
func (a *taskArray) add(tasks []Task) {
	if a.buf == nil {
		a.buf = append(make([]byte, 0, taskArrayPiece+1024), '[')
	}
	for _, t := range tasks {
		if a.n > 0 {
			a.buf = append(a.buf, ',')
		}
		a.buf = appendTask(a.buf, t)
		a.n++
		if len(a.buf) >= taskArrayPiece {
			a.writePiece()
		}
	}
}

// writePiece sends what is gathered, the status first if it is not out yet.
func (a *taskArray) writePiece() {
	if !a.started {
		a.w.Header().Set("Content-Type", "application/json")
		a.w.WriteHeader(http.StatusOK)
		a.started = true
	}
	if _, err := a.w.Write(a.buf); err != nil {
		panic(http.ErrAbortHandler) // the client is gone, or too slow to take it
	}
	a.buf = a.buf[:0]
}

// finish closes the array and sends the rest.
func (a *taskArray) finish() {
	a.add(nil)
	a.buf = append(a.buf, ']')
	if !a.started {
		writeJSONBytes(a.w, http.StatusOK, a.buf)
		return
	}
	a.writePiece()
}

// fail answers err if nothing is sent yet, and otherwise logs it and aborts
// the connection.
func (a *taskArray) fail(r *http.Request, log *slog.Logger, err error) {
	if !a.started {
		writeError(a.w, r, log, err)
		return
	}
	logRequestError(log, slog.LevelError, "list cut short", a.w, r, err)
	panic(http.ErrAbortHandler)
}

// writeTask writes one task with its ETag.
func writeTask(w http.ResponseWriter, status int, t Task) {
	w.Header().Set("ETag", etag(t))
	// appendTask directly: through writeJSON, encoding/json would take
	// MarshalJSON's bytes, check them and copy them again.
	writeJSONBytes(w, status, appendTask(make([]byte, 0, 256), t))
}

// writeJSON marshals v and writes it with the status. Marshalling comes
// first, so a failure can still become a clean 500 (through the recover
// middleware: the types we write cannot fail, so it would be a bug).
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode %T response: %v", v, err))
	}
	writeJSONBytes(w, status, body)
}

// detail is FastAPI's error body.
type detail struct {
	Detail any `json:"detail"`
}

// tooManyStreams is the detail of errTooManyStreams's 429.
var tooManyStreams = fmt.Sprintf("Too many open event streams: a user may have at most %d; close one", maxStreamsPerUser)

// retryAfterSeconds is the Retry-After sent with a 503.
const retryAfterSeconds = "5"

// logRequestError logs err once, where it is handled, with what identifies
// the request.
func logRequestError(log *slog.Logger, level slog.Level, msg string, w http.ResponseWriter, r *http.Request, err error) {
	log.Log(r.Context(), level, msg, "method", r.Method, "route", r.Pattern,
		"request_id", w.Header().Get(requestIDHeader), "err", err)
}

// Errors the HTTP layer answers itself. The stores', the validator's and
// authentication's errors are declared beside what returns them.
var (
	errNoRoute          = errors.New("no route for the path")
	errMethodNotAllowed = errors.New("method not allowed on the path")
	errCORSOrigin       = errors.New("CORS preflight from an origin not allowed")
	errCORSMethod       = errors.New("CORS preflight for a method not allowed")
	// errPanicked is a handler's panic, already logged with its stack.
	errPanicked = errors.New("handler panicked")
)

// writeError is the one way an error reaches a client: answerFor picks the
// status and detail, the error is logged if it is worth a line, and the
// body is written in FastAPI's shape.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	a := answerFor(r, err)
	if a.logMsg != "" {
		logRequestError(log, a.level, a.logMsg, w, r, err)
	}
	if a.header != "" {
		w.Header().Set(a.header, a.value)
	}
	writeJSON(w, a.status, detail{a.detail})
}

// errorAnswer is what a client is told about an error, and what the log is.
type errorAnswer struct {
	status        int
	detail        any        // a string, or the items of a 422
	header, value string     // one header to set, if any
	logMsg        string     // "" for a client's own mistake: not logged
	level         slog.Level // of the log line
}

// answerFor maps every error a request can meet to its answer. An error it
// does not recognise is internal: logged with the request, and the client
// learns nothing about it.
func answerFor(r *http.Request, err error) errorAnswer {
	var invalid *validationError
	var stale *staleError
	var badToken *tokenError
	var tooMany *taskLimitError
	switch {
	case errors.As(err, &invalid):
		return errorAnswer{status: http.StatusUnprocessableEntity, detail: invalid.items}
	case errors.As(err, &stale):
		return errorAnswer{status: http.StatusPreconditionFailed, header: "ETag", value: etag(stale.Current),
			detail: "Precondition Failed: the task has changed since that ETag"}
	case errors.Is(err, errTaskNotFound):
		return errorAnswer{status: http.StatusNotFound, detail: "Task not found"}
	case errors.Is(err, errNoRoute):
		return errorAnswer{status: http.StatusNotFound, detail: "Not Found"}
	case errors.Is(err, errMethodNotAllowed):
		return errorAnswer{status: http.StatusMethodNotAllowed, detail: "Method Not Allowed"}
	case errors.Is(err, errCORSOrigin):
		return errorAnswer{status: http.StatusBadRequest, detail: "Disallowed CORS origin"}
	case errors.Is(err, errCORSMethod):
		return errorAnswer{status: http.StatusBadRequest, detail: "Disallowed CORS method"}
	case errors.As(err, &tooMany):
		return errorAnswer{status: http.StatusConflict,
			detail: fmt.Sprintf("Task limit reached: a user may have at most %d tasks; delete some to create more", tooMany.Limit)}
	case errors.Is(err, errTooManyStreams):
		return errorAnswer{status: http.StatusTooManyRequests, header: "Retry-After", value: retryAfterSeconds, detail: tooManyStreams}
	case errors.Is(err, errCursorExpired):
		return errorAnswer{status: http.StatusGone,
			detail: "The changes since that cursor are no longer kept (deletes are kept 30 days): list the tasks again, without since"}
	case errors.Is(err, errKeyReused):
		return errorAnswer{status: http.StatusUnprocessableEntity, detail: []fieldError{{Type: "value_error",
			Loc: []any{"header", "idempotency-key"}, Msg: "Value error, this Idempotency-Key was already used for a different request"}}}
	case errors.Is(err, errBodyTooLarge):
		return errorAnswer{status: http.StatusRequestEntityTooLarge, detail: fmt.Sprintf("Request body is larger than %d bytes", maxBodyBytes)}
	case errors.Is(err, errBodyUnreadable):
		return errorAnswer{status: http.StatusBadRequest, detail: "Request body could not be read", logMsg: "request body unreadable", level: slog.LevelInfo}
	case errors.As(err, &badToken):
		return errorAnswer{status: http.StatusUnauthorized, detail: badToken.detail, header: "WWW-Authenticate", value: badToken.challenge(),
			logMsg: "unauthenticated", level: slog.LevelInfo}
	case errors.Is(err, errWrongSubject):
		return errorAnswer{status: http.StatusForbidden, detail: "Not allowed to access another user's tasks", logMsg: "forbidden", level: slog.LevelInfo}
	case errors.Is(err, errKeysUnavailable):
		// The token may be good: a 401 would send the user to sign in
		// again for nothing.
		return errorAnswer{status: http.StatusServiceUnavailable, detail: "Authentication unavailable, try again shortly",
			header: "Retry-After", value: retryAfterSeconds, logMsg: "cannot check token", level: slog.LevelWarn}
	case r.Context().Err() != nil:
		// The client is gone; nobody reads this answer.
		return errorAnswer{status: http.StatusServiceUnavailable, detail: "Request cancelled", logMsg: "request cancelled", level: slog.LevelInfo}
	case errors.Is(err, errStoreUnavailable):
		return errorAnswer{status: http.StatusServiceUnavailable, detail: "Database unavailable, try again shortly",
			header: "Retry-After", value: retryAfterSeconds, logMsg: "store unavailable", level: slog.LevelWarn}
	case errors.Is(err, errDraining):
		return errorAnswer{status: http.StatusServiceUnavailable, detail: "Shutting down",
			header: "Retry-After", value: retryAfterSeconds}
	case errors.Is(err, errPanicked):
		return errorAnswer{status: http.StatusInternalServerError, detail: "Internal Server Error"}
	}
	return errorAnswer{status: http.StatusInternalServerError, detail: "Internal Server Error", logMsg: "internal error", level: slog.LevelError}
}
