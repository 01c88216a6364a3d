package main

// The change feed, on both stores (through runStoreSuite) and through HTTP.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"
)

// changes reads the user's changes after since (nil: from the start) and
// fails the test on an error.
func changes(t *testing.T, s taskStore, user string, since *changeCursor, limit int) changesPage {
	t.Helper()
	page, err := s.Changes(t.Context(), user, changesQuery{Since: since, Limit: limit})
	if err != nil {
		t.Fatalf("changes since %v: %v", since, err)
	}
	return page
}

// describeChanges renders a page's changes as "+id" (upsert) and "-id"
// (delete), for comparisons.
func describeChanges(page changesPage) []string {
	var out []string
	for _, c := range page.Changes {
		if c.Deleted {
			out = append(out, "-"+c.Task.ID)
		} else {
			out = append(out, "+"+c.Task.ID)
		}
	}
	return out
}

// testChanges: every write is a change, in the order written, each task
// once in its latest state; a delete leaves a tombstone; without since,
// only the current tasks; pages follow one another through the cursor;
// a cursor past the user's last change is refused.
func testChanges(t *testing.T, s taskStore) {
	user := newUserID(t)
	start := changes(t, s, user, nil, 1000)
	if len(start.Changes) != 0 || start.HasMore {
		t.Fatalf("a new user's feed: %v", describeChanges(start))
	}
	c0 := start.Cursor
	a := mustCreate(t, s, user, newTask{Title: "a"})
	b := mustCreate(t, s, user, newTask{Title: "b"})
	page := changes(t, s, user, &c0, 1000)
	if got := fmt.Sprint(describeChanges(page)); got != fmt.Sprint([]string{"+" + a.ID, "+" + b.ID}) || page.HasMore {
		t.Errorf("after two creates: %s, more %v", got, page.HasMore)
	}
	c1 := page.Cursor
	updated, err := s.UpdateTask(t.Context(), user, a.ID, taskUpdate{Title: ptr("a2")})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTask(t.Context(), user, b.ID, nil); err != nil {
		t.Fatal(err)
	}
	page = changes(t, s, user, &c1, 1000)
	if got := fmt.Sprint(describeChanges(page)); got != fmt.Sprint([]string{"+" + a.ID, "-" + b.ID}) {
		t.Errorf("after an update and a delete: %s", got)
	} else {
		wantSameTask(t, page.Changes[0].Task, updated)
	}
	whole := changes(t, s, user, &c0, 1000)
	if got := fmt.Sprint(describeChanges(whole)); got != fmt.Sprint([]string{"+" + a.ID, "-" + b.ID}) {
		t.Errorf("since the start: %s, want each task once, in its latest state", got)
	}
	current := changes(t, s, user, nil, 1000)
	if got := fmt.Sprint(describeChanges(current)); got != fmt.Sprint([]string{"+" + a.ID}) || current.Cursor != page.Cursor {
		t.Errorf("without since: %s, cursor %d; want the one task and cursor %d", got, current.Cursor, page.Cursor)
	}
	first := changes(t, s, user, &c0, 1)
	if !first.HasMore || len(first.Changes) != 1 {
		t.Fatalf("a page of 1 of 2: %v, more %v", describeChanges(first), first.HasMore)
	}
	if rest := changes(t, s, user, &first.Cursor, 1); fmt.Sprint(describeChanges(rest)) != "[-"+b.ID+"]" || rest.HasMore {
		t.Errorf("the page after: %v, more %v", describeChanges(rest), rest.HasMore)
	}
	// A write that changes nothing (a missing task) moves nothing a reader sees.
	if _, _, err := s.ToggleTask(t.Context(), user, missingID, nil, idempotencyKey{}); !errors.Is(err, errTaskNotFound) {
		t.Fatal(err)
	}
	last := changes(t, s, user, &page.Cursor, 1000)
	if len(last.Changes) != 0 || last.Cursor != page.Cursor {
		t.Errorf("after a write that changed nothing: %v, cursor %d (was %d)", describeChanges(last), last.Cursor, page.Cursor)
	}
	// Nor does it take a number: the user's counter, the cursor of a full
	// sync, stays where it was, after a stale toggle too.
	_, _, err = s.ToggleTask(t.Context(), user, a.ID, ifMatch{a.UpdatedAt}, idempotencyKey{})
	wantStale(t, "a toggle with a stale version", err, updated)
	if again := changes(t, s, user, nil, 1000); again.Cursor != current.Cursor {
		t.Errorf("the counter after two writes that changed nothing: %d, want %d", again.Cursor, current.Cursor)
	}
	future := cursorAt(current.Cursor.After + 1000)
	if _, err := s.Changes(t.Context(), user, changesQuery{Since: &future, Limit: 10}); !errors.Is(err, errCursorUnknown) {
		t.Errorf("a cursor past the last change: %v, want errCursorUnknown", err)
	}
}

// testChangesUnderConcurrentWriters: writers create, update, toggle and
// delete at once while a reader follows the feed; once the writers are
// done and the reader has caught up, its copy is the store's list exactly:
// no change was missed, whatever order the writes committed in.
func testChangesUnderConcurrentWriters(t *testing.T, s taskStore) {
	user := newUserID(t)
	copyOf := make(map[string]Task)
	apply := func(page changesPage) {
		for _, c := range page.Changes {
			if c.Deleted {
				delete(copyOf, c.Task.ID)
			} else {
				copyOf[c.Task.ID] = c.Task
			}
		}
	}
	start := changes(t, s, user, nil, 1000)
	cursor := start.Cursor
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		goWait(&wg, func() { writeAtRandom(t, s, user, w, 40) })
	}
	go func() { wg.Wait(); close(done) }()
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		for {
			page := changes(t, s, user, &cursor, 7)
			apply(page)
			cursor = page.Cursor
			if !page.HasMore {
				break
			}
		}
	}
	tasks, err := listAll(t.Context(), s, user)
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != len(copyOf) {
		t.Errorf("the reader's copy has %d tasks, the store %d", len(copyOf), len(tasks))
	}
	for _, task := range tasks {
		if got, ok := copyOf[task.ID]; !ok || !got.UpdatedAt.Equal(task.UpdatedAt) || got.IsCompleted != task.IsCompleted {
			t.Errorf("task %s: the reader's copy %s, the store %s", task.ID, describe(got), describe(task))
		}
	}
}

// writeAtRandom makes n writes for a user: creates, and updates, toggles
// and deletes of the tasks it made.
func writeAtRandom(t *testing.T, s taskStore, user string, worker, n int) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(uint64(worker), uint64(time.Now().UnixNano())))
	var mine []string
	for i := range n {
		if len(mine) == 0 || rng.IntN(4) == 0 {
			task, _, err := s.CreateTask(ctx, user, newTask{Title: fmt.Sprint("w", worker, "-", i)}, idempotencyKey{})
			if err != nil {
				t.Error(err)
				return
			}
			mine = append(mine, task.ID)
			continue
		}
		j := rng.IntN(len(mine))
		var err error
		switch rng.IntN(3) {
		case 0:
			_, err = s.UpdateTask(ctx, user, mine[j], taskUpdate{Title: ptr(fmt.Sprint("u", i))})
		case 1:
			_, _, err = s.ToggleTask(ctx, user, mine[j], nil, idempotencyKey{})
		case 2:
			err = s.DeleteTask(ctx, user, mine[j], nil)
			mine = append(mine[:j], mine[j+1:]...)
		}
		if err != nil {
			t.Error(err)
			return
		}
	}
}

// TestTombstoneWindow: a user keeps the deletes of their last
// TombstoneWindow changes only; a cursor that needs an older one is
// errCursorExpired.
func TestTombstoneWindow(t *testing.T) {
	t.Parallel()
	onEachStoreWith(t, func(o *pgOptions) { o.TombstoneWindow = 3 }, testTombstoneWindow)
}

func testTombstoneWindow(t *testing.T, s taskStore) {
	user := newUserID(t)
	var tasks []Task
	for _, title := range []string{"a", "b", "c", "d"} {
		tasks = append(tasks, mustCreate(t, s, user, newTask{Title: title}))
	}
	beforeDeletes := changes(t, s, user, nil, 10).Cursor // change 4
	for i, task := range tasks {
		if err := s.DeleteTask(t.Context(), user, task.ID, nil); err != nil {
			t.Fatal(err)
		}
		if i == 2 { // changes 5, 6, 7: all three deletes still kept
			if page := changes(t, s, user, &beforeDeletes, 10); len(page.Changes) != 3 {
				t.Fatalf("three deletes in a window of three: %v", describeChanges(page))
			}
		}
	}
	// The fourth delete (8) forgets the first (5).
	if _, err := s.Changes(t.Context(), user, changesQuery{Since: &beforeDeletes, Limit: 10}); !errors.Is(err, errCursorExpired) {
		t.Errorf("a cursor that needs the delete past the window: %v, want errCursorExpired", err)
	}
	afterFirst := cursorAt(5)
	if got, want := fmt.Sprint(describeChanges(changes(t, s, user, &afterFirst, 10))),
		fmt.Sprint([]string{"-" + tasks[1].ID, "-" + tasks[2].ID, "-" + tasks[3].ID}); got != want {
		t.Errorf("the deletes kept: %s, want %s", got, want)
	}
}

// TestChangesExpire: a cursor from before a forgotten delete is
// errCursorExpired, one after it is followed.
func TestChangesExpire(t *testing.T) {
	t.Parallel()
	s := storeWithForgottenDeletes(t)
	before, after := cursorAt(1), cursorAt(2)
	if _, err := s.Changes(t.Context(), "u", changesQuery{Since: &before, Limit: 10}); !errors.Is(err, errCursorExpired) {
		t.Errorf("a cursor before the forgotten delete: %v, want errCursorExpired", err)
	}
	if page, err := s.Changes(t.Context(), "u", changesQuery{Since: &after, Limit: 10}); err != nil || len(page.Changes) != 1 {
		t.Errorf("a cursor after it: %v, %v", describeChanges(page), err)
	}
}

// TestChangesEndpoint: the answer's shape, the cursor followed, and what
// is refused: a cursor of another user or a malformed one (422), an
// expired one (410).
func TestChangesEndpoint(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	task := createTask(t, h, "u", `{"title": "t"}`)
	type feed struct {
		Changes []struct {
			Op   string
			ID   string
			Task *testTask
		}
		Cursor  string
		HasMore bool `json:"has_more"`
	}
	first := decodeAs[feed](t, serve(t, h, "GET", "/api/u/tasks/changes", ""), http.StatusOK)
	if len(first.Changes) != 1 || first.Changes[0].Op != "upsert" || first.Changes[0].Task == nil || first.Changes[0].Task.ID != task.ID || first.HasMore {
		t.Fatalf("the first answer: %+v", first)
	}
	serve(t, h, "DELETE", "/api/u/tasks/"+task.ID, "")
	next := decodeAs[feed](t, serve(t, h, "GET", "/api/u/tasks/changes?since="+first.Cursor, ""), http.StatusOK)
	if len(next.Changes) != 1 || next.Changes[0].Op != "delete" || next.Changes[0].ID != task.ID || next.Cursor == first.Cursor {
		t.Errorf("after the delete: %+v", next)
	}
	for _, target := range []string{"/api/other/tasks/changes?since=" + first.Cursor, "/api/u/tasks/changes?since=nope",
		"/api/u/tasks/changes?limit=1001", "/api/u/tasks/changes?since=" + encodeChangeCursor(cursorAt(99), "u")} {
		if rec := serve(t, h, "GET", target, ""); rec.Code != http.StatusUnprocessableEntity {
			t.Errorf("GET %s: %d, want 422", target, rec.Code)
		}
	}
	expired := newServer(discardLogger(), storeWithForgottenDeletes(t), testCORS, nil, nil)
	rec := serve(t, expired, "GET", "/api/u/tasks/changes?since="+encodeChangeCursor(cursorAt(1), "u"), "")
	if rec.Code != http.StatusGone {
		t.Errorf("an expired cursor: %d, want 410", rec.Code)
	}
}
