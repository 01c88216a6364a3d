package main

// The live event stream: what it sends, resuming, its bounds, and how it
// ends; on both stores, and across instances on PostgreSQL.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sseEvent is one event as a client parses it.
type sseEvent struct {
	id, event, data string
}

// sseClient reads one open stream.
type sseClient struct {
	resp   *http.Response
	r      *bufio.Reader
	cancel context.CancelFunc
}

// openStream opens GET url with the header pairs and fails the test unless
// it is a 200 event stream. The stream is closed at the end of the test.
func openStream(t testing.TB, url string, header ...string) *sseClient {
	t.Helper()
	resp, cancel := getStream(t, url, header...)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s %s", url, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	c := &sseClient{resp: resp, r: bufio.NewReader(resp.Body), cancel: cancel}
	t.Cleanup(c.close)
	return c
}

// getStream sends GET url; the request ends after 30 s at the latest, so a
// stream that never sends fails the test instead of hanging it.
func getStream(t testing.TB, url string, header ...string) (*http.Response, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	return resp, cancel
}

func (c *sseClient) close() {
	c.cancel()
	c.resp.Body.Close()
}

// next returns the next event, skipping comments; io.EOF once the server
// has ended the stream.
func (c *sseClient) next() (sseEvent, error) {
	var e sseEvent
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return e, err
		}
		line = strings.TrimSuffix(line, "\n")
		field, value, _ := strings.Cut(line, ": ")
		switch {
		case line == "" && e.event != "":
			return e, nil
		case field == "id":
			e.id = value
		case field == "event":
			e.event = value
		case field == "data":
			e.data = value
		}
	}
}

// want reads the next event and checks it is op of the task id.
func (c *sseClient) want(t testing.TB, op, id string) sseEvent {
	t.Helper()
	e, err := c.next()
	if err != nil {
		t.Fatalf("waiting for %s %s: %v", op, id, err)
	}
	var data struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(e.data), &data); err != nil || e.event != op || data.ID != id || e.id == "" {
		t.Fatalf("event %+v, want %s of %s with an id", e, op, id)
	}
	return e
}

// wantEnd checks that the server ends the stream.
func (c *sseClient) wantEnd(t testing.TB) {
	t.Helper()
	if e, err := c.next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the stream should have ended: %+v, %v", e, err)
	}
}

// TestEvents: the stream starts with the current tasks, then each write
// as it commits; a client that reconnects with Last-Event-ID gets what it
// missed, once, and nothing it had.
func TestEvents(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, h http.Handler, user string) {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close) // after the streams close (cleanups run last first)
		url := srv.URL + "/api/" + user + "/tasks/events"
		a := createTask(t, h, user, `{"title": "a"}`)
		stream := openStream(t, url)
		stream.want(t, "upsert", a.ID)
		b := createTask(t, h, user, `{"title": "b"}`)
		seenB := stream.want(t, "upsert", b.ID)
		serve(t, h, "DELETE", "/api/"+user+"/tasks/"+a.ID, "")
		stream.want(t, "delete", a.ID)
		stream.close() // a forced disconnect; writes go on meanwhile

		serve(t, h, "PATCH", "/api/"+user+"/tasks/"+b.ID+"/complete", "")
		c := createTask(t, h, user, `{"title": "c"}`)
		resumed := openStream(t, url, "Last-Event-ID", seenB.id)
		resumed.want(t, "delete", a.ID)
		toggled := resumed.want(t, "upsert", b.ID)
		if !strings.Contains(toggled.data, `"is_completed":true`) {
			t.Errorf("the toggled task: %s", toggled.data)
		}
		last := resumed.want(t, "upsert", c.ID)
		resumed.close()
		// Resuming from the last event: nothing is sent again.
		quiet := openStream(t, url, "Last-Event-ID", last.id)
		d := createTask(t, h, user, `{"title": "d"}`)
		quiet.want(t, "upsert", d.ID)
	})
}

// TestEventsRefused: a Last-Event-ID of another user's, malformed, or
// past the last change is a 422 at the header; an expired one is a 410;
// HEAD answers the stream's headers and no body.
func TestEventsRefused(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	for _, id := range []string{"nope", encodeChangeCursor(cursorAt(0), "someone-else"), encodeChangeCursor(cursorAt(5), "u")} {
		rec := serve(t, h, "GET", "/api/u/tasks/events", "", "Last-Event-ID", id)
		wantItems(t, rec, "value_error@header.last-event-id")
	}
	expired := newServer(discardLogger(), storeWithForgottenDeletes(t), testCORS, nil, nil)
	rec := serve(t, expired, "GET", "/api/u/tasks/events", "", "Last-Event-ID", encodeChangeCursor(cursorAt(1), "u"))
	if rec.Code != http.StatusGone {
		t.Errorf("an expired Last-Event-ID: %d %s", rec.Code, rec.Body)
	}
	head := serve(t, h, "HEAD", "/api/u/tasks/events", "")
	if head.Code != http.StatusOK || head.Header().Get("Content-Type") != "text/event-stream" || head.Body.Len() != 0 {
		t.Errorf("HEAD: %d %q %q", head.Code, head.Header().Get("Content-Type"), head.Body)
	}
}

// TestEventsPerUserLimit: a user's eleventh open stream is a 429 with
// Retry-After; another user is not affected; once one closes, a new one
// opens.
func TestEventsPerUserLimit(t *testing.T) {
	t.Parallel()
	store := newMemStore(defaultMaxTasks)
	srv := httptest.NewServer(newServer(discardLogger(), store, testCORS, nil, nil))
	t.Cleanup(srv.Close) // after the streams close (cleanups run last first)
	var streams []*sseClient
	for range maxStreamsPerUser {
		streams = append(streams, openStream(t, srv.URL+"/api/u/tasks/events"))
	}
	resp, cancel := getStream(t, srv.URL+"/api/u/tasks/events")
	defer cancel()
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "at most 10") {
		t.Errorf("the eleventh stream: %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	openStream(t, srv.URL+"/api/other/tasks/events")
	streams[0].close()
	eventually(t, 5*time.Second, "the closed stream leaves the hub", func() bool { return openSubscriptions(store.hub) == maxStreamsPerUser })
	openStream(t, srv.URL+"/api/u/tasks/events")
}

// TestEventsEnd: a stream ends when the service drains (and a new one is
// refused with 503 so that it goes to another instance), when its token
// expires, and when its client cannot keep up.
func TestEventsEnd(t *testing.T) {
	t.Parallel()
	t.Run("drain", func(t *testing.T) {
		t.Parallel()
		drain := &drainer{}
		srv := httptest.NewServer(newServer(discardLogger(), newMemStore(defaultMaxTasks), testCORS, nil, drain))
		t.Cleanup(srv.Close) // after the streams close (cleanups run last first)
		stream := openStream(t, srv.URL+"/api/u/tasks/events")
		drain.start()
		stream.wantEnd(t)
		resp, cancel := getStream(t, srv.URL+"/api/u/tasks/events")
		defer cancel()
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("a stream asked for while draining: %d", resp.StatusCode)
		}
	})
	t.Run("token expiry", func(t *testing.T) {
		t.Parallel()
		f := newAuthFixture(t)
		srv := httptest.NewServer(f.handler(newMemStore(defaultMaxTasks)))
		t.Cleanup(srv.Close) // after the streams close (cleanups run last first)
		// Expired a moment short of the leeway: accepted, for one second.
		claims := with(claimsFor(f.clock, "u"), "exp", f.clock.now().Add(-authLeeway+time.Second).Unix())
		stream := openStream(t, srv.URL+"/api/u/tasks/events", bearer(f.hs.token(t, claims))...)
		stream.wantEnd(t)
	})
	t.Run("slow client", func(t *testing.T) {
		t.Parallel()
		store := newMemStore(defaultMaxTasks)
		timing := streamTiming{heartbeat: time.Hour, writeTimeout: 200 * time.Millisecond}
		mux := http.NewServeMux()
		mux.Handle("GET /api/{user_id}/tasks/events", handleTaskEvents(discardLogger(), store, nil, timing))
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close) // after the streams close (cleanups run last first)
		long := strings.Repeat("x", maxDescriptionLen)
		for range 4000 { // 20 MB: more than the sockets between them hold
			mustCreate(t, store, "u", newTask{Title: "t", Description: &long})
		}
		resp, cancel := getStream(t, srv.URL+"/api/u/tasks/events") // and never read
		defer cancel()
		defer resp.Body.Close()
		eventually(t, 10*time.Second, "the stream that cannot keep up is closed", func() bool { return openSubscriptions(store.hub) == 0 })
	})
}

// TestPostgresEventsAcrossInstances: a write through one instance reaches
// a stream on another; with the listening connection killed mid-stream,
// the write made while it is down still arrives once it is back, and so
// do the writes after.
func TestPostgresEventsAcrossInstances(t *testing.T) {
	t.Parallel()
	raw := testPostgresURL(t, "TEST_DATABASE_URL")
	app := "tasksvc-listen-" + newUserID(t)
	writer := openTestPostgres(t, raw)
	reader := openTestPostgresWith(t, raw, func(o *pgOptions) {
		o.ListenURL = withQuery(t, raw, "application_name", app)
		o.SweepInterval = time.Hour // only the catch-up after the reconnect can help
	})
	srv := httptest.NewServer(newServer(discardLogger(), reader, testCORS, nil, nil))
	t.Cleanup(srv.Close)
	user := newUserID(t)
	stream := openStream(t, srv.URL+"/api/"+user+"/tasks/events")
	a := mustCreate(t, writer, user, newTask{Title: "through the other instance"})
	stream.want(t, "upsert", a.ID)

	var killed bool
	eventually(t, 10*time.Second, "the listening connection is killed", func() bool {
		err := writer.db.QueryRowContext(t.Context(), `SELECT count(pg_terminate_backend(pid)) > 0
			FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&killed)
		return err == nil && killed
	})
	b := mustCreate(t, writer, user, newTask{Title: "while the listener is down"})
	stream.want(t, "upsert", b.ID)
	c := mustCreate(t, writer, user, newTask{Title: "after it is back"})
	stream.want(t, "upsert", c.ID)
}

// withQuery returns the URL raw with one query parameter set.
func withQuery(t testing.TB, raw, key, value string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestPostgresFeedAcrossInstances: writers on three stores over one
// database, and delta readers each polling through another store
// meanwhile; once the writers are done, every reader's copy equals the
// database, and no reader was given one change twice.
func TestPostgresFeedAcrossInstances(t *testing.T) {
	t.Parallel()
	raw := testPostgresURL(t, "TEST_DATABASE_URL")
	stores := []taskStore{openTestPostgres(t, raw), openTestPostgres(t, raw), openTestPostgres(t, raw)}
	user := newUserID(t)
	done := make(chan struct{})
	var writers sync.WaitGroup
	for w, s := range stores {
		goWait(&writers, func() { writeAtRandom(t, s, user, w, 60) })
	}
	go func() { writers.Wait(); close(done) }()
	copies := make([]map[string]Task, len(stores))
	var readers sync.WaitGroup
	for r := range stores {
		goWait(&readers, func() { copies[r] = followFeed(t, stores, r, user, done) })
	}
	readers.Wait()
	tasks, err := listAll(t.Context(), stores[0], user)
	if err != nil {
		t.Fatal(err)
	}
	for r, copyOf := range copies {
		if len(tasks) != len(copyOf) {
			t.Errorf("reader %d holds %d tasks, the database %d", r, len(copyOf), len(tasks))
		}
		for _, task := range tasks {
			if got := copyOf[task.ID]; !got.UpdatedAt.Equal(task.UpdatedAt) || got.Title != task.Title || got.IsCompleted != task.IsCompleted {
				t.Errorf("reader %d, task %s: %s, the database %s", r, task.ID, describe(got), describe(task))
			}
		}
	}
}

// followFeed polls the user's feed, each time through the next of the
// stores from the reader's own, until done and caught up after it; it
// fails the test if a change comes twice or the cursor goes back.
func followFeed(t *testing.T, stores []taskStore, reader int, user string, done <-chan struct{}) map[string]Task {
	copyOf := make(map[string]Task)
	seen := make(map[int64]bool)
	var cursor *changeCursor
	for i, finished := 0, false; ; i++ {
		select {
		case <-done:
			finished = true
		default:
		}
		page, err := stores[(reader+i)%len(stores)].Changes(context.Background(), user, changesQuery{Since: cursor, Limit: 5})
		if err != nil {
			t.Error(err)
			return copyOf
		}
		for _, c := range page.Changes {
			if seen[c.Change] || (cursor != nil && c.Change <= cursor.After) {
				t.Errorf("reader %d: change %d given twice, or after cursor %v", reader, c.Change, cursor)
			}
			seen[c.Change] = true
			if c.Deleted {
				delete(copyOf, c.Task.ID)
			} else {
				copyOf[c.Task.ID] = c.Task
			}
		}
		cursor = &page.Cursor
		if finished && !page.HasMore {
			return copyOf
		}
	}
}

// failingChanges is a store whose Changes fails as unavailable while fail
// is set: the database gone mid-stream.
type failingChanges struct {
	taskStore
	fail atomic.Bool
}

func (s *failingChanges) Changes(ctx context.Context, userID string, q changesQuery) (changesPage, error) {
	if s.fail.Load() {
		return changesPage{}, fmt.Errorf("list changes: %w", errStoreUnavailable)
	}
	return s.taskStore.Changes(ctx, userID, q)
}

// TestEventsOutlastAnOutage: a stream whose store fails mid-stream stays
// open, sends heartbeats, and sends what it missed once the store
// answers again, without waiting for another write.
func TestEventsOutlastAnOutage(t *testing.T) {
	t.Parallel()
	mem := newMemStore(defaultMaxTasks)
	store := &failingChanges{taskStore: mem}
	mux := http.NewServeMux()
	timing := streamTiming{heartbeat: 20 * time.Millisecond, writeTimeout: 10 * time.Second}
	mux.Handle("GET /api/{user_id}/tasks/events", handleTaskEvents(discardLogger(), store, nil, timing))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	stream := openStream(t, srv.URL+"/api/u/tasks/events")
	store.fail.Store(true)
	task := mustCreate(t, mem, "u", newTask{Title: "written while the reads fail"})
	eventually(t, 5*time.Second, "a heartbeat during the outage", func() bool {
		line, err := stream.r.ReadString('\n')
		return err == nil && line == ": heartbeat\n"
	})
	store.fail.Store(false)
	stream.want(t, "upsert", task.ID)
}

// TestPostgresLostNotificationIsSwept: a write whose notification never
// comes (as when its instance is killed between the commit and the batch)
// still reaches a stream on another instance, at that one's next sweep.
func TestPostgresLostNotificationIsSwept(t *testing.T) {
	t.Parallel()
	raw := testPostgresURL(t, "TEST_DATABASE_URL")
	reader := openTestPostgresWith(t, raw, func(o *pgOptions) { o.SweepInterval = 100 * time.Millisecond })
	writer := openTestPostgres(t, raw)
	// The writer's notifications now look like the reader's own, which
	// the reader's listener skips: as good as never sent.
	writer.instance = reader.instance
	srv := httptest.NewServer(newServer(discardLogger(), reader, testCORS, nil, nil))
	t.Cleanup(srv.Close)
	user := newUserID(t)
	stream := openStream(t, srv.URL+"/api/"+user+"/tasks/events")
	for range 2 {
		task := mustCreate(t, writer, user, newTask{Title: "unannounced"})
		stream.want(t, "upsert", task.ID)
	}
}

// openSubscriptions counts the hub's open subscriptions.
func openSubscriptions(h *changeHub) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, subs := range h.users {
		n += len(subs)
	}
	return n
}
