package main

// The six task handlers, driven through newServer with httptest on the
// in-memory store, section by section of docs/api.md (the resource, the
// endpoints, the errors); pages, ETags and idempotency keys also on
// PostgreSQL (onEachStore).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestCreateTask(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	rec := serve(t, h, "POST", "/api/user-123/tasks", `{"title": "Buy groceries", "description": "Milk, eggs, bread"}`)
	got := decodeAs[testTask](t, rec, http.StatusCreated)
	wantWellFormed(t, got)
	want := testTask{ID: got.ID, UserID: "user-123", Title: "Buy groceries", Description: ptr("Milk, eggs, bread"),
		CreatedAt: got.CreatedAt, UpdatedAt: got.CreatedAt}
	if !equalTasks(got, want) {
		t.Errorf("created %+v, want %+v", got, want)
	}
	if loc := rec.Header().Get("Location"); loc != "/api/user-123/tasks/"+got.ID {
		t.Errorf("Location = %q", loc)
	}
	if read := getTask(t, h, "user-123", got.ID); !equalTasks(read, got) {
		t.Errorf("read back %+v, want exactly %+v", read, got)
	}
}

func TestCreateTaskDescriptionAbsentOrNullIsNull(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	for _, body := range []string{`{"title": "a"}`, `{"title": "a", "description": null}`} {
		rec := serve(t, h, "POST", "/api/u/tasks", body)
		if !strings.Contains(rec.Body.String(), `"description":null`) {
			t.Errorf("%s: body %s does not carry description null", body, rec.Body)
		}
	}
}

func TestCreateTaskIgnoresServerOwnedAndUnknownFields(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	got := createTask(t, h, "alice", `{"title": "t", "id": "`+missingID+`", "user_id": "mallory",
		"is_completed": true, "created_at": "2000-01-01T00:00:00.000000Z",
		"updated_at": "2000-01-01T00:00:00.000000Z", "colour": "red"}`)
	if got.ID == missingID || got.UserID != "alice" || got.IsCompleted || strings.HasPrefix(got.CreatedAt, "2000") || strings.HasPrefix(got.UpdatedAt, "2000") {
		t.Errorf("client wrote a server-owned field: %+v", got)
	}
	if tasks := listTasks(t, h, "mallory"); len(tasks) != 0 {
		t.Errorf("mallory has %d tasks, want 0", len(tasks))
	}
}

func TestUpdateTaskIgnoresServerOwnedFields(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	orig := createTask(t, h, "alice", `{"title": "t"}`)
	rec := serve(t, h, "PUT", "/api/alice/tasks/"+orig.ID, `{"id": "`+missingID+`", "user_id": "mallory",
		"created_at": "2000-01-01T00:00:00.000000Z", "updated_at": "2000-01-01T00:00:00.000000Z"}`)
	got := decodeAs[testTask](t, rec, http.StatusOK)
	if got.ID != orig.ID || got.UserID != "alice" || got.CreatedAt != orig.CreatedAt || strings.HasPrefix(got.UpdatedAt, "2000") {
		t.Errorf("client wrote a server-owned field: %+v", got)
	}
}

func TestCreateTaskIgnoresContentType(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	for _, ct := range []string{"application/x-www-form-urlencoded", "text/plain", ""} {
		rec := serve(t, h, "POST", "/api/u/tasks", `{"title": "curl -d"}`, "Content-Type", ct)
		if rec.Code != http.StatusCreated {
			t.Errorf("Content-Type %q: status %d, want 201", ct, rec.Code)
		}
	}
}

func TestLocationEscapesUserID(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	rec := serve(t, h, "POST", "/api/a%20b%2F%C3%BC%3F/tasks", `{"title": "t"}`)
	task := decodeAs[testTask](t, rec, http.StatusCreated)
	if task.UserID != "a b/ü?" {
		t.Errorf("user_id = %q, want it exactly as given in the path", task.UserID)
	}
	loc := rec.Header().Get("Location")
	if want := "/api/a%20b%2F%C3%BC%3F/tasks/" + task.ID; loc != want {
		t.Fatalf("Location = %q, want %q", loc, want)
	}
	if got := decodeAs[testTask](t, serve(t, h, "GET", loc, ""), http.StatusOK); got.ID != task.ID {
		t.Errorf("GET Location returned task %s, want %s", got.ID, task.ID)
	}
}

func TestListTasks(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	if rec := serve(t, h, "GET", "/api/nobody/tasks", ""); rec.Code != http.StatusOK || rec.Body.String() != "[]" {
		t.Errorf("empty list: %d %s, want 200 []", rec.Code, rec.Body)
	}
	var created []testTask
	for i := range 5 {
		created = append(created, createTask(t, h, "alice", fmt.Sprintf(`{"title": "task %d"}`, i)))
	}
	createTask(t, h, "bob", `{"title": "not alice's"}`)
	got := listTasks(t, h, "alice")
	if len(got) != len(created) {
		t.Fatalf("alice has %d tasks, want %d", len(got), len(created))
	}
	wantSorted(t, got)
	for _, c := range created {
		if !slices.ContainsFunc(got, func(g testTask) bool { return equalTasks(g, c) }) {
			t.Errorf("list lacks %+v exactly as created", c)
		}
	}
}

// wantSorted checks the contract's list order: created_at, then id.
func wantSorted(t testing.TB, tasks []testTask) {
	t.Helper()
	sorted := slices.IsSortedFunc(tasks, func(a, b testTask) int {
		if c := strings.Compare(a.CreatedAt, b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if !sorted {
		t.Errorf("tasks are not ordered by (created_at, id): %+v", tasks)
	}
}

func TestGetTaskAcceptsAnyUUIDForm(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	task := createTask(t, h, "u", `{"title": "t"}`)
	bare := strings.ReplaceAll(task.ID, "-", "")
	for _, form := range []string{
		strings.ToUpper(task.ID), bare, strings.ToUpper(bare),
		"%7B" + task.ID + "%7D", "urn:uuid:" + task.ID, "URN:UUID:" + strings.ToUpper(task.ID),
	} {
		got := getTask(t, h, "u", form)
		if got.ID != task.ID {
			t.Errorf("GET by %s: id %q, want %q (lowercase)", form, got.ID, task.ID)
		}
	}
}

func TestUpdateTask(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want func(orig testTask) testTask
	}{
		{"title only", `{"title": "new"}`, func(o testTask) testTask { o.Title = "new"; return o }},
		{"description set", `{"description": "d2"}`, func(o testTask) testTask { o.Description = ptr("d2"); return o }},
		{"description null clears", `{"description": null}`, func(o testTask) testTask { o.Description = nil; return o }},
		{"description empty", `{"description": ""}`, func(o testTask) testTask { o.Description = ptr(""); return o }},
		{"complete", `{"is_completed": true}`, func(o testTask) testTask { o.IsCompleted = true; return o }},
		{"empty object changes nothing", `{}`, func(o testTask) testTask { return o }},
		{"all fields", `{"title": "x", "description": "y", "is_completed": true}`, func(o testTask) testTask {
			o.Title, o.Description, o.IsCompleted = "x", ptr("y"), true
			return o
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newTestServer(t)
			orig := createTask(t, h, "u", `{"title": "old", "description": "d"}`)
			got := decodeAs[testTask](t, serve(t, h, "PUT", "/api/u/tasks/"+orig.ID, tt.body), http.StatusOK)
			if got.UpdatedAt <= orig.UpdatedAt {
				t.Errorf("updated_at %s did not move past %s", got.UpdatedAt, orig.UpdatedAt)
			}
			want := tt.want(orig)
			want.UpdatedAt = got.UpdatedAt
			if !equalTasks(got, want) {
				t.Errorf("updated to %+v, want %+v", got, want)
			}
			if read := getTask(t, h, "u", orig.ID); !equalTasks(read, got) {
				t.Errorf("read back %+v, want exactly %+v", read, got)
			}
		})
	}
}

func TestUpdateTaskAcceptsPydanticBooleans(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	task := createTask(t, h, "u", `{"title": "t"}`)
	for raw, want := range map[string]bool{
		`true`: true, `false`: false, `1`: true, `0`: false, `1.0`: true,
		`"yes"`: true, `"OFF"`: false, `"t"`: true, `"0"`: false,
	} {
		got := decodeAs[testTask](t, serve(t, h, "PUT", "/api/u/tasks/"+task.ID, `{"is_completed": `+raw+`}`), http.StatusOK)
		if got.IsCompleted != want {
			t.Errorf("is_completed %s stored as %v, want %v", raw, got.IsCompleted, want)
		}
	}
}

func TestDeleteTask(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	task := createTask(t, h, "u", `{"title": "t"}`)
	other := createTask(t, h, "u", `{"title": "stays"}`)
	got := decodeAs[map[string]string](t, serve(t, h, "DELETE", "/api/u/tasks/"+task.ID, ""), http.StatusOK)
	if want := "Task deleted successfully"; got["message"] != want || len(got) != 1 {
		t.Errorf("delete answered %v, want {message: %q}", got, want)
	}
	wantDetail(t, serve(t, h, "GET", "/api/u/tasks/"+task.ID, ""), http.StatusNotFound, "Task not found")
	wantDetail(t, serve(t, h, "DELETE", "/api/u/tasks/"+task.ID, ""), http.StatusNotFound, "Task not found")
	if tasks := listTasks(t, h, "u"); len(tasks) != 1 || tasks[0].ID != other.ID {
		t.Errorf("after delete the list is %+v, want only %s", tasks, other.ID)
	}
}

func TestToggleTask(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	task := createTask(t, h, "u", `{"title": "t", "description": "d"}`)
	prev := task
	for _, want := range []bool{true, false, true} {
		got := decodeAs[testTask](t, serve(t, h, "PATCH", "/api/u/tasks/"+task.ID+"/complete", ""), http.StatusOK)
		if got.IsCompleted != want || got.Title != "t" || *got.Description != "d" || got.CreatedAt != task.CreatedAt {
			t.Errorf("toggle gave %+v, want is_completed %v and nothing else changed", got, want)
		}
		if got.UpdatedAt <= prev.UpdatedAt {
			t.Errorf("updated_at %s did not move past %s", got.UpdatedAt, prev.UpdatedAt)
		}
		if read := getTask(t, h, "u", task.ID); !equalTasks(read, got) {
			t.Errorf("read back %+v, want exactly %+v", read, got)
		}
		prev = got
	}
}

// TestConcurrentToggle: 51 concurrent toggles are 51 flips, none lost, and
// each answer shows a distinct step of the sequence.
func TestConcurrentToggle(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	task := createTask(t, h, "u", `{"title": "t"}`)
	const n = 51
	var wg sync.WaitGroup
	var completed atomic.Int32
	for range n {
		goWait(&wg, func() {
			rec := serve(t, h, "PATCH", "/api/u/tasks/"+task.ID+"/complete", "")
			if rec.Code != http.StatusOK {
				t.Errorf("toggle: %d %s", rec.Code, rec.Body)
				return
			}
			var got testTask
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Errorf("decode: %v", err)
			}
			if got.IsCompleted {
				completed.Add(1)
			}
		})
	}
	wg.Wait()
	if !getTask(t, h, "u", task.ID).IsCompleted {
		t.Errorf("after %d toggles the task is not completed", n)
	}
	if got := completed.Load(); got != (n+1)/2 {
		t.Errorf("%d toggles answered completed, want %d", got, (n+1)/2)
	}
}

// TestOtherUsersTaskIsNotFound: on every single-task endpoint another
// user's task is a 404, and it is left exactly as it was.
func TestOtherUsersTaskIsNotFound(t *testing.T) {
	t.Parallel()
	for _, ep := range endpoints {
		if !ep.oneTask() {
			continue
		}
		body := ep.body
		if body != "" { // a write: one that would change every field it can
			body = `{"title": "pwned", "is_completed": true}`
		}
		t.Run(ep.method, func(t *testing.T) {
			t.Parallel()
			h := newTestServer(t)
			task := createTask(t, h, "alice", `{"title": "mine", "description": "private"}`)
			rec := serve(t, h, ep.method, ep.target("mallory", task.ID), body)
			wantDetail(t, rec, http.StatusNotFound, "Task not found")
			if got := getTask(t, h, "alice", task.ID); !equalTasks(got, task) {
				t.Errorf("alice's task became %+v, want unchanged %+v", got, task)
			}
			if strings.Contains(rec.Body.String(), "private") {
				t.Errorf("404 leaks the task: %s", rec.Body)
			}
		})
	}
}

func TestMissingTaskIsNotFound(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	for _, ep := range endpoints {
		if !ep.oneTask() {
			continue
		}
		rec := serve(t, h, ep.method, ep.target("u", missingID), ep.body)
		wantDetail(t, rec, http.StatusNotFound, "Task not found")
	}
}

// TestListStreamsLongLists: a list longer than a store page arrives whole,
// valid, in order, and is the store's list byte for byte; it costs one store
// call per listChunk tasks, and a list of exactly listChunk costs one.
func TestListStreamsLongLists(t *testing.T) {
	t.Parallel()
	mem := newMemStore(defaultMaxTasks)
	store := &countingStore{taskStore: mem}
	h := newServer(discardLogger(), store, testCORS, nil, nil)
	for range listChunk {
		mustCreate(t, mem, "u", newTask{Title: strings.Repeat("長", 50)})
	}
	if rec := serve(t, h, "GET", "/api/u/tasks", ""); rec.Code != http.StatusOK || store.lists.Load() != 1 {
		t.Errorf("a list of %d: status %d after %d store calls, want 200 after 1", listChunk, rec.Code, store.lists.Load())
	}
	for range listChunk + 500 {
		mustCreate(t, mem, "u", newTask{Title: strings.Repeat("長", 50)})
	}
	store.lists.Store(0)
	rec := serve(t, h, "GET", "/api/u/tasks", "")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, Content-Type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if n := store.lists.Load(); n != 3 {
		t.Errorf("a list of %d tasks took %d store calls, want 3", 2*listChunk+500, n)
	}
	if rec.Body.Len() < 3*taskArrayPiece {
		t.Fatalf("body is %d bytes: the test no longer spans several writes", rec.Body.Len())
	}
	tasks, err := listAll(t.Context(), mem, "u")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(tasks)
	if !bytes.Equal(rec.Body.Bytes(), want) {
		t.Errorf("streamed list differs from the store's list (%d bytes, want %d)", rec.Body.Len(), len(want))
	}
}

// countingStore counts the lists read from the store it wraps.
type countingStore struct {
	taskStore
	lists atomic.Int64
}

func (s *countingStore) ListTasks(ctx context.Context, userID string, q listQuery) ([]Task, error) {
	s.lists.Add(1)
	return s.taskStore.ListTasks(ctx, userID, q)
}

// failingListStore lists pages from its memStore, then fails: the call
// after the first ok ones.
type failingListStore struct {
	*memStore
	ok    int64
	calls *atomic.Int64
}

func (s failingListStore) ListTasks(ctx context.Context, userID string, q listQuery) ([]Task, error) {
	if s.calls.Add(1) > s.ok {
		return nil, fmt.Errorf("list tasks: %w", errStoreUnavailable)
	}
	return s.memStore.ListTasks(ctx, userID, q)
}

// TestListFailure: a store error before anything is sent is a clean 503;
// one after the first page went out breaks the response, so the client
// can never mistake a partial list for a whole one, and the access log
// says the answer was aborted.
func TestListFailure(t *testing.T) {
	t.Parallel()
	mem := newMemStore(defaultMaxTasks)
	for range listChunk + 100 {
		mustCreate(t, mem, "u", newTask{Title: "t"})
	}
	early := newServer(discardLogger(), failingListStore{mem, 0, new(atomic.Int64)}, testCORS, nil, nil)
	wantDetail(t, serve(t, early, "GET", "/api/u/tasks", ""), http.StatusServiceUnavailable, "Database unavailable, try again shortly")

	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	srv := httptest.NewServer(newServer(log, failingListStore{mem, 1, new(atomic.Int64)}, testCORS, nil, nil))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/api/u/tasks")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Errorf("a list cut short was read without error (%d bytes, valid JSON: %v)", len(body), json.Valid(body))
	}
	srv.Close() // waits for the handler, and so for its log line
	if !strings.Contains(logs.String(), "msg=\"list cut short\"") || !strings.Contains(logs.String(), "aborted=true") {
		t.Errorf("the log does not show the list cut short and aborted:\n%s", logs.String())
	}
}

// TestIdempotencyKeyHeader: a retried POST or toggle with the same key
// replays the first answer with Idempotent-Replayed: true; a key with a
// different request, or a malformed key, is a 422 at the header.
func TestIdempotencyKeyHeader(t *testing.T) {
	t.Parallel()
	onEachStore(t, testIdempotencyKeyHeader)
}

func testIdempotencyKeyHeader(t *testing.T, h http.Handler, user string) {
	tasks := "/api/" + user + "/tasks"
	body := `{"title": "pay rent", "description": null}`
	first := serve(t, h, "POST", tasks, body, "Idempotency-Key", "abc-123")
	task := decodeAs[testTask](t, first, http.StatusCreated)
	if first.Header().Get("Idempotent-Replayed") != "" {
		t.Error("a first answer is marked as a replay")
	}
	// Same request, written differently: still the same request.
	retry := serve(t, h, "POST", tasks, `{"description":null,  "title":"pay rent"}`, "Idempotency-Key", "abc-123")
	if got := decodeAs[testTask](t, retry, http.StatusCreated); !equalTasks(got, task) {
		t.Errorf("replay = %+v, want %+v", got, task)
	}
	for _, hdr := range []string{"Idempotent-Replayed", "Location", "ETag"} {
		if want := map[string]string{"Idempotent-Replayed": "true"}[hdr]; want == "" {
			want = first.Header().Get(hdr)
			if got := retry.Header().Get(hdr); got != want {
				t.Errorf("replay %s = %q, want %q", hdr, got, want)
			}
		} else if got := retry.Header().Get(hdr); got != want {
			t.Errorf("replay %s = %q, want %q", hdr, got, want)
		}
	}
	if n := len(listTasks(t, h, user)); n != 1 {
		t.Errorf("%d tasks after a retried POST, want 1", n)
	}
	rec := serve(t, h, "POST", tasks, `{"title": "pay rent twice"}`, "Idempotency-Key", "abc-123")
	wantItems(t, rec, "value_error@header.idempotency-key")

	toggle := tasks + "/" + task.ID + "/complete"
	flipped := decodeAs[testTask](t, serve(t, h, "PATCH", toggle, "", "Idempotency-Key", "flip-1"), http.StatusOK)
	rec = serve(t, h, "PATCH", toggle, "", "Idempotency-Key", "flip-1")
	if got := decodeAs[testTask](t, rec, http.StatusOK); !equalTasks(got, flipped) || rec.Header().Get("Idempotent-Replayed") != "true" {
		t.Errorf("retried toggle = %+v (replayed %q), want the first answer %+v", got, rec.Header().Get("Idempotent-Replayed"), flipped)
	}
	if !getTask(t, h, user, task.ID).IsCompleted {
		t.Error("the retried toggle flipped the task back")
	}

	for _, bad := range [][]string{
		{"Idempotency-Key", strings.Repeat("k", 256)},
		{"Idempotency-Key", "has space"},
		{"Idempotency-Key", "ключ"},
	} {
		wantItems(t, serve(t, h, "POST", tasks, body, bad...), "value_error@header.idempotency-key")
	}
	req := httptest.NewRequest("POST", tasks, strings.NewReader(body))
	req.Header.Add("Idempotency-Key", "a")
	req.Header.Add("Idempotency-Key", "b")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	wantItems(t, rec, "value_error@header.idempotency-key")
	if rec := serve(t, h, "POST", tasks, body, "Idempotency-Key", strings.Repeat("k", 255)); rec.Code != http.StatusCreated {
		t.Errorf("255-character key: %d", rec.Code)
	}
}

// TestUserIDsWithSlashesAndDots: a user id may hold "/" or be "." or "..";
// escaped in the path it reaches its own tasks, and the Location and Link
// the service writes lead back to them.
func TestUserIDsWithSlashesAndDots(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	for _, user := range []string{"a/", "/a", "a//b", "a/../b", ".", "..", "a/.", "./a"} {
		seg := url.PathEscape(user)
		if user == "." || user == ".." {
			seg = strings.Repeat("%2E", len(user))
		}
		rec := serve(t, h, "POST", "/api/"+seg+"/tasks", `{"title": "t"}`)
		task := decodeAs[testTask](t, rec, http.StatusCreated)
		if task.UserID != user {
			t.Errorf("%q: created for user %q", user, task.UserID)
		}
		if got := decodeAs[testTask](t, serve(t, h, "GET", rec.Header().Get("Location"), ""), http.StatusOK); got.ID != task.ID {
			t.Errorf("%q: Location %s leads to task %s", user, rec.Header().Get("Location"), got.ID)
		}
		serve(t, h, "POST", "/api/"+seg+"/tasks", `{"title": "second"}`)
		page := serve(t, h, "GET", "/api/"+seg+"/tasks?limit=1", "")
		next := linkPattern.FindStringSubmatch(page.Header().Get("Link"))
		if next == nil {
			t.Fatalf("%q: no Link on a full page", user)
		}
		if got := decodeAs[[]testTask](t, serve(t, h, "GET", next[1], ""), http.StatusOK); len(got) != 1 || got[0].Title != "second" {
			t.Errorf("%q: the Link %s leads to %+v", user, next[1], got)
		}
	}
}

// TestWholeListWhileWritten: the whole list is read a page at a time, and
// other requests write between the pages. A task created or deleted during
// the walk may or may not be listed, but none is listed twice, the list
// stays in order, and every task that existed throughout is listed.
func TestWholeListWhileWritten(t *testing.T) {
	t.Parallel()
	onEachStoreWith(t, func(*pgOptions) {}, func(t *testing.T, s taskStore) {
		user := newUserID(t)
		var stable, volatile []Task
		for i := range 2*listChunk + 400 {
			task := mustCreate(t, s, user, newTask{Title: fmt.Sprint("task ", i)})
			if i%10 == 0 {
				volatile = append(volatile, task)
			} else {
				stable = append(stable, task)
			}
		}
		writer := &writeBetweenPages{taskStore: s, t: t, user: user, volatile: volatile}
		rec := serve(t, newServer(discardLogger(), writer, testCORS, nil, nil), "GET", tasksPath(user), "")
		listed := decodeAs[[]testTask](t, rec, http.StatusOK)
		if writer.pages < 3 {
			t.Fatalf("the list took %d pages; the test wants writes between several", writer.pages)
		}
		seen := make(map[string]bool)
		for i, task := range listed {
			if seen[task.ID] {
				t.Errorf("task %s listed twice", task.ID)
			}
			seen[task.ID] = true
			if i > 0 && (task.CreatedAt < listed[i-1].CreatedAt || task.CreatedAt == listed[i-1].CreatedAt && task.ID < listed[i-1].ID) {
				t.Errorf("task %d (%s) is listed out of order", i, task.ID)
			}
		}
		for _, task := range stable {
			if !seen[task.ID] {
				t.Errorf("task %s existed throughout the walk but is not listed", task.ID)
			}
		}
	})
}

// writeBetweenPages is a store that, after each page it lists, deletes some
// of the volatile tasks and creates as many new ones, as concurrent
// requests would.
type writeBetweenPages struct {
	taskStore
	t        *testing.T
	user     string
	volatile []Task
	pages    int
}

func (s *writeBetweenPages) ListTasks(ctx context.Context, userID string, q listQuery) ([]Task, error) {
	page, err := s.taskStore.ListTasks(ctx, userID, q)
	s.pages++
	for i := range min(40, len(s.volatile)) {
		// Half of them already listed (an offset would then skip tasks),
		// half still to come.
		var gone Task
		if i%2 == 0 {
			gone, s.volatile = s.volatile[0], s.volatile[1:]
		} else {
			gone, s.volatile = s.volatile[len(s.volatile)-1], s.volatile[:len(s.volatile)-1]
		}
		if err := s.taskStore.DeleteTask(ctx, s.user, gone.ID, nil); err != nil {
			s.t.Error(err)
		}
		mustCreate(s.t, s.taskStore, s.user, newTask{Title: "created during the walk"})
	}
	return page, err
}

// TestListCutByTheClientIsLoggedAborted: when a piece of a long list
// cannot be written (the write timeout passed, or the client left), the
// response is aborted and the access log says so.
func TestListCutByTheClientIsLoggedAborted(t *testing.T) {
	t.Parallel()
	mem := newMemStore(defaultMaxTasks)
	for range 100 {
		mustCreate(t, mem, "u", newTask{Title: strings.Repeat("x", maxTitleLen)})
	}
	var logs syncBuffer
	h := newServer(slog.New(slog.NewTextHandler(&logs, nil)), mem, testCORS, nil, nil)
	w := &failingWriter{ResponseRecorder: httptest.NewRecorder()}
	func() {
		defer func() {
			if p := recover(); p != http.ErrAbortHandler {
				t.Errorf("the handler ended with %v, want it to abort the response", p)
			}
		}()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/api/u/tasks", nil))
	}()
	if line := logs.String(); !strings.Contains(line, "status=200") || !strings.Contains(line, "aborted=true") {
		t.Errorf("the access log does not show an aborted list:\n%s", line)
	}
}

// failingWriter takes the status and headers, and fails every write of a
// body, as a connection past its write deadline does.
type failingWriter struct {
	*httptest.ResponseRecorder
}

func (w *failingWriter) Write([]byte) (int, error) {
	return 0, errors.New("i/o timeout")
}

// TestKeyedCreateReplayedAtTheTaskLimit: a keyed create retried after the
// user reached the task limit gets the first answer again, 201 with
// Idempotent-Replayed: true and the first Location and ETag, not the 409
// a new create gets; and the replay stores nothing.
func TestKeyedCreateReplayedAtTheTaskLimit(t *testing.T) {
	t.Parallel()
	h := newServer(discardLogger(), newMemStore(2), testCORS, nil, nil)
	body := `{"title": "pay rent", "description": "before the 3rd"}`
	first := serve(t, h, "POST", "/api/u/tasks", body, "Idempotency-Key", "rent-1")
	task := decodeAs[testTask](t, first, http.StatusCreated)
	createTask(t, h, "u", `{"title": "fills the limit"}`)
	wantDetail(t, serve(t, h, "POST", "/api/u/tasks", `{"title": "one too many"}`), http.StatusConflict,
		"Task limit reached: a user may have at most 2 tasks; delete some to create more")

	retry := serve(t, h, "POST", "/api/u/tasks", body, "Idempotency-Key", "rent-1")
	if got := decodeAs[testTask](t, retry, http.StatusCreated); !equalTasks(got, task) {
		t.Errorf("replay at the limit = %s, want %s", show(got), show(task))
	}
	if got := retry.Header().Get("Idempotent-Replayed"); got != "true" {
		t.Errorf("Idempotent-Replayed = %q, want \"true\"", got)
	}
	for _, hdr := range []string{"Location", "ETag"} {
		if got, want := retry.Header().Get(hdr), first.Header().Get(hdr); got != want || want == "" {
			t.Errorf("replay %s = %q, want the first answer's %q", hdr, got, want)
		}
	}
	if n := len(listTasks(t, h, "u")); n != 2 {
		t.Errorf("%d tasks after a replay at the limit, want 2", n)
	}
}

// TestListContentLength: a list or a page that fits in one piece of about
// 32 KiB comes with a Content-Length; a longer one comes in chunks,
// without one, on the wire.
func TestListContentLength(t *testing.T) {
	t.Parallel()
	mem := newMemStore(defaultMaxTasks)
	mustCreate(t, mem, "small", newTask{Title: "a"})
	mustCreate(t, mem, "small", newTask{Title: "b"})
	// Over the 2 KiB net/http sizes itself, under one piece: only the
	// service's own Content-Length keeps this one from being chunked.
	for range 10 {
		mustCreate(t, mem, "medium", newTask{Title: "t", Description: ptr(strings.Repeat("d", 1000))})
	}
	const long = 8 // tasks of over 5,000 bytes each: more than one piece
	for range long {
		mustCreate(t, mem, "long", newTask{Title: "t", Description: ptr(strings.Repeat("d", 5000))})
	}
	srv := httptest.NewServer(newServer(discardLogger(), mem, testCORS, nil, nil))
	defer srv.Close()
	for _, tt := range []struct {
		target  string
		chunked bool
	}{
		{"/api/small/tasks", false},
		{"/api/small/tasks?limit=1", false},
		{"/api/small/tasks?limit=1000", false},
		{"/api/medium/tasks", false},
		{"/api/medium/tasks?limit=10", false},
		{"/api/long/tasks", true},
		{fmt.Sprintf("/api/long/tasks?limit=%d", long), true},
	} {
		resp, err := srv.Client().Get(srv.URL + tt.target)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || !json.Valid(body) {
			t.Fatalf("%s: %d, %d bytes, %v", tt.target, resp.StatusCode, len(body), err)
		}
		if tt.chunked {
			if len(body) <= taskArrayPiece {
				t.Fatalf("%s: %d bytes fit in one piece: the test no longer spans several", tt.target, len(body))
			}
			if resp.ContentLength != -1 || !slices.Equal(resp.TransferEncoding, []string{"chunked"}) {
				t.Errorf("%s (%d bytes): Content-Length %d, Transfer-Encoding %q; want chunked without a length",
					tt.target, len(body), resp.ContentLength, resp.TransferEncoding)
			}
		} else if resp.ContentLength != int64(len(body)) || len(resp.TransferEncoding) != 0 || len(body) > taskArrayPiece {
			t.Errorf("%s (%d bytes): Content-Length %d, Transfer-Encoding %q; want the length, not chunked",
				tt.target, len(body), resp.ContentLength, resp.TransferEncoding)
		}
	}
}
