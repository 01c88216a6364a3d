-- tasksvc schema. Applied at every start-up, so every statement must be
-- idempotent. The table matches the seed plan's data model (table "task").

CREATE TABLE IF NOT EXISTS task (
    id           uuid          PRIMARY KEY,
    user_id      varchar(255)  NOT NULL,
    title        varchar(500)  NOT NULL,
    description  varchar(5000),
    is_completed boolean       NOT NULL DEFAULT false,
    created_at   timestamptz   NOT NULL DEFAULT now(),
    updated_at   timestamptz   NOT NULL DEFAULT now()
);

-- Serves every query the service makes: all of them filter on user_id, and
-- the list is ordered by (created_at, id), so it is read straight off the
-- index without a sort.
CREATE INDEX IF NOT EXISTS task_user_id_created_at_id_idx
    ON task (user_id, created_at, id);
