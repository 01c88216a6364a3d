package main

// The PostgreSQL store: each method with the statement it runs, written out
// in full. Every statement is scoped by user_id and is one round trip; how
// statements reach the server (prepared or not, deadlines, retries at
// start-up, driver errors) is pgconn.go's business, idempotency keys
// pgkeys.go's, the change feed pgfeed.go's.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
)

// versionsArg is a write's precondition as a statement argument: NULL for
// none, else the array of versions it accepts. The statements check it in
// their own WHERE, "($n::timestamptz[] IS NULL OR updated_at = ANY($n))",
// so a conditional write is still one statement, with no race between the
// check and the write.
func versionsArg(c ifMatch) any {
	if c == nil {
		return nil
	}
	versions := make(pq.StringArray, len(c))
	for i, v := range c {
		versions[i] = v.UTC().Format(time.RFC3339Nano)
	}
	return versions
}

// pgStore is the PostgreSQL taskStore. Every request is one statement and
// one round trip: a named prepared statement (Bind, Execute, Sync) on a
// direct connection, or an unnamed one (Parse, Bind, Describe, Execute, Sync
// in one write, see parsePostgresURL) behind a transaction-mode pooler such
// as PgBouncer or Neon's pooled endpoint, which cannot keep named ones.
type pgStore struct {
	db         *sql.DB
	schemaDB   *sql.DB // one connection, for schema.sql only (see newPostgres)
	timeout    time.Duration
	maxTasks   int // per user; 0 for no limit
	tombstones int // pgOptions.TombstoneWindow
	log        *slog.Logger
	prepare    bool
	// stmts holds the prepared statements by SQL text when prepare is set;
	// it is written before ready is set and only read afterwards.
	stmts map[string]*sql.Stmt
	// ready is set once the schema is applied; until then every call is
	// errStoreUnavailable rather than an undefined-table error.
	ready atomic.Bool
	// stop ends purgeLoop and notifyLoop; done is closed when purgeLoop
	// has ended (notified, below, when notifyLoop has).
	stop, done chan struct{}
	closing    sync.Once
	// unprepared is set when the server did not know a prepared statement
	// (a pooler in the way): from then on statements are sent unnamed.
	unprepared atomic.Bool
	// The event streams open here (hub); the queue of this instance's
	// writes to tell other instances of (pgnotify.go), under instance, a
	// random name, with notified closed when notifyLoop has ended; and the
	// LISTEN connection that hears theirs (pglisten.go), opened by the
	// first Subscribe, once, sweeping every sweepEvery, with relayed
	// closed when it has stopped.
	hub        *changeHub
	instance   string
	notes      *notifyQueue
	notified   chan struct{}
	listenURL  string
	sweepEvery time.Duration
	listening  sync.Once
	listener   *pq.Listener
	relayed    chan struct{}
}

var _ taskStore = (*pgStore)(nil)

// allStatements are the statements a request may run, prepared once per
// connection when the store prepares statements.
var allStatements = []string{changesSQL, listAllTasksSQL, listTasksByStateSQL, listTasksAfterSQL, listTasksByStateAfterSQL,
	createTaskSQL, getTaskSQL, updateTaskSQL, deleteTaskSQL, toggleTaskSQL,
	createTaskKeyedSQL, toggleTaskKeyedSQL, recordedAnswerSQL, forgetExpiredKeySQL}

// rowScanner is what *sql.Row and *sql.Rows have in common.
type rowScanner interface {
	Scan(dest ...any) error
}

// scanTask reads one row of the seven task columns, id to updated_at.
func scanTask(row rowScanner) (Task, error) {
	var t Task
	var description sql.NullString
	if err := row.Scan(&t.ID, &t.UserID, &t.Title, &description, &t.IsCompleted, &t.CreatedAt, &t.UpdatedAt); err != nil {
		return Task{}, err
	}
	if description.Valid {
		t.Description = &description.String
	}
	t.CreatedAt = storeTime(t.CreatedAt)
	t.UpdatedAt = storeTime(t.UpdatedAt)
	return t, nil
}

// The list statements, one for each shape of listQuery: with or without a
// completed filter, with or without an after= cursor. Four statements
// rather than one with optional conditions, so that each is planned as a
// range scan on an index that also gives the order: (user_id, created_at,
// id) for all tasks, (user_id, is_completed, created_at, id) for one
// state.
const (
	listAllTasksSQL = `SELECT id, user_id, title, description, is_completed, created_at, updated_at
		FROM task
		WHERE user_id = $1
		ORDER BY created_at, id LIMIT $2`
	listTasksByStateSQL = `SELECT id, user_id, title, description, is_completed, created_at, updated_at
		FROM task
		WHERE user_id = $1 AND is_completed = $2
		ORDER BY created_at, id LIMIT $3`
	listTasksAfterSQL = `SELECT id, user_id, title, description, is_completed, created_at, updated_at
		FROM task
		WHERE user_id = $1 AND (created_at, id) > ($2, $3)
		ORDER BY created_at, id LIMIT $4`
	listTasksByStateAfterSQL = `SELECT id, user_id, title, description, is_completed, created_at, updated_at
		FROM task
		WHERE user_id = $1 AND is_completed = $2 AND (created_at, id) > ($3, $4)
		ORDER BY created_at, id LIMIT $5`
)

// listStatement returns the list statement for q and its arguments.
func listStatement(userID string, q listQuery) (string, []any) {
	limit := q.Limit
	switch {
	case q.Completed != nil && q.After != nil:
		return listTasksByStateAfterSQL, []any{userID, *q.Completed, q.After.CreatedAt, q.After.ID, limit}
	case q.Completed != nil:
		return listTasksByStateSQL, []any{userID, *q.Completed, limit}
	case q.After != nil:
		return listTasksAfterSQL, []any{userID, q.After.CreatedAt, q.After.ID, limit}
	}
	return listAllTasksSQL, []any{userID, limit}
}

// ListTasks implements taskStore: the rows are read whole and the
// connection is back in the pool before the caller sees the page.
func (s *pgStore) ListTasks(ctx context.Context, userID string, q listQuery) ([]Task, error) {
	if err := s.checkReady("list tasks"); err != nil {
		return nil, err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	query, args := listStatement(userID, q)
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, classify("list tasks", err)
	}
	defer rows.Close()
	tasks := make([]Task, 0, min(q.Limit, 64))
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, classify("list tasks", err)
		}
		tasks = append(tasks, t)
	}
	if err := rows.Err(); err != nil {
		return nil, classify("list tasks", err)
	}
	return tasks, nil
}

// createTaskSQL stores a new task, if the user has fewer than $5 tasks (0:
// no limit): the slot CTE counts the task in task_user under that row's
// lock, and the insert happens only if it got a slot, so no row means the
// limit. The id is made by the caller (newTaskID), the times by the
// database.
const createTaskSQL = `WITH slot AS (
		INSERT INTO task_user AS u (user_id, tasks, changes) VALUES ($2::text, 1, 1)
		ON CONFLICT (user_id) DO UPDATE SET tasks = u.tasks + 1, changes = u.changes + 1
			WHERE $5::integer = 0 OR u.tasks < $5::integer
		RETURNING u.changes
	)
	INSERT INTO task (id, user_id, title, description, is_completed, created_at, updated_at, change)
	SELECT $1::uuid, $2::text, $3::text, $4::text, false, now(), now(), changes FROM slot
	RETURNING id, user_id, title, description, is_completed, created_at, updated_at`

// createTaskKeyedSQL is createTaskSQL that also records its answer under an
// idempotency key, in the same statement, and forgets the user's keys past
// the newest $8 (maxKeysPerUser - 1, the new one aside: the statement's
// snapshot does not see it). The key itself is never among those forgotten:
// a retry of the oldest key must find it. If the key is already there, the
// unique index
// makes the whole statement fail, the insert included, and keyedWrite reads
// the recorded answer instead. So the common case stays one round trip,
// and of two concurrent requests with one key only one writes.
const createTaskKeyedSQL = `WITH slot AS (
		INSERT INTO task_user AS u (user_id, tasks, changes) VALUES ($2::text, 1, 1)
		ON CONFLICT (user_id) DO UPDATE SET tasks = u.tasks + 1, changes = u.changes + 1
			WHERE $7::integer = 0 OR u.tasks < $7::integer
		RETURNING u.changes
	), ins AS (
		INSERT INTO task (id, user_id, title, description, is_completed, created_at, updated_at, change)
		SELECT $1::uuid, $2::text, $3::text, $4::text, false, now(), now(), changes FROM slot
		RETURNING id, user_id, title, description, is_completed, created_at, updated_at
	), rec AS (
		INSERT INTO idempotency_key (user_id, key, request_hash, task_id, title, description, is_completed, created_at, updated_at)
		SELECT user_id, $5, $6, id, title, description, is_completed, created_at, updated_at FROM ins
	), old AS (
		DELETE FROM idempotency_key
		WHERE user_id = $2::text AND key <> $5 AND EXISTS (SELECT 1 FROM ins) AND key IN (
			SELECT key FROM idempotency_key WHERE user_id = $2::text
			ORDER BY recorded_at DESC, key DESC OFFSET $8)
	)
	SELECT id, user_id, title, description, is_completed, created_at, updated_at FROM ins`

// CreateTask implements taskStore.
func (s *pgStore) CreateTask(ctx context.Context, userID string, in newTask, key idempotencyKey) (t Task, replayed bool, err error) {
	defer func() { s.announce(userID, replayed, err) }()
	ctx, cancel := s.bound(ctx) // for all its statements
	defer cancel()
	id := newTaskID()
	if key.Key != "" {
		t, replayed, err := s.keyedWrite(ctx, "create task", createTaskKeyedSQL, userID, key,
			id, userID, in.Title, in.Description, key.Key, key.Hash[:], s.maxTasks, maxKeysPerUser-1)
		return t, replayed, s.overLimit(err)
	}
	t, err = s.queryTask(ctx, "create task", createTaskSQL, id, userID, in.Title, in.Description, s.maxTasks)
	if pq.As(err, pqerror.UniqueViolation) != nil {
		// The id was made by this call, so a duplicate means database/sql
		// retried the INSERT after a connection broke and the first attempt
		// had committed. That row is this call's task.
		t, err = s.GetTask(ctx, userID, id)
	}
	return t, false, s.overLimit(err)
}

// overLimit reads a create that stored no row, without an error, as the
// user's task limit.
func (s *pgStore) overLimit(err error) error {
	if errors.Is(err, errTaskNotFound) {
		return fmt.Errorf("create task: %w", &taskLimitError{Limit: s.maxTasks})
	}
	return err
}

// execOnce runs one statement that returns no rows.
func (s *pgStore) execOnce(ctx context.Context, op, query string, args ...any) error {
	if err := s.checkReady(op); err != nil {
		return err
	}
	if _, err := s.exec(ctx, query, args...); err != nil {
		return classify(op, err)
	}
	return nil
}

const getTaskSQL = `SELECT id, user_id, title, description, is_completed, created_at, updated_at
	FROM task
	WHERE user_id = $1 AND id = $2`

// GetTask implements taskStore.
func (s *pgStore) GetTask(ctx context.Context, userID, id string) (Task, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.queryTask(ctx, "get task", getTaskSQL, userID, id)
}

// The update and the toggle are one write with two SET lists, put
// together from three pieces so that each statement sets only its own
// columns. Like every write, the write locks the user's task_user row
// first (held: that lock orders the user's writes), if the precondition
// $3 holds stamps the task with the next number of the user's changes
// and, only if it wrote, counts that number in task_user (bump), so a
// write that changes nothing (a missing task, a stale ETag) writes
// nothing. Every write moves updated_at strictly forward, even when two
// fall in the same microsecond or the clock steps back, so each write
// makes a new ETag.
const (
	lockUserThenUpdate = `WITH held AS (
			SELECT changes FROM task_user WHERE user_id = $1 FOR UPDATE
		), upd AS (
			UPDATE task SET `
	numberedWrite = `
				updated_at = GREATEST(now(), updated_at + interval '1 microsecond'),
				change = coalesce((SELECT changes FROM held), 0) + 1
			WHERE user_id = $1 AND id = $2
				AND ($3::timestamptz[] IS NULL OR updated_at = ANY($3::timestamptz[]))
				AND (SELECT count(*) FROM held) >= 0
			RETURNING id, user_id, title, description, is_completed, created_at, updated_at, change
		), bump AS (
			INSERT INTO task_user AS u (user_id, tasks, changes) SELECT $1, 1, change FROM upd
			ON CONFLICT (user_id) DO UPDATE SET changes = excluded.changes
		)`
	returnWritten = `
		SELECT id, user_id, title, description, is_completed, created_at, updated_at FROM upd`
)

// updateTaskSQL sets the fields the update names ($5 says whether the
// description is one of them, since NULL is a value for it).
const updateTaskSQL = lockUserThenUpdate + `
				title = COALESCE($4, title),
				description = CASE WHEN $5::boolean THEN $6::text ELSE description END,
				is_completed = COALESCE($7::boolean, is_completed),` + numberedWrite + returnWritten

// UpdateTask implements taskStore in one statement, so a concurrent toggle
// can never be lost between a read and a write.
func (s *pgStore) UpdateTask(ctx context.Context, userID, id string, u taskUpdate) (t Task, err error) {
	defer func() { s.announce(userID, false, err) }()
	ctx, cancel := s.bound(ctx) // for all its statements
	defer cancel()
	t, err = s.queryTask(ctx, "update task", updateTaskSQL,
		userID, id, versionsArg(u.IfMatch), u.Title, u.SetDescription, u.Description, u.IsCompleted)
	return t, s.whyNotFound(ctx, userID, id, u.IfMatch, err)
}

// whyNotFound tells, after a conditional write changed no row, whether the
// task is missing (errTaskNotFound stays) or changed (a *staleError). Only
// that failure costs a second round trip.
func (s *pgStore) whyNotFound(ctx context.Context, userID, id string, cond ifMatch, err error) error {
	if cond == nil || !errors.Is(err, errTaskNotFound) {
		return err
	}
	current, getErr := s.GetTask(ctx, userID, id)
	if getErr != nil {
		return getErr
	}
	return &staleError{Current: current}
}

// deleteTaskSQL deletes a task, if the precondition $3 holds, uncounts it
// in task_user with the next number of the user's changes, and leaves a
// tombstone with that number; it returns how many tasks it deleted. The
// user's task_user row is locked first (held), as every other write locks
// it before its task row, so two writes of one user never deadlock. The
// user's tombstones more than $4 changes old go (trim), and forgotten moves
// past them, so that a user keeps at most $4 of them.
const deleteTaskSQL = `WITH held AS (
		SELECT changes FROM task_user WHERE user_id = $1 FOR UPDATE
	), del AS (
		DELETE FROM task
		WHERE user_id = $1 AND id = $2
			AND ($3::timestamptz[] IS NULL OR updated_at = ANY($3::timestamptz[]))
			AND (SELECT count(*) FROM held) >= 0
		RETURNING id
	), trim AS (
		DELETE FROM task_tombstone
		WHERE user_id = $1 AND change <= (SELECT changes FROM held) + 1 - $4::bigint AND EXISTS (SELECT 1 FROM del)
		RETURNING change
	), uncount AS (
		INSERT INTO task_user AS u (user_id, tasks, changes) SELECT $1, 0, 1 FROM del
		ON CONFLICT (user_id) DO UPDATE SET tasks = greatest(u.tasks - 1, 0), changes = u.changes + 1,
			forgotten = greatest(u.forgotten, (SELECT max(change) FROM trim))
		RETURNING u.changes
	), tomb AS (
		INSERT INTO task_tombstone (user_id, id, change) SELECT $1, id, (SELECT changes FROM uncount) FROM del
	)
	SELECT count(*) FROM del`

// DeleteTask implements taskStore.
func (s *pgStore) DeleteTask(ctx context.Context, userID, id string, cond ifMatch) (err error) {
	defer func() { s.announce(userID, false, err) }()
	ctx, cancel := s.bound(ctx) // for all its statements
	defer cancel()
	var n int
	if err := s.queryValue(ctx, "delete task", deleteTaskSQL, []any{userID, id, versionsArg(cond), s.tombstones}, &n); err != nil {
		return err
	}
	if n == 0 {
		return s.whyNotFound(ctx, userID, id, cond, fmt.Errorf("delete task: %w", errTaskNotFound))
	}
	return nil
}

// ToggleTask implements taskStore with a single UPDATE … SET x = NOT x, which
// PostgreSQL serialises on the row lock.
// toggleTaskSQL flips is_completed in one statement, so N concurrent
// toggles flip it N times: PostgreSQL serialises them on the row lock.
// toggleTaskKeyedSQL is the same write that also records the answer under
// the key $4 (request hash $5) and forgets the user's keys past the newest
// $6, as createTaskKeyedSQL does.
const (
	toggleTaskWrite = lockUserThenUpdate + `
				is_completed = NOT is_completed,` + numberedWrite
	toggleTaskSQL      = toggleTaskWrite + returnWritten
	toggleTaskKeyedSQL = toggleTaskWrite + `, rec AS (
			INSERT INTO idempotency_key (user_id, key, request_hash, task_id, title, description, is_completed, created_at, updated_at)
			SELECT user_id, $4, $5, id, title, description, is_completed, created_at, updated_at FROM upd
		), old AS (
			DELETE FROM idempotency_key
			WHERE user_id = $1 AND key <> $4 AND EXISTS (SELECT 1 FROM upd) AND key IN (
				SELECT key FROM idempotency_key WHERE user_id = $1
				ORDER BY recorded_at DESC, key DESC OFFSET $6)
		)` + returnWritten
)

// ToggleTask implements taskStore.
func (s *pgStore) ToggleTask(ctx context.Context, userID, id string, cond ifMatch, key idempotencyKey) (t Task, replayed bool, err error) {
	defer func() { s.announce(userID, replayed, err) }()
	ctx, cancel := s.bound(ctx) // for all its statements
	defer cancel()
	if key.Key != "" {
		t, replayed, err := s.keyedWrite(ctx, "toggle task", toggleTaskKeyedSQL, userID, key,
			userID, id, versionsArg(cond), key.Key, key.Hash[:], maxKeysPerUser-1)
		return t, replayed, s.whyNotFound(ctx, userID, id, cond, err)
	}
	t, err = s.queryTask(ctx, "toggle task", toggleTaskSQL, userID, id, versionsArg(cond))
	return t, false, s.whyNotFound(ctx, userID, id, cond, err)
}

// Ping implements taskStore.
func (s *pgStore) Ping(ctx context.Context) error {
	if err := s.checkReady("ping"); err != nil {
		return err
	}
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping: %w: %w", errStoreUnavailable, err)
	}
	return nil
}

// Close implements taskStore.
func (s *pgStore) Close() error {
	s.closing.Do(func() { close(s.stop) })
	<-s.done
	<-s.notified
	s.closeListener()
	s.schemaDB.Close()
	return s.db.Close()
}
