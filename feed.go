package main

// The change feed: GET /api/{user_id}/tasks/changes answers a user's
// changes after a cursor (a delta to sync a copy with), each task once in
// its latest state, in the order the changes committed. The stores keep
// the numbers (store.go's Changes); this file reads the query, makes the
// opaque cursors and writes the answer.

import (
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
)

// handleTaskChanges answers GET /api/{user_id}/tasks/changes?since=&limit=.
// Without since, the user's current tasks, then follow the cursor.
func handleTaskChanges(log *slog.Logger, store taskStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v validator
		userID := v.userID(r)
		q := v.changesQuery(r, userID)
		if err := v.err(); err != nil {
			writeError(w, r, log, err)
			return
		}
		page, err := store.Changes(r.Context(), userID, q)
		if errors.Is(err, errCursorUnknown) {
			v.addBadCursor() // well formed, but past the user's last change
			err = v.err()
		}
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSONBytes(w, http.StatusOK, appendChangesPage(make([]byte, 0, 4096), page, userID))
	})
}

// changesQuery reads since= (a cursor of this user's) and limit= (1 to
// maxPageLimit, by default maxPageLimit).
func (v *validator) changesQuery(r *http.Request, userID string) changesQuery {
	q := changesQuery{Limit: maxPageLimit}
	last := lastQueryValue(r)
	if raw, ok := last("since"); ok {
		if c, ok := decodeChangeCursor(raw, userID); ok {
			q.Since = &c
		} else {
			v.addBadCursor()
		}
	}
	if raw, ok := last("limit"); ok {
		q.Limit = cmp.Or(v.limit(raw), maxPageLimit)
	}
	return q
}

// addBadCursor reports a since= that is no cursor of this user's.
func (v *validator) addBadCursor() {
	v.add("value_error", "Value error, since must be a cursor this user's changes gave", nil, "query", "since")
}

// encodeChangeCursor makes the opaque since= value for a position in a
// user's feed: its numbers, then 8 bytes of a hash of the user id so that
// one user's cursor is not taken for another's, in base64url. A plain
// cursor (Floor equal to After) holds one number, 16 bytes in all.
func encodeChangeCursor(c changeCursor, userID string) string {
	return string(appendChangeCursor(nil, c, cursorTag(userID)))
}

// cursorTag is the user's part of each of their cursors: computed once
// for a whole stream of them.
func cursorTag(userID string) [8]byte {
	sum := sha256.Sum256([]byte(userID))
	return [8]byte(sum[:8])
}

// appendChangeCursor appends c's cursor for the user whose tag is given.
func appendChangeCursor(b []byte, c changeCursor, tag [8]byte) []byte {
	var raw [24]byte
	n := 8
	binary.BigEndian.PutUint64(raw[:], uint64(c.After))
	if c.Floor != c.After {
		binary.BigEndian.PutUint64(raw[8:], uint64(c.Floor))
		n = 16
	}
	copy(raw[n:], tag[:])
	return base64.RawURLEncoding.AppendEncode(b, raw[:n+8])
}

// decodeChangeCursor reads a cursor made by encodeChangeCursor for userID.
func decodeChangeCursor(s, userID string) (changeCursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || (len(b) != 16 && len(b) != 24) {
		return changeCursor{}, false
	}
	c := cursorAt(int64(binary.BigEndian.Uint64(b)))
	if len(b) == 24 {
		c.Floor = int64(binary.BigEndian.Uint64(b[8:]))
	}
	if c.After < 0 || c.Floor < c.After || encodeChangeCursor(c, userID) != s {
		return changeCursor{}, false
	}
	return c, true
}

// appendChangesPage appends the answer: {"changes": [{"op": "upsert",
// "task": …} or {"op": "delete", "id": …}, …], "cursor": …, "has_more": …}.
func appendChangesPage(b []byte, page changesPage, userID string) []byte {
	b = append(b, `{"changes":[`...)
	for i, c := range page.Changes {
		if i > 0 {
			b = append(b, ',')
		}
		if c.Deleted {
			b = append(b, `{"op":"delete","id":`...)
			b = appendJSONString(b, c.Task.ID)
		} else {
			b = append(b, `{"op":"upsert","task":`...)
			b = appendTask(b, c.Task)
		}
		b = append(b, '}')
	}
	b = append(b, `],"cursor":`...)
	b = appendJSONString(b, encodeChangeCursor(page.Cursor, userID))
	b = append(b, `,"has_more":`...)
	b = strconv.AppendBool(b, page.HasMore)
	return append(b, '}')
}
