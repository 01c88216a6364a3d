package main

// Live events: GET /api/{user_id}/tasks/events streams the user's changes
// as Server-Sent Events, on the change feed's cursor. A stream is a change
// feed reader that waits for its store's wake-up (hub.go) instead of being
// asked again: it reads its changes after its cursor, a page at a time,
// writes them as events whose ids are cursors, and waits. So resuming with
// Last-Event-ID is the feed's own since=, with no gap and no duplicate; a
// stream holds no pool connection between reads, and no queue: what it
// has not yet sent is still in the store.

import (
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// streamTiming is how a stream paces itself; tests shorten it.
type streamTiming struct {
	// heartbeat is how often an idle stream sends a comment, so that
	// proxies and clients see it alive.
	heartbeat time.Duration
	// writeTimeout is how long a client may take to accept one page of
	// events; a stream that cannot keep up is closed, and its client
	// resumes with Last-Event-ID.
	writeTimeout time.Duration
}

// defaultStreamTiming is the service's.
var defaultStreamTiming = streamTiming{heartbeat: heartbeatInterval, writeTimeout: 10 * time.Second}

// heartbeatInterval is the service's heartbeat; deploy/nginx.conf's read
// timeout for streams is longer.
const heartbeatInterval = 15 * time.Second

// streamPageLimit is how many changes a stream reads and writes at a time,
// which bounds its memory.
const streamPageLimit = 100

// handleTaskEvents answers GET /api/{user_id}/tasks/events.
func handleTaskEvents(log *slog.Logger, store taskStore, drain *drainer, timing streamTiming) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v validator
		userID := v.userID(r)
		q := changesQuery{Since: v.lastEventID(r, userID), Limit: streamPageLimit}
		if err := v.err(); err != nil {
			writeError(w, r, log, err)
			return
		}
		if drain.isDraining() {
			writeError(w, r, log, errDraining) // to be sent to another instance
			return
		}
		// Subscribed before the first read, so that no write after that
		// read goes unannounced.
		sub, err := store.Subscribe(userID)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		defer sub.close()
		page, err := store.Changes(r.Context(), userID, q)
		if errors.Is(err, errCursorUnknown) {
			v.addBadEventID()
			err = v.err()
		}
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		s := &eventStream{w: w, rc: http.NewResponseController(w), userID: userID, tag: cursorTag(userID), store: store, writeTimeout: timing.writeTimeout,
			wake: sub.wake, expired: tokenExpired(r), ending: drain.streamsEnding(), gone: r.Context().Done(),
			tick: time.NewTicker(timing.heartbeat)}
		defer s.tick.Stop()
		if s.start(r) {
			s.run(r, log, q, page)
		}
	})
}

// lastEventID reads the Last-Event-ID header, a cursor of this user's;
// nil when absent (the stream starts with the user's current tasks).
func (v *validator) lastEventID(r *http.Request, userID string) *changeCursor {
	raw := r.Header.Get("Last-Event-ID")
	if raw == "" {
		return nil
	}
	c, ok := decodeChangeCursor(raw, userID)
	if !ok {
		v.addBadEventID()
		return nil
	}
	return &c
}

// addBadEventID reports a Last-Event-ID that is no cursor of this user's.
func (v *validator) addBadEventID() {
	v.add("value_error", "Value error, Last-Event-ID must be an event id this user's stream gave", nil, "header", "last-event-id")
}

// eventStream writes one client's events.
type eventStream struct {
	w            http.ResponseWriter
	rc           *http.ResponseController
	userID       string
	tag          [8]byte // cursorTag(userID)
	store        taskStore
	writeTimeout time.Duration
	buf          []byte
	// What the stream waits on: a wake-up from its subscription, its
	// heartbeat, and the ends: the token expiring, the service draining
	// (or shutting down), the client going.
	wake    <-chan struct{}
	tick    *time.Ticker
	expired <-chan time.Time
	ending  <-chan struct{}
	gone    <-chan struct{}
}

// start sends the stream's headers, and reports whether to go on (not for
// HEAD). The stream outlives the server's read and write timeouts: its
// read deadline is lifted (there is no body to wait for) and each write
// gets its own deadline.
func (s *eventStream) start(r *http.Request) bool {
	h := s.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: pass each event on at once
	// The connection ends with the stream, so that a stream ended by the
	// drain also frees its connection and its client reconnects afresh.
	h.Set("Connection", "close")
	s.w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return false
	}
	s.rc.SetReadDeadline(time.Time{})
	return s.flush()
}

// run writes the first page, then each page read after a wake-up, with a
// heartbeat while idle, until the client goes, cannot keep up, its token
// expires, or the service drains.
func (s *eventStream) run(r *http.Request, log *slog.Logger, q changesQuery, page changesPage) {
	for {
		if !s.send(q, page) {
			return
		}
		cursor := page.Cursor
		q.Since = &cursor
		if !page.HasMore && !s.wait(false) {
			return
		}
		var err error
		page, err = s.store.Changes(r.Context(), s.userID, q)
		if errors.Is(err, errStoreUnavailable) {
			logRequestError(log, slog.LevelWarn, "event stream cannot read its changes; trying again at each heartbeat", s.w, r, err)
		}
		for errors.Is(err, errStoreUnavailable) {
			// Nothing is lost: the cursor has not moved.
			if !s.wait(true) {
				return
			}
			page, err = s.store.Changes(r.Context(), s.userID, q)
		}
		if err != nil {
			if r.Context().Err() == nil {
				logRequestError(log, slog.LevelError, "event stream ended", s.w, r, err)
			}
			return
		}
	}
}

// wait waits for a wake-up (or, with orHeartbeat, a heartbeat), sending
// heartbeats meanwhile; false when the stream is to end.
func (s *eventStream) wait(orHeartbeat bool) bool {
	for {
		select {
		case <-s.wake:
			return true
		case <-s.tick.C:
			s.buf = append(s.buf[:0], ": heartbeat\n\n"...)
			if !s.write() {
				return false
			}
			if orHeartbeat {
				return true
			}
		case <-s.expired:
			return false
		case <-s.ending:
			return false
		case <-s.gone:
			return false
		}
	}
}

// tokenExpired fires when the request's token expires; nil (never)
// without a token.
func tokenExpired(r *http.Request) <-chan time.Time {
	exp, ok := tokenExpiry(r.Context())
	if !ok {
		return nil
	}
	return time.After(time.Until(exp)) // collected once the stream ends
}

// send writes a page of changes as events, each with the cursor to resume
// after it as its id, and reports whether the client took them.
func (s *eventStream) send(q changesQuery, page changesPage) bool {
	if len(page.Changes) == 0 {
		return true
	}
	// The floor of the reading the page came from: the deletes the client
	// needs after each event are those the page's reader needed.
	floor := page.Cursor.Floor
	if q.Since != nil {
		floor = q.Since.Floor
	}
	s.buf = s.buf[:0]
	for _, c := range page.Changes {
		s.buf = append(s.buf, "id: "...)
		s.buf = appendChangeCursor(s.buf, changeCursor{After: c.Change, Floor: max(floor, c.Change)}, s.tag)
		if c.Deleted {
			s.buf = append(s.buf, "\nevent: delete\ndata: {\"id\":"...)
			s.buf = appendJSONString(s.buf, c.Task.ID)
			s.buf = append(s.buf, '}')
		} else {
			s.buf = append(s.buf, "\nevent: upsert\ndata: "...)
			s.buf = appendTask(s.buf, c.Task)
		}
		s.buf = append(s.buf, "\n\n"...)
	}
	return s.write()
}

// write sends the buffer, and flushes it, within one write timeout.
func (s *eventStream) write() bool {
	s.rc.SetWriteDeadline(time.Now().Add(s.writeTimeout))
	if _, err := s.w.Write(s.buf); err != nil {
		return false
	}
	return s.rc.Flush() == nil
}

// flush pushes what is written to the client.
func (s *eventStream) flush() bool {
	s.rc.SetWriteDeadline(time.Now().Add(s.writeTimeout))
	return s.rc.Flush() == nil
}
