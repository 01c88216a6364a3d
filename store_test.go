package main

// The taskStore suite: one set of cases, run on the in-memory store always
// and on PostgreSQL when TEST_DATABASE_URL is set. With TEST_DATABASE_URL
// set, a database that cannot be reached fails the tests; it never skips
// them.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestMemStore(t *testing.T) {
	t.Parallel()
	runStoreSuite(t, func(t *testing.T) taskStore { return newMemStore(defaultMaxTasks) })
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

// TestPostgresStoreThroughPooler runs the suite through a transaction-mode
// PgBouncer when TEST_PGBOUNCER_URL names one. .ci/run starts one and runs
// this test on its own; in the main test run it skips.
func TestPostgresStoreThroughPooler(t *testing.T) {
	t.Parallel()
	s := openTestPostgres(t, testPostgresURL(t, "TEST_PGBOUNCER_URL"))
	runStoreSuite(t, func(*testing.T) taskStore { return s })
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
		{"Changes", testChanges},
		{"ChangesUnderConcurrentWriters", testChangesUnderConcurrentWriters},
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

// wantStale checks err is a *staleError carrying the task as it is now.
func wantStale(t *testing.T, what string, err error, current Task) {
	t.Helper()
	var stale *staleError
	if !errors.As(err, &stale) {
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
	won, lost := race(t, writers, func(i int) error {
		_, err := s.UpdateTask(context.Background(), user, task.ID,
			taskUpdate{Title: ptr(fmt.Sprint("writer ", i)), IfMatch: ifMatch{task.UpdatedAt}})
		return err
	}, func(err error) bool {
		var stale *staleError
		return errors.As(err, &stale)
	})
	if won != 1 || lost != writers-1 {
		t.Errorf("%d writers succeeded and %d were refused, want 1 and %d", won, lost, writers-1)
	}
}

// race runs n writes at once and counts those that succeed and those that
// refused says were refused; any other error fails the test.
func race(t *testing.T, n int, write func(i int) error, refused func(error) bool) (won, lost int64) {
	t.Helper()
	var wonN, lostN atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		goWait(&wg, func() {
			switch err := write(i); {
			case err == nil:
				wonN.Add(1)
			case refused(err):
				lostN.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	return wonN.Load(), lostN.Load()
}

// listWith returns what ListTasks gives for q, or with no limit in q,
// every task q selects, page by page.
func listWith(t *testing.T, s taskStore, user string, q listQuery) []Task {
	t.Helper()
	var tasks []Task
	var err error
	if q.Limit > 0 {
		tasks, err = s.ListTasks(t.Context(), user, q)
	} else {
		tasks, err = listPages(t.Context(), s, user, q)
	}
	if err != nil {
		t.Fatalf("list %+v: %v", q, err)
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
		goWait(&wg, func() {
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
		goWait(&wg, func() {
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
		goWait(&wg, func() {
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
		goWait(&wg, func() {
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

// wantTaskLimit checks err refuses a create for the user's task limit.
func wantTaskLimit(t *testing.T, what string, err error, limit int) {
	t.Helper()
	var tooMany *taskLimitError
	if !errors.As(err, &tooMany) || tooMany.Limit != limit {
		t.Errorf("%s: err = %v, want a *taskLimitError with limit %d", what, err, limit)
	}
}

// TestTaskLimit: a create past the user's limit stores nothing, with or
// without a key, and records no key; a delete makes room again; other
// users have limits of their own; 0 is no limit.
func TestTaskLimit(t *testing.T) {
	t.Parallel()
	onEachStoreWith(t, func(o *pgOptions) { o.MaxTasks = 3 }, func(t *testing.T, s taskStore) {
		user, other := newUserID(t), newUserID(t)
		var tasks []Task
		for range 3 {
			tasks = append(tasks, mustCreate(t, s, user, newTask{Title: "t"}))
		}
		_, _, err := s.CreateTask(t.Context(), user, newTask{Title: "one too many"}, idempotencyKey{})
		wantTaskLimit(t, "a fourth create", err, 3)
		in := newTask{Title: "keyed"}
		key := newIdempotencyKey("k", "create", in.Title, in.Description)
		_, _, err = s.CreateTask(t.Context(), user, in, key)
		wantTaskLimit(t, "a fourth create with a key", err, 3)
		if n := len(listWith(t, s, user, listQuery{})); n != 3 {
			t.Errorf("the user has %d tasks after refused creates, want 3", n)
		}
		mustCreate(t, s, other, newTask{Title: "another user's"})
		if err := s.DeleteTask(t.Context(), user, tasks[0].ID, nil); err != nil {
			t.Fatal(err)
		}
		// The refused keyed create recorded nothing: the key now creates.
		created, replayed, err := s.CreateTask(t.Context(), user, in, key)
		if err != nil || replayed || created.Title != "keyed" {
			t.Errorf("the keyed create after a delete: %s, replayed %v, %v", describe(created), replayed, err)
		}
		_, _, err = s.CreateTask(t.Context(), user, newTask{Title: "full again"}, idempotencyKey{})
		wantTaskLimit(t, "a create after the limit is reached again", err, 3)
	})
	onEachStoreWith(t, func(o *pgOptions) { o.MaxTasks = 0 }, func(t *testing.T, s taskStore) {
		user := newUserID(t)
		for range 5 {
			mustCreate(t, s, user, newTask{Title: "t"})
		}
	})
}

// TestKeyedCreateReplaysAtTheTaskLimit: a retry of a keyed create that
// succeeded gets its first answer even after the user reached the task
// limit, and even after that task was deleted and the limit reached again:
// a replay stores nothing, so the limit does not refuse it.
func TestKeyedCreateReplaysAtTheTaskLimit(t *testing.T) {
	t.Parallel()
	onEachStoreWith(t, func(o *pgOptions) { o.MaxTasks = 2 }, func(t *testing.T, s taskStore) {
		ctx := t.Context()
		user := newUserID(t)
		in := newTask{Title: "keyed", Description: ptr("before the limit")}
		key := newIdempotencyKey("k", "create", in.Title, in.Description)
		first, replayed, err := s.CreateTask(ctx, user, in, key)
		if err != nil || replayed {
			t.Fatalf("first keyed create: replayed %v, %v", replayed, err)
		}
		mustCreate(t, s, user, newTask{Title: "fills the limit"})
		_, _, err = s.CreateTask(ctx, user, newTask{Title: "one too many"}, idempotencyKey{})
		wantTaskLimit(t, "a create at the limit", err, 2)

		again, replayed, err := s.CreateTask(ctx, user, in, key)
		if err != nil || !replayed {
			t.Fatalf("retry at the limit: replayed %v, %v; want the first answer", replayed, err)
		}
		wantSameTask(t, again, first)
		if n := len(listWith(t, s, user, listQuery{})); n != 2 {
			t.Errorf("the user has %d tasks after a replay at the limit, want 2", n)
		}

		if err := s.DeleteTask(ctx, user, first.ID, nil); err != nil {
			t.Fatal(err)
		}
		mustCreate(t, s, user, newTask{Title: "fills the limit again"})
		again, replayed, err = s.CreateTask(ctx, user, in, key)
		if err != nil || !replayed {
			t.Fatalf("retry at the limit after the task was deleted: replayed %v, %v; want the first answer", replayed, err)
		}
		wantSameTask(t, again, first)
		if n := len(listWith(t, s, user, listQuery{})); n != 2 {
			t.Errorf("the user has %d tasks after the second replay, want 2", n)
		}
	})
}

// TestTaskLimitUnderConcurrency: at one task below the limit, of many
// concurrent creates exactly one succeeds.
func TestTaskLimitUnderConcurrency(t *testing.T) {
	t.Parallel()
	const limit, writers = 5, 12
	onEachStoreWith(t, func(o *pgOptions) { o.MaxTasks = limit }, func(t *testing.T, s taskStore) {
		user := newUserID(t)
		for range limit - 1 {
			mustCreate(t, s, user, newTask{Title: "t"})
		}
		created, refused := race(t, writers, func(i int) error {
			_, _, err := s.CreateTask(context.Background(), user, newTask{Title: fmt.Sprint("racer ", i)}, idempotencyKey{})
			return err
		}, func(err error) bool {
			var tooMany *taskLimitError
			return errors.As(err, &tooMany)
		})
		if created != 1 || refused != writers-1 {
			t.Errorf("%d creates succeeded and %d were refused, want 1 and %d", created, refused, writers-1)
		}
		if n := len(listWith(t, s, user, listQuery{})); n != limit {
			t.Errorf("the user has %d tasks, want %d", n, limit)
		}
	})
}

// TestKeysPerUserLimit: past maxKeysPerUser keys, a user's oldest key is
// forgotten (its retry writes again) and the others still replay.
func TestKeysPerUserLimit(t *testing.T) {
	t.Parallel()
	onEachStoreWith(t, func(*pgOptions) {}, func(t *testing.T, s taskStore) {
		user := newUserID(t)
		task := mustCreate(t, s, user, newTask{Title: "t"})
		toggle := func(i int) bool {
			t.Helper()
			key := newIdempotencyKey(fmt.Sprint("key-", i), "toggle", task.ID)
			_, replayed, err := s.ToggleTask(t.Context(), user, task.ID, nil, key)
			if err != nil {
				t.Fatalf("toggle with key %d: %v", i, err)
			}
			return replayed
		}
		for i := range maxKeysPerUser + 1 {
			if toggle(i) {
				t.Fatalf("key %d replayed on its first use", i)
			}
		}
		if !toggle(1) || !toggle(maxKeysPerUser) {
			t.Error("a key among the newest maxKeysPerUser was forgotten")
		}
		if toggle(0) {
			t.Error("the oldest key is still remembered past maxKeysPerUser keys")
		}
	})
}
