package main

// How the PostgreSQL store reaches the server: DATABASE_URL, the pool,
// named or unnamed statements (poolers), per-request deadlines, socket
// deadlines, and driver errors sorted into not-found, unavailable and
// internal. The statements themselves are in postgres.go, the schema in
// pgschema.go.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
)

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
	// MaxTasks is how many tasks a user may have; 0 for no limit.
	MaxTasks int
	// ListenURL is the URL of the LISTEN connection (see listenURL).
	ListenURL string
	// SweepInterval is how often the listener sweeps for writes whose
	// notification was lost: defaultSweepInterval, shorter in tests.
	SweepInterval time.Duration
	// TombstoneWindow is how many of a user's changes a delete stays in
	// the feed for: tombstoneWindow, smaller in tests.
	TombstoneWindow int
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
		MaxTasks:        defaultMaxTasks,
		TombstoneWindow: tombstoneWindow,
		SweepInterval:   defaultSweepInterval,
	}
}

// parsePostgresURL turns DATABASE_URL into a lib/pq configuration. It accepts
// the URL exactly as Neon's console shows it: lib/pq does not implement
// channel_binding and would pass it to the server as a run-time parameter,
// which the server refuses, so it is removed here (droppedChannelBinding
// reports it). Errors never repeat the URL, because it holds the password.
func parsePostgresURL(raw string) (cfg pq.Config, droppedChannelBinding bool, err error) {
	return parsePostgresURLOf("DATABASE_URL", raw)
}

// parsePostgresURLOf is parsePostgresURL for the URL of the variable name,
// which its errors name.
func parsePostgresURLOf(name, raw string) (cfg pq.Config, droppedChannelBinding bool, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err // without the URL
		}
		return pq.Config{}, false, fmt.Errorf("%s is not a valid URL: %v", name, err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return pq.Config{}, false, fmt.Errorf("%s must start with postgres:// or postgresql://", name)
	}
	cfg, err = pq.NewConfig(raw)
	if err != nil {
		msg := err.Error()
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
		return pq.Config{}, false, fmt.Errorf("%s is not usable: %s", name, msg)
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
	// lib/pq reads these files at each connection, and a connection that
	// fails looks like a database still waking up: it would be retried
	// forever. A file that is not there is a mistake to say at once.
	for param, file := range map[string]string{"sslrootcert": cfg.SSLRootCert, "sslcert": cfg.SSLCert, "sslkey": cfg.SSLKey} {
		if file == "" || param == "sslrootcert" && file == "system" {
			continue
		}
		if _, err := os.Stat(file); err != nil {
			return pq.Config{}, false, fmt.Errorf("%s: %s: %w", name, param, err)
		}
	}
	return cfg, droppedChannelBinding, nil
}

// newPostgres returns a store for cfg without connecting: database/sql
// connects on first use. The store answers errStoreUnavailable until
// applySchema has succeeded (openStore calls it, and retrySchema while
// the database cannot be reached).
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
	// The schema gets a connection of its own with longer socket
	// deadlines: building an index a new version adds may take minutes on
	// a large table, far longer than a request may wait.
	schemaConnector, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("configure PostgreSQL: %w", err)
	}
	schemaConnector.Dialer(deadlineDialer{timeout: schemaTimeout})
	schemaDB := sql.OpenDB(schemaConnector)
	schemaDB.SetMaxOpenConns(1)
	schemaDB.SetConnMaxIdleTime(time.Minute) // closed soon after the start-up

	db.SetMaxOpenConns(opts.MaxConns)
	db.SetMaxIdleConns(opts.MaxIdleConns)
	db.SetConnMaxIdleTime(opts.ConnMaxIdleTime)
	db.SetConnMaxLifetime(pgConnMaxLifetime)
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &pgStore{db: db, schemaDB: schemaDB, timeout: opts.Timeout, maxTasks: opts.MaxTasks, tombstones: opts.TombstoneWindow, log: log, prepare: opts.Prepare,
		stop: make(chan struct{}), done: make(chan struct{}), hub: newChangeHub(), listenURL: opts.ListenURL, relayed: make(chan struct{}),
		instance: rand.Text()[:12], notes: newNotifyQueue(), notified: make(chan struct{}), sweepEvery: opts.SweepInterval}
	go s.purgeLoop(keyPurgeInterval)
	go s.notifyLoop()
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
		if err := s.PurgeExpiredTombstones(context.Background()); err != nil {
			s.log.Warn("purging expired tombstones failed; will try again", "err", err)
		}
	}
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

// bound gives one store method its deadline: the store's timeout for all
// the statements the method runs, set once at the top of each exported
// method (the helpers below it do not add their own). The deadline's
// context has a cost per query (docs/performance.md has the figure), and it
// is kept: when it expires, lib/pq asks the server to cancel the statement,
// so a write stuck behind someone else's lock cannot still be applied after
// its client got a 503. Socket deadlines alone would close the connection
// and leave the statement waiting on the server.
func (s *pgStore) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// queryTask runs a statement that returns at most one task row.
func (s *pgStore) queryTask(ctx context.Context, op, query string, args ...any) (t Task, err error) {
	err = s.scanOne(ctx, op, query, args, func(row rowScanner) (err error) {
		t, err = scanTask(row)
		return err
	})
	return t, err
}

// queryValue runs a statement that returns one row of plain values, read
// into dest.
func (s *pgStore) queryValue(ctx context.Context, op, query string, args []any, dest ...any) error {
	return s.scanOne(ctx, op, query, args, func(row rowScanner) error { return row.Scan(dest...) })
}

// scanOne runs a statement that returns at most one row and reads it with
// scan; no row is errTaskNotFound (classify). Should the server have lost
// the prepared statement, the statement never ran, so it is sent again,
// unnamed.
func (s *pgStore) scanOne(ctx context.Context, op, query string, args []any, scan func(rowScanner) error) error {
	if err := s.checkReady(op); err != nil {
		return err
	}
	err := scan(s.queryRow(ctx, query, args...))
	if isStatementMissing(err) {
		s.fallBackToUnnamed(err)
		err = scan(s.db.QueryRowContext(ctx, query, args...))
	}
	if err != nil {
		return classify(op, err)
	}
	return nil
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
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
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
