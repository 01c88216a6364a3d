package main

// Idempotency keys in PostgreSQL: a keyed write records its answer in its
// own statement; a retry finds the record and replays it.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
)

// retentionSeconds is idempotencyRetention as a statement argument.
var retentionSeconds = int(idempotencyRetention / time.Second)

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

// recordedAnswerSQL reads the answer recorded under a key within the
// retention; forgetExpiredKeySQL drops one expired record that the purge
// has not reached yet, so the key can be used again.
const (
	recordedAnswerSQL = `SELECT request_hash, task_id, user_id, title, description, is_completed, created_at, updated_at
		FROM idempotency_key
		WHERE user_id = $1 AND key = $2 AND recorded_at > now() - $3::integer * interval '1 second'`
	forgetExpiredKeySQL = `DELETE FROM idempotency_key
		WHERE user_id = $1 AND key = $2 AND recorded_at <= now() - $3::integer * interval '1 second'`
)

// recordedAnswer reads the answer recorded under key: found is false if
// there is none (or it expired), errKeyReused if it answered another
// request.
func (s *pgStore) recordedAnswer(ctx context.Context, userID string, key idempotencyKey) (t Task, found bool, err error) {
	var hash []byte
	err = s.scanOne(ctx, "read idempotency key", recordedAnswerSQL, []any{userID, key.Key, retentionSeconds},
		func(row rowScanner) (err error) {
			t, err = scanTask(withFirst{row: row, first: &hash})
			return err
		})
	switch {
	case errors.Is(err, errTaskNotFound):
		return Task{}, false, nil
	case err != nil:
		return Task{}, false, err
	case !bytes.Equal(hash, key.Hash[:]):
		return Task{}, false, errKeyReused
	}
	return t, true, nil
}

// withFirst reads a row's first column into first and the rest as the
// caller asks: a task row with something before it.
type withFirst struct {
	row   rowScanner
	first any
}

func (w withFirst) Scan(dest ...any) error {
	return w.row.Scan(append([]any{w.first}, dest...)...)
}

// purgeExpiredKeysSQL deletes every user's expired idempotency keys.
const purgeExpiredKeysSQL = `DELETE FROM idempotency_key
	WHERE recorded_at <= now() - $1::integer * interval '1 second'`

// PurgeExpiredKeys deletes idempotency keys older than the retention.
func (s *pgStore) PurgeExpiredKeys(ctx context.Context) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.execOnce(ctx, "purge idempotency keys", purgeExpiredKeysSQL, retentionSeconds)
}
