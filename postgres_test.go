package main

// What only the PostgreSQL store needs to show, beyond the store suite:
// its SQL, key expiry, slow readers of a list, out-of-range versions.

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestListStatements: each shape of list query has a statement of its own,
// given exactly as many arguments as it has parameters; the unfiltered one
// is listAllTasksSQL, the constant the benchmark's pgbench scripts read, so
// the ceiling runs the service's text.
func TestListStatements(t *testing.T) {
	t.Parallel()
	done := true
	after := &listCursor{CreatedAt: time.Now(), ID: "0190a0d4-6c1e-7a3b-8c4d-5e6f708192a3"}
	seen := make(map[string]bool)
	for _, q := range []listQuery{{}, {Completed: &done}, {After: after}, {Completed: &done, After: after, Limit: 3}} {
		query, args := listStatement("u", q)
		seen[query] = true
		params := 0
		for _, m := range regexp.MustCompile(`\$(\d+)`).FindAllStringSubmatch(query, -1) {
			n, _ := strconv.Atoi(m[1])
			params = max(params, n)
		}
		if params != len(args) {
			t.Errorf("%+v: %d arguments for a statement with %d parameters:\n%s", q, len(args), params, query)
		}
	}
	if len(seen) != 4 {
		t.Errorf("%d distinct statements for the 4 shapes of list query", len(seen))
	}
	if query, _ := listStatement("u", listQuery{}); query != listAllTasksSQL {
		t.Errorf("the unfiltered list runs %q\nwant listAllTasksSQL %q", query, listAllTasksSQL)
	}
}

// TestPostgresKeysExpire: an expired key that was not purged yet does not
// block its reuse, and the purge deletes only expired keys.
func TestPostgresKeysExpire(t *testing.T) {
	t.Parallel()
	s := openTestPostgres(t, testPostgresURL(t, "TEST_DATABASE_URL"))
	user := newUserID(t)
	in := newTask{Title: "t"}
	key := newIdempotencyKey("k", "create", in.Title, in.Description)
	first, _, err := s.CreateTask(t.Context(), user, in, key)
	if err != nil {
		t.Fatal(err)
	}
	age := func(user string) {
		t.Helper()
		if _, err := s.db.Exec(`UPDATE idempotency_key SET recorded_at = now() - interval '25 hours' WHERE user_id = $1`, user); err != nil {
			t.Fatal(err)
		}
	}
	age(user)
	again, replayed, err := s.CreateTask(t.Context(), user, in, key)
	if err != nil || replayed || again.ID == first.ID {
		t.Fatalf("expired key: replayed %v, %v; want a new task", replayed, err)
	}
	kept := newUserID(t)
	if _, _, err := s.CreateTask(t.Context(), kept, in, key); err != nil {
		t.Fatal(err)
	}
	age(user)
	if err := s.PurgeExpiredKeys(t.Context()); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.db.QueryRow(`SELECT count(*) FROM idempotency_key WHERE user_id IN ($1, $2)`, user, kept).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d keys after the purge (%v), want the unexpired one", n, err)
	}
}

// TestPostgresListHoldsNoConnectionForASlowReader: a client that does not
// read its list holds no database connection. With a pool of one, another
// user's request is served while the list still waits to be written.
func TestPostgresListHoldsNoConnectionForASlowReader(t *testing.T) {
	t.Parallel()
	pg := openTestPostgresWith(t, testPostgresURL(t, "TEST_DATABASE_URL"), func(o *pgOptions) {
		o.MaxConns, o.MaxIdleConns, o.Timeout = 1, 1, time.Second
	})
	slowUser, other := newUserID(t), newUserID(t)
	// 300 tasks of 5,000 four-byte characters: 6 MB, more than the kernel
	// buffers between a client that does not read and the server.
	big := strings.Repeat("𝄞", maxDescriptionLen)
	for range 300 {
		mustCreate(t, pg, slowUser, newTask{Title: "t", Description: &big})
	}
	task := mustCreate(t, pg, other, newTask{Title: "t"})
	store := &listSignal{taskStore: pg, user: slowUser, listed: make(chan struct{}, 1)}
	h := newServer(discardLogger(), store, testCORS, nil, nil)
	finished := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, tasksPath(slowUser)) {
			defer close(finished)
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()

	conn := startNonReader(t, srv.Listener.Addr().String(), tasksPath(slowUser))
	select {
	case <-store.listed:
	case <-time.After(10 * time.Second):
		t.Fatal("the list was not read from the store")
	}
	rec := serveVia(t, srv, "GET", tasksPath(other)+"/"+task.ID)
	if rec.Code != http.StatusOK {
		t.Errorf("another user's GET while a list waits on its reader: %d %s, want 200", rec.Code, rec.Body)
	}
	select {
	case <-finished:
		t.Fatal("the unread list was written whole: the test did not keep it waiting")
	default:
	}
	conn.Close()
	<-finished
}

// listSignal is a store that reports when a list of user has been read.
type listSignal struct {
	taskStore
	user   string
	listed chan struct{}
}

func (s *listSignal) ListTasks(ctx context.Context, userID string, q listQuery) ([]Task, error) {
	tasks, err := s.taskStore.ListTasks(ctx, userID, q)
	if userID == s.user {
		select {
		case s.listed <- struct{}{}:
		default:
		}
	}
	return tasks, err
}

// TestPostgresOutOfRangeETag: an If-Match naming a time PostgreSQL cannot
// hold is a 412, as on the memory store, never a 500.
func TestPostgresOutOfRangeETag(t *testing.T) {
	t.Parallel()
	s := openTestPostgres(t, testPostgresURL(t, "TEST_DATABASE_URL"))
	user := newUserID(t)
	task := mustCreate(t, s, user, newTask{Title: "t"})
	h := newServer(discardLogger(), s, testCORS, nil, nil)
	for _, tag := range []string{`"-gzzs93zls00"`, `"zzzzzzzzzzzz"`} {
		rec := serve(t, h, "DELETE", "/api/"+user+"/tasks/"+task.ID, "", "If-Match", tag)
		if rec.Code != http.StatusPreconditionFailed {
			t.Errorf("If-Match %s: %d %s, want 412", tag, rec.Code, rec.Body)
		}
	}
}

// TestPostgresExhaustedPoolIs503: when no connection can be had within the
// store's timeout, every endpoint, with and without a key, a page, an
// If-Match, answers 503 with Retry-After, never a 500, and so does /readyz.
func TestPostgresExhaustedPoolIs503(t *testing.T) {
	t.Parallel()
	s := openTestPostgresWith(t, testPostgresURL(t, "TEST_DATABASE_URL"), func(o *pgOptions) {
		o.MaxConns, o.MaxIdleConns, o.Timeout = 1, 1, 200*time.Millisecond
	})
	user := newUserID(t)
	task := mustCreate(t, s, user, newTask{Title: "t"})
	held, err := s.db.Conn(t.Context()) // the pool's only connection
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	h := newServer(discardLogger(), s, testCORS, nil, nil)
	variants := [][]string{nil, {"Idempotency-Key", "k"}, {"If-Match", etag(task)}}
	var wg sync.WaitGroup // all at once: each waits out the store's timeout
	for _, ep := range endpoints {
		for _, header := range variants {
			for _, query := range []string{"", "?limit=10&completed=true"} {
				target := ep.target(user, task.ID) + query
				goWait(&wg, func() {
					rec := serve(t, h, ep.method, target, ep.body, header...)
					if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
						t.Errorf("%s %s %q on an exhausted pool: %d %s, Retry-After %q; want 503 with Retry-After",
							ep.method, target, header, rec.Code, rec.Body, rec.Header().Get("Retry-After"))
					}
				})
			}
		}
	}
	wg.Wait()
	if rec := serve(t, h, "GET", "/readyz", ""); rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("/readyz on an exhausted pool: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
}

// TestPostgresFilteredPageUsesItsIndex: a page of completed tasks of a user
// with thousands of uncompleted ones is read off the (user_id,
// is_completed, created_at, id) index, filtering no row away.
func TestPostgresFilteredPageUsesItsIndex(t *testing.T) {
	t.Parallel()
	s := openTestPostgres(t, testPostgresURL(t, "TEST_DATABASE_URL"))
	user := newUserID(t)
	_, err := s.db.ExecContext(t.Context(), `INSERT INTO task (id, user_id, title, is_completed, created_at, updated_at)
		SELECT gen_random_uuid(), $1, 'open', false, now() + n * interval '1 ms', now() FROM generate_series(1, 5000) AS n`, user)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(t.Context(), `ANALYZE task`); err != nil {
		t.Fatal(err)
	}
	done := true
	query, args := listStatement(user, listQuery{Completed: &done, Limit: 51})
	rows, err := s.db.QueryContext(t.Context(), "EXPLAIN (ANALYZE, COSTS OFF) "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(line + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan.String(), "task_user_id_is_completed_created_at_id_idx") || strings.Contains(plan.String(), "Rows Removed by Filter") {
		t.Errorf("the filtered page does not read its own index without filtering:\n%s", plan.String())
	}
}

// TestPostgresTombstonesExpire: the purge forgets deletes older than
// tombstoneRetention and moves the user's forgotten cursor past them: a
// cursor from before them is errCursorExpired, one after them is followed.
func TestPostgresTombstonesExpire(t *testing.T) {
	t.Parallel()
	s := openTestPostgres(t, testPostgresURL(t, "TEST_DATABASE_URL"))
	user := newUserID(t)
	start := changes(t, s, user, nil, 10).Cursor
	gone := mustCreate(t, s, user, newTask{Title: "deleted long ago"})
	if err := s.DeleteTask(t.Context(), user, gone.ID, nil); err != nil {
		t.Fatal(err)
	}
	_, err := s.db.ExecContext(t.Context(), `UPDATE task_tombstone SET deleted_at = now() - $2::integer * interval '1 second'
		WHERE user_id = $1`, user, tombstoneRetentionSeconds+3600)
	if err != nil {
		t.Fatal(err)
	}
	after := changes(t, s, user, &start, 10).Cursor
	if err := s.PurgeExpiredTombstones(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Changes(t.Context(), user, changesQuery{Since: &start, Limit: 10}); !errors.Is(err, errCursorExpired) {
		t.Errorf("a cursor before the forgotten delete: %v, want errCursorExpired", err)
	}
	if page := changes(t, s, user, &after, 10); len(page.Changes) != 0 {
		t.Errorf("a cursor after it: %v", describeChanges(page))
	}
}
