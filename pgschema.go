package main

// The schema at start-up: schema.sql, embedded, applied in one transaction
// under an advisory lock (instances starting together take turns), with
// retries while the database wakes; until it is applied, the store answers
// errStoreUnavailable.

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

//go:embed schema.sql
var schemaSQL string

// schemaLockKey serialises schema creation between instances starting at the
// same moment: concurrent CREATE TABLE IF NOT EXISTS can still collide in
// PostgreSQL's catalog. Any constant works; this one spells "tasksvc".
const schemaLockKey = 0x7461736b737663

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

// schemaTimeout bounds applying the schema once the server is reached: an
// upgrade may build an index over every task (docs/configuration.md says
// how to build it beforehand instead).
const schemaTimeout = 15 * time.Minute

// createSchema runs schema.sql in one transaction, holding an advisory
// lock so that instances starting together take turns.
func (s *pgStore) createSchema(ctx context.Context) error {
	// Reaching the server keeps the request timeout, so a database that is
	// down is told from a slow schema as quickly as before.
	pingCtx, cancelPing := context.WithTimeout(ctx, s.timeout)
	defer cancelPing()
	if err := s.schemaDB.PingContext(pingCtx); err != nil {
		return classify("apply schema", err)
	}
	ctx, cancel := context.WithTimeout(ctx, schemaTimeout)
	defer cancel()
	tx, err := s.schemaDB.BeginTx(ctx, nil)
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

// errNotReady is what calls get before the schema has been applied.
var errNotReady = fmt.Errorf("%w: the schema is not applied yet", errStoreUnavailable)

// checkReady is errStoreUnavailable until the schema is applied.
func (s *pgStore) checkReady(op string) error {
	if !s.ready.Load() {
		return fmt.Errorf("%s: %w", op, errNotReady)
	}
	return nil
}
