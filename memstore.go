package main

// The in-memory store: tasks kept in maps, used when DATABASE_URL is unset
// and as the fake that handler tests run on. It behaves exactly as the
// PostgreSQL store does; one suite (store_test.go) holds both to that.

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
	"time"
)

// memStore is the taskStore used when no DATABASE_URL is set, and the fake
// the handler tests run on. It mirrors pgStore exactly: the same ordering,
// microsecond timestamps and updated_at rule.
type memStore struct {
	mu    sync.RWMutex                 // guards tasks and keys
	tasks map[string]map[string]Task   // user_id → id → task
	keys  map[string]map[string]memKey // user_id → idempotency key → first answer
	now   func() time.Time
}

// memKey is a recorded answer to an idempotency key.
type memKey struct {
	hash     [32]byte
	answer   Task
	recorded time.Time
}

// newMemStore returns an empty in-memory store.
func newMemStore() *memStore {
	return &memStore{tasks: make(map[string]map[string]Task), keys: make(map[string]map[string]memKey), now: time.Now}
}

// ListTasks implements taskStore on a sorted snapshot, so writers are not
// held up while the caller consumes it.
func (m *memStore) ListTasks(_ context.Context, userID string, q listQuery) iter.Seq2[Task, error] {
	m.mu.RLock()
	tasks := make([]Task, 0, len(m.tasks[userID]))
	for _, t := range m.tasks[userID] {
		if q.Completed != nil && t.IsCompleted != *q.Completed || q.After != nil && !q.After.before(t) {
			continue
		}
		tasks = append(tasks, t.clone())
	}
	m.mu.RUnlock()
	slices.SortFunc(tasks, func(a, b Task) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	if q.Limit > 0 && len(tasks) > q.Limit {
		tasks = tasks[:q.Limit]
	}
	return func(yield func(Task, error) bool) {
		for _, t := range tasks {
			if !yield(t, nil) {
				return
			}
		}
	}
}

// CreateTask implements taskStore.
func (m *memStore) CreateTask(_ context.Context, userID string, in newTask, key idempotencyKey) (Task, bool, error) {
	now := storeTime(m.now())
	t := Task{
		ID:          newTaskID(),
		UserID:      userID,
		Title:       in.Title,
		Description: cloneString(in.Description),
		CreatedAt:   now,
		UpdatedAt:   now,
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if answer, found, err := m.recordedAnswer(userID, key); found || err != nil {
		return answer, found, err
	}
	if m.tasks[userID] == nil {
		m.tasks[userID] = make(map[string]Task)
	}
	m.tasks[userID][t.ID] = t
	m.record(userID, key, t)
	return t.clone(), false, nil
}

// recordedAnswer is pgStore.recordedAnswer; the caller holds the lock.
func (m *memStore) recordedAnswer(userID string, key idempotencyKey) (Task, bool, error) {
	if key.Key == "" {
		return Task{}, false, nil
	}
	rec, ok := m.keys[userID][key.Key]
	switch {
	case !ok || m.now().Sub(rec.recorded) >= idempotencyRetention:
		return Task{}, false, nil
	case rec.hash != key.Hash:
		return Task{}, false, errKeyReused
	}
	return rec.answer.clone(), true, nil
}

// record keeps a write's answer under key, and forgets the user's expired
// keys; the caller holds the lock.
func (m *memStore) record(userID string, key idempotencyKey, answer Task) {
	if key.Key == "" {
		return
	}
	now := m.now()
	if m.keys[userID] == nil {
		m.keys[userID] = make(map[string]memKey)
	}
	for k, rec := range m.keys[userID] {
		if now.Sub(rec.recorded) >= idempotencyRetention {
			delete(m.keys[userID], k)
		}
	}
	m.keys[userID][key.Key] = memKey{hash: key.Hash, answer: answer.clone(), recorded: now}
}

// GetTask implements taskStore.
func (m *memStore) GetTask(_ context.Context, userID, id string) (Task, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	t, ok := m.tasks[userID][id]
	if !ok {
		return Task{}, fmt.Errorf("get task: %w", errTaskNotFound)
	}
	return t.clone(), nil
}

// UpdateTask implements taskStore.
func (m *memStore) UpdateTask(_ context.Context, userID, id string, u taskUpdate) (Task, error) {
	t, _, err := m.modifyKeyed("update task", userID, id, u.IfMatch, idempotencyKey{}, func(t *Task) {
		if u.Title != nil {
			t.Title = *u.Title
		}
		if u.SetDescription {
			t.Description = cloneString(u.Description)
		}
		if u.IsCompleted != nil {
			t.IsCompleted = *u.IsCompleted
		}
	})
	return t, err
}

// DeleteTask implements taskStore.
func (m *memStore) DeleteTask(_ context.Context, userID, id string, cond ifMatch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tasks[userID][id]
	if !ok {
		return fmt.Errorf("delete task: %w", errTaskNotFound)
	}
	if !cond.met(t.UpdatedAt) {
		return &staleError{Current: t.clone()}
	}
	delete(m.tasks[userID], id)
	if len(m.tasks[userID]) == 0 {
		delete(m.tasks, userID) // keep no trace of users without tasks
	}
	return nil
}

// ToggleTask implements taskStore.
func (m *memStore) ToggleTask(_ context.Context, userID, id string, cond ifMatch, key idempotencyKey) (Task, bool, error) {
	return m.modifyKeyed("toggle task", userID, id, cond, key, func(t *Task) {
		t.IsCompleted = !t.IsCompleted
	})
}

// Ping implements taskStore; memory always answers.
func (m *memStore) Ping(context.Context) error { return nil }

// Close implements taskStore.
func (m *memStore) Close() error { return nil }

// modifyKeyed applies change to one task under the write lock, if cond is
// met, bumps updated_at the way bumpUpdatedAt does in SQL, and records the
// answer under key. A key seen before replays its answer first, whatever
// has happened to the task since, as in pgStore.
func (m *memStore) modifyKeyed(op, userID, id string, cond ifMatch, key idempotencyKey, change func(*Task)) (Task, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if answer, found, err := m.recordedAnswer(userID, key); found || err != nil {
		return answer, found, err
	}
	t, ok := m.tasks[userID][id]
	if !ok {
		return Task{}, false, fmt.Errorf("%s: %w", op, errTaskNotFound)
	}
	if !cond.met(t.UpdatedAt) {
		return Task{}, false, &staleError{Current: t.clone()}
	}
	change(&t)
	t.UpdatedAt = later(storeTime(m.now()), t.UpdatedAt.Add(time.Microsecond))
	m.tasks[userID][id] = t
	m.record(userID, key, t)
	return t.clone(), false, nil
}

// later returns the later of two times.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// clone returns a copy of t that shares no memory with it, so callers
// cannot change what the store holds.
func (t Task) clone() Task {
	t.Description = cloneString(t.Description)
	return t
}

// cloneString copies the string a pointer points to.
func cloneString(s *string) *string {
	if s == nil {
		return nil
	}
	c := *s
	return &c
}
