package main

// What only the in-memory store needs to show: its clock, its copies, its
// key expiry.

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestMemStoreTiesOrderByID: tasks created in the same microsecond are
// listed by id, as PostgreSQL orders them.
func TestMemStoreTiesOrderByID(t *testing.T) {
	t.Parallel()
	s := newMemStore(defaultMaxTasks)
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
	s := newMemStore(defaultMaxTasks)
	desc := "original"
	task := mustCreate(t, s, "u", newTask{Title: "t", Description: &desc})
	desc = "changed by the caller"
	*task.Description = "changed through the result"
	if got := mustGet(t, s, "u", task.ID); *got.Description != "original" {
		t.Errorf("stored description became %q", *got.Description)
	}
}

// TestMemStoreUpdatedAtMovesWhenTheClockStands: with a clock that does not
// move, every write still moves updated_at on by a microsecond, as
// bumpUpdatedAt does in SQL.
func TestMemStoreUpdatedAtMovesWhenTheClockStands(t *testing.T) {
	t.Parallel()
	s := newMemStore(defaultMaxTasks)
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

// TestMemStoreKeysExpire: after idempotencyRetention a key is forgotten
// and the same request writes again.
func TestMemStoreKeysExpire(t *testing.T) {
	t.Parallel()
	s := newMemStore(defaultMaxTasks)
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

// TestMemStoreForgetsIdleUsersKeys: a user who stops writing keeps no keys
// past the retention: another user's write forgets them.
func TestMemStoreForgetsIdleUsersKeys(t *testing.T) {
	t.Parallel()
	s := newMemStore(defaultMaxTasks)
	clock := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return clock }
	task := mustCreate(t, s, "idle", newTask{Title: "t"})
	for i := range 3 {
		if _, _, err := s.ToggleTask(t.Context(), "idle", task.ID, nil, newIdempotencyKey(fmt.Sprint(i), "toggle", task.ID)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteTask(t.Context(), "idle", task.ID, nil); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(idempotencyRetention)
	mustCreate(t, s, "busy", newTask{Title: "t"})
	s.mu.RLock()
	defer s.mu.RUnlock()
	// The user's change counter stays, as its task_user row does in
	// PostgreSQL; its keys and tasks do not.
	if u := s.users["idle"]; u != nil && (len(u.keys) != 0 || len(u.byID) != 0) {
		t.Errorf("the idle user still holds %d keys and %d tasks", len(u.keys), len(u.byID))
	}
	if len(s.expiries) != 0 {
		t.Errorf("%d expired keys are still queued", len(s.expiries))
	}
}

// TestMemStoreKeepsKeyRefsInProportion: a user who records many more keys
// than maxKeysPerUser holds references to no more than about twice as many.
func TestMemStoreKeepsKeyRefsInProportion(t *testing.T) {
	t.Parallel()
	s := newMemStore(defaultMaxTasks)
	task := mustCreate(t, s, "u", newTask{Title: "t"})
	for i := range 3 * maxKeysPerUser {
		if _, _, err := s.ToggleTask(t.Context(), "u", task.ID, nil, newIdempotencyKey(fmt.Sprint(i), "toggle", task.ID)); err != nil {
			t.Fatal(err)
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.users["u"]
	if len(u.keys) != maxKeysPerUser || len(u.keyOrder) > 2*maxKeysPerUser+16 {
		t.Errorf("%d keys held through %d refs, want %d through at most %d", len(u.keys), len(u.keyOrder), maxKeysPerUser, 2*maxKeysPerUser+16)
	}
}

// TestMemStoreDeletesExpireBehindOlderTasks: a delete is forgotten after
// tombstoneRetention even when a task written before it is still live (the
// oldest entry of the log), as PostgreSQL purges tombstones by age.
func TestMemStoreDeletesExpireBehindOlderTasks(t *testing.T) {
	t.Parallel()
	s := newMemStore(defaultMaxTasks)
	clock := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return clock }
	mustCreate(t, s, "u", newTask{Title: "kept"})
	afterKept := changes(t, s, "u", nil, 10).Cursor
	gone := mustCreate(t, s, "u", newTask{Title: "deleted"})
	if err := s.DeleteTask(t.Context(), "u", gone.ID, nil); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(tombstoneRetention + time.Hour)
	mustCreate(t, s, "u", newTask{Title: "recent"})
	if _, err := s.Changes(t.Context(), "u", changesQuery{Since: &afterKept, Limit: 10}); !errors.Is(err, errCursorExpired) {
		t.Errorf("a cursor from before the forgotten delete: %v, want errCursorExpired", err)
	}
	if page := changes(t, s, "u", nil, 10); len(page.Changes) != 2 {
		t.Errorf("a full sync after the delete is forgotten: %v, want the 2 live tasks", describeChanges(page))
	}
	// Paging through the current tasks passes the forgotten delete's
	// number: the task before it and the one after it both come.
	first := changes(t, s, "u", nil, 1)
	rest := changes(t, s, "u", &first.Cursor, 10)
	if len(first.Changes) != 1 || len(rest.Changes) != 1 || rest.HasMore {
		t.Errorf("a full sync one task a page: %v then %v", describeChanges(first), describeChanges(rest))
	}
}

// TestMemStoreFailedWritesKeepNoUser: writes to missing tasks under fresh
// user ids leave nothing behind, so they cannot grow the store.
func TestMemStoreFailedWritesKeepNoUser(t *testing.T) {
	t.Parallel()
	s := newMemStore(defaultMaxTasks)
	for i := range 100 {
		user := fmt.Sprint("nobody-", i)
		if _, _, err := s.ToggleTask(t.Context(), user, missingID, nil, idempotencyKey{}); !errors.Is(err, errTaskNotFound) {
			t.Fatal(err)
		}
		if _, err := s.UpdateTask(t.Context(), user, missingID, taskUpdate{Title: ptr("x")}); !errors.Is(err, errTaskNotFound) {
			t.Fatal(err)
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.users) != 0 {
		t.Errorf("%d users kept after writes that found no task, want 0", len(s.users))
	}
}

// storeWithForgottenDeletes returns a memory store whose user "u" created
// and deleted a task more than tombstoneRetention ago, then wrote again:
// the delete is forgotten, so a cursor from before it is expired.
func storeWithForgottenDeletes(t testing.TB) *memStore {
	t.Helper()
	s := newMemStore(defaultMaxTasks)
	clock := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return clock }
	gone := mustCreate(t, s, "u", newTask{Title: "deleted long ago"})
	if err := s.DeleteTask(t.Context(), "u", gone.ID, nil); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(tombstoneRetention + time.Hour)
	mustCreate(t, s, "u", newTask{Title: "recent"})
	return s
}
