package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Task is one to-do item, as stored and as every endpoint returns it.
type Task struct {
	ID          string
	UserID      string
	Title       string
	Description *string // nil when the task has none
	IsCompleted bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// timeLayout is RFC 3339 in UTC with exactly six fractional digits. The
// default time.Time encoding trims trailing zeros and keeps the zone offset.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// MarshalJSON writes the contract's field names and timestamp format.
func (t Task) MarshalJSON() ([]byte, error) {
	return appendTask(make([]byte, 0, 256), t), nil
}

// appendTask appends t as JSON, byte for byte what encoding/json writes for
// the wire struct (fields in contract order, HTML-safe escapes), without its
// reflection and allocations: the list endpoint writes thousands of these.
func appendTask(b []byte, t Task) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, t.ID)
	b = append(b, `,"user_id":`...)
	b = appendJSONString(b, t.UserID)
	b = append(b, `,"title":`...)
	b = appendJSONString(b, t.Title)
	b = append(b, `,"description":`...)
	if t.Description == nil {
		b = append(b, "null"...)
	} else {
		b = appendJSONString(b, *t.Description)
	}
	b = append(b, `,"is_completed":`...)
	b = strconv.AppendBool(b, t.IsCompleted)
	b = append(b, `,"created_at":"`...)
	b = appendTimestamp(b, t.CreatedAt)
	b = append(b, `","updated_at":"`...)
	b = appendTimestamp(b, t.UpdatedAt)
	return append(b, `"}`...)
}

// appendTimestamp appends t in UTC as 2006-01-02T15:04:05.000000Z (the
// contract's format), digit by digit: time.Format costs several times more.
func appendTimestamp(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, timeLayout) // never from either store
	}
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond()/1000, 6)
	return append(b, 'Z')
}

// appendDigits appends n, zero-padded to width digits.
func appendDigits(b []byte, n, width int) []byte {
	var buf [8]byte
	for i := width - 1; i >= 0; i-- {
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, buf[:width]...)
}

// appendJSONString appends s as a JSON string the way encoding/json does:
// quotes, backslashes and control characters escaped, <, > and & as \u
// escapes, U+2028 and U+2029 escaped, invalid UTF-8 as U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			switch r {
			case utf8.RuneError:
				b = append(b, `\ufffd`...)
			default:
				b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// Limits from the contract, in Unicode code points (bytes for the body).
const (
	maxUserIDLen      = 255
	maxTitleLen       = 500
	maxDescriptionLen = 5000
	maxBodyBytes      = 1 << 20
)

// ---------------------------------------------------------------------------
// Handlers

// handleListTasks answers GET /api/{user_id}/tasks, streaming the array:
// the response is written in chunks as rows arrive, so memory does not grow
// with the list. A short list is answered whole, with a Content-Length; an
// error after the first chunk is sent can no longer change the status, so
// the connection is aborted and the client sees a broken response, never a
// short list that looks complete.
//
// With ?limit=N it answers one page, fetching one task more to learn
// whether a next page exists, for the Link header. A page (1,000 tasks at
// most) is gathered whole, since that header goes before the body.
// ?completed= and ?after= narrow the list.
func handleListTasks(log *slog.Logger, store taskStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v validator
		userID := v.userID(r)
		q := v.listQuery(r)
		if err := v.err(); err != nil {
			writeError(w, r, log, err)
			return
		}
		limit := q.Limit
		if limit > 0 {
			q.Limit++ // the look-ahead task
		}
		buf := make([]byte, 0, listChunkBytes+1024)
		buf = append(buf, '[')
		var last Task
		started, n := false, 0
		for t, err := range store.ListTasks(r.Context(), userID, q) {
			if err != nil {
				if !started {
					writeError(w, r, log, err)
					return
				}
				logRequestError(log, slog.LevelError, "list cut short", w, r, err)
				panic(http.ErrAbortHandler)
			}
			if limit > 0 && n == limit {
				w.Header().Set("Link", nextPageLink(r, last))
				break
			}
			if n > 0 {
				buf = append(buf, ',')
			}
			buf = appendTask(buf, t)
			last = t
			n++
			if limit == 0 && len(buf) >= listChunkBytes {
				if !started {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusOK)
					started = true
				}
				if _, err := w.Write(buf); err != nil {
					return // the client is gone
				}
				buf = buf[:0]
			}
		}
		writeJSONBytes(w, http.StatusOK, append(buf, ']'), started)
	})
}

// listChunkBytes is how much of a list is gathered before it is written.
const listChunkBytes = 32 << 10

// nextPageLink is the Link header value for the page after last: the
// request's own query with after= moved on.
func nextPageLink(r *http.Request, last Task) string {
	query := r.URL.Query()
	query.Set("after", encodeCursor(listCursor{CreatedAt: last.CreatedAt, ID: last.ID}))
	return "<" + tasksPath(r.PathValue("user_id")) + "?" + query.Encode() + `>; rel="next"`
}

// tasksPath is the path of a user's task list, the user id escaped so that
// the path leads back to it: "/" in it as %2F, and a user id "." or ".."
// as %2E escapes, which the mux does not take for a path step.
func tasksPath(userID string) string {
	seg := url.PathEscape(userID)
	if userID == "." || userID == ".." {
		seg = strings.Repeat("%2E", len(userID))
	}
	return "/api/" + seg + "/tasks"
}

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

// encodeCursor makes the opaque after= value: created_at in microseconds
// and the id's 16 bytes, base64url.
func encodeCursor(c listCursor) string {
	var b [24]byte
	binary.BigEndian.PutUint64(b[:8], uint64(c.CreatedAt.UnixMicro()))
	hex.Decode(b[8:], []byte(strings.ReplaceAll(c.ID, "-", "")))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// decodeCursor reads an after= value made by encodeCursor.
func decodeCursor(s string) (listCursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 24 {
		return listCursor{}, false
	}
	var id [16]byte
	copy(id[:], b[8:])
	// A hand-made cursor can name any instant; PostgreSQL refuses those
	// far outside its range. Every task lies within years 1 to 9999, so
	// clamping changes no page.
	micros := min(max(int64(binary.BigEndian.Uint64(b[:8])), minCursorMicros), maxCursorMicros)
	return listCursor{CreatedAt: time.UnixMicro(micros).UTC(), ID: formatUUID(id)}, true
}

// The range a cursor's time is clamped to: years 1 to 9999.
var (
	minCursorMicros = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	maxCursorMicros = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro()
)

// maxPageLimit is the largest ?limit= accepted.
const maxPageLimit = 1000

// listQuery reads the list's optional query parameters. Unknown ones are
// ignored, as FastAPI does; of a repeated one, the last counts.
func (v *validator) listQuery(r *http.Request) listQuery {
	var q listQuery
	params := r.URL.Query()
	last := func(name string) (string, bool) {
		vals := params[name]
		if len(vals) == 0 {
			return "", false
		}
		return vals[len(vals)-1], true
	}
	if raw, ok := last("completed"); ok {
		if b, ok := laxBoolString(raw); ok {
			q.Completed = &b
		} else {
			v.add("bool_type", "Input should be a valid boolean, unable to interpret input", nil, "query", "completed")
		}
	}
	if raw, ok := last("limit"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(raw))
		switch {
		case err != nil:
			v.add("int_parsing", "Input should be a valid integer, unable to parse string as an integer", nil, "query", "limit")
		case n < 1:
			v.add("greater_than_equal", "Input should be greater than or equal to 1", map[string]any{"ge": 1}, "query", "limit")
		case n > maxPageLimit:
			v.add("less_than_equal", fmt.Sprintf("Input should be less than or equal to %d", maxPageLimit),
				map[string]any{"le": maxPageLimit}, "query", "limit")
		default:
			q.Limit = n
		}
	}
	if raw, ok := last("after"); ok {
		if c, ok := decodeCursor(raw); ok {
			q.After = &c
		} else {
			v.add("value_error", "Value error, after must be a cursor from a Link header", nil, "query", "after")
		}
	}
	return q
}

// handleCreateTask answers POST /api/{user_id}/tasks.
func handleCreateTask(log *slog.Logger, store taskStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v validator
		userID := v.userID(r)
		body, err := readBody(w, r)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		fields := v.object(body)
		in := newTask{
			Title:       v.requiredTitle(fields),
			Description: v.description(fields),
		}
		key := v.idempotencyKey(r, "create", in.Title, in.Description)
		if err := v.err(); err != nil {
			writeError(w, r, log, err)
			return
		}
		task, replayed, err := store.CreateTask(r.Context(), userID, in, key)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		w.Header().Set("Location", tasksPath(userID)+"/"+task.ID)
		markReplayed(w, replayed)
		writeTask(w, http.StatusCreated, task)
	})
}

// handleGetTask answers GET /api/{user_id}/tasks/{task_id}; with an
// If-None-Match naming the task's ETag, a 304 without the body.
func handleGetTask(log *slog.Logger, store taskStore) http.Handler {
	return handleOneTask(log, func(w http.ResponseWriter, r *http.Request, userID, taskID string) error {
		task, err := store.GetTask(r.Context(), userID, taskID)
		if err != nil {
			return err
		}
		if noneMatch(r.Header.Get("If-None-Match"), task) {
			w.Header().Set("ETag", etag(task))
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
		writeTask(w, http.StatusOK, task)
		return nil
	})
}

// handleUpdateTask answers PUT /api/{user_id}/tasks/{task_id}: absent fields
// keep their value, "description": null clears it.
func handleUpdateTask(log *slog.Logger, store taskStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v validator
		userID, taskID := v.userID(r), v.taskID(r)
		body, err := readBody(w, r)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		fields := v.object(body)
		var u taskUpdate
		u.Title = v.optionalTitle(fields)
		_, u.SetDescription = fields["description"]
		u.Description = v.description(fields)
		u.IsCompleted = v.optionalBool(fields, "is_completed")
		u.IfMatch = parseIfMatch(r.Header)
		if err := v.err(); err != nil {
			writeError(w, r, log, err)
			return
		}
		task, err := store.UpdateTask(r.Context(), userID, taskID, u)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeTask(w, http.StatusOK, task)
	})
}

// handleDeleteTask answers DELETE /api/{user_id}/tasks/{task_id}.
func handleDeleteTask(log *slog.Logger, store taskStore) http.Handler {
	return handleOneTask(log, func(w http.ResponseWriter, r *http.Request, userID, taskID string) error {
		if err := store.DeleteTask(r.Context(), userID, taskID, parseIfMatch(r.Header)); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]string{"message": "Task deleted successfully"})
		return nil
	})
}

// handleToggleTask answers PATCH /api/{user_id}/tasks/{task_id}/complete.
// A blind retry of a toggle would flip it back; with an Idempotency-Key the
// retry gets the first answer again instead.
func handleToggleTask(log *slog.Logger, store taskStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v validator
		userID, taskID := v.userID(r), v.taskID(r)
		key := v.idempotencyKey(r, "toggle", taskID)
		if err := v.err(); err != nil {
			writeError(w, r, log, err)
			return
		}
		task, replayed, err := store.ToggleTask(r.Context(), userID, taskID, parseIfMatch(r.Header), key)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		markReplayed(w, replayed)
		writeTask(w, http.StatusOK, task)
	})
}

// markReplayed tells the client an answer is a replay of the first one.
func markReplayed(w http.ResponseWriter, replayed bool) {
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
}

// maxIdempotencyKeyLen bounds the Idempotency-Key header.
const maxIdempotencyKeyLen = 255

// idempotencyKey reads the Idempotency-Key header, if any, and binds it to
// what the request asks (its kind and values), so that the key replays
// only the same request. The header must be 1 to 255 visible ASCII
// characters, and sent once.
func (v *validator) idempotencyKey(r *http.Request, what ...any) idempotencyKey {
	values := r.Header.Values("Idempotency-Key")
	if len(values) == 0 {
		return idempotencyKey{}
	}
	key := values[0]
	valid := len(values) == 1 && key != "" && len(key) <= maxIdempotencyKeyLen &&
		strings.IndexFunc(key, func(c rune) bool { return c < 0x21 || c > 0x7e }) < 0
	if !valid {
		v.add("value_error", "Value error, Idempotency-Key must be sent once, as 1 to 255 visible ASCII characters",
			nil, "header", "idempotency-key")
		return idempotencyKey{}
	}
	return newIdempotencyKey(key, what...)
}

// newIdempotencyKey binds key to the request that what describes.
func newIdempotencyKey(key string, what ...any) idempotencyKey {
	request, err := json.Marshal(what) // unambiguous: each value quoted, null as null
	if err != nil {
		panic(fmt.Sprintf("encode idempotent request: %v", err)) // strings and pointers to them cannot fail
	}
	return idempotencyKey{Key: key, Hash: sha256.Sum256(request)}
}

// handleOneTask answers a request on one task that has no body: it checks
// both path values, then serve answers; an error it returns is answered
// by writeError.
func handleOneTask(log *slog.Logger, serve func(w http.ResponseWriter, r *http.Request, userID, taskID string) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v validator
		userID, taskID := v.userID(r), v.taskID(r)
		if err := v.err(); err != nil {
			writeError(w, r, log, err)
			return
		}
		if err := serve(w, r, userID, taskID); err != nil {
			writeError(w, r, log, err)
		}
	})
}

// writeTask writes one task with its ETag.
func writeTask(w http.ResponseWriter, status int, t Task) {
	w.Header().Set("ETag", etag(t))
	writeJSON(w, status, t)
}

// ---------------------------------------------------------------------------
// ETags

// etag is a task's strong entity tag. It names the task's version: its
// updated_at, which every write moves forward, in microseconds, base 36.
func etag(t Task) string {
	return `"` + strconv.FormatInt(t.UpdatedAt.UnixMicro(), 36) + `"`
}

// entityTags splits an If-Match or If-None-Match value into its tags,
// each with its W/ prefix if it has one. "*" comes back as itself.
func entityTags(header string) []string {
	var tags []string
	for _, tag := range strings.Split(header, ",") {
		if tag = strings.TrimSpace(tag); tag != "" {
			tags = append(tags, tag)
		}
	}
	return tags
}

// parseIfMatch reads If-Match: nil when absent or "*" (any existing task
// will do, and a missing one is a 404 anyway); otherwise the versions its
// strong tags name. Weak or malformed tags name none (If-Match compares
// strongly), so a header with only those is never met: 412.
func parseIfMatch(h http.Header) ifMatch {
	values := h.Values("If-Match")
	if len(values) == 0 {
		return nil
	}
	cond := ifMatch{}
	for _, tag := range entityTags(strings.Join(values, ",")) {
		if tag == "*" {
			return nil
		}
		if v, ok := tagVersion(tag); ok {
			cond = append(cond, v)
		}
	}
	return cond
}

// tagVersion reads the version a strong tag made by etag names.
func tagVersion(tag string) (time.Time, bool) {
	if len(tag) < 3 || tag[0] != '"' || tag[len(tag)-1] != '"' {
		return time.Time{}, false
	}
	micros, err := strconv.ParseInt(tag[1:len(tag)-1], 36, 64)
	// Outside years 1 to 9999 no stored task can be at that version, and
	// PostgreSQL would refuse the timestamp: the tag names none.
	if err != nil || micros < minCursorMicros || micros > maxCursorMicros {
		return time.Time{}, false
	}
	return time.UnixMicro(micros).UTC(), true
}

// noneMatch reports whether If-None-Match names t's current ETag (weak
// comparison, as RFC 9110 asks for GET) or is "*".
func noneMatch(header string, t Task) bool {
	current := etag(t)
	for _, tag := range entityTags(header) {
		if tag == "*" || strings.TrimPrefix(tag, "W/") == current {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// Request reading and validation

// errBodyTooLarge is returned by readBody for a body over maxBodyBytes.
var errBodyTooLarge = errors.New("request body too large")

// errBodyUnreadable means the client stopped sending its body part-way.
var errBodyUnreadable = errors.New("request body could not be read")

// readBody reads the whole request body, up to maxBodyBytes. The
// Content-Type is deliberately ignored: curl -d sends a form type.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > maxBodyBytes {
		return nil, errBodyTooLarge // declared too large: don't read it first
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return nil, errBodyTooLarge
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBodyUnreadable, err)
	}
	return body, nil
}

// fieldError is one item of a 422 response, in FastAPI's shape.
type fieldError struct {
	Type string         `json:"type"`
	Loc  []any          `json:"loc"`
	Msg  string         `json:"msg"`
	Ctx  map[string]any `json:"ctx,omitempty"`
}

// validationError carries every problem found in one request.
type validationError struct {
	items []fieldError
}

func (e *validationError) Error() string {
	return fmt.Sprintf("invalid request: %d field errors", len(e.items))
}

// validator collects one fieldError per invalid field, so a request with
// several problems gets them all in one 422, as FastAPI reports them.
type validator struct {
	items []fieldError
}

// err returns the collected problems, or nil if there were none.
func (v *validator) err() error {
	if len(v.items) == 0 {
		return nil
	}
	return &validationError{items: v.items}
}

func (v *validator) add(typ, msg string, ctx map[string]any, loc ...any) {
	v.items = append(v.items, fieldError{Type: typ, Loc: loc, Msg: msg, Ctx: ctx})
}

// userID returns the {user_id} path value: 1 to 255 code points of valid
// UTF-8 without control characters.
func (v *validator) userID(r *http.Request) string {
	s := r.PathValue("user_id")
	if !utf8.ValidString(s) { // a percent-escape such as %FF; decoded JSON strings are always valid
		v.add("string_unicode", msgStringUnicode, nil, "path", "user_id")
		return s
	}
	if v.text(s, 1, maxUserIDLen, "path", "user_id") && strings.IndexFunc(s, unicode.IsControl) >= 0 {
		v.add("value_error", "Value error, user_id must not contain control characters", nil, "path", "user_id")
	}
	return s
}

// taskID returns the {task_id} path value as a canonical (lowercase,
// hyphenated) UUID.
func (v *validator) taskID(r *http.Request) string {
	id, ok := parseUUID(r.PathValue("task_id"))
	if !ok {
		v.add("uuid_parsing", "Input should be a valid UUID", nil, "path", "task_id")
	}
	return id
}

// object parses the body as a JSON object. Problems with the body as a
// whole are reported at loc ["body"], as FastAPI does.
func (v *validator) object(body []byte) map[string]json.RawMessage {
	if len(bytes.TrimSpace(body)) == 0 {
		v.add("missing", "Field required", nil, "body")
		return nil
	}
	if !utf8.Valid(body) {
		v.add("json_invalid", "JSON decode error", map[string]any{"error": "body is not valid UTF-8"}, "body", 0)
		return nil
	}
	var fields map[string]json.RawMessage
	err := json.Unmarshal(body, &fields)
	if syntaxErr, ok := errors.AsType[*json.SyntaxError](err); ok {
		v.add("json_invalid", "JSON decode error", map[string]any{"error": syntaxErr.Error()}, "body", syntaxErr.Offset)
		return nil
	}
	if err != nil {
		v.add("model_attributes_type", "Input should be a valid dictionary or object to extract fields from", nil, "body")
		return nil
	}
	if fields == nil { // the body was the JSON literal null
		v.add("missing", "Field required", nil, "body")
	}
	return fields
}

// requiredTitle validates the title of a new task.
func (v *validator) requiredTitle(fields map[string]json.RawMessage) string {
	raw, ok := fields["title"]
	if !ok {
		if fields != nil {
			v.add("missing", "Field required", nil, "body", "title")
		}
		return ""
	}
	s, _ := v.title(raw)
	return s
}

// optionalTitle validates the title of an update: absent is nil, null is an
// error (a task always has a title).
func (v *validator) optionalTitle(fields map[string]json.RawMessage) *string {
	raw, ok := fields["title"]
	if !ok {
		return nil
	}
	s, ok := v.title(raw)
	if !ok {
		return nil
	}
	return &s
}

func (v *validator) title(raw json.RawMessage) (string, bool) {
	s, ok := v.string(raw, "title")
	if !ok || !v.text(s, 1, maxTitleLen, "body", "title") {
		return "", false
	}
	if strings.TrimSpace(s) == "" {
		v.add("value_error", "Value error, title must not be only white space", nil, "body", "title")
		return "", false
	}
	return s, true
}

// description validates an optional, nullable description.
func (v *validator) description(fields map[string]json.RawMessage) *string {
	raw, ok := fields["description"]
	if !ok || isNull(raw) {
		return nil
	}
	s, ok := v.string(raw, "description")
	if !ok || !v.text(s, 0, maxDescriptionLen, "body", "description") {
		return nil
	}
	return &s
}

// string decodes a JSON string field. Lone UTF-16 surrogates are refused:
// encoding/json would silently turn them into U+FFFD.
func (v *validator) string(raw json.RawMessage, field string) (string, bool) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		v.add("string_type", "Input should be a valid string", nil, "body", field)
		return "", false
	}
	if hasLoneSurrogate(raw) {
		v.add("string_unicode", msgStringUnicode, nil, "body", field)
		return "", false
	}
	return s, true
}

// msgStringUnicode is pydantic's message for text that is not Unicode.
const msgStringUnicode = "Input should be a valid string, unable to parse raw data as a unicode string"

// text checks what every stored string must satisfy: no NUL (PostgreSQL
// cannot store it) and a length in code points. s is valid UTF-8.
func (v *validator) text(s string, minLen, maxLen int, loc ...any) bool {
	if strings.IndexByte(s, 0) >= 0 {
		v.add("value_error", "Value error, text must not contain the NUL character (U+0000)", nil, loc...)
		return false
	}
	n := utf8.RuneCountInString(s)
	if n < minLen {
		v.add("string_too_short", plural("String should have at least %d character", minLen), map[string]any{"min_length": minLen}, loc...)
		return false
	}
	if n > maxLen {
		v.add("string_too_long", plural("String should have at most %d character", maxLen), map[string]any{"max_length": maxLen}, loc...)
		return false
	}
	return true
}

// optionalBool decodes a boolean field as pydantic's lax mode does (true,
// false, 0, 1 and the strings "true", "yes", "on", "1" and so on), so a
// client written for the FastAPI service keeps working. Absent is nil;
// null is an error.
func (v *validator) optionalBool(fields map[string]json.RawMessage, field string) *bool {
	raw, ok := fields[field]
	if !ok {
		return nil
	}
	b, ok := laxBool(raw)
	if !ok {
		v.add("bool_type", "Input should be a valid boolean", nil, "body", field)
		return nil
	}
	return &b
}

// laxBool interprets raw the way pydantic's lax boolean does.
func laxBool(raw json.RawMessage) (b, ok bool) {
	var x any
	if json.Unmarshal(raw, &x) != nil {
		return false, false
	}
	switch x := x.(type) {
	case bool:
		return x, true
	case float64:
		return x == 1, x == 0 || x == 1
	case string:
		return laxBoolString(x)
	}
	return false, false
}

// laxBoolString reads the strings pydantic's lax mode takes for a boolean.
func laxBoolString(s string) (b, ok bool) {
	switch strings.ToLower(s) {
	case "1", "on", "t", "true", "y", "yes":
		return true, true
	case "0", "off", "f", "false", "n", "no":
		return false, true
	}
	return false, false
}

func isNull(raw json.RawMessage) bool {
	return string(raw) == "null"
}

func plural(format string, n int) string {
	s := fmt.Sprintf(format, n)
	if n != 1 {
		s += "s"
	}
	return s
}

// hasLoneSurrogate reports whether a raw JSON string holds a \uXXXX escape
// for half of a UTF-16 surrogate pair without its other half.
func hasLoneSurrogate(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		i++ // the escaped character
		if i >= len(raw) || raw[i] != 'u' {
			continue
		}
		r, ok := hexRune(raw, i+1)
		if !ok {
			continue
		}
		i += 4
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return true // low half first
		case r >= 0xD800 && r <= 0xDBFF:
			if i+2 >= len(raw) || raw[i+1] != '\\' || raw[i+2] != 'u' {
				return true
			}
			low, ok := hexRune(raw, i+3)
			if !ok || low < 0xDC00 || low > 0xDFFF {
				return true
			}
			i += 6
		}
	}
	return false
}

// hexRune decodes the four hex digits at raw[i:].
func hexRune(raw []byte, i int) (rune, bool) {
	if i+4 > len(raw) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(raw[i:i+4]), 16, 16)
	return rune(n), err == nil
}

// parseUUID accepts the forms pydantic accepts for a UUID path parameter, in
// any case: 8-4-4-4-12 with hyphens, 32 bare hex digits, either wrapped in
// braces, or behind "urn:uuid:". It returns the canonical lowercase form.
func parseUUID(s string) (string, bool) {
	if len(s) > 9 && strings.EqualFold(s[:9], "urn:uuid:") {
		s = s[9:]
	} else if len(s) > 2 && s[0] == '{' && s[len(s)-1] == '}' {
		s = s[1 : len(s)-1]
	}
	switch len(s) {
	case 36:
		if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			return "", false
		}
		s = s[:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	case 32:
	default:
		return "", false
	}
	var u [16]byte
	if _, err := hex.Decode(u[:], []byte(s)); err != nil {
		return "", false
	}
	return formatUUID(u), true
}

// ---------------------------------------------------------------------------
// Responses

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
