package main

// The store contract: the taskStore interface that the PostgreSQL store
// (postgres.go) and the memory store (memstore.go) implement, its errors,
// and the types requests hand to it.

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// taskStore keeps tasks. Every method is scoped to one user: a task of
// another user behaves exactly like a missing one. Writes return the task as
// stored, so what a write returns is what a later read returns.
//
// Errors: errTaskNotFound when the task does not exist for that user;
// errStoreUnavailable (wrapped with its cause) when the backing database
// cannot be reached; anything else is internal.
type taskStore interface {
	// ListTasks returns up to q.Limit of the user's tasks that q selects,
	// ordered by (created_at, id): one page, read whole, so that nothing of
	// the store (a connection, a lock) is held while the caller writes it
	// to a slow client. Its cost does not grow with the user's other tasks.
	ListTasks(ctx context.Context, userID string, q listQuery) ([]Task, error)
	// CreateTask stores a new, not-completed task with a fresh id, or
	// returns a *taskLimitError if the user already has as many tasks as
	// the store allows. With a key it has seen (for that user, within
	// idempotencyRetention), it stores nothing and returns the first
	// answer again with replayed set, or errKeyReused if the key came with
	// a different request. A user's most recent maxKeysPerUser keys are
	// kept; older ones are forgotten first.
	CreateTask(ctx context.Context, userID string, in newTask, key idempotencyKey) (t Task, replayed bool, err error)
	// GetTask returns one task or errTaskNotFound.
	GetTask(ctx context.Context, userID, id string) (Task, error)
	// UpdateTask applies the fields set in u and always moves updated_at
	// forward; errTaskNotFound if there is no such task, a *staleError if
	// u.IfMatch is not met.
	UpdateTask(ctx context.Context, userID, id string, u taskUpdate) (Task, error)
	// DeleteTask removes one task or returns errTaskNotFound, or a
	// *staleError if cond is not met.
	DeleteTask(ctx context.Context, userID, id string, cond ifMatch) error
	// ToggleTask flips is_completed atomically: N concurrent toggles flip
	// it N times. errTaskNotFound if there is no such task, a *staleError
	// if cond is not met. A key works as for CreateTask.
	ToggleTask(ctx context.Context, userID, id string, cond ifMatch, key idempotencyKey) (t Task, replayed bool, err error)
	// Changes returns up to q.Limit of the user's changes after q.Since, in
	// the order they committed, each task once, in its latest state: the
	// change feed. Without q.Since, the user's current tasks. Errors:
	// errCursorExpired when q.Since needs deletes no longer kept,
	// errCursorUnknown when it is past the user's last change.
	Changes(ctx context.Context, userID string, q changesQuery) (changesPage, error)
	// Subscribe opens a subscription whose wake channel gets a token each
	// time a write of the user's may have committed, on this instance or
	// (PostgreSQL) any other: the event streams' cue to read Changes.
	// errTooManyStreams past maxStreamsPerUser.
	Subscribe(userID string) (*subscription, error)
	// Ping reports whether the store can answer; errStoreUnavailable if not.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}

var (
	// errTaskNotFound means no task with that id belongs to that user.
	errTaskNotFound = errors.New("task not found")
	// errStoreUnavailable means the database could not be reached or did
	// not answer in time; the request may succeed if retried later.
	errStoreUnavailable = errors.New("task store unavailable")
)

// changesQuery asks for a user's changes after a cursor.
type changesQuery struct {
	Since *changeCursor // after this position; nil for the user's current tasks
	Limit int           // at most this many, at least 1
}

// changeCursor is a position in a user's change feed. After is the last
// change the client has; Floor (at least After) is the change after which
// it needs every delete. The two differ only while a client pages through
// the current tasks: a delete numbered between the task it has read last
// and the start of that reading removed a task it never saw, so that
// delete being forgotten does not expire its cursor.
type changeCursor struct {
	After, Floor int64
}

// cursorAt is the plain cursor of a client that has every change up to n.
func cursorAt(n int64) changeCursor { return changeCursor{After: n, Floor: n} }

// taskChange is one entry of the change feed: a task as it is now, or the
// id of a task deleted.
type taskChange struct {
	Change  int64 // the number of the write, in the user's order
	Deleted bool
	Task    Task // the task; only its ID when Deleted
}

// changesPage is what Changes returns: the changes, the cursor to follow
// them with, and whether more follow.
type changesPage struct {
	Changes []taskChange
	Cursor  changeCursor
	HasMore bool
}

// tombstoneRetention is how long a delete is kept in the change feed; a
// cursor older than the oldest delete forgotten is errCursorExpired.
const tombstoneRetention = 30 * 24 * time.Hour

// tombstoneWindow bounds the deletes kept per user: a delete leaves the
// feed once tombstoneRetention has passed or the user has made this many
// changes since (whichever comes first), so a user who creates and deletes
// without end stores at most this many tombstones.
const tombstoneWindow = 10000

var (
	// errCursorExpired means the changes after a cursor include deletes no
	// longer kept: the client lists the tasks again.
	errCursorExpired = errors.New("cursor older than the changes kept")
	// errCursorUnknown means a cursor past the user's last change, which
	// no answer of this service gave.
	errCursorUnknown = errors.New("cursor past the user's last change")
)

// listQuery selects one page of a user's list.
type listQuery struct {
	Completed *bool       // only tasks in this state; nil for all
	After     *listCursor // only tasks after this position; nil from the start
	Limit     int         // at most this many, at least 1
}

// listCursor is a position in a user's list: the (created_at, id) of the
// last task seen. Keyset pagination on the list's own index, so a page
// costs the same however deep it is.
type listCursor struct {
	CreatedAt time.Time
	ID        string
}

// compareToCursor orders t against a position in list order.
func compareToCursor(t *Task, c listCursor) int {
	return cmp.Or(t.CreatedAt.Compare(c.CreatedAt), strings.Compare(t.ID, c.ID))
}

// taskLimitError refuses a create: the user already has Limit tasks, as many
// as MAX_TASKS_PER_USER allows.
type taskLimitError struct {
	Limit int
}

func (e *taskLimitError) Error() string {
	return fmt.Sprintf("the user already has %d tasks, the most allowed", e.Limit)
}

// newTask is what a client may set when creating a task.
type newTask struct {
	Title       string
	Description *string
}

// taskUpdate is a partial update: nil pointers leave the field alone.
// Description needs a separate flag because null is a value for it
// ("clear the description"), not the absence of one.
type taskUpdate struct {
	Title          *string
	SetDescription bool
	Description    *string
	IsCompleted    *bool
	IfMatch        ifMatch
}

// newTaskID returns a random version 7 UUID, lowercase and hyphenated. Its
// leading millisecond timestamp keeps new rows at the right-hand end of the
// primary-key index instead of scattering them.
func newTaskID() string {
	var u [16]byte
	binary.BigEndian.PutUint64(u[:8], uint64(time.Now().UnixMilli())<<16)
	rand.Read(u[6:]) // never fails (crypto/rand documents it)
	u[6] = 0x70 | u[6]&0x0f
	u[8] = 0x80 | u[8]&0x3f
	return formatUUID(u)
}

// formatUUID writes u in the canonical 8-4-4-4-12 lowercase form.
func formatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// storeTime is how both stores hold a timestamp: UTC, microsecond precision,
// which is what PostgreSQL's timestamptz keeps.
func storeTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

// Task is one to-do item, as stored and as every endpoint returns it.
type Task struct {
	ID          string
	UserID      string
	Title       string
	Description *string // nil when the task has none
	IsCompleted bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
}
