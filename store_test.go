package main

// Store tests: one suite, run on the in-memory store always and on
// PostgreSQL when TEST_DATABASE_URL is set. With TEST_DATABASE_URL set, a
// database that cannot be reached fails the tests; it never skips them.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lib/pq"
)

// testRunID makes this run's user ids unique, so runs against the same
// database never see each other's rows.
var testRunID = "test-" + rand.Text()[:12]

// newUserID returns a user id no other test or run uses.
func newUserID(t testing.TB) string {
	t.Helper()
	return testRunID + "-" + rand.Text()[:10]
}

func TestMemStore(t *testing.T) {
	t.Parallel()
	runStoreSuite(t, func(t *testing.T) taskStore { return newMemStore() })
}

func TestPostgresStore(t *testing.T) {
	t.Parallel()
	s := openTestPostgres(t, testPostgresURL(t, "TEST_DATABASE_URL"))
	runStoreSuite(t, func(*testing.T) taskStore { return s })
}

// TestPostgresStorePrepared runs the suite with named prepared statements,
// as DATABASE_PREPARE=auto does on a direct connection.
func TestPostgresStorePrepared(t *testing.T) {
	t.Parallel()
	s := openTestPostgresWith(t, testPostgresURL(t, "TEST_DATABASE_URL"), func(o *pgOptions) { o.Prepare = true })
	if s.stmts == nil {
		t.Fatal("no statements were prepared")
	}
	runStoreSuite(t, func(*testing.T) taskStore { return s })
	if s.unprepared.Load() {
		t.Error("the store fell back to unnamed statements on a direct connection")
	}
}

// TestPostgresFallsBackToUnnamedStatements: when the server does not know
// a prepared statement (as behind a transaction-mode pooler), the request
// still succeeds, and the store stops preparing.
func TestPostgresFallsBackToUnnamedStatements(t *testing.T) {
	t.Parallel()
	s := openTestPostgresWith(t, testPostgresURL(t, "TEST_DATABASE_URL"), func(o *pgOptions) {
		o.Prepare = true
		o.MaxConns, o.MaxIdleConns = 1, 1 // so DEALLOCATE reaches the statements' session
	})
	user := newUserID(t)
	task := mustCreate(t, s, user, newTask{Title: "t"})
	if _, err := s.db.ExecContext(t.Context(), "DEALLOCATE ALL"); err != nil {
		t.Fatal(err)
	}
	wantSameTask(t, mustGet(t, s, user, task.ID), task)
	if !s.unprepared.Load() {
		t.Error("the store did not switch to unnamed statements")
	}
	if tasks, err := listAll(t.Context(), s, user); err != nil || len(tasks) != 1 {
		t.Errorf("list after the fallback: %v, %v", tasks, err)
	}
}

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

func TestPgPrepareAuto(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]bool{
		"postgres://u:p@ep-cool-123.eu-central-1.aws.neon.tech/db":        true,
		"postgres://u:p@ep-cool-123-pooler.eu-central-1.aws.neon.tech/db": false,
		"postgres://u:p@127.0.0.1:5432/db":                                true,
		"postgres://u:p@127.0.0.1:6432/db":                                false,
	} {
		cfg, _, err := parsePostgresURL(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := pgPrepareAuto(cfg); got != want {
			t.Errorf("%s: prepared statements = %v, want %v", raw, got, want)
		}
	}
}

// TestPostgresStoreThroughPooler runs the suite through a transaction-mode
// PgBouncer, when one is given; CI has none, so this one may skip.
func TestPostgresStoreThroughPooler(t *testing.T) {
	t.Parallel()
	s := openTestPostgres(t, testPostgresURL(t, "TEST_PGBOUNCER_URL"))
	runStoreSuite(t, func(*testing.T) taskStore { return s })
}

// testPostgresURL returns the URL in envVar, or skips the test when it is
// unset.
func testPostgresURL(t testing.TB, envVar string) string {
	t.Helper()
	raw := os.Getenv(envVar)
	if raw == "" {
		t.Skipf("%s is not set", envVar)
	}
	return raw
}

// openTestPostgres opens a pgStore that is closed when the test ends. A
// database that cannot be reached fails the test.
func openTestPostgres(t testing.TB, raw string) *pgStore {
	t.Helper()
	return openTestPostgresWith(t, raw, func(*pgOptions) {})
}

// openTestPostgresWith is openTestPostgres with options changed by set.
func openTestPostgresWith(t testing.TB, raw string, set func(*pgOptions)) *pgStore {
	t.Helper()
	cfg, _, err := parsePostgresURL(raw)
	if err != nil {
		t.Fatalf("test database URL: %v", err)
	}
	opts := defaultPgOptions()
	// Smaller pools than the service's: many tests hold one at once, and
	// the server allows 100 connections in all.
	opts.MaxConns, opts.MaxIdleConns = 8, 8
	set(&opts)
	s, err := openPostgres(t.Context(), cfg, opts)
	if err != nil {
		t.Fatalf("a test database URL is set but PostgreSQL cannot be used: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestMain deletes this run's rows from the test database once every test
// is done (tests run in parallel, so none may clean up alone).
func TestMain(m *testing.M) {
	code := m.Run()
	for _, envVar := range []string{"TEST_DATABASE_URL", "TEST_PGBOUNCER_URL"} {
		if raw := os.Getenv(envVar); raw != "" {
			if err := deleteTestRows(raw); err != nil {
				fmt.Fprintf(os.Stderr, "clean up test rows on %s: %v\n", envVar, err)
				code = 1
			}
		}
	}
	os.Exit(code)
}

func deleteTestRows(raw string) error {
	cfg, _, err := parsePostgresURL(raw)
	if err != nil {
		return err
	}
	s, err := openPostgres(context.Background(), cfg, defaultPgOptions())
	if err != nil {
		return err
	}
	defer s.Close()
	for _, table := range []string{"task", "idempotency_key"} {
		if _, err := s.db.Exec(`DELETE FROM `+table+` WHERE user_id LIKE $1`, testRunID+"%"); err != nil {
			return err
		}
	}
	return nil
}

// runStoreSuite specifies taskStore. newStore may return a shared store:
// every case works on user ids of its own.
func runStoreSuite(t *testing.T, newStore func(t *testing.T) taskStore) {
	cases := []struct {
		name string
		test func(t *testing.T, s taskStore)
	}{
		{"CreateThenGet", testCreateThenGet},
		{"ListOrderAndScope", testListOrderAndScope},
		{"Update", testUpdate},
		{"UpdatedAtAlwaysMoves", testUpdatedAtAlwaysMoves},
		{"Delete", testDelete},
		{"OtherUserIsNotFound", testOtherUserIsNotFound},
		{"MissingIsNotFound", testMissingIsNotFound},
		{"ConcurrentToggle", testConcurrentToggle},
		{"ConcurrentCreate", testConcurrentCreate},
		{"TextRoundTrip", testTextRoundTrip},
		{"ListQuery", testListQuery},
		{"ConditionalWrites", testConditionalWrites},
		{"IdempotentCreate", testIdempotentCreate},
		{"IdempotentCreateConcurrent", testIdempotentCreateConcurrent},
		{"IdempotentToggle", testIdempotentToggle},
		{"ConcurrentConditionalUpdates", testConcurrentConditionalUpdates},
		{"Ping", func(t *testing.T, s taskStore) {
			if err := s.Ping(t.Context()); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.test(t, newStore(t))
		})
	}
}

func mustCreate(t testing.TB, s taskStore, userID string, in newTask) Task {
	t.Helper()
	task, _, err := s.CreateTask(t.Context(), userID, in, idempotencyKey{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return task
}

func mustGet(t *testing.T, s taskStore, userID, id string) Task {
	t.Helper()
	task, err := s.GetTask(t.Context(), userID, id)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	return task
}

// wantSameTask compares every field, timestamps to the microsecond.
func wantSameTask(t *testing.T, got, want Task) {
	t.Helper()
	gd, wd := got.Description, want.Description
	sameDescription := (gd == nil) == (wd == nil) && (gd == nil || *gd == *wd)
	if got.ID != want.ID || got.UserID != want.UserID || got.Title != want.Title || !sameDescription ||
		got.IsCompleted != want.IsCompleted || !got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("task = %s, want %s", describe(got), describe(want))
	}
}

func describe(t Task) string {
	b, _ := t.MarshalJSON()
	return string(b)
}

func wantNotFound(t *testing.T, op string, err error) {
	t.Helper()
	if !errors.Is(err, errTaskNotFound) {
		t.Errorf("%s: err = %v, want errTaskNotFound", op, err)
	}
}

func testCreateThenGet(t *testing.T, s taskStore) {
	user := newUserID(t)
	before := time.Now().Add(-time.Minute)
	task := mustCreate(t, s, user, newTask{Title: "Buy groceries", Description: ptr("Milk")})
	if !uuidPattern.MatchString(task.ID) || task.ID[14] != '7' {
		t.Errorf("id %q is not a lowercase version 7 UUID", task.ID)
	}
	if task.UserID != user || task.Title != "Buy groceries" || *task.Description != "Milk" || task.IsCompleted {
		t.Errorf("created %s", describe(task))
	}
	if !task.CreatedAt.Equal(task.UpdatedAt) || task.CreatedAt.Before(before) {
		t.Errorf("created_at %v, updated_at %v", task.CreatedAt, task.UpdatedAt)
	}
	if task.CreatedAt.Location() != time.UTC || task.CreatedAt.Nanosecond()%1000 != 0 {
		t.Errorf("created_at %v is not UTC at microsecond precision", task.CreatedAt)
	}
	wantSameTask(t, mustGet(t, s, user, task.ID), task)

	bare := mustCreate(t, s, user, newTask{Title: "no description"})
	if got := mustGet(t, s, user, bare.ID); got.Description != nil {
		t.Errorf("description = %q, want nil", *got.Description)
	}
}

// listAll collects a user's tasks from the store's sequence.
func listAll(ctx context.Context, s taskStore, user string) ([]Task, error) {
	var tasks []Task
	for t, err := range s.ListTasks(ctx, user, listQuery{}) {
		if err != nil {
			return nil, err
		}
		tasks = append(tasks, t)
	}
	return tasks, nil
}

// wantStale checks err is a *staleError carrying the task as it is now.
func wantStale(t *testing.T, what string, err error, current Task) {
	t.Helper()
	stale, ok := errors.AsType[*staleError](err)
	if !ok {
		t.Errorf("%s: err = %v, want a *staleError", what, err)
		return
	}
	wantSameTask(t, stale.Current, current)
}

// testConditionalWrites: update, toggle and delete with a precondition
// happen only while the task is at a version the precondition names;
// otherwise the store returns the current task, and changes nothing.
func testConditionalWrites(t *testing.T, s taskStore) {
	ctx := t.Context()
	user := newUserID(t)
	task := mustCreate(t, s, user, newTask{Title: "v1"})
	stale := ifMatch{task.UpdatedAt}

	updated, err := s.UpdateTask(ctx, user, task.ID, taskUpdate{Title: ptr("v2"), IfMatch: stale})
	if err != nil || updated.Title != "v2" {
		t.Fatalf("update at the right version: %+v, %v", updated, err)
	}
	_, err = s.UpdateTask(ctx, user, task.ID, taskUpdate{Title: ptr("v3"), IfMatch: stale})
	wantStale(t, "update at an old version", err, updated)
	_, _, err = s.ToggleTask(ctx, user, task.ID, stale, idempotencyKey{})
	wantStale(t, "toggle at an old version", err, updated)
	wantStale(t, "delete at an old version", s.DeleteTask(ctx, user, task.ID, stale), updated)
	_, _, err = s.ToggleTask(ctx, user, task.ID, ifMatch{}, idempotencyKey{})
	wantStale(t, "toggle with no acceptable version", err, updated)
	wantSameTask(t, mustGet(t, s, user, task.ID), updated) // nothing changed

	// Any of several versions will do.
	toggled, _, err := s.ToggleTask(ctx, user, task.ID, ifMatch{task.UpdatedAt, updated.UpdatedAt}, idempotencyKey{})
	if err != nil || !toggled.IsCompleted {
		t.Fatalf("toggle at one of two versions: %+v, %v", toggled, err)
	}
	// Missing, or another user's: not found, never stale, so a
	// precondition does not reveal that another user's task exists.
	other := newUserID(t)
	_, _, err = s.ToggleTask(ctx, other, task.ID, ifMatch{toggled.UpdatedAt}, idempotencyKey{})
	wantNotFound(t, "another user's, conditional toggle", err)
	wantNotFound(t, "another user's, conditional delete", s.DeleteTask(ctx, other, task.ID, ifMatch{time.Unix(0, 0)}))
	_, err = s.UpdateTask(ctx, user, missingID, taskUpdate{IfMatch: ifMatch{toggled.UpdatedAt}})
	wantNotFound(t, "missing, conditional update", err)

	if err := s.DeleteTask(ctx, user, task.ID, ifMatch{toggled.UpdatedAt}); err != nil {
		t.Fatalf("delete at the right version: %v", err)
	}
}

// testConcurrentConditionalUpdates: of many writers holding the same
// version, exactly one succeeds; the rest learn the task changed. No update
// is lost silently.
func testConcurrentConditionalUpdates(t *testing.T, s taskStore) {
	user := newUserID(t)
	task := mustCreate(t, s, user, newTask{Title: "start"})
	const writers = 8
	var wg sync.WaitGroup
	var won, lost atomic.Int32
	for i := range writers {
		wg.Go(func() {
			_, err := s.UpdateTask(context.Background(), user, task.ID,
				taskUpdate{Title: ptr(fmt.Sprint("writer ", i)), IfMatch: ifMatch{task.UpdatedAt}})
			switch _, stale := errors.AsType[*staleError](err); {
			case err == nil:
				won.Add(1)
			case stale:
				lost.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 || lost.Load() != writers-1 {
		t.Errorf("%d writers succeeded and %d were refused, want 1 and %d", won.Load(), lost.Load(), writers-1)
	}
}

// listWith collects what ListTasks yields for q.
func listWith(t *testing.T, s taskStore, user string, q listQuery) []Task {
	t.Helper()
	var tasks []Task
	for task, err := range s.ListTasks(t.Context(), user, q) {
		if err != nil {
			t.Fatalf("list %+v: %v", q, err)
		}
		tasks = append(tasks, task)
	}
	return tasks
}

// testListQuery: the completed filter, the cursor and the limit select
// exactly the right slice of the ordered list, alone and together.
func testListQuery(t *testing.T, s taskStore) {
	user := newUserID(t)
	for i := range 7 {
		task := mustCreate(t, s, user, newTask{Title: fmt.Sprint("task ", i)})
		if i%3 == 0 {
			if _, _, err := s.ToggleTask(t.Context(), user, task.ID, nil, idempotencyKey{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	all := listWith(t, s, user, listQuery{})
	if len(all) != 7 {
		t.Fatalf("%d tasks, want 7", len(all))
	}
	for _, done := range []bool{true, false} {
		want := slices.DeleteFunc(slices.Clone(all), func(t Task) bool { return t.IsCompleted != done })
		for i := -1; i < len(all); i++ {
			for _, limit := range []int{0, 1, 2, 100} {
				q := listQuery{Completed: &done, Limit: limit}
				rest := want
				if i >= 0 {
					q.After = &listCursor{CreatedAt: all[i].CreatedAt, ID: all[i].ID}
					rest = slices.DeleteFunc(slices.Clone(want), func(t Task) bool { return compareTasks(t, all[i]) <= 0 })
				}
				if limit > 0 && len(rest) > limit {
					rest = rest[:limit]
				}
				got := listWith(t, s, user, q)
				if !slices.EqualFunc(got, rest, func(a, b Task) bool { return a.ID == b.ID }) {
					t.Errorf("completed=%v after #%d limit %d: got %d tasks %v, want %d", done, i, limit, len(got), ids(got), len(rest))
				}
				// The same without the filter.
				q.Completed = nil
				unfiltered := all[i+1:]
				if limit > 0 && len(unfiltered) > limit {
					unfiltered = unfiltered[:limit]
				}
				if got := listWith(t, s, user, q); !slices.EqualFunc(got, unfiltered, func(a, b Task) bool { return a.ID == b.ID }) {
					t.Errorf("after #%d limit %d: got %v, want %v", i, limit, ids(got), ids(unfiltered))
				}
			}
		}
	}
}

// ids lists the tasks' ids, for messages.
func ids(tasks []Task) []string {
	var out []string
	for _, t := range tasks {
		out = append(out, t.ID)
	}
	return out
}

func testListOrderAndScope(t *testing.T, s taskStore) {
	user, other := newUserID(t), newUserID(t)
	empty, err := listAll(t.Context(), s, user)
	if err != nil || len(empty) != 0 {
		t.Fatalf("empty list = %#v, %v; want no tasks", empty, err)
	}
	var created []Task
	for i := range 5 {
		created = append(created, mustCreate(t, s, user, newTask{Title: fmt.Sprint("task ", i)}))
	}
	mustCreate(t, s, other, newTask{Title: "someone else's"})
	got, err := listAll(t.Context(), s, user)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(created, compareTasks)
	if len(got) != len(created) {
		t.Fatalf("listed %d tasks, want %d", len(got), len(created))
	}
	for i := range got {
		wantSameTask(t, got[i], created[i])
	}
}

// compareTasks is the contract's order: created_at, then id.
func compareTasks(a, b Task) int {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

func testUpdate(t *testing.T, s taskStore) {
	user := newUserID(t)
	task := mustCreate(t, s, user, newTask{Title: "old", Description: ptr("d")})
	steps := []struct {
		name   string
		update taskUpdate
		apply  func(*Task)
	}{
		{"title", taskUpdate{Title: ptr("new")}, func(t *Task) { t.Title = "new" }},
		{"description", taskUpdate{SetDescription: true, Description: ptr("d2")}, func(t *Task) { t.Description = ptr("d2") }},
		{"clear description", taskUpdate{SetDescription: true}, func(t *Task) { t.Description = nil }},
		{"complete", taskUpdate{IsCompleted: ptr(true)}, func(t *Task) { t.IsCompleted = true }},
		{"nothing", taskUpdate{}, func(*Task) {}},
		{"everything", taskUpdate{Title: ptr("x"), SetDescription: true, Description: ptr("y"), IsCompleted: ptr(false)},
			func(t *Task) { t.Title, t.Description, t.IsCompleted = "x", ptr("y"), false }},
	}
	want := task
	for _, step := range steps {
		got, err := s.UpdateTask(t.Context(), user, task.ID, step.update)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		step.apply(&want)
		if !got.UpdatedAt.After(want.UpdatedAt) {
			t.Errorf("%s: updated_at %v did not move past %v", step.name, got.UpdatedAt, want.UpdatedAt)
		}
		want.UpdatedAt = got.UpdatedAt
		wantSameTask(t, got, want)
		wantSameTask(t, mustGet(t, s, user, task.ID), want)
	}
}

// testUpdatedAtAlwaysMoves: writes faster than the clock's resolution still
// each move updated_at forward.
func testUpdatedAtAlwaysMoves(t *testing.T, s taskStore) {
	user := newUserID(t)
	task := mustCreate(t, s, user, newTask{Title: "t"})
	prev := task.UpdatedAt
	for i := range 20 {
		var got Task
		var err error
		if i%2 == 0 {
			got, _, err = s.ToggleTask(t.Context(), user, task.ID, nil, idempotencyKey{})
		} else {
			got, err = s.UpdateTask(t.Context(), user, task.ID, taskUpdate{})
		}
		if err != nil {
			t.Fatal(err)
		}
		if !got.UpdatedAt.After(prev) || !got.CreatedAt.Equal(task.CreatedAt) {
			t.Fatalf("write %d: updated_at %v after %v, created_at %v", i, got.UpdatedAt, prev, got.CreatedAt)
		}
		prev = got.UpdatedAt
	}
}

func testDelete(t *testing.T, s taskStore) {
	user := newUserID(t)
	task := mustCreate(t, s, user, newTask{Title: "t"})
	kept := mustCreate(t, s, user, newTask{Title: "kept"})
	if err := s.DeleteTask(t.Context(), user, task.ID, nil); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetTask(t.Context(), user, task.ID)
	wantNotFound(t, "get after delete", err)
	wantNotFound(t, "delete twice", s.DeleteTask(t.Context(), user, task.ID, nil))
	wantSameTask(t, mustGet(t, s, user, kept.ID), kept)
}

func testOtherUserIsNotFound(t *testing.T, s taskStore) {
	owner, other := newUserID(t), newUserID(t)
	task := mustCreate(t, s, owner, newTask{Title: "mine", Description: ptr("private")})
	ctx := t.Context()
	_, err := s.GetTask(ctx, other, task.ID)
	wantNotFound(t, "get", err)
	_, err = s.UpdateTask(ctx, other, task.ID, taskUpdate{Title: ptr("pwned"), SetDescription: true, IsCompleted: ptr(true)})
	wantNotFound(t, "update", err)
	_, _, err = s.ToggleTask(ctx, other, task.ID, nil, idempotencyKey{})
	wantNotFound(t, "toggle", err)
	wantNotFound(t, "delete", s.DeleteTask(ctx, other, task.ID, nil))
	wantSameTask(t, mustGet(t, s, owner, task.ID), task)
}

func testMissingIsNotFound(t *testing.T, s taskStore) {
	user, ctx := newUserID(t), t.Context()
	_, err := s.GetTask(ctx, user, missingID)
	wantNotFound(t, "get", err)
	_, err = s.UpdateTask(ctx, user, missingID, taskUpdate{})
	wantNotFound(t, "update", err)
	_, _, err = s.ToggleTask(ctx, user, missingID, nil, idempotencyKey{})
	wantNotFound(t, "toggle", err)
	wantNotFound(t, "delete", s.DeleteTask(ctx, user, missingID, nil))
}

// testConcurrentToggle: N concurrent toggles flip the task N times, and the
// N answers are N distinct states (half completed, half not).
func testConcurrentToggle(t *testing.T, s taskStore) {
	user := newUserID(t)
	task := mustCreate(t, s, user, newTask{Title: "t"})
	const n = 51
	results := make(chan Task, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			got, _, err := s.ToggleTask(context.Background(), user, task.ID, nil, idempotencyKey{})
			if err != nil {
				t.Error(err)
				return
			}
			results <- got
		})
	}
	wg.Wait()
	close(results)
	completed, stamps := 0, map[time.Time]bool{}
	for r := range results {
		if r.IsCompleted {
			completed++
		}
		stamps[r.UpdatedAt] = true
	}
	if completed != (n+1)/2 || len(stamps) != n {
		t.Errorf("%d answers completed and %d distinct updated_at, want %d and %d", completed, len(stamps), (n+1)/2, n)
	}
	if !mustGet(t, s, user, task.ID).IsCompleted {
		t.Errorf("after %d toggles the task is not completed", n)
	}
}

func testConcurrentCreate(t *testing.T, s taskStore) {
	user := newUserID(t)
	const n = 30
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, _, err := s.CreateTask(context.Background(), user, newTask{Title: fmt.Sprint(i)}, idempotencyKey{}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, err := listAll(t.Context(), s, user)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n || !slices.IsSortedFunc(got, compareTasks) {
		t.Errorf("listed %d tasks (sorted: %v), want %d in order", len(got), slices.IsSortedFunc(got, compareTasks), n)
	}
}

// testTextRoundTrip: what the handlers accept, the store keeps exactly, at
// the contract's limits in code points.
func testTextRoundTrip(t *testing.T, s taskStore) {
	for _, text := range []struct{ title, description string }{
		{strings.Repeat("😀", maxTitleLen), strings.Repeat("😀", maxDescriptionLen)},
		{strings.Repeat("漢", maxTitleLen), strings.Repeat("e\u0301", maxDescriptionLen/2)},
		{"quotes ' \" and \\ backslash; DROP TABLE task; --", "tab\tnewline\ncarriage\r\x01\x7f"},
		{"  spaced  ", ""},
	} {
		user := newUserID(t)
		task := mustCreate(t, s, user, newTask{Title: text.title, Description: ptr(text.description)})
		got := mustGet(t, s, user, task.ID)
		if got.Title != text.title || *got.Description != text.description {
			t.Errorf("stored %q / %q, read back %q / %q", text.title, text.description, got.Title, *got.Description)
		}
	}
	user := testRunID + strings.Repeat("ü", maxUserIDLen-len(testRunID)) // 255 code points
	if _, _, err := s.CreateTask(t.Context(), user, newTask{Title: "t"}, idempotencyKey{}); err != nil {
		t.Errorf("255-character user id: %v", err)
	}
}

// TestMemStoreTiesOrderByID: tasks created in the same microsecond are
// listed by id, as PostgreSQL orders them.
func TestMemStoreTiesOrderByID(t *testing.T) {
	t.Parallel()
	s := newMemStore()
	fixed := time.Date(2026, 11, 25, 20, 28, 51, 123456789, time.UTC)
	s.now = func() time.Time { return fixed }
	for range 10 {
		mustCreate(t, s, "u", newTask{Title: "t"})
	}
	got, _ := listAll(t.Context(), s, "u")
	if !slices.IsSortedFunc(got, func(a, b Task) int { return strings.Compare(a.ID, b.ID) }) {
		t.Error("tied tasks are not ordered by id")
	}
	if want := fixed.Truncate(time.Microsecond); !got[0].CreatedAt.Equal(want) {
		t.Errorf("created_at %v, want %v (truncated to microseconds)", got[0].CreatedAt, want)
	}
}

// TestMemStoreCopiesOut: changing a returned task does not change the store.
func TestMemStoreCopiesOut(t *testing.T) {
	t.Parallel()
	s := newMemStore()
	desc := "original"
	task := mustCreate(t, s, "u", newTask{Title: "t", Description: &desc})
	desc = "changed by the caller"
	*task.Description = "changed through the result"
	if got := mustGet(t, s, "u", task.ID); *got.Description != "original" {
		t.Errorf("stored description became %q", *got.Description)
	}
}

func TestParsePostgresURL(t *testing.T) {
	t.Parallel()
	neon := "postgresql://alex:AbC123dEf@ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech/dbname?sslmode=require&channel_binding=require"
	cfg, dropped, err := parsePostgresURL(neon)
	if err != nil {
		t.Fatalf("Neon's URL: %v", err)
	}
	if _, ok := cfg.Runtime["channel_binding"]; ok || !dropped {
		t.Errorf("channel_binding still sent to the server: %v", cfg.Runtime)
	}
	if cfg.ConnectTimeout != pgDefaultConnectTimeout || !cfg.BinaryParameters || cfg.SSLMode != "require" {
		t.Errorf("connect_timeout %v, binary_parameters %v, sslmode %q", cfg.ConnectTimeout, cfg.BinaryParameters, cfg.SSLMode)
	}
	if cfg.Host != "ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech" || cfg.Database != "dbname" || cfg.User != "alex" {
		t.Errorf("host %q, database %q, user %q", cfg.Host, cfg.Database, cfg.User)
	}

	cfg, _, err = parsePostgresURL("postgres://u@h/db?connect_timeout=3&binary_parameters=no")
	if err != nil || cfg.ConnectTimeout != 3*time.Second || cfg.BinaryParameters {
		t.Errorf("explicit settings not kept: %v, %v, %v", err, cfg.ConnectTimeout, cfg.BinaryParameters)
	}

	for _, bad := range []string{
		"postgres://u:s3cr3t@h:99999/db",
		"postgres://u:s3cr3t pw@h/db",
		"postgres://u:s3cr3t@[::1/db",
		"postgres://u:s3cr3t@h/db?sslmode=bogus",
		"mysql://u:s3cr3t@h/db",
		"host=h password=s3cr3t",
		"s3cr3t",
	} {
		_, _, err := parsePostgresURL(bad)
		if err == nil {
			t.Errorf("%q: no error", bad)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "s3cr3t") || !strings.HasPrefix(msg, "DATABASE_URL") || strings.Contains(msg, "\n") {
			t.Errorf("%q: error %q leaks the password, is not one line or does not name the variable", bad, msg)
		}
	}
}

// TestPostgresUnreachable: a database that is not there is
// errStoreUnavailable, at start-up and on a request.
func TestPostgresUnreachable(t *testing.T) {
	t.Parallel()
	cfg, _, err := parsePostgresURL("postgres://u:p@127.0.0.1:1/db?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	_, err = openPostgres(t.Context(), cfg, defaultPgOptions())
	if !errors.Is(err, errStoreUnavailable) {
		t.Errorf("open: err = %v, want errStoreUnavailable", err)
	}
	// A store that was ready before the database went away.
	s, err := newPostgres(cfg, defaultPgOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.ready.Store(true)
	if _, err := listAll(t.Context(), s, "u"); !errors.Is(err, errStoreUnavailable) {
		t.Errorf("list: err = %v, want errStoreUnavailable", err)
	}
	if err := s.Ping(t.Context()); !errors.Is(err, errStoreUnavailable) {
		t.Errorf("ping: err = %v, want errStoreUnavailable", err)
	}
	h := newServer(discardLogger(), s, testCORS, nil)
	for _, ep := range everyEndpoint {
		rec := serve(t, h, ep.method, ep.target, ep.body)
		wantDetail(t, rec, http.StatusServiceUnavailable, "Database unavailable, try again shortly")
		if rec.Header().Get("Retry-After") == "" {
			t.Errorf("%s %s: 503 without Retry-After", ep.method, ep.target)
		}
	}
	decodeAs[struct{ Detail string }](t, serve(t, h, "GET", "/readyz", ""), http.StatusServiceUnavailable)
}

// TestPostgresSurvivesKilledConnections: when the server drops every
// connection of the pool (a restart, a Neon compute suspending), the next
// request reconnects instead of failing.
func TestPostgresSurvivesKilledConnections(t *testing.T) {
	t.Parallel()
	raw := testPostgresURL(t, "TEST_DATABASE_URL")
	s := openTestPostgres(t, raw)
	user := newUserID(t)
	task := mustCreate(t, s, user, newTask{Title: "t"})
	var pid int
	if err := s.db.QueryRow(`SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	admin := openTestPostgres(t, raw)
	var killed bool
	if err := admin.db.QueryRow(`SELECT pg_terminate_backend($1)`, pid).Scan(&killed); err != nil || !killed {
		t.Fatalf("terminate backend %d: %v, %v", pid, killed, err)
	}
	for range defaultPgMaxConns + 1 { // every pooled connection, whichever is dead
		wantSameTask(t, mustGet(t, s, user, task.ID), task)
	}
}

// TestPostgresSchemaIsIdempotent: instances starting together all apply the
// schema without error.
func TestPostgresSchemaIsIdempotent(t *testing.T) {
	t.Parallel()
	s := openTestPostgres(t, testPostgresURL(t, "TEST_DATABASE_URL"))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := s.applySchema(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

// TestPostgresAcceptsNeonStyleURL: channel_binding=require, as Neon's
// console writes it, connects.
func TestPostgresAcceptsNeonStyleURL(t *testing.T) {
	t.Parallel()
	raw := testPostgresURL(t, "TEST_DATABASE_URL")
	s := openTestPostgres(t, withURLParam(raw, "channel_binding", "require"))
	if err := s.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestMemStoreUpdatedAtMovesWhenTheClockStands: with a clock that does not
// move, every write still moves updated_at on by a microsecond, as
// bumpUpdatedAt does in SQL.
func TestMemStoreUpdatedAtMovesWhenTheClockStands(t *testing.T) {
	t.Parallel()
	s := newMemStore()
	fixed := time.Date(2026, 11, 25, 20, 28, 51, 0, time.UTC)
	s.now = func() time.Time { return fixed }
	task := mustCreate(t, s, "u", newTask{Title: "t"})
	updated, _ := s.UpdateTask(t.Context(), "u", task.ID, taskUpdate{})
	toggled, _, _ := s.ToggleTask(t.Context(), "u", task.ID, nil, idempotencyKey{})
	if want := fixed.Add(time.Microsecond); !updated.UpdatedAt.Equal(want) {
		t.Errorf("after update updated_at = %v, want %v", updated.UpdatedAt, want)
	}
	if want := fixed.Add(2 * time.Microsecond); !toggled.UpdatedAt.Equal(want) {
		t.Errorf("after toggle updated_at = %v, want %v", toggled.UpdatedAt, want)
	}
}

func TestIsConnectionError(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{&pq.Error{Code: "08006"}, true},  // connection_failure
		{&pq.Error{Code: "57P01"}, true},  // admin_shutdown
		{&pq.Error{Code: "57P03"}, true},  // cannot_connect_now (starting up)
		{&pq.Error{Code: "53300"}, true},  // too_many_connections
		{&pq.Error{Code: "23505"}, false}, // unique_violation
		{&pq.Error{Code: "42P01"}, false}, // undefined_table
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{fmt.Errorf("query: %w", context.DeadlineExceeded), true},
		{io.ErrUnexpectedEOF, true},
		{driver.ErrBadConn, true},
		{errors.New("sql: Scan error"), false},
	} {
		if got := isConnectionError(tt.err); got != tt.want {
			t.Errorf("isConnectionError(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// TestPostgresCreatesSchemaWhenMissing: on a database without the table,
// start-up creates the table and its index. It runs in a schema of its own
// (through search_path), dropped afterwards.
func TestPostgresCreatesSchemaWhenMissing(t *testing.T) {
	t.Parallel()
	raw := testPostgresURL(t, "TEST_DATABASE_URL")
	admin := openTestPostgres(t, raw)
	schema := strings.ToLower("tasksvc_" + rand.Text()[:12])
	if _, err := admin.db.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	s := openTestPostgres(t, withURLParam(raw, "options", "-c search_path="+schema))
	var table, index sql.NullString
	err := admin.db.QueryRow(`SELECT to_regclass($1)::text, to_regclass($2)::text`,
		schema+".task", schema+".task_user_id_created_at_id_idx").Scan(&table, &index)
	if err != nil || !table.Valid || !index.Valid {
		t.Fatalf("after start-up: table %v, index %v, err %v", table, index, err)
	}
	task := mustCreate(t, s, "u", newTask{Title: "t"})
	wantSameTask(t, mustGet(t, s, "u", task.ID), task)
}

// withURLParam adds one query parameter to a connection URL.
func withURLParam(raw, key, value string) string {
	sep := "?"
	if strings.Contains(raw, "?") {
		sep = "&"
	}
	return raw + sep + key + "=" + url.QueryEscape(value)
}

// testIdempotentCreate: a key replays the first answer to the same request,
// creates nothing more, refuses a different request, and is per user.
func testIdempotentCreate(t *testing.T, s taskStore) {
	ctx := t.Context()
	user := newUserID(t)
	in := newTask{Title: "once", Description: ptr("only once")}
	key := newIdempotencyKey("k-1", "create", in.Title, in.Description)
	first, replayed, err := s.CreateTask(ctx, user, in, key)
	if err != nil || replayed {
		t.Fatalf("first create: replayed %v, %v", replayed, err)
	}
	again, replayed, err := s.CreateTask(ctx, user, in, key)
	if err != nil || !replayed {
		t.Fatalf("retry: replayed %v, %v; want a replay", replayed, err)
	}
	wantSameTask(t, again, first)
	// The replay is the first answer even after the task changed.
	if _, err := s.UpdateTask(ctx, user, first.ID, taskUpdate{Title: ptr("changed")}); err != nil {
		t.Fatal(err)
	}
	again, replayed, err = s.CreateTask(ctx, user, in, key)
	if err != nil || !replayed {
		t.Fatalf("retry after a change: replayed %v, %v", replayed, err)
	}
	wantSameTask(t, again, first)
	if tasks, _ := listAll(ctx, s, user); len(tasks) != 1 {
		t.Errorf("%d tasks after retries, want 1", len(tasks))
	}
	other := newTask{Title: "something else"}
	if _, _, err := s.CreateTask(ctx, user, other, newIdempotencyKey("k-1", "create", other.Title, other.Description)); !errors.Is(err, errKeyReused) {
		t.Errorf("same key, other request: err = %v, want errKeyReused", err)
	}
	if _, _, err := s.ToggleTask(ctx, user, first.ID, nil, newIdempotencyKey("k-1", "toggle", first.ID)); !errors.Is(err, errKeyReused) {
		t.Errorf("create's key on a toggle: err = %v, want errKeyReused", err)
	}
	// Keys belong to their user.
	if _, replayed, err := s.CreateTask(ctx, newUserID(t), in, key); err != nil || replayed {
		t.Errorf("another user's same key: replayed %v, %v; want a new task", replayed, err)
	}
}

// testIdempotentCreateConcurrent: concurrent requests with one key create
// one task, and every one of them answers with it.
func testIdempotentCreateConcurrent(t *testing.T, s taskStore) {
	user := newUserID(t)
	in := newTask{Title: "raced"}
	key := newIdempotencyKey("race", "create", in.Title, in.Description)
	const n = 8
	results := make([]Task, n)
	var fresh atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			task, replayed, err := s.CreateTask(context.Background(), user, in, key)
			if err != nil {
				t.Error(err)
			}
			if !replayed {
				fresh.Add(1)
			}
			results[i] = task
		})
	}
	wg.Wait()
	if fresh.Load() != 1 {
		t.Errorf("%d requests created a task, want 1", fresh.Load())
	}
	for _, r := range results[1:] {
		wantSameTask(t, r, results[0])
	}
	if tasks, _ := listAll(t.Context(), s, user); len(tasks) != 1 {
		t.Errorf("%d tasks, want 1", len(tasks))
	}
}

// testIdempotentToggle: a retried toggle does not flip back; it replays
// the first answer, even when a precondition no longer holds or the task
// is gone; concurrent toggles with one key flip once.
func testIdempotentToggle(t *testing.T, s taskStore) {
	ctx := t.Context()
	user := newUserID(t)
	task := mustCreate(t, s, user, newTask{Title: "t"})
	key := newIdempotencyKey("flip", "toggle", task.ID)
	const n = 6
	var wg sync.WaitGroup
	var fresh atomic.Int32
	for range n {
		wg.Go(func() {
			_, replayed, err := s.ToggleTask(context.Background(), user, task.ID, ifMatch{task.UpdatedAt}, key)
			if err != nil {
				t.Error(err)
			}
			if !replayed {
				fresh.Add(1)
			}
		})
	}
	wg.Wait()
	if fresh.Load() != 1 {
		t.Errorf("%d toggles applied, want 1", fresh.Load())
	}
	first := mustGet(t, s, user, task.ID)
	if !first.IsCompleted {
		t.Fatal("the task was flipped an even number of times")
	}
	if err := s.DeleteTask(ctx, user, task.ID, nil); err != nil {
		t.Fatal(err)
	}
	again, replayed, err := s.ToggleTask(ctx, user, task.ID, ifMatch{task.UpdatedAt}, key)
	if err != nil || !replayed {
		t.Fatalf("retry after delete: replayed %v, %v; want the first answer", replayed, err)
	}
	wantSameTask(t, again, first)
	if _, _, err := s.ToggleTask(ctx, user, missingID, nil, newIdempotencyKey("other", "toggle", missingID)); !errors.Is(err, errTaskNotFound) {
		t.Errorf("keyed toggle of a missing task: %v, want errTaskNotFound", err)
	}
}

// TestMemStoreKeysExpire: after idempotencyRetention a key is forgotten
// and the same request writes again.
func TestMemStoreKeysExpire(t *testing.T) {
	t.Parallel()
	s := newMemStore()
	clock := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return clock }
	in := newTask{Title: "t"}
	key := newIdempotencyKey("k", "create", in.Title, in.Description)
	first, _, _ := s.CreateTask(t.Context(), "u", in, key)
	clock = clock.Add(idempotencyRetention - time.Second)
	if again, replayed, _ := s.CreateTask(t.Context(), "u", in, key); !replayed || again.ID != first.ID {
		t.Error("a key was forgotten before its retention ended")
	}
	clock = clock.Add(time.Second)
	if again, replayed, _ := s.CreateTask(t.Context(), "u", in, key); replayed || again.ID == first.ID {
		t.Error("a key was replayed after its retention ended")
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
