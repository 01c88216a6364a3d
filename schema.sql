-- tasksvc schema. Applied at every start-up, so every statement must be
-- idempotent. The table "task" holds the fields of the FastAPI service this
-- one replaces, under the same names.

CREATE TABLE IF NOT EXISTS task (
    id           uuid          PRIMARY KEY,
    user_id      varchar(255)  NOT NULL,
    title        varchar(500)  NOT NULL,
    description  varchar(5000),
    is_completed boolean       NOT NULL DEFAULT false,
    created_at   timestamptz   NOT NULL DEFAULT now(),
    updated_at   timestamptz   NOT NULL DEFAULT now()
);

-- Serves the list of all a user's tasks, ordered by (created_at, id): read
-- straight off the index without a sort.
CREATE INDEX IF NOT EXISTS task_user_id_created_at_id_idx
    ON task (user_id, created_at, id);

-- Idempotency keys (the Idempotency-Key header on create and toggle): the
-- first answer to each key, replayed when a client retries. Written in the
-- same statement as the task, so a key is recorded exactly when its write
-- commits. Kept 24 hours, then purged.
CREATE TABLE IF NOT EXISTS idempotency_key (
    user_id      varchar(255)  NOT NULL,
    key          varchar(255)  NOT NULL,
    request_hash bytea         NOT NULL,
    task_id      uuid          NOT NULL,
    title        varchar(500)  NOT NULL,
    description  varchar(5000),
    is_completed boolean       NOT NULL,
    created_at   timestamptz   NOT NULL,
    updated_at   timestamptz   NOT NULL,
    recorded_at  timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);

CREATE INDEX IF NOT EXISTS idempotency_key_recorded_at_idx
    ON idempotency_key (recorded_at);

-- The filtered list (?completed=true|false), read straight off this index
-- as the unfiltered one is off task_user_id_created_at_id_idx, so a page
-- costs the same whatever the other state holds. With is_completed
-- indexed, a toggle is no longer a HOT update (docs/performance.md).
CREATE INDEX IF NOT EXISTS task_user_id_is_completed_created_at_id_idx
    ON task (user_id, is_completed, created_at, id);

-- Forgetting a user's oldest keys past the per-user limit reads this.
CREATE INDEX IF NOT EXISTS idempotency_key_user_id_recorded_at_idx
    ON idempotency_key (user_id, recorded_at);

-- How many tasks each user has, kept by every create and delete in the
-- write's own statement: a create takes the user's row lock here, so
-- MAX_TASKS_PER_USER holds exactly under concurrent creates. Made, and
-- filled from the tasks already there, by the first start of a version
-- that has it.
DO $$
BEGIN
    IF to_regclass('task_user') IS NULL THEN
        CREATE TABLE task_user (
            user_id varchar(255) PRIMARY KEY,
            tasks   integer      NOT NULL CHECK (tasks >= 0)
        );
        INSERT INTO task_user (user_id, tasks)
            SELECT user_id, count(*) FROM task GROUP BY user_id;
    END IF;
END
$$;

-- The change feed (GET /api/{user_id}/tasks/changes). Each user's writes
-- are numbered by task_user.changes, bumped in the write's own statement
-- under that row's lock, so a user's change numbers increase in the order
-- their writes commit: a reader who has seen change 6 can never later find
-- a 5 committed. task.change is the number of a task's last write; a
-- delete leaves a tombstone with its number, kept 30 days, after which
-- task_user.forgotten says which cursors are too old to follow. Added, and
-- the existing tasks numbered in list order, by the first start of a
-- version that has them.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = 'task' AND column_name = 'change') THEN
        ALTER TABLE task ADD COLUMN change bigint NOT NULL DEFAULT 0;
        UPDATE task t SET change = n.rn
            FROM (SELECT id, row_number() OVER (PARTITION BY user_id ORDER BY created_at, id) AS rn FROM task) n
            WHERE t.id = n.id;
        ALTER TABLE task_user ADD COLUMN changes bigint NOT NULL DEFAULT 0,
                              ADD COLUMN forgotten bigint NOT NULL DEFAULT 0;
        UPDATE task_user u SET changes = c.n
            FROM (SELECT user_id, max(change) AS n FROM task GROUP BY user_id) c
            WHERE u.user_id = c.user_id;
    END IF;
END
$$;

CREATE INDEX IF NOT EXISTS task_user_id_change_idx
    ON task (user_id, change);

CREATE TABLE IF NOT EXISTS task_tombstone (
    user_id    varchar(255) NOT NULL,
    id         uuid         NOT NULL,
    change     bigint       NOT NULL,
    deleted_at timestamptz  NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, id)
);

CREATE INDEX IF NOT EXISTS task_tombstone_user_id_change_idx
    ON task_tombstone (user_id, change);

CREATE INDEX IF NOT EXISTS task_tombstone_deleted_at_idx
    ON task_tombstone (deleted_at);

-- Event streams (GET /api/{user_id}/tasks/events) are woken by
-- notifications the service sends after each write, in a statement of its
-- own (pgnotify.go), not by a trigger: a transaction that notifies holds a
-- lock shared by every notifying transaction through its commit, and a
-- trigger would take it in every write. A trigger an earlier build made is
-- dropped, checked first so that a start-up takes no lock on task.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_trigger
            WHERE tgname = 'task_notify_change' AND tgrelid = 'task'::regclass) THEN
        DROP TRIGGER task_notify_change ON task;
    END IF;
END
$$;

DROP FUNCTION IF EXISTS task_notify_change();
