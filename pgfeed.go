package main

// The change feed in PostgreSQL: a user's changes after a cursor, read in
// one statement from the tasks and the tombstones, each by its
// (user_id, change) index.

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// changesSQL reads, in one statement, the user's change counter and the
// oldest cursor still followable ($1 user), and up to $3 changes after $2:
// live tasks stamped later, and (when $4) tombstones of later deletes,
// merged in change order. A user without changes still gets one row, with
// the change columns NULL.
const changesSQL = `WITH u AS (
		SELECT changes, forgotten FROM task_user WHERE user_id = $1
	)
	SELECT coalesce((SELECT changes FROM u), 0), coalesce((SELECT forgotten FROM u), 0),
		c.change, c.deleted, c.id, c.user_id, c.title, c.description, c.is_completed, c.created_at, c.updated_at
	FROM (SELECT 1) AS one LEFT JOIN LATERAL (
		(SELECT change, false AS deleted, id, user_id, title, description, is_completed, created_at, updated_at
			FROM task WHERE user_id = $1 AND change > $2
			ORDER BY change LIMIT $3)
		UNION ALL
		(SELECT change, true, id, NULL::varchar, NULL::varchar, NULL::varchar, NULL::boolean, NULL::timestamptz, NULL::timestamptz
			FROM task_tombstone WHERE user_id = $1 AND change > $2 AND $4::boolean
			ORDER BY change LIMIT $3)
		ORDER BY change LIMIT $3
	) AS c ON true`

// Changes implements taskStore.
func (s *pgStore) Changes(ctx context.Context, userID string, q changesQuery) (changesPage, error) {
	if err := s.checkReady("list changes"); err != nil {
		return changesPage{}, err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var since int64 // a full sync: every numbered task
	if q.Since != nil {
		since = q.Since.After
	}
	rows, err := s.query(ctx, changesSQL, userID, since, q.Limit+1, q.Since != nil)
	if err != nil {
		return changesPage{}, classify("list changes", err)
	}
	defer rows.Close()
	var counter, forgotten int64
	var changes []taskChange
	for rows.Next() {
		c, ok, err := scanChange(rows, &counter, &forgotten)
		if err != nil {
			return changesPage{}, classify("list changes", err)
		}
		if ok {
			changes = append(changes, c)
		}
	}
	if err := rows.Err(); err != nil {
		return changesPage{}, classify("list changes", err)
	}
	return pageOfChanges(q, counter, forgotten, changes)
}

// scanChange reads one row of changesSQL: the counters, and a change if the
// row holds one.
func scanChange(rows *sql.Rows, counter, forgotten *int64) (taskChange, bool, error) {
	var change sql.NullInt64
	var deleted, completed sql.NullBool
	var id, user, title, description sql.NullString
	var created, updated sql.NullTime
	if err := rows.Scan(counter, forgotten, &change, &deleted, &id, &user, &title, &description, &completed, &created, &updated); err != nil {
		return taskChange{}, false, err
	}
	if !change.Valid {
		return taskChange{}, false, nil
	}
	c := taskChange{Change: change.Int64, Deleted: deleted.Bool, Task: Task{ID: id.String}}
	if !c.Deleted {
		c.Task = Task{ID: id.String, UserID: user.String, Title: title.String, IsCompleted: completed.Bool,
			CreatedAt: storeTime(created.Time), UpdatedAt: storeTime(updated.Time)}
		if description.Valid {
			c.Task.Description = &description.String
		}
	}
	return c, true, nil
}

// pageOfChanges checks the cursor against the user's counters and cuts the
// changes read (up to one more than asked) into a page, as both stores
// answer Changes.
func pageOfChanges(q changesQuery, counter, forgotten int64, changes []taskChange) (changesPage, error) {
	// Reading the current tasks, the client needs the deletes from now on.
	floor := counter
	if q.Since != nil {
		floor = q.Since.Floor
		if q.Since.After > counter || floor > counter {
			return changesPage{}, fmt.Errorf("list changes: %w", errCursorUnknown)
		}
		if floor < forgotten {
			return changesPage{}, fmt.Errorf("list changes: %w", errCursorExpired)
		}
	}
	page := changesPage{Changes: changes, HasMore: len(changes) > q.Limit}
	if page.HasMore {
		page.Changes = changes[:q.Limit]
	}
	after := floor // the whole list, or nothing new: later changes are news
	if q.Since != nil {
		after = q.Since.After
	}
	if n := len(page.Changes); n > 0 && (page.HasMore || q.Since != nil) {
		after = page.Changes[n-1].Change
	}
	page.Cursor = changeCursor{After: after, Floor: max(floor, after)}
	if page.Changes == nil {
		page.Changes = []taskChange{}
	}
	return page, nil
}

// purgeTombstonesSQL deletes the tombstones older than $1 seconds and moves
// each user's forgotten cursor past them, in one statement.
const purgeTombstonesSQL = `WITH gone AS (
		DELETE FROM task_tombstone WHERE deleted_at <= now() - $1::integer * interval '1 second'
		RETURNING user_id, change
	)
	UPDATE task_user AS u SET forgotten = greatest(u.forgotten, g.change)
	FROM (SELECT user_id, max(change) AS change FROM gone GROUP BY user_id) AS g
	WHERE u.user_id = g.user_id`

// tombstoneRetentionSeconds is tombstoneRetention as a statement argument.
var tombstoneRetentionSeconds = int(tombstoneRetention / time.Second)

// PurgeExpiredTombstones forgets the deletes older than tombstoneRetention.
func (s *pgStore) PurgeExpiredTombstones(ctx context.Context) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.execOnce(ctx, "purge tombstones", purgeTombstonesSQL, tombstoneRetentionSeconds)
}
