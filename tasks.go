package main

// The six task handlers. Each reads straight down: path values, query or
// body, validation, one store call, the answer; every error goes to
// writeError. Decoding and validation are in validate.go, the answers'
// shapes in respond.go and encode.go.

import (
	"cmp"
	"log/slog"
	"net/http"
)

// handleListTasks answers GET /api/{user_id}/tasks: the whole list, or with
// ?limit=N one page and, when there is more, a Link header to the next;
// ?completed= and ?after= narrow it. The list is read from the store a page
// at a time (listChunk tasks for the whole list), each page whole before any
// of it is written: no connection or lock is held while a slow client
// reads, and a request holds at most one page of tasks in memory. Each page
// asks for one task more than it needs, to learn whether another follows
// without a further round trip.
//
// A list that fits one write goes out with a Content-Length. A longer one
// is sent in pieces; an error after the first piece can no longer change
// the status, so the connection is aborted (see taskArray) and the client
// sees a broken response, never a short list that looks complete.
func handleListTasks(log *slog.Logger, store taskStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v validator
		userID := v.userID(r)
		q := v.listQuery(r)
		if err := v.err(); err != nil {
			writeError(w, r, log, err)
			return
		}
		pageOnly := q.Limit > 0
		want := cmp.Or(q.Limit, listChunk)
		out := taskArray{w: w}
		for {
			q.Limit = want + 1
			tasks, err := store.ListTasks(r.Context(), userID, q)
			if err != nil {
				out.fail(r, log, err)
				return
			}
			more := len(tasks) > want
			tasks = tasks[:min(len(tasks), want)]
			if pageOnly && more {
				w.Header().Set("Link", nextPageLink(r, tasks[len(tasks)-1]))
			}
			out.add(tasks)
			if pageOnly || !more {
				break
			}
			last := tasks[len(tasks)-1]
			q.After = &listCursor{CreatedAt: last.CreatedAt, ID: last.ID}
		}
		out.finish()
	})
}

// listChunk is how many tasks the whole list reads per round trip: a list
// of up to this many costs one.
const listChunk = maxPageLimit

// handleCreateTask answers POST /api/{user_id}/tasks.
func handleCreateTask(log *slog.Logger, store taskStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v validator
		userID := v.userID(r)
		body, err := readBody(w, r)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		fields := v.object(body)
		in := newTask{
			Title:       v.requiredTitle(fields),
			Description: v.description(fields),
		}
		key := v.idempotencyKey(r, "create", in.Title, in.Description)
		if err := v.err(); err != nil {
			writeError(w, r, log, err)
			return
		}
		task, replayed, err := store.CreateTask(r.Context(), userID, in, key)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		w.Header().Set("Location", tasksPath(userID)+"/"+task.ID)
		markReplayed(w, replayed)
		writeTask(w, http.StatusCreated, task)
	})
}

// handleGetTask answers GET /api/{user_id}/tasks/{task_id}; with an
// If-None-Match naming the task's ETag, a 304 without the body.
func handleGetTask(log *slog.Logger, store taskStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		userID, taskID, err := taskPathValues(r)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		task, err := store.GetTask(r.Context(), userID, taskID)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		if noneMatch(r.Header, etag(task)) {
			w.Header().Set("ETag", etag(task))
			w.WriteHeader(http.StatusNotModified)
			return
		}
		writeTask(w, http.StatusOK, task)
	})
}

// handleUpdateTask answers PUT /api/{user_id}/tasks/{task_id}: absent fields
// keep their value, "description": null clears it.
func handleUpdateTask(log *slog.Logger, store taskStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v validator
		userID, taskID := v.userID(r), v.taskID(r)
		body, err := readBody(w, r)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		fields := v.object(body)
		var u taskUpdate
		u.Title = v.optionalTitle(fields)
		_, u.SetDescription = fields["description"]
		u.Description = v.description(fields)
		u.IsCompleted = v.optionalBool(fields, "is_completed")
		u.IfMatch = parseIfMatch(r.Header)
		if err := v.err(); err != nil {
			writeError(w, r, log, err)
			return
		}
		task, err := store.UpdateTask(r.Context(), userID, taskID, u)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeTask(w, http.StatusOK, task)
	})
}

// handleDeleteTask answers DELETE /api/{user_id}/tasks/{task_id}.
func handleDeleteTask(log *slog.Logger, store taskStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		userID, taskID, err := taskPathValues(r)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		if err := store.DeleteTask(r.Context(), userID, taskID, parseIfMatch(r.Header)); err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSONBytes(w, http.StatusOK, deletedBody)
	})
}

// deletedBody is every delete's answer, encoded once.
var deletedBody = []byte(`{"message":"Task deleted successfully"}`)

// handleToggleTask answers PATCH /api/{user_id}/tasks/{task_id}/complete.
// A blind retry of a toggle would flip it back; with an Idempotency-Key the
// retry gets the first answer again instead.
func handleToggleTask(log *slog.Logger, store taskStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v validator
		userID, taskID := v.userID(r), v.taskID(r)
		key := v.idempotencyKey(r, "toggle", taskID)
		if err := v.err(); err != nil {
			writeError(w, r, log, err)
			return
		}
		task, replayed, err := store.ToggleTask(r.Context(), userID, taskID, parseIfMatch(r.Header), key)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		markReplayed(w, replayed)
		writeTask(w, http.StatusOK, task)
	})
}
