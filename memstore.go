package main

// The in-memory store: used when DATABASE_URL is unset and as the fake that
// handler tests run on. It behaves exactly as the PostgreSQL store does,
// costs included: each user's tasks are kept in list order, one slice per
// state, as PostgreSQL's indexes keep them, so a page is found by binary
// search; keys are forgotten oldest first without scans. One suite
// (store_test.go) holds both stores to the same behaviour.

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// memStore is the taskStore used when no DATABASE_URL is set, and the fake
// the handler tests run on. It mirrors pgStore exactly: the same ordering,
// microsecond timestamps, updated_at rule and bounds.
type memStore struct {
	mu    sync.RWMutex        // guards users, expiries and keySeq
	users map[string]*memUser // user_id → the user's tasks and keys
	// expiries lists every key recorded, oldest first, so that expired keys
	// are forgotten even for users who no longer write.
	expiries []memKeyRef
	keySeq   uint64 // numbers recorded keys, so a stale memKeyRef is told apart
	maxTasks int    // per user; 0 for no limit
	// tombstones is how many of a user's changes a delete stays in the
	// feed for: tombstoneWindow, smaller in tests.
	tombstones int64
	now        func() time.Time
	hub        *changeHub // told of each write as it is made

}

// memUser is one user's data. A task is in byID and in exactly one of open
// and done, the slice of its state, each sorted by (created_at, id).
type memUser struct {
	byID     map[string]*Task
	open     []*Task
	done     []*Task
	keys     map[string]memKey
	keyOrder []memKeyRef // the user's keys, oldest first (some forgotten since)

	// The change feed, as task_user, task.change and task_tombstone keep
	// it in PostgreSQL: changes numbers the user's writes; log holds one
	// entry per write in that order, of which only the latest per task
	// (latest) counts, a delete's until it is forgotten after
	// tombstoneRetention, which moves forgotten on. deletes lists the
	// deletes oldest first, so they expire by age whatever is older in
	// the log, as PostgreSQL purges tombstones by deleted_at.
	changes   int64
	forgotten int64
	log       []memChange
	latest    map[string]int64 // task id → the number of its last write
	deletes   []memChange
}

// memChange is one write in a user's change log.
type memChange struct {
	change  int64
	id      string
	deleted bool
	at      time.Time
}

// memKey is a recorded answer to an idempotency key.
type memKey struct {
	hash     [32]byte
	answer   Task
	recorded time.Time
	seq      uint64
}

// memKeyRef names one recording of a key; it is stale once the key has
// been forgotten or recorded again (another seq).
type memKeyRef struct {
	userID, key string
	seq         uint64
}

var _ taskStore = (*memStore)(nil)

// newMemStore returns an empty in-memory store that allows each user
// maxTasks tasks (0 for no limit).
func newMemStore(maxTasks int) *memStore {
	return &memStore{users: make(map[string]*memUser), maxTasks: maxTasks, tombstones: tombstoneWindow, now: time.Now, hub: newChangeHub()}
}

// ListTasks implements taskStore: a binary search finds the page's start in
// the state's slice, or in both slices, merged, when no state is asked for.
func (m *memStore) ListTasks(_ context.Context, userID string, q listQuery) ([]Task, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	u := m.users[userID]
	if u == nil {
		return []Task{}, nil
	}
	var open, done []*Task
	if q.Completed == nil || !*q.Completed {
		open = after(u.open, q.After)
	}
	if q.Completed == nil || *q.Completed {
		done = after(u.done, q.After)
	}
	page := make([]Task, 0, min(q.Limit, len(open)+len(done)))
	for len(page) < q.Limit && len(open)+len(done) > 0 {
		if len(done) == 0 || len(open) > 0 && listOrder(open[0], done[0]) < 0 {
			page, open = append(page, open[0].clone()), open[1:]
		} else {
			page, done = append(page, done[0].clone()), done[1:]
		}
	}
	return page, nil
}

// after returns the part of a sorted slice after the cursor (all of it when
// c is nil).
func after(tasks []*Task, c *listCursor) []*Task {
	if c == nil {
		return tasks
	}
	i, found := slices.BinarySearchFunc(tasks, *c, compareToCursor)
	if found {
		i++
	}
	return tasks[i:]
}

// listOrder is the list's order, (created_at, id): that of the cursors.
func listOrder(a, b *Task) int {
	return compareToCursor(a, listCursor{CreatedAt: b.CreatedAt, ID: b.ID})
}

// CreateTask implements taskStore.
func (m *memStore) CreateTask(_ context.Context, userID string, in newTask, key idempotencyKey) (Task, bool, error) {
	now := storeTime(m.now())
	t := &Task{
		ID:          newTaskID(),
		UserID:      userID,
		Title:       in.Title,
		Description: cloneString(in.Description),
		CreatedAt:   now,
		UpdatedAt:   now,
	}
	return m.writeKeyed(userID, key, func(u *memUser) (Task, error) {
		if m.maxTasks > 0 && len(u.byID) >= m.maxTasks {
			return Task{}, fmt.Errorf("create task: %w", &taskLimitError{Limit: m.maxTasks})
		}
		u.insert(t)
		m.logChange(u, userID, t.ID, false)
		return *t, nil
	})
}

// writeKeyed runs write on the user's data under the write lock, unless
// key has an answer recorded (replayed instead, whatever has happened
// since, as in pgStore), and records write's answer under key.
func (m *memStore) writeKeyed(userID string, key idempotencyKey, write func(*memUser) (Task, error)) (Task, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.afterWrite(userID)
	u := m.user(userID)
	if answer, found, err := m.recordedAnswer(u, key); found || err != nil {
		return answer, found, err
	}
	answer, err := write(u)
	if err != nil {
		return Task{}, false, err
	}
	m.record(u, userID, key, answer)
	return answer.clone(), false, nil
}

// user returns the user's data, made empty if there is none; the caller
// holds the write lock and calls dropIfEmpty when it is done. A user who
// has written is kept, counter and tombstones, as PostgreSQL keeps the
// task_user row.
func (m *memStore) user(userID string) *memUser {
	u := m.users[userID]
	if u == nil {
		u = &memUser{byID: make(map[string]*Task), keys: make(map[string]memKey), latest: make(map[string]int64)}
		m.users[userID] = u
	}
	return u
}

// insert adds t to the user's tasks.
func (u *memUser) insert(t *Task) {
	u.byID[t.ID] = t
	list := u.list(t.IsCompleted)
	i, _ := slices.BinarySearchFunc(*list, t, listOrder)
	*list = slices.Insert(*list, i, t)
}

// remove takes t out of the user's tasks.
func (u *memUser) remove(t *Task) {
	delete(u.byID, t.ID)
	list := u.list(t.IsCompleted)
	if i, found := slices.BinarySearchFunc(*list, t, listOrder); found {
		*list = slices.Delete(*list, i, i+1)
	}
}

// list returns the slice that holds the tasks in a state.
func (u *memUser) list(completed bool) *[]*Task {
	if completed {
		return &u.done
	}
	return &u.open
}

// recordedAnswer is pgStore.recordedAnswer; the caller holds the lock.
func (m *memStore) recordedAnswer(u *memUser, key idempotencyKey) (Task, bool, error) {
	if key.Key == "" {
		return Task{}, false, nil
	}
	rec, ok := u.keys[key.Key]
	switch {
	case !ok || m.now().Sub(rec.recorded) >= idempotencyRetention:
		return Task{}, false, nil
	case rec.hash != key.Hash:
		return Task{}, false, errKeyReused
	}
	return rec.answer.clone(), true, nil
}

// record keeps a write's answer under key and, past maxKeysPerUser, forgets
// the user's oldest key; the caller holds the write lock.
func (m *memStore) record(u *memUser, userID string, key idempotencyKey, answer Task) {
	if key.Key == "" {
		return
	}
	m.keySeq++
	ref := memKeyRef{userID: userID, key: key.Key, seq: m.keySeq}
	u.keys[key.Key] = memKey{hash: key.Hash, answer: answer.clone(), recorded: m.now(), seq: ref.seq}
	u.keyOrder = append(u.keyOrder, ref)
	m.expiries = append(m.expiries, ref)
	for len(u.keys) > maxKeysPerUser {
		oldest := u.keyOrder[0]
		u.keyOrder = u.keyOrder[1:]
		u.forget(oldest)
	}
	if len(u.keyOrder) > 2*len(u.keys)+16 {
		// Forgotten keys' refs: drop them, so keyOrder stays in
		// proportion to the keys held.
		u.keyOrder = slices.DeleteFunc(u.keyOrder, func(r memKeyRef) bool { return u.keys[r.key].seq != r.seq })
	}
}

// forget drops the key ref names, unless it was recorded again since.
func (u *memUser) forget(ref memKeyRef) {
	if rec, ok := u.keys[ref.key]; ok && rec.seq == ref.seq {
		delete(u.keys, ref.key)
	}
}

// afterWrite tidies up after a write by userID; the caller holds the write
// lock.
func (m *memStore) afterWrite(userID string) {
	m.dropIfEmpty(userID)
	m.forgetExpiredKeys()
}

// forgetExpiredKeys drops the keys past the retention, oldest first, and
// the users left with neither; the caller holds the write lock. Each write
// pays for the keys that expired since the last one.
func (m *memStore) forgetExpiredKeys() {
	now := m.now()
	for len(m.expiries) > 0 {
		ref := m.expiries[0]
		u := m.users[ref.userID]
		if u != nil {
			if rec, ok := u.keys[ref.key]; ok && rec.seq == ref.seq && now.Sub(rec.recorded) < idempotencyRetention {
				break // the oldest live key is still within the retention
			}
			u.forget(ref)
			m.dropIfEmpty(ref.userID)
		}
		m.expiries = m.expiries[1:]
	}
}

// dropIfEmpty forgets a user left with neither tasks nor keys, so the store
// keeps no trace of them; the caller holds the write lock.
func (m *memStore) dropIfEmpty(userID string) {
	if u := m.users[userID]; u != nil && len(u.byID) == 0 && len(u.keys) == 0 && u.changes == 0 {
		delete(m.users, userID)
	}
}

// GetTask implements taskStore.
func (m *memStore) GetTask(_ context.Context, userID, id string) (Task, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	t, ok := m.task(userID, id)
	if !ok {
		return Task{}, fmt.Errorf("get task: %w", errTaskNotFound)
	}
	return t.clone(), nil
}

// task finds one task; the caller holds the lock.
func (m *memStore) task(userID, id string) (*Task, bool) {
	u := m.users[userID]
	if u == nil {
		return nil, false
	}
	t, ok := u.byID[id]
	return t, ok
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
	_, _, err := m.writeKeyed(userID, idempotencyKey{}, func(u *memUser) (Task, error) {
		t, err := u.target("delete task", id, cond)
		if err != nil {
			return Task{}, err
		}
		u.remove(t)
		m.logChange(u, userID, id, true)
		return Task{}, nil
	})
	return err
}

// target finds the task a write is for: errTaskNotFound if the user has
// none with that id, a *staleError if cond is not met.
func (u *memUser) target(op, id string, cond ifMatch) (*Task, error) {
	t, ok := u.byID[id]
	if !ok {
		return nil, fmt.Errorf("%s: %w", op, errTaskNotFound)
	}
	if !cond.met(t.UpdatedAt) {
		return nil, &staleError{Current: t.clone()}
	}
	return t, nil
}

// ToggleTask implements taskStore.
func (m *memStore) ToggleTask(_ context.Context, userID, id string, cond ifMatch, key idempotencyKey) (Task, bool, error) {
	return m.modifyKeyed("toggle task", userID, id, cond, key, func(t *Task) {
		t.IsCompleted = !t.IsCompleted
	})
}

// Ping implements taskStore; memory always answers.
func (m *memStore) Ping(context.Context) error { return nil }

// Subscribe implements taskStore.
func (m *memStore) Subscribe(userID string) (*subscription, error) {
	return m.hub.subscribe(userID)
}

// Close implements taskStore.
func (m *memStore) Close() error { return nil }

// modifyKeyed applies change to one task, if cond is met, moves
// updated_at forward as updateTaskSQL does, and records the answer under
// key (writeKeyed).
func (m *memStore) modifyKeyed(op, userID, id string, cond ifMatch, key idempotencyKey, change func(*Task)) (Task, bool, error) {
	return m.writeKeyed(userID, key, func(u *memUser) (Task, error) {
		t, err := u.target(op, id, cond)
		if err != nil {
			return Task{}, err
		}
		changed := *t
		change(&changed)
		changed.UpdatedAt = later(storeTime(m.now()), t.UpdatedAt.Add(time.Microsecond))
		// The state decides the slice; the list order (created_at, id)
		// never changes, so the task keeps its place within a slice.
		if changed.IsCompleted == t.IsCompleted {
			*t = changed
		} else {
			u.remove(t)
			*t = changed
			u.insert(t)
		}
		m.logChange(u, userID, id, false)
		return changed, nil
	})
}

// logChange numbers a write that changed task id with the user's next
// change and logs it as the task's latest; the caller holds the write
// lock. Only writes that changed something are numbered, as in pgStore.
func (m *memStore) logChange(u *memUser, userID, id string, deleted bool) {
	// Woken streams read under the read lock, so after this write.
	defer m.hub.changed(userID)
	u.changes++
	now := m.now()
	c := memChange{change: u.changes, id: id, deleted: deleted, at: now}
	u.log = append(u.log, c)
	u.latest[id] = c.change
	trimTo := int64(0) // as deleteTaskSQL, only a delete trims by number
	if deleted {
		trimTo = c.change - m.tombstones
		u.deletes = append(u.deletes, c)
	}
	u.forgetDeletes(now, trimTo)
	u.compactLog()
}

// forgetDeletes forgets the deletes past tombstoneRetention and those
// numbered trimTo or lower, and moves forgotten past them.
func (u *memUser) forgetDeletes(now time.Time, trimTo int64) {
	for len(u.deletes) > 0 && (now.Sub(u.deletes[0].at) >= tombstoneRetention || u.deletes[0].change <= trimTo) {
		d := u.deletes[0]
		if u.latest[d.id] == d.change {
			delete(u.latest, d.id)
		}
		u.forgotten = max(u.forgotten, d.change)
		u.deletes = u.deletes[1:]
	}
}

// compactLog drops the superseded entries once they are most of the log,
// so the log stays in proportion to the tasks and tombstones kept.
func (u *memUser) compactLog() {
	if len(u.log) > 2*len(u.latest)+16 {
		u.log = slices.DeleteFunc(u.log, func(c memChange) bool { return u.latest[c.id] != c.change })
	}
}

// Changes implements taskStore: a binary search finds the first change
// after the cursor in the log, and the entries superseded since are
// skipped.
func (m *memStore) Changes(_ context.Context, userID string, q changesQuery) (changesPage, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	u := m.users[userID]
	if u == nil {
		return pageOfChanges(q, 0, 0, nil)
	}
	var since int64
	if q.Since != nil {
		since = q.Since.After
	}
	i, _ := slices.BinarySearchFunc(u.log, since+1, func(c memChange, n int64) int { return cmp.Compare(c.change, n) })
	var changes []taskChange
	for ; i < len(u.log) && len(changes) <= q.Limit; i++ {
		c := u.log[i]
		switch {
		case u.latest[c.id] != c.change, c.deleted && q.Since == nil:
			continue // superseded; or a delete, when only the current tasks are asked for
		case c.deleted:
			changes = append(changes, taskChange{Change: c.change, Deleted: true, Task: Task{ID: c.id}})
		default:
			changes = append(changes, taskChange{Change: c.change, Task: u.byID[c.id].clone()})
		}
	}
	return pageOfChanges(q, u.changes, u.forgotten, changes)
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
func (t *Task) clone() Task {
	c := *t
	c.Description = cloneString(t.Description)
	return c
}

// cloneString copies the string a pointer points to.
func cloneString(s *string) *string {
	if s == nil {
		return nil
	}
	c := *s
	return &c
}
