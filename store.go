package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	_ "embed"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
)

// taskStore keeps tasks. Every method is scoped to one user: a task of
// another user behaves exactly like a missing one. Writes return the task as
// stored, so what a write returns is what a later read returns.
//
// Errors: errTaskNotFound when the task does not exist for that user;
// errStoreUnavailable (wrapped with its cause) when the backing database
// cannot be reached; anything else is internal.
type taskStore interface {
	// ListTasks yields the user's tasks that q selects, ordered by
	// (created_at, id), one at a time, so a long list is never held whole
	// in memory. An error ends the sequence; stopping early releases the
	// query.
	ListTasks(ctx context.Context, userID string, q listQuery) iter.Seq2[Task, error]
	// CreateTask stores a new, not-completed task with a fresh id. With a
	// key it has seen (for that user, within idempotencyRetention), it
	// stores nothing and returns the first answer again with replayed set,
	// or errKeyReused if the key came with a different request.
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

// listQuery selects part of a user's list. The zero value selects all.
type listQuery struct {
	Completed *bool       // only tasks in this state
	After     *listCursor // only tasks after this position
	Limit     int         // at most this many; 0 for no limit
}

// listCursor is a position in a user's list: the (created_at, id) of the
// last task seen. Keyset pagination on the list's own index, so a page
// costs the same however deep it is.
type listCursor struct {
	CreatedAt time.Time
	ID        string
}

// before reports whether the cursor comes before t in list order.
func (c listCursor) before(t Task) bool {
	return cmp.Or(t.CreatedAt.Compare(c.CreatedAt), strings.Compare(t.ID, c.ID)) > 0
}

// idempotencyKey names one write, so that a client's retry gets the first
// answer again instead of a second write. The zero value means no key.
type idempotencyKey struct {
	Key  string   // the Idempotency-Key header, scoped to the user
	Hash [32]byte // what the request asked for; a retry must ask the same
}

// idempotencyRetention is how long a key is remembered.
const idempotencyRetention = 24 * time.Hour

// retentionSeconds is idempotencyRetention as a statement argument.
var retentionSeconds = int(idempotencyRetention / time.Second)

// errKeyReused means an idempotency key came back with a different request.
var errKeyReused = errors.New("idempotency key was used for a different request")

// ifMatch is a write's precondition. nil means none; otherwise the write
// happens only if the task's updated_at, its version, is one of these.
type ifMatch []time.Time

// met reports whether a task at version v meets the precondition.
func (c ifMatch) met(v time.Time) bool {
	return c == nil || slices.ContainsFunc(c, v.Equal)
}

// sqlArg is the precondition as a statement argument: NULL for none, else
// an array of timestamps.
func (c ifMatch) sqlArg() any {
	if c == nil {
		return nil
	}
	versions := make(pq.StringArray, len(c))
	for i, v := range c {
		versions[i] = v.UTC().Format(time.RFC3339Nano)
	}
	return versions
}

// staleError is a write refused by its precondition: the task has changed
// since the client read it. Current is the task as it is now.
type staleError struct {
	Current Task
}

func (e *staleError) Error() string { return "task changed since it was read" }

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

// ---------------------------------------------------------------------------
// PostgreSQL

//go:embed schema.sql
var schemaSQL string

// schemaLockKey serialises schema creation between instances starting at the
// same moment: concurrent CREATE TABLE IF NOT EXISTS can still collide in
// PostgreSQL's catalog. Any constant works; this one spells "tasksvc".
const schemaLockKey = 0x7461736b737663

// pgOptions are the pool and deadline settings of a pgStore.
type pgOptions struct {
	// Timeout bounds each store call, so a database that stops answering
	// mid-request yields a 503 instead of a hung request. It must stay well
	// below the HTTP server's WriteTimeout.
	Timeout time.Duration
	// MaxConns caps open connections; MaxIdleConns of them are kept open
	// between requests, for at most ConnMaxIdleTime.
	MaxConns        int
	MaxIdleConns    int
	ConnMaxIdleTime time.Duration
	// Prepare sends each statement as a named prepared statement, parsed
	// and planned once per connection instead of on every request. Safe
	// only when each connection is a server session of its own: not
	// behind a transaction-mode pooler (see pgPrepareAuto).
	Prepare bool
	// Log receives the store's warnings; nil discards them.
	Log *slog.Logger
}

// Defaults for pgOptions. Neon closes idle connections when it suspends a
// compute (after five idle minutes by default), so idle connections are
// dropped a little before that; database/sql replaces a dead one
// transparently.
const (
	defaultStoreTimeout     = 5 * time.Second
	defaultPgMaxConns       = 20
	defaultPgMaxIdleConns   = 20
	defaultPgConnIdleTime   = 4 * time.Minute
	pgConnMaxLifetime       = 30 * time.Minute
	pgDefaultConnectTimeout = 10 * time.Second // when the URL gives no connect_timeout
)

// pgPrepareAuto decides DATABASE_PREPARE=auto: prepared statements unless
// the host looks like a transaction-mode pooler (Neon's "-pooler" hosts,
// PgBouncer's usual port 6432). Behind such a pooler a named statement may
// reach a server session where another client prepared a different one
// under the same name, and run it: measured here through PgBouncer 1.18,
// that silently ran the wrong SQL. PgBouncer 1.21+ with
// max_prepared_statements set handles them; say DATABASE_PREPARE=on there.
func pgPrepareAuto(cfg pq.Config) bool {
	return !strings.Contains(strings.ToLower(cfg.Host), "-pooler") && cfg.Port != 6432
}

// defaultPgOptions are the settings used unless configured otherwise.
func defaultPgOptions() pgOptions {
	return pgOptions{
		Timeout:         defaultStoreTimeout,
		MaxConns:        defaultPgMaxConns,
		MaxIdleConns:    defaultPgMaxIdleConns,
		ConnMaxIdleTime: defaultPgConnIdleTime,
	}
}

// pgStore is the PostgreSQL taskStore. Every request is one statement and
// one round trip: a named prepared statement (Bind, Execute, Sync) on a
// direct connection, or an unnamed one (Parse, Bind, Describe, Execute, Sync
// in one write, see parsePostgresURL) behind a transaction-mode pooler such
// as PgBouncer or Neon's pooled endpoint, which cannot keep named ones.
type pgStore struct {
	db      *sql.DB
	timeout time.Duration
	log     *slog.Logger
	prepare bool
	// stmts holds the prepared statements by SQL text when prepare is set;
	// it is written before ready is set and only read afterwards.
	stmts map[string]*sql.Stmt
	// ready is set once the schema is applied; until then every call is
	// errStoreUnavailable rather than an undefined-table error.
	ready atomic.Bool
	// stop ends purgeLoop; done is closed when it has ended.
	stop, done chan struct{}
	closing    sync.Once
	// unprepared is set when the server did not know a prepared statement
	// (a pooler in the way): from then on statements are sent unnamed.
	unprepared atomic.Bool
}

var _ taskStore = (*pgStore)(nil)

// parsePostgresURL turns DATABASE_URL into a lib/pq configuration. It accepts
// the URL exactly as Neon's console shows it: lib/pq does not implement
// channel_binding and would pass it to the server as a run-time parameter,
// which the server refuses, so it is removed here (droppedChannelBinding
// reports it). Errors never repeat the URL, because it holds the password.
func parsePostgresURL(raw string) (cfg pq.Config, droppedChannelBinding bool, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		if urlErr, ok := errors.AsType[*url.Error](err); ok {
			err = urlErr.Err // without the URL
		}
		return pq.Config{}, false, fmt.Errorf("DATABASE_URL is not a valid URL: %v", err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return pq.Config{}, false, errors.New("DATABASE_URL must start with postgres:// or postgresql://")
	}
	cfg, err = pq.NewConfig(raw)
	if err != nil {
		msg := err.Error()
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
		return pq.Config{}, false, fmt.Errorf("DATABASE_URL is not usable: %s", msg)
	}
	if !u.Query().Has("binary_parameters") {
		// Without it lib/pq sends each parameterised query as two protocol
		// round trips (Parse/Describe/Sync, then Bind/Execute/Sync). A
		// transaction-mode pooler may hand those to different server
		// connections, which was measured here to fail or, worse, run
		// another statement's SQL. With it the query is one round trip.
		cfg.BinaryParameters = true
	}
	_, droppedChannelBinding = cfg.Runtime["channel_binding"]
	delete(cfg.Runtime, "channel_binding")
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = pgDefaultConnectTimeout
	}
	return cfg, droppedChannelBinding, nil
}

// newPostgres returns a store for cfg without connecting: database/sql
// connects on first use. The store answers errStoreUnavailable until
// applySchema or startPostgres has succeeded.
func newPostgres(cfg pq.Config, opts pgOptions) (*pgStore, error) {
	connector, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("configure PostgreSQL: %w", err)
	}
	// The context deadline of each call makes lib/pq ask the server to
	// cancel a slow query, but when the network itself stalls, that request
	// cannot get through either, and the call would wait on its socket for
	// as long as TCP takes to give up. Socket deadlines end that wait.
	connector.Dialer(deadlineDialer{timeout: opts.Timeout})
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(opts.MaxConns)
	db.SetMaxIdleConns(opts.MaxIdleConns)
	db.SetConnMaxIdleTime(opts.ConnMaxIdleTime)
	db.SetConnMaxLifetime(pgConnMaxLifetime)
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &pgStore{db: db, timeout: opts.Timeout, log: log, prepare: opts.Prepare,
		stop: make(chan struct{}), done: make(chan struct{})}
	go s.purgeLoop(keyPurgeInterval)
	return s, nil
}

// keyPurgeInterval is how often expired idempotency keys are deleted, so
// a key lives between 24 and 25 hours.
const keyPurgeInterval = time.Hour

// purgeLoop deletes expired idempotency keys every interval until Close.
func (s *pgStore) purgeLoop(interval time.Duration) {
	defer close(s.done)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-ticker.C:
		}
		if !s.ready.Load() {
			continue
		}
		if err := s.PurgeExpiredKeys(context.Background()); err != nil {
			s.log.Warn("purging expired idempotency keys failed; will try again", "err", err)
		}
	}
}

// openPostgres connects with cfg and applies the embedded schema once; a
// database that cannot be reached is an error.
func openPostgres(ctx context.Context, cfg pq.Config, opts pgOptions) (*pgStore, error) {
	s, err := newPostgres(cfg, opts)
	if err != nil {
		return nil, err
	}
	if err := s.applySchema(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Start-up backoff: Neon computes take a few seconds to wake, so the first
// retries come quickly; the cap keeps a long outage from being hammered.
const (
	startBackoffMin = 250 * time.Millisecond
	startBackoffMax = 5 * time.Second
)

// retrySchema applies the schema, after a first attempt found the database
// unreachable: it retries with capped exponential backoff and returns nil
// once the store is ready. It returns an error only for what retrying cannot
// fix (bad credentials, a missing database, no permission to create the
// table) or when ctx ends first.
func (s *pgStore) retrySchema(ctx context.Context, log *slog.Logger) error {
	backoff := startBackoffMin
	for attempt := 2; ; attempt++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		err := s.applySchema(ctx)
		if err == nil {
			log.Info("PostgreSQL is ready", "attempts", attempt)
			return nil
		}
		if !errors.Is(err, errStoreUnavailable) || ctx.Err() != nil {
			return err
		}
		backoff = min(2*backoff, startBackoffMax)
		log.Warn("PostgreSQL is still not reachable", "attempt", attempt, "retry_in", backoff, "err", err)
	}
}

// applySchema creates what is missing of the schema, prepares the
// statements (when the store prepares them) and marks the store ready.
func (s *pgStore) applySchema(ctx context.Context) error {
	if err := s.createSchema(ctx); err != nil {
		return err
	}
	if err := s.prepareStatements(ctx); err != nil {
		return err
	}
	s.ready.Store(true)
	return nil
}

// createSchema runs schema.sql in one transaction within the store's
// timeout, holding an advisory lock so that instances starting together
// take turns.
func (s *pgStore) createSchema(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return classify("apply schema", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", schemaLockKey); err != nil {
		return classify("apply schema", err)
	}
	if _, err := tx.ExecContext(ctx, schemaSQL); err != nil {
		return classify("apply schema", err)
	}
	if err := tx.Commit(); err != nil {
		return classify("apply schema", err)
	}
	return nil
}

// prepareStatements prepares every statement once, when prepare is set.
// database/sql prepares each again, once, on every other connection that
// runs it.
func (s *pgStore) prepareStatements(ctx context.Context) error {
	if !s.prepare || s.stmts != nil {
		return nil
	}
	stmts := make(map[string]*sql.Stmt, len(allStatements))
	for _, q := range allStatements {
		// A deadline of its own for each: the schema's round trips and
		// these together may take longer than one timeout on a distant
		// database, and each is a single round trip.
		st, err := s.prepareOne(ctx, q)
		if err != nil {
			for _, st := range stmts {
				st.Close()
			}
			return classify("prepare statements", err)
		}
		stmts[q] = st
	}
	s.stmts = stmts
	return nil
}

// prepareOne prepares one statement within the store's timeout.
func (s *pgStore) prepareOne(ctx context.Context, query string) (*sql.Stmt, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.db.PrepareContext(ctx, query)
}

// stmt returns the prepared statement for query, or nil to send it unnamed.
func (s *pgStore) stmt(query string) *sql.Stmt {
	if s.stmts == nil || s.unprepared.Load() {
		return nil
	}
	return s.stmts[query]
}

// isStatementMissing reports whether err says the server does not know a
// prepared statement: the connection went through a transaction-mode pooler
// that handed the statement to another server session.
func isStatementMissing(err error) bool {
	return pq.As(err, pqerror.InvalidSQLStatementName) != nil ||
		pq.As(err, pqerror.DuplicatePstatement) != nil
}

// fallBackToUnnamed switches the store to unnamed statements for good.
func (s *pgStore) fallBackToUnnamed(err error) {
	if !s.unprepared.Swap(true) {
		s.log.Warn("PostgreSQL did not know a prepared statement, so a transaction-mode pooler is in the way: "+
			"sending statements unnamed from now on; set DATABASE_PREPARE=off for this database", "err", err)
	}
}

// errNotReady is what calls get before the schema has been applied.
var errNotReady = fmt.Errorf("%w: the schema is not applied yet", errStoreUnavailable)

// bound gives one store method its deadline: the store's timeout for all
// the statements the method runs, set once at the top of each exported
// method (the helpers below it do not add their own). The deadline's
// context costs a goroutine per query in database/sql and another in lib/pq
// (9% of a GET's time here: 52 µs against 56 µs per call, and 14 of 46
// allocations), and it is kept: when it expires, lib/pq asks the server to
// cancel the statement, so a write stuck behind someone else's lock cannot
// still be applied after its client got a 503. Socket deadlines alone would
// close the connection and leave the statement waiting on the server.
func (s *pgStore) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// checkReady is errStoreUnavailable until the schema is applied.
func (s *pgStore) checkReady(op string) error {
	if !s.ready.Load() {
		return fmt.Errorf("%s: %w", op, errNotReady)
	}
	return nil
}

const taskColumns = `id, user_id, title, description, is_completed, created_at, updated_at`

// bumpUpdatedAt moves updated_at strictly forward even when two writes fall
// in the same microsecond or the clock steps back, so every successful
// write changes it.
const bumpUpdatedAt = `updated_at = GREATEST(now(), updated_at + interval '1 microsecond')`

const (
	createTaskSQL = `INSERT INTO task (id, user_id, title, description, is_completed, created_at, updated_at)
		VALUES ($1, $2, $3, $4, false, now(), now()) RETURNING ` + taskColumns
	getTaskSQL = `SELECT ` + taskColumns + ` FROM task
		WHERE user_id = $1 AND id = $2`
	updateTaskSQL = `UPDATE task SET
			title = COALESCE($3, title),
			description = CASE WHEN $4::boolean THEN $5::text ELSE description END,
			is_completed = COALESCE($6::boolean, is_completed),
			` + bumpUpdatedAt + `
		WHERE user_id = $1 AND id = $2 AND ` + versionIn7 + ` RETURNING ` + taskColumns
	deleteTaskSQL = `DELETE FROM task WHERE user_id = $1 AND id = $2 AND ` + versionIn3
	toggleTaskSQL = `UPDATE task SET is_completed = NOT is_completed, ` + bumpUpdatedAt + `
		WHERE user_id = $1 AND id = $2 AND ` + versionIn3 + ` RETURNING ` + taskColumns
)

// The keyed writes record the answer in idempotency_key in the same
// statement as the write. If the key is already there, the unique index
// makes the whole statement fail, the write included, and the recorded
// answer is read instead. So the common case stays one round trip, and of
// two concurrent requests with one key only one writes.
const (
	recordKeyColumns   = `(user_id, key, request_hash, task_id, title, description, is_completed, created_at, updated_at)`
	createTaskKeyedSQL = `WITH ins AS (
			INSERT INTO task (id, user_id, title, description, is_completed, created_at, updated_at)
			VALUES ($1, $2, $3, $4, false, now(), now()) RETURNING ` + taskColumns + `
		), rec AS (
			INSERT INTO idempotency_key ` + recordKeyColumns + `
			SELECT user_id, $5, $6, id, title, description, is_completed, created_at, updated_at FROM ins
		)
		SELECT ` + taskColumns + ` FROM ins`
	toggleTaskKeyedSQL = `WITH upd AS (
			UPDATE task SET is_completed = NOT is_completed, ` + bumpUpdatedAt + `
			WHERE user_id = $1 AND id = $2 AND ` + versionIn3 + ` RETURNING ` + taskColumns + `
		), rec AS (
			INSERT INTO idempotency_key ` + recordKeyColumns + `
			SELECT user_id, $4, $5, id, title, description, is_completed, created_at, updated_at FROM upd
		)
		SELECT ` + taskColumns + ` FROM upd`
	recordedAnswerSQL = `SELECT request_hash, task_id, user_id, title, description, is_completed, created_at, updated_at
		FROM idempotency_key WHERE user_id = $1 AND key = $2 AND recorded_at > now() - $3::integer * interval '1 second'`
	forgetExpiredKeySQL = `DELETE FROM idempotency_key WHERE user_id = $1 AND key = $2 AND recorded_at <= now() - $3::integer * interval '1 second'`
	purgeExpiredKeysSQL = `DELETE FROM idempotency_key WHERE recorded_at <= now() - $1::integer * interval '1 second'`
)

// versionIn3 and versionIn7 are the precondition in SQL: the parameter (ifMatch.sqlArg) is
// NULL, or holds the row's updated_at. Checked in the write's own WHERE, so
// a conditional write is still one statement, with no race between the
// check and the write.
const (
	versionIn3 = `($3::timestamptz[] IS NULL OR updated_at = ANY($3::timestamptz[]))`
	versionIn7 = `($7::timestamptz[] IS NULL OR updated_at = ANY($7::timestamptz[]))`
)

// listAllTasksSQL is the list statement without a filter or a cursor: the
// whole list, or its first page. listTasksSQL[0][0] is this text.
const listAllTasksSQL = `SELECT ` + taskColumns + ` FROM task WHERE user_id = $1 ORDER BY created_at, id LIMIT $2`

// listTasksSQL holds the list statement for each shape of listQuery:
// [with a completed filter][with a cursor]. LIMIT NULL means no limit. Four
// statements rather than one with optional conditions, so that each is
// planned as an index range scan on (user_id, created_at, id).
var listTasksSQL = func() (stmts [2][2]string) {
	for _, completed := range []int{0, 1} {
		for _, cursor := range []int{0, 1} {
			q, n := `SELECT `+taskColumns+` FROM task WHERE user_id = $1`, 1
			if completed == 1 {
				n++
				q += fmt.Sprintf(` AND is_completed = $%d`, n)
			}
			if cursor == 1 {
				q += fmt.Sprintf(` AND (created_at, id) > ($%d, $%d)`, n+1, n+2)
				n += 2
			}
			stmts[completed][cursor] = q + fmt.Sprintf(` ORDER BY created_at, id LIMIT $%d`, n+1)
		}
	}
	return stmts
}()

// listArgs returns the statement for q and its arguments.
func listArgs(userID string, q listQuery) (string, []any) {
	args := []any{userID}
	completed, cursor := 0, 0
	if q.Completed != nil {
		completed = 1
		args = append(args, *q.Completed)
	}
	if q.After != nil {
		cursor = 1
		args = append(args, q.After.CreatedAt, q.After.ID)
	}
	var limit *int
	if q.Limit > 0 {
		limit = &q.Limit
	}
	return listTasksSQL[completed][cursor], append(args, limit)
}

// allStatements are the statements a request may run.
var allStatements = []string{listTasksSQL[0][0], listTasksSQL[0][1], listTasksSQL[1][0], listTasksSQL[1][1],
	createTaskSQL, getTaskSQL, updateTaskSQL, deleteTaskSQL, toggleTaskSQL,
	createTaskKeyedSQL, toggleTaskKeyedSQL, recordedAnswerSQL, forgetExpiredKeySQL}

// rowScanner is what *sql.Row and *sql.Rows have in common.
type rowScanner interface {
	Scan(dest ...any) error
}

// scanTask reads one row selected with taskColumns.
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

// ListTasks implements taskStore: rows are read from the connection as the
// caller consumes them.
func (s *pgStore) ListTasks(ctx context.Context, userID string, q listQuery) iter.Seq2[Task, error] {
	return func(yield func(Task, error) bool) {
		if err := s.checkReady("list tasks"); err != nil {
			yield(Task{}, err)
			return
		}
		// The deadline counts only the waits on the database, not the time
		// the caller takes to send each task on: a slow client reading a
		// long list is not a slow database. The timer stops while a task is
		// yielded and starts again for the next row.
		ctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		timer := time.AfterFunc(s.timeout, func() { cancel(context.DeadlineExceeded) })
		defer timer.Stop()
		query, args := listArgs(userID, q)
		rows, err := s.query(ctx, query, args...)
		if err != nil {
			yield(Task{}, classify("list tasks", err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			t, err := scanTask(rows)
			if err != nil {
				yield(Task{}, classify("list tasks", err))
				return
			}
			if !timer.Stop() {
				break // the deadline passed while the row was read
			}
			if !yield(t, nil) {
				return
			}
			timer.Reset(s.timeout)
		}
		err = rows.Err()
		if cause := context.Cause(ctx); errors.Is(cause, context.DeadlineExceeded) {
			err = cause // rows.Err says only "canceled"
		}
		if err != nil {
			yield(Task{}, classify("list tasks", err))
		}
	}
}

// CreateTask implements taskStore.
func (s *pgStore) CreateTask(ctx context.Context, userID string, in newTask, key idempotencyKey) (Task, bool, error) {
	ctx, cancel := s.bound(ctx) // for all its statements
	defer cancel()
	id := newTaskID()
	if key.Key != "" {
		return s.keyedWrite(ctx, "create task", createTaskKeyedSQL, userID, key,
			id, userID, in.Title, in.Description, key.Key, key.Hash[:])
	}
	t, err := s.queryTask(ctx, "create task", createTaskSQL, id, userID, in.Title, in.Description)
	if pq.As(err, pqerror.UniqueViolation) != nil {
		// The id was made by this call, so a duplicate means database/sql
		// retried the INSERT after a connection broke and the first attempt
		// had committed. That row is this call's task.
		t, err = s.GetTask(ctx, userID, id)
	}
	return t, false, err
}

// keyedWrite runs a write that records its answer under key, and replays
// the recorded answer when the key is already there: when the statement
// failed on the key's unique index, or (for a toggle) changed no row
// because the first, recorded toggle already changed the version the
// precondition named, or deleted the task since.
func (s *pgStore) keyedWrite(ctx context.Context, op, query, userID string, key idempotencyKey, args ...any) (Task, bool, error) {
	for attempt := 1; ; attempt++ {
		t, err := s.queryTask(ctx, op, query, args...)
		if err == nil {
			return t, false, nil
		}
		if !isKeyConflict(err) && !errors.Is(err, errTaskNotFound) {
			return Task{}, false, err
		}
		recorded, found, lookErr := s.recordedAnswer(ctx, userID, key)
		switch {
		case lookErr != nil:
			return Task{}, false, lookErr
		case found:
			return recorded, true, nil
		case !isKeyConflict(err):
			return Task{}, false, err // no row and no recorded answer: not found, or stale
		case attempt > 1:
			return Task{}, false, fmt.Errorf("%s: idempotency key conflict without a recorded answer", op)
		}
		// The key's record has expired but was not purged yet.
		if err := s.execOnce(ctx, "forget expired key", forgetExpiredKeySQL, userID, key.Key, retentionSeconds); err != nil {
			return Task{}, false, err
		}
	}
}

// isKeyConflict reports whether err is the idempotency key's unique index
// refusing a second record.
func isKeyConflict(err error) bool {
	pqErr := pq.As(err, pqerror.UniqueViolation)
	return pqErr != nil && pqErr.Constraint == "idempotency_key_pkey"
}

// recordedAnswer reads the answer recorded under key: found is false if
// there is none (or it expired), errKeyReused if it answered another
// request.
func (s *pgStore) recordedAnswer(ctx context.Context, userID string, key idempotencyKey) (t Task, found bool, err error) {
	if err := s.checkReady("read idempotency key"); err != nil {
		return Task{}, false, err
	}
	var hash []byte
	var description sql.NullString
	scan := func(row *sql.Row) error {
		return row.Scan(&hash, &t.ID, &t.UserID, &t.Title, &description, &t.IsCompleted, &t.CreatedAt, &t.UpdatedAt)
	}
	err = scan(s.queryRow(ctx, recordedAnswerSQL, userID, key.Key, retentionSeconds))
	if isStatementMissing(err) {
		s.fallBackToUnnamed(err)
		err = scan(s.db.QueryRowContext(ctx, recordedAnswerSQL, userID, key.Key, retentionSeconds))
	}
	if errors.Is(err, sql.ErrNoRows) {
		return Task{}, false, nil
	}
	if err != nil {
		return Task{}, false, classify("read idempotency key", err)
	}
	if !bytes.Equal(hash, key.Hash[:]) {
		return Task{}, false, errKeyReused
	}
	if description.Valid {
		t.Description = &description.String
	}
	t.CreatedAt, t.UpdatedAt = storeTime(t.CreatedAt), storeTime(t.UpdatedAt)
	return t, true, nil
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

// PurgeExpiredKeys deletes idempotency keys older than the retention.
func (s *pgStore) PurgeExpiredKeys(ctx context.Context) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.execOnce(ctx, "purge idempotency keys", purgeExpiredKeysSQL, retentionSeconds)
}

// GetTask implements taskStore.
func (s *pgStore) GetTask(ctx context.Context, userID, id string) (Task, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.queryTask(ctx, "get task", getTaskSQL, userID, id)
}

// UpdateTask implements taskStore in one statement, so a concurrent toggle
// can never be lost between a read and a write.
func (s *pgStore) UpdateTask(ctx context.Context, userID, id string, u taskUpdate) (Task, error) {
	ctx, cancel := s.bound(ctx) // for all its statements
	defer cancel()
	t, err := s.queryTask(ctx, "update task", updateTaskSQL,
		userID, id, u.Title, u.SetDescription, u.Description, u.IsCompleted, u.IfMatch.sqlArg())
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

// DeleteTask implements taskStore.
func (s *pgStore) DeleteTask(ctx context.Context, userID, id string, cond ifMatch) error {
	if err := s.checkReady("delete task"); err != nil {
		return err
	}
	ctx, cancel := s.bound(ctx) // for all its statements
	defer cancel()
	res, err := s.exec(ctx, deleteTaskSQL, userID, id, cond.sqlArg())
	if err != nil {
		return classify("delete task", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return classify("delete task", err)
	}
	if n == 0 {
		return s.whyNotFound(ctx, userID, id, cond, fmt.Errorf("delete task: %w", errTaskNotFound))
	}
	return nil
}

// ToggleTask implements taskStore with a single UPDATE … SET x = NOT x, which
// PostgreSQL serialises on the row lock.
func (s *pgStore) ToggleTask(ctx context.Context, userID, id string, cond ifMatch, key idempotencyKey) (Task, bool, error) {
	ctx, cancel := s.bound(ctx) // for all its statements
	defer cancel()
	if key.Key != "" {
		t, replayed, err := s.keyedWrite(ctx, "toggle task", toggleTaskKeyedSQL, userID, key,
			userID, id, cond.sqlArg(), key.Key, key.Hash[:])
		return t, replayed, s.whyNotFound(ctx, userID, id, cond, err)
	}
	t, err := s.queryTask(ctx, "toggle task", toggleTaskSQL, userID, id, cond.sqlArg())
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
	return s.db.Close()
}

// queryTask runs a statement that returns at most one task row.
func (s *pgStore) queryTask(ctx context.Context, op, query string, args ...any) (Task, error) {
	if err := s.checkReady(op); err != nil {
		return Task{}, err
	}
	t, err := scanTask(s.queryRow(ctx, query, args...))
	if isStatementMissing(err) {
		// The server never ran it, so sending it again is safe.
		s.fallBackToUnnamed(err)
		t, err = scanTask(s.db.QueryRowContext(ctx, query, args...))
	}
	if err != nil {
		return Task{}, classify(op, err)
	}
	return t, nil
}

// query, queryRow and exec run a statement prepared when the store prepares
// statements, unnamed otherwise.
func (s *pgStore) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := s.stmt(query); st != nil {
		rows, err := st.QueryContext(ctx, args...)
		if !isStatementMissing(err) {
			return rows, err
		}
		s.fallBackToUnnamed(err)
	}
	return s.db.QueryContext(ctx, query, args...)
}

func (s *pgStore) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st := s.stmt(query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return s.db.QueryRowContext(ctx, query, args...)
}

func (s *pgStore) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := s.stmt(query); st != nil {
		res, err := st.ExecContext(ctx, args...)
		if !isStatementMissing(err) {
			return res, err
		}
		s.fallBackToUnnamed(err)
	}
	return s.db.ExecContext(ctx, query, args...)
}

// classify wraps a database error with the operation and translates the
// ones handlers act on: no row is errTaskNotFound, a connection problem is
// errStoreUnavailable. The driver error stays in the chain for the log.
func classify(op string, err error) error {
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%s: %w", op, errTaskNotFound)
	case isConnectionError(err):
		return fmt.Errorf("%s: %w: %w", op, errStoreUnavailable, err)
	default:
		return fmt.Errorf("%s: %w", op, err)
	}
}

// isConnectionError reports whether err means the database could not be
// reached or answered in time, rather than that the statement was wrong.
func isConnectionError(err error) bool {
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	if pqErr, ok := errors.AsType[*pq.Error](err); ok {
		switch pqErr.Code.Class() {
		case "08", // connection exception
			"53", // insufficient resources, e.g. too many connections
			"57": // operator intervention: shutdown, starting up, cancelled
			return true
		}
	}
	return false
}

// deadlineDialer dials PostgreSQL connections whose every read and write
// fails after timeout. lib/pq reads only while it waits for an answer, so an
// idle pooled connection is never cut; a stalled one is, and database/sql
// then discards it.
type deadlineDialer struct {
	timeout time.Duration
}

func (d deadlineDialer) Dial(network, addr string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, addr)
}

func (d deadlineDialer) DialTimeout(network, addr string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.DialContext(ctx, network, addr)
}

func (d deadlineDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	// The dial too: connect_timeout may be longer than a request may wait.
	dialer := net.Dialer{Timeout: d.timeout}
	c, err := dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &deadlineConn{Conn: c, timeout: d.timeout}, nil
}

// deadlineConn sets a fresh deadline before each read and write.
type deadlineConn struct {
	net.Conn
	timeout time.Duration
}

func (c *deadlineConn) Read(b []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *deadlineConn) Write(b []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// ---------------------------------------------------------------------------
// In memory

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

var _ taskStore = (*memStore)(nil)

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
