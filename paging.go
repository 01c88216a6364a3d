package main

// Pagination: the opaque after= cursor (a position in a user's list) and
// the Link header that leads to the next page.

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"time"
)

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
