package main

// What only the PostgreSQL store needs to show, beyond the store suite:
// its SQL, key expiry, slow readers of a list, out-of-range versions.

import (
	"net/http"
	"regexp"
	"strconv"
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

// TestPostgresSlowListReader: the store's deadline bounds the waits on the
// database, not the time a slow client takes to read a long list.
func TestPostgresSlowListReader(t *testing.T) {
	t.Parallel()
	s := openTestPostgresWith(t, testPostgresURL(t, "TEST_DATABASE_URL"), func(o *pgOptions) {
		o.Timeout = 200 * time.Millisecond
	})
	user := newUserID(t)
	for range 30 {
		mustCreate(t, s, user, newTask{Title: "t"})
	}
	start, n := time.Now(), 0
	for _, err := range s.ListTasks(t.Context(), user, listQuery{}) {
		if err != nil {
			t.Fatalf("after %d tasks and %v: %v", n, time.Since(start), err)
		}
		n++
		time.Sleep(20 * time.Millisecond) // a slow client: 600 ms for the list
	}
	if n != 30 {
		t.Errorf("read %d tasks, want 30", n)
	}
}

// TestPostgresOutOfRangeETag: an If-Match naming a time PostgreSQL cannot
// hold is a 412, as on the memory store, never a 500.
func TestPostgresOutOfRangeETag(t *testing.T) {
	t.Parallel()
	s := openTestPostgres(t, testPostgresURL(t, "TEST_DATABASE_URL"))
	user := newUserID(t)
	task := mustCreate(t, s, user, newTask{Title: "t"})
	h := newServer(discardLogger(), s, testCORS, nil)
	for _, tag := range []string{`"-gzzs93zls00"`, `"zzzzzzzzzzzz"`} {
		rec := serve(t, h, "DELETE", "/api/"+user+"/tasks/"+task.ID, "", "If-Match", tag)
		if rec.Code != http.StatusPreconditionFailed {
			t.Errorf("If-Match %s: %d %s, want 412", tag, rec.Code, rec.Body)
		}
	}
}
