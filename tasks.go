package main

// The six task handlers. Each reads straight down: path values, query or
// body, validation, one store call, the answer; every error goes to
// writeError. Decoding and validation are in validate.go, the answers'
// shapes in respond.go and encode.go.

import (
	"log/slog"
	"net/http"
)

// handleListTasks answers GET /api/{user_id}/tasks, streaming the array:
// the response is written in chunks as rows arrive, so memory does not grow
// with the list. A short list is answered whole, with a Content-Length; an
// error after the first chunk is sent can no longer change the status, so
// the connection is aborted and the client sees a broken response, never a
// short list that looks complete.
//
// With ?limit=N it answers one page, fetching one task more to learn
// whether a next page exists, for the Link header. A page (1,000 tasks at
// most) is gathered whole, since that header goes before the body.
// ?completed= and ?after= narrow the list.
func handleListTasks(log *slog.Logger, store taskStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v validator
		userID := v.userID(r)
		q := v.listQuery(r)
		if err := v.err(); err != nil {
			writeError(w, r, log, err)
			return
		}
		limit := q.Limit
		if limit > 0 {
			q.Limit++ // the look-ahead task
		}
		buf := make([]byte, 0, listChunkBytes+1024)
		buf = append(buf, '[')
		var last Task
		started, n := false, 0
		for t, err := range store.ListTasks(r.Context(), userID, q) {
			if err != nil {
				if !started {
					writeError(w, r, log, err)
					return
				}
				logRequestError(log, slog.LevelError, "list cut short", w, r, err)
				panic(http.ErrAbortHandler)
			}
			if limit > 0 && n == limit {
				w.Header().Set("Link", nextPageLink(r, last))
				break
			}
			if n > 0 {
				buf = append(buf, ',')
			}
			buf = appendTask(buf, t)
			last = t
			n++
			if limit == 0 && len(buf) >= listChunkBytes {
				if !started {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusOK)
					started = true
				}
				if _, err := w.Write(buf); err != nil {
					return // the client is gone
				}
				buf = buf[:0]
			}
		}
		writeJSONBytes(w, http.StatusOK, append(buf, ']'), started)
	})
}

// listChunkBytes is how much of a list is gathered before it is written.
const listChunkBytes = 32 << 10

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
		var v validator
		userID, taskID := v.userID(r), v.taskID(r)
		if err := v.err(); err != nil {
			writeError(w, r, log, err)
			return
		}
		task, err := store.GetTask(r.Context(), userID, taskID)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		if noneMatch(r.Header.Get("If-None-Match"), task) {
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
		var v validator
		userID, taskID := v.userID(r), v.taskID(r)
		if err := v.err(); err != nil {
			writeError(w, r, log, err)
			return
		}
		if err := store.DeleteTask(r.Context(), userID, taskID, parseIfMatch(r.Header)); err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"message": "Task deleted successfully"})
	})
}

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
