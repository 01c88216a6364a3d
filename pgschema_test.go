package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"strings"
	"sync"
	"testing"
	"time"
)

// The schema at start-up: idempotent, created where missing, and given
// the time an upgrade needs.

// TestPostgresSchemaIsIdempotent: instances starting together all apply the
// schema without error.
func TestPostgresSchemaIsIdempotent(t *testing.T) {
	t.Parallel()
	s := openTestPostgres(t, testPostgresURL(t, "TEST_DATABASE_URL"))
	var wg sync.WaitGroup
	for range 4 {
		goWait(&wg, func() {
			if err := s.applySchema(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

// TestPostgresCreatesSchemaWhenMissing: on a database without the table,
// start-up creates the table and its index. It runs in a schema of its own
// (through search_path), dropped afterwards.
func TestPostgresCreatesSchemaWhenMissing(t *testing.T) {
	t.Parallel()
	raw := testPostgresURL(t, "TEST_DATABASE_URL")
	admin := openTestPostgres(t, raw)
	schema := strings.ToLower("tasksvc_" + rand.Text()[:12])
	if _, err := admin.db.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	s := openTestPostgres(t, withURLParam(raw, "options", "-c search_path="+schema))
	var table, index sql.NullString
	err := admin.db.QueryRow(`SELECT to_regclass($1)::text, to_regclass($2)::text`,
		schema+".task", schema+".task_user_id_created_at_id_idx").Scan(&table, &index)
	if err != nil || !table.Valid || !index.Valid {
		t.Fatalf("after start-up: table %v, index %v, err %v", table, index, err)
	}
	task := mustCreate(t, s, "u", newTask{Title: "t"})
	wantSameTask(t, mustGet(t, s, "u", task.ID), task)
}

// TestPostgresSchemaOutlastsTheRequestTimeout: applying the schema may take
// far longer than DATABASE_TIMEOUT (an upgrade building an index over a
// large table): here it waits a while for another instance's schema lock,
// and the store still starts rather than retrying for ever.
func TestPostgresSchemaOutlastsTheRequestTimeout(t *testing.T) {
	t.Parallel()
	raw := testPostgresURL(t, "TEST_DATABASE_URL")
	admin := openTestPostgres(t, raw)
	holder, err := admin.db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	var holderPID int
	if err := holder.QueryRowContext(t.Context(), `SELECT pg_backend_pid()`).Scan(&holderPID); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.ExecContext(t.Context(), `SELECT pg_advisory_lock($1)`, schemaLockKey); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := parsePostgresURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	opts := defaultPgOptions()
	opts.Timeout = 100 * time.Millisecond
	started := make(chan error, 1)
	go func() {
		s, err := openPostgres(t.Context(), cfg, opts)
		if err == nil {
			s.Close()
		}
		started <- err
	}()
	waitForLockWaiter(t, admin.db, holderPID)
	// Held on: well past the request timeout before it is let go.
	time.Sleep(10 * opts.Timeout)
	if _, err := holder.ExecContext(t.Context(), `SELECT pg_advisory_unlock($1)`, schemaLockKey); err != nil {
		t.Fatal(err)
	}
	if err := <-started; err != nil {
		t.Errorf("a schema that took longer than DATABASE_TIMEOUT failed: %v", err)
	}
}
