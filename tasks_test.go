package main

// Handler tests: every row of CONTRACT.md's Resource, Endpoints and Errors
// sections, driven through newServer with httptest on the in-memory store;
// the features beyond the plan also on PostgreSQL (onEachStore).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"
)

// testTask is the wire form of a task, declared here so that renaming a JSON
// field in the service breaks these tests.
type testTask struct {
	ID          string  `json:"id"`
	UserID      string  `json:"user_id"`
	Title       string  `json:"title"`
	Description *string `json:"description"`
	IsCompleted bool    `json:"is_completed"`
	CreatedAt   string  `json:"created_at"`
	UpdatedAt   string  `json:"updated_at"`
}

// testItem is one 422 item on the wire.
type testItem struct {
	Type string         `json:"type"`
	Loc  []any          `json:"loc"`
	Msg  string         `json:"msg"`
	Ctx  map[string]any `json:"ctx"`
}

// where renders loc as "body.title", "path.user_id", "body.13".
func (it testItem) where() string {
	parts := make([]string, len(it.Loc))
	for i, p := range it.Loc {
		parts[i] = fmt.Sprint(p)
	}
	return strings.Join(parts, ".")
}

var (
	uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	timePattern = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)
)

// missingID is a well-formed task id that no test ever creates.
const missingID = "0192f1c4-7a1e-7c3e-9d5a-3b2f1e0c9a11"

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

var testCORS = corsPolicy{origins: []string{defaultCORSOrigins}}

// newTestServer returns the full HTTP API on a fresh in-memory store.
func newTestServer(t testing.TB) http.Handler {
	t.Helper()
	return newServer(discardLogger(), newMemStore(), testCORS, nil)
}

// serve sends one request and returns the recorded response. An empty body
// sends no body at all.
func serve(t testing.TB, h http.Handler, method, target, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if body == "" {
		req.Body = http.NoBody
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// decodeAs checks the status and JSON content type, then decodes the body.
func decodeAs[T any](t testing.TB, rec *httptest.ResponseRecorder, status int) T {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body: %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json", ct)
	}
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
	return v
}

// wantDetail checks an error response whose detail is a plain string.
func wantDetail(t testing.TB, rec *httptest.ResponseRecorder, status int, want string) {
	t.Helper()
	got := decodeAs[struct{ Detail string }](t, rec, status)
	if got.Detail != want {
		t.Errorf("detail = %q, want %q", got.Detail, want)
	}
}

// wantItems checks a 422 response: one item per entry of want, each given
// as "type@loc", in order.
func wantItems(t testing.TB, rec *httptest.ResponseRecorder, want ...string) []testItem {
	t.Helper()
	got := decodeAs[struct{ Detail []testItem }](t, rec, http.StatusUnprocessableEntity).Detail
	var gotKeys []string
	for _, it := range got {
		gotKeys = append(gotKeys, it.Type+"@"+it.where())
		if it.Msg == "" {
			t.Errorf("item %s has no msg", it.Type)
		}
	}
	if !slices.Equal(gotKeys, want) {
		t.Errorf("422 items = %q, want %q", gotKeys, want)
	}
	return got
}

// createTask posts body for userPath (already escaped) and returns the task.
func createTask(t testing.TB, h http.Handler, userPath, body string) testTask {
	t.Helper()
	return decodeAs[testTask](t, serve(t, h, "POST", "/api/"+userPath+"/tasks", body), http.StatusCreated)
}

func getTask(t testing.TB, h http.Handler, userPath, id string) testTask {
	t.Helper()
	return decodeAs[testTask](t, serve(t, h, "GET", "/api/"+userPath+"/tasks/"+id, ""), http.StatusOK)
}

func listTasks(t testing.TB, h http.Handler, userPath string) []testTask {
	t.Helper()
	return decodeAs[[]testTask](t, serve(t, h, "GET", "/api/"+userPath+"/tasks", ""), http.StatusOK)
}

// wantWellFormed checks the invariants of every task a response carries.
func wantWellFormed(t testing.TB, task testTask) {
	t.Helper()
	if !uuidPattern.MatchString(task.ID) {
		t.Errorf("id %q is not a lowercase hyphenated UUID", task.ID)
	}
	if !timePattern.MatchString(task.CreatedAt) || !timePattern.MatchString(task.UpdatedAt) {
		t.Errorf("timestamps %q, %q are not RFC 3339 UTC with microseconds", task.CreatedAt, task.UpdatedAt)
	}
}

func ptr[T any](v T) *T { return &v }

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

func equalTasks(a, b testTask) bool {
	da, db := a.Description, b.Description
	a.Description, b.Description = nil, nil
	return a == b && (da == nil) == (db == nil) && (da == nil || *da == *db)
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
		wg.Go(func() {
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
	for _, ep := range []struct{ method, suffix, body string }{
		{"GET", "", ""},
		{"PUT", "", `{"title": "pwned", "is_completed": true}`},
		{"DELETE", "", ""},
		{"PATCH", "/complete", ""},
	} {
		t.Run(ep.method, func(t *testing.T) {
			t.Parallel()
			h := newTestServer(t)
			task := createTask(t, h, "alice", `{"title": "mine", "description": "private"}`)
			rec := serve(t, h, ep.method, "/api/mallory/tasks/"+task.ID+ep.suffix, ep.body)
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
	for _, ep := range []struct{ method, suffix, body string }{
		{"GET", "", ""}, {"PUT", "", `{"title": "t"}`}, {"DELETE", "", ""}, {"PATCH", "/complete", ""},
	} {
		rec := serve(t, h, ep.method, "/api/u/tasks/"+missingID+ep.suffix, ep.body)
		wantDetail(t, rec, http.StatusNotFound, "Task not found")
	}
}

// TestValidBoundaries: inputs at the edge of the contract are accepted and
// stored exactly.
func TestValidBoundaries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, userPath, userID, title string
		description                   *string
	}{
		{"500 ASCII", "u", "u", strings.Repeat("a", 500), nil},
		{"500 CJK", "u", "u", strings.Repeat("漢", 500), nil},
		{"500 emoji", "u", "u", strings.Repeat("😀", 500), nil},
		{"combining marks count per code point", "u", "u", strings.Repeat("e\u0301", 250), nil},
		{"white space kept", "u", "u", "  padded\t", ptr("  ")},
		{"other control characters allowed in text", "u", "u", "a\tb\nc\x01", ptr("line1\r\nline2")},
		{"description 5000 emoji", "u", "u", "t", ptr(strings.Repeat("😀", 5000))},
		{"description empty", "u", "u", "t", ptr("")},
		{"user_id 255", strings.Repeat("u", 255), strings.Repeat("u", 255), "t", nil},
		{"user_id 255 CJK", strings.Repeat("%E6%BC%A2", 255), strings.Repeat("漢", 255), "t", nil},
		{"user_id with space and slash", "a%20b%2Fc", "a b/c", "t", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newTestServer(t)
			body, _ := json.Marshal(map[string]any{"title": tt.title, "description": tt.description})
			got := createTask(t, h, tt.userPath, string(body))
			want := testTask{ID: got.ID, UserID: tt.userID, Title: tt.title, Description: tt.description,
				CreatedAt: got.CreatedAt, UpdatedAt: got.UpdatedAt}
			if !equalTasks(got, want) {
				t.Errorf("stored %+v, want %+v", got, want)
			}
			if read := getTask(t, h, tt.userPath, got.ID); !equalTasks(read, got) {
				t.Errorf("read back %+v, want exactly %+v", read, got)
			}
		})
	}
}

func TestSurrogatePairEscapeIsOneCharacter(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	got := createTask(t, h, "u", `{"title": "\ud83d\ude00"}`)
	if got.Title != "😀" {
		t.Errorf("title = %q, want 😀", got.Title)
	}
}

// TestValidation: every invalid input is a 422 with one item per invalid
// field, with FastAPI's type and loc; never a 500.
func TestValidation(t *testing.T) {
	t.Parallel()
	long := func(s string, n int) string { return strings.Repeat(s, n) }
	item := "/api/u/tasks/" + missingID
	tests := []struct {
		name, method, target, body string
		want                       []string
	}{
		// The body as a whole.
		{"POST no body", "POST", "/api/u/tasks", "", []string{"missing@body"}},
		{"POST white space body", "POST", "/api/u/tasks", " \n", []string{"missing@body"}},
		{"POST null body", "POST", "/api/u/tasks", "null", []string{"missing@body"}},
		{"POST array body", "POST", "/api/u/tasks", `[{"title": "t"}]`, []string{"model_attributes_type@body"}},
		{"POST string body", "POST", "/api/u/tasks", `"t"`, []string{"model_attributes_type@body"}},
		{"POST number body", "POST", "/api/u/tasks", `42`, []string{"model_attributes_type@body"}},
		{"POST malformed JSON", "POST", "/api/u/tasks", `{"title": `, []string{"json_invalid@body.10"}},
		{"POST trailing garbage", "POST", "/api/u/tasks", `{"title": "t"} x`, []string{"json_invalid@body.16"}},
		{"POST form encoding", "POST", "/api/u/tasks", `title=t`, []string{"json_invalid@body.2"}},
		{"POST invalid UTF-8", "POST", "/api/u/tasks", "{\"title\": \"\xff\"}", []string{"json_invalid@body.0"}},
		{"PUT no body", "PUT", item, "", []string{"missing@body"}},
		{"PUT array body", "PUT", item, `[]`, []string{"model_attributes_type@body"}},
		{"PUT malformed JSON", "PUT", item, `{`, []string{"json_invalid@body.1"}},
		// title
		{"title missing", "POST", "/api/u/tasks", `{"description": "d"}`, []string{"missing@body.title"}},
		{"title null", "POST", "/api/u/tasks", `{"title": null}`, []string{"string_type@body.title"}},
		{"title number", "POST", "/api/u/tasks", `{"title": 5}`, []string{"string_type@body.title"}},
		{"title bool", "POST", "/api/u/tasks", `{"title": true}`, []string{"string_type@body.title"}},
		{"title array", "POST", "/api/u/tasks", `{"title": ["t"]}`, []string{"string_type@body.title"}},
		{"title empty", "POST", "/api/u/tasks", `{"title": ""}`, []string{"string_too_short@body.title"}},
		{"title white space", "POST", "/api/u/tasks", `{"title": " \t\n\r "}`, []string{"value_error@body.title"}},
		{"title ideographic space", "POST", "/api/u/tasks", `{"title": "\u3000"}`, []string{"value_error@body.title"}},
		{"title 501 ASCII", "POST", "/api/u/tasks", `{"title": "` + long("a", 501) + `"}`, []string{"string_too_long@body.title"}},
		{"title 501 emoji", "POST", "/api/u/tasks", `{"title": "` + long("😀", 501) + `"}`, []string{"string_too_long@body.title"}},
		{"title NUL", "POST", "/api/u/tasks", `{"title": "a\u0000b"}`, []string{"value_error@body.title"}},
		{"title lone high surrogate", "POST", "/api/u/tasks", `{"title": "a\ud800"}`, []string{"string_unicode@body.title"}},
		{"title lone low surrogate", "POST", "/api/u/tasks", `{"title": "\udc00a"}`, []string{"string_unicode@body.title"}},
		{"title reversed surrogates", "POST", "/api/u/tasks", `{"title": "\ude00\ud83d"}`, []string{"string_unicode@body.title"}},
		{"PUT title null", "PUT", item, `{"title": null}`, []string{"string_type@body.title"}},
		{"PUT title empty", "PUT", item, `{"title": ""}`, []string{"string_too_short@body.title"}},
		{"PUT title 501", "PUT", item, `{"title": "` + long("漢", 501) + `"}`, []string{"string_too_long@body.title"}},
		{"PUT title NUL", "PUT", item, `{"title": "\u0000"}`, []string{"value_error@body.title"}},
		// description
		{"description 5001", "POST", "/api/u/tasks", `{"title": "t", "description": "` + long("😀", 5001) + `"}`, []string{"string_too_long@body.description"}},
		{"description number", "POST", "/api/u/tasks", `{"title": "t", "description": 5}`, []string{"string_type@body.description"}},
		{"description object", "POST", "/api/u/tasks", `{"title": "t", "description": {}}`, []string{"string_type@body.description"}},
		{"description NUL", "POST", "/api/u/tasks", `{"title": "t", "description": "\u0000"}`, []string{"value_error@body.description"}},
		{"PUT description 5001", "PUT", item, `{"description": "` + long("a", 5001) + `"}`, []string{"string_too_long@body.description"}},
		// is_completed
		{"is_completed null", "PUT", item, `{"is_completed": null}`, []string{"bool_type@body.is_completed"}},
		{"is_completed word", "PUT", item, `{"is_completed": "maybe"}`, []string{"bool_type@body.is_completed"}},
		{"is_completed 2", "PUT", item, `{"is_completed": 2}`, []string{"bool_type@body.is_completed"}},
		{"is_completed list", "PUT", item, `{"is_completed": [true]}`, []string{"bool_type@body.is_completed"}},
		// One item per invalid field.
		{"title and description", "POST", "/api/u/tasks", `{"title": "", "description": 1}`,
			[]string{"string_too_short@body.title", "string_type@body.description"}},
		{"all PUT fields", "PUT", item, `{"title": 1, "description": 1, "is_completed": "x"}`,
			[]string{"string_type@body.title", "string_type@body.description", "bool_type@body.is_completed"}},
		// user_id
		{"user_id 256", "GET", "/api/" + long("u", 256) + "/tasks", "", []string{"string_too_long@path.user_id"}},
		{"user_id 256 CJK", "GET", "/api/" + long("%E6%BC%A2", 256) + "/tasks", "", []string{"string_too_long@path.user_id"}},
		{"user_id NUL", "GET", "/api/a%00b/tasks", "", []string{"value_error@path.user_id"}},
		{"user_id C0 control", "GET", "/api/a%01/tasks", "", []string{"value_error@path.user_id"}},
		{"user_id newline", "GET", "/api/a%0A/tasks", "", []string{"value_error@path.user_id"}},
		{"user_id DEL", "GET", "/api/a%7F/tasks", "", []string{"value_error@path.user_id"}},
		{"user_id C1 control", "GET", "/api/a%C2%85/tasks", "", []string{"value_error@path.user_id"}},
		{"user_id invalid UTF-8", "GET", "/api/a%FF/tasks", "", []string{"string_unicode@path.user_id"}},
		{"user_id on POST", "POST", "/api/a%01/tasks", `{"title": "t"}`, []string{"value_error@path.user_id"}},
		{"user_id on GET one", "GET", "/api/a%01/tasks/" + missingID, "", []string{"value_error@path.user_id"}},
		{"user_id on PUT", "PUT", "/api/a%01/tasks/" + missingID, `{}`, []string{"value_error@path.user_id"}},
		{"user_id on DELETE", "DELETE", "/api/a%01/tasks/" + missingID, "", []string{"value_error@path.user_id"}},
		{"user_id on PATCH", "PATCH", "/api/a%01/tasks/" + missingID + "/complete", "", []string{"value_error@path.user_id"}},
		// task_id
		{"task_id word GET", "GET", "/api/u/tasks/not-a-uuid", "", []string{"uuid_parsing@path.task_id"}},
		{"task_id word PUT", "PUT", "/api/u/tasks/not-a-uuid", `{}`, []string{"uuid_parsing@path.task_id"}},
		{"task_id word DELETE", "DELETE", "/api/u/tasks/not-a-uuid", "", []string{"uuid_parsing@path.task_id"}},
		{"task_id word PATCH", "PATCH", "/api/u/tasks/not-a-uuid/complete", "", []string{"uuid_parsing@path.task_id"}},
		{"task_id one digit short", "GET", "/api/u/tasks/" + missingID[:35], "", []string{"uuid_parsing@path.task_id"}},
		{"task_id one digit long", "GET", "/api/u/tasks/" + missingID + "0", "", []string{"uuid_parsing@path.task_id"}},
		{"task_id hyphen misplaced", "GET", "/api/u/tasks/0192f1c47-a1e-7c3e-9d5a-3b2f1e0c9a11", "", []string{"uuid_parsing@path.task_id"}},
		{"task_id non-hex", "GET", "/api/u/tasks/0192f1c4-7a1e-7c3e-9d5a-3b2f1e0c9a1g", "", []string{"uuid_parsing@path.task_id"}},
		{"task_id unbalanced brace", "GET", "/api/u/tasks/%7B" + missingID, "", []string{"uuid_parsing@path.task_id"}},
		// Path and body problems together.
		{"path and body", "PUT", "/api/" + long("u", 256) + "/tasks/nope", `{"title": ""}`,
			[]string{"string_too_long@path.user_id", "uuid_parsing@path.task_id", "string_too_short@body.title"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newTestServer(t)
			wantItems(t, serve(t, h, tt.method, tt.target, tt.body), tt.want...)
		})
	}
}

func TestValidationMessagesAndContext(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	items := wantItems(t, serve(t, h, "POST", "/api/u/tasks", `{"title": "", "description": "`+strings.Repeat("d", 5001)+`"}`),
		"string_too_short@body.title", "string_too_long@body.description")
	if items[0].Msg != "String should have at least 1 character" || items[0].Ctx["min_length"] != 1.0 {
		t.Errorf("too short item = %+v", items[0])
	}
	if items[1].Msg != "String should have at most 5000 characters" || items[1].Ctx["max_length"] != 5000.0 {
		t.Errorf("too long item = %+v", items[1])
	}
	items = wantItems(t, serve(t, h, "POST", "/api/u/tasks", ""), "missing@body")
	if items[0].Msg != "Field required" {
		t.Errorf("missing item = %+v", items[0])
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	// Exactly 1 MiB: a valid body padded with white space.
	body := `{"title": "t"}`
	atLimit := body + strings.Repeat(" ", maxBodyBytes-len(body))
	if rec := serve(t, h, "POST", "/api/u/tasks", atLimit); rec.Code != http.StatusCreated {
		t.Errorf("1 MiB body: status %d, want 201", rec.Code)
	}
	rec := serve(t, h, "POST", "/api/u/tasks", atLimit+" ")
	got := decodeAs[struct{ Detail string }](t, rec, http.StatusRequestEntityTooLarge)
	if got.Detail == "" {
		t.Error("413 has no detail")
	}
	rec = serve(t, h, "PUT", "/api/u/tasks/"+missingID, atLimit+" ")
	decodeAs[struct{ Detail string }](t, rec, http.StatusRequestEntityTooLarge)
	if tasks := listTasks(t, h, "u"); len(tasks) != 1 {
		t.Errorf("%d tasks stored, want 1 (the oversized body must not be stored)", len(tasks))
	}
}

// TestRouting: the mux's own 404 and 405 answers are JSON, and paths the
// mux would redirect are 404s.
func TestRouting(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	tests := []struct {
		method, target string
		status         int
		detail, allow  string
	}{
		{"GET", "/", 404, "Not Found", ""},
		{"GET", "/nope", 404, "Not Found", ""},
		{"GET", "/api/u", 404, "Not Found", ""},
		{"GET", "/api/u/tasks/", 404, "Not Found", ""},
		{"GET", "/api/u/tasks/" + missingID + "/", 404, "Not Found", ""},
		{"GET", "/api/u/tasks/" + missingID + "/complete/x", 404, "Not Found", ""},
		{"GET", "/api//tasks", 404, "Not Found", ""},
		{"GET", "/api/a/../b/tasks", 404, "Not Found", ""},
		{"PUT", "/api/a/tasks/../../b/tasks/" + missingID, 404, "Not Found", ""},
		{"GET", "/api/./tasks", 404, "Not Found", ""},
		{"GET", "/api/u/./tasks", 404, "Not Found", ""},
		{"DELETE", "/api/u/tasks", 405, "Method Not Allowed", "GET, HEAD, POST"},
		{"PATCH", "/api/u/tasks", 405, "Method Not Allowed", "GET, HEAD, POST"},
		{"POST", "/api/u/tasks/" + missingID, 405, "Method Not Allowed", "DELETE, GET, HEAD, PUT"},
		{"GET", "/api/u/tasks/" + missingID + "/complete", 405, "Method Not Allowed", "PATCH"},
		{"POST", "/healthz", 405, "Method Not Allowed", "GET, HEAD"},
		{"OPTIONS", "/api/u/tasks", 405, "Method Not Allowed", "GET, HEAD, POST"},
	}
	for _, tt := range tests {
		rec := serve(t, h, tt.method, tt.target, "")
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			wantDetail(t, rec, tt.status, tt.detail)
			if got := rec.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
			if loc := rec.Header().Get("Location"); loc != "" {
				t.Errorf("redirected to %q", loc)
			}
		})
	}
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	if rec := serve(t, h, "GET", "/healthz", ""); rec.Code != http.StatusOK {
		t.Errorf("healthz: %d", rec.Code)
	}
	if rec := serve(t, h, "GET", "/readyz", ""); rec.Code != http.StatusOK {
		t.Errorf("readyz on memory: %d", rec.Code)
	}
	down := newServer(discardLogger(), &stubStore{err: errStoreUnavailable}, testCORS, nil)
	if rec := serve(t, down, "GET", "/healthz", ""); rec.Code != http.StatusOK {
		t.Errorf("healthz with the store down: %d, want 200", rec.Code)
	}
	rec := serve(t, down, "GET", "/readyz", "")
	decodeAs[struct{ Detail string }](t, rec, http.StatusServiceUnavailable)
	if rec.Header().Get("Retry-After") == "" {
		t.Error("readyz 503 has no Retry-After")
	}
}

// stubStore fails every call with err (or panics with it, if panics is set)
// and counts the calls.
type stubStore struct {
	err    error
	panics bool
	calls  atomic.Int32
}

var _ taskStore = (*stubStore)(nil)

func (s *stubStore) fail() error {
	s.calls.Add(1)
	if s.panics {
		panic(s.err)
	}
	return s.err
}

func (s *stubStore) ListTasks(context.Context, string, listQuery) iter.Seq2[Task, error] {
	return func(yield func(Task, error) bool) { yield(Task{}, s.fail()) }
}
func (s *stubStore) CreateTask(context.Context, string, newTask, idempotencyKey) (Task, bool, error) {
	return Task{}, false, s.fail()
}
func (s *stubStore) GetTask(context.Context, string, string) (Task, error) { return Task{}, s.fail() }
func (s *stubStore) UpdateTask(context.Context, string, string, taskUpdate) (Task, error) {
	return Task{}, s.fail()
}
func (s *stubStore) DeleteTask(context.Context, string, string, ifMatch) error { return s.fail() }
func (s *stubStore) ToggleTask(context.Context, string, string, ifMatch, idempotencyKey) (Task, bool, error) {
	return Task{}, false, s.fail()
}
func (s *stubStore) Ping(context.Context) error { return s.fail() }
func (s *stubStore) Close() error               { return nil }

// everyEndpoint is one valid request to each task endpoint.
var everyEndpoint = []struct{ method, target, body string }{
	{"GET", "/api/u/tasks", ""},
	{"POST", "/api/u/tasks", `{"title": "t"}`},
	{"GET", "/api/u/tasks/" + missingID, ""},
	{"PUT", "/api/u/tasks/" + missingID, `{"title": "t"}`},
	{"DELETE", "/api/u/tasks/" + missingID, ""},
	{"PATCH", "/api/u/tasks/" + missingID + "/complete", ""},
}

// TestStoreFailures: a database that cannot be reached is a 503 with
// Retry-After; any other failure or panic is a bare 500. Nothing internal
// reaches the client.
func TestStoreFailures(t *testing.T) {
	t.Parallel()
	secret := `pq: relation "task" does not exist at /srv/secret.go:42`
	tests := []struct {
		name   string
		store  *stubStore
		status int
		detail string
	}{
		{"unavailable", &stubStore{err: fmt.Errorf("list: %w: %s", errStoreUnavailable, secret)}, 503, "Database unavailable, try again shortly"},
		{"internal", &stubStore{err: errors.New(secret)}, 500, "Internal Server Error"},
		{"panic", &stubStore{err: errors.New(secret), panics: true}, 500, "Internal Server Error"},
	}
	for _, tt := range tests {
		for _, ep := range everyEndpoint {
			t.Run(tt.name+" "+ep.method+" "+ep.target, func(t *testing.T) {
				h := newServer(discardLogger(), tt.store, testCORS, nil)
				rec := serve(t, h, ep.method, ep.target, ep.body)
				wantDetail(t, rec, tt.status, tt.detail)
				if retry := rec.Header().Get("Retry-After"); (tt.status == 503) != (retry != "") {
					t.Errorf("Retry-After = %q with status %d", retry, tt.status)
				}
				if strings.Contains(rec.Body.String(), "secret") || strings.Contains(rec.Body.String(), "pq:") {
					t.Errorf("response leaks internals: %s", rec.Body)
				}
			})
		}
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	const origin = "http://localhost:3000"
	preflight := func(origin, method string) []string {
		return []string{"Origin", origin, "Access-Control-Request-Method", method, "Access-Control-Request-Headers", "content-type"}
	}

	t.Run("preflight answered without the store", func(t *testing.T) {
		store := &stubStore{err: errors.New("store touched"), panics: true}
		h := newServer(discardLogger(), store, testCORS, nil)
		for _, ep := range everyEndpoint {
			rec := serve(t, h, "OPTIONS", ep.target, "", preflight(origin, ep.method)...)
			if rec.Code != http.StatusNoContent {
				t.Fatalf("preflight %s %s: %d %s", ep.method, ep.target, rec.Code, rec.Body)
			}
			hd := rec.Header()
			if hd.Get("Access-Control-Allow-Origin") != origin || !strings.Contains(hd.Get("Access-Control-Allow-Methods"), ep.method) ||
				hd.Get("Access-Control-Allow-Headers") != "content-type" || hd.Get("Access-Control-Max-Age") == "" {
				t.Errorf("preflight headers: %v", hd)
			}
		}
		if n := store.calls.Load(); n != 0 {
			t.Errorf("preflight called the store %d times", n)
		}
	})
	t.Run("preflight from another origin", func(t *testing.T) {
		h := newTestServer(t)
		rec := serve(t, h, "OPTIONS", "/api/u/tasks", "", preflight("https://evil.example", "POST")...)
		wantDetail(t, rec, http.StatusBadRequest, "Disallowed CORS origin")
		if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("Access-Control-Allow-Origin = %q for a disallowed origin", got)
		}
	})
	t.Run("preflight for an unknown method", func(t *testing.T) {
		h := newTestServer(t)
		rec := serve(t, h, "OPTIONS", "/api/u/tasks", "", preflight(origin, "TRACE")...)
		wantDetail(t, rec, http.StatusBadRequest, "Disallowed CORS method")
	})
	t.Run("simple request from the allowed origin", func(t *testing.T) {
		h := newTestServer(t)
		rec := serve(t, h, "POST", "/api/u/tasks", `{"title": "t"}`, "Origin", origin)
		hd := rec.Header()
		if hd.Get("Access-Control-Allow-Origin") != origin || !strings.Contains(hd.Get("Access-Control-Expose-Headers"), "Location") ||
			hd.Get("Vary") != "Origin" {
			t.Errorf("CORS headers: %v", hd)
		}
	})
	t.Run("errors carry CORS headers too", func(t *testing.T) {
		h := newTestServer(t)
		rec := serve(t, h, "GET", "/api/u/tasks/nope", "", "Origin", origin)
		if rec.Code != http.StatusUnprocessableEntity || rec.Header().Get("Access-Control-Allow-Origin") != origin {
			t.Errorf("422 without CORS headers: %d %v", rec.Code, rec.Header())
		}
	})
	t.Run("simple request from another origin", func(t *testing.T) {
		h := newTestServer(t)
		rec := serve(t, h, "GET", "/api/u/tasks", "", "Origin", "https://evil.example")
		if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "" || rec.Code != http.StatusOK {
			t.Errorf("status %d, Access-Control-Allow-Origin = %q", rec.Code, got)
		}
	})
	t.Run("any origin", func(t *testing.T) {
		h := newServer(discardLogger(), newMemStore(), corsPolicy{anyOrigin: true}, nil)
		rec := serve(t, h, "OPTIONS", "/api/u/tasks", "", preflight("https://anywhere.example", "DELETE")...)
		if rec.Code != http.StatusNoContent || rec.Header().Get("Access-Control-Allow-Origin") != "*" ||
			rec.Header().Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("wildcard preflight: %d %v", rec.Code, rec.Header())
		}
	})
}

func TestParseUUID(t *testing.T) {
	t.Parallel()
	const canon = "0192f1c4-7a1e-7c3e-9d5a-3b2f1e0c9a11"
	for _, in := range []string{canon, strings.ToUpper(canon), "0192F1C47A1E7C3E9D5A3B2F1E0C9A11",
		"{" + canon + "}", "urn:uuid:" + canon} {
		if got, ok := parseUUID(in); !ok || got != canon {
			t.Errorf("parseUUID(%q) = %q, %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "{}", canon[:35], canon + "0", "{" + canon, "urn:uuid:", "urn:uuid:{" + canon + "}",
		"0192f1c4-7a1e-7c3e-9d5a-3b2f1e0c9a1-", "0192f1c4+7a1e+7c3e+9d5a+3b2f1e0c9a11", "g192f1c47a1e7c3e9d5a3b2f1e0c9a11"} {
		if got, ok := parseUUID(in); ok {
			t.Errorf("parseUUID(%q) = %q, want failure", in, got)
		}
	}
}

func TestHasLoneSurrogate(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]bool{
		`"plain"`: false, `"\ud83d\ude00"`: false, `"\\ud800"`: false, `"\u00e9"`: false,
		`"\ud800"`: true, `"\udc00"`: true, `"\ud800x"`: true, `"\ud800\u0041"`: true, `"\ud83d\ude00\ud800"`: true,
	} {
		if got := hasLoneSurrogate([]byte(raw)); got != want {
			t.Errorf("hasLoneSurrogate(%s) = %v, want %v", raw, got, want)
		}
	}
}

// FuzzRequests: whatever the path segment and body, the answer is one of the
// contract's statuses with a JSON body, never a 500.
func FuzzRequests(f *testing.F) {
	f.Add(uint8(0), "u", `{"title": "t"}`)
	f.Add(uint8(1), "u", `{"title": "\ud800", "description": null}`)
	f.Add(uint8(2), "a%00b", `{"is_completed": "yes"}`)
	f.Add(uint8(3), "%FF", strings.Repeat("[", 20000))
	f.Add(uint8(4), "..", `{"title": 1e999}`)
	f.Add(uint8(5), "u", "\xef\xbb\xbf{\"title\": \"bom\"}")
	h := newTestServer(f)
	task := createTask(f, h, "u", `{"title": "target"}`)
	f.Fuzz(func(t *testing.T, route uint8, user, body string) {
		targets := []struct{ method, path string }{
			{"POST", "/api/" + user + "/tasks"},
			{"PUT", "/api/u/tasks/" + task.ID},
			{"PUT", "/api/" + user + "/tasks/" + task.ID},
			{"GET", "/api/" + user + "/tasks"},
			{"PATCH", "/api/" + user + "/tasks/" + task.ID + "/complete"},
			{"DELETE", "/api/" + user + "/tasks/" + missingID},
		}
		target := targets[int(route)%len(targets)]
		req, err := http.NewRequest(target.method, "http://svc"+target.path, strings.NewReader(body))
		if err != nil {
			t.Skip("not a valid request line")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 201, 404, 405, 413, 422:
		default:
			t.Fatalf("%s %s %q: status %d %s", target.method, target.path, body, rec.Code, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%s %s: not a JSON answer: %q", target.method, target.path, rec.Body)
		}
	})
}

// TestBodyCutShort: a client that stops sending its body half-way gets a
// 400, and nothing is stored.
func TestBodyCutShort(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	req := httptest.NewRequest("POST", "/api/u/tasks", io.MultiReader(
		strings.NewReader(`{"title": "t`), iotest.ErrReader(io.ErrUnexpectedEOF)))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	wantDetail(t, rec, http.StatusBadRequest, "Request body could not be read")
	if tasks := listTasks(t, h, "u"); len(tasks) != 0 {
		t.Errorf("%d tasks stored from a cut-short body", len(tasks))
	}
}

// marshalWithReflection is what encoding/json writes for a task's wire
// struct (testTask); appendTask must write exactly the same bytes.
func marshalWithReflection(t Task) []byte {
	b, err := json.Marshal(testTask{t.ID, t.UserID, t.Title, t.Description, t.IsCompleted,
		t.CreatedAt.UTC().Format(timeLayout), t.UpdatedAt.UTC().Format(timeLayout)})
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzAppendTask: the hand-written encoder writes what encoding/json writes,
// for any text and any time the stores can hold.
func FuzzAppendTask(f *testing.F) {
	for _, s := range []string{"", "plain", `"quoted" \ back`, "<a href='x'>&amp;</a>", "tab\tnl\ncr\rbs\bff\f\x00\x1f\x7f",
		"é中文🎉", "\u2028\u2029", "\xff\xfe bad", "\xed\xa0\x80", "a\u0085b"} {
		f.Add(s, int64(1764102531123456), true)
	}
	f.Add("x", int64(-62135596800000000), false) // 0001-01-01
	f.Add("x", int64(253402300799999999), false) // 9999-12-31T23:59:59.999999
	f.Fuzz(func(t *testing.T, s string, micros int64, done bool) {
		ts := time.UnixMicro(micros).In(time.FixedZone("x", 3600))
		task := Task{ID: s, UserID: s, Title: s, Description: &s, IsCompleted: done, CreatedAt: ts, UpdatedAt: ts.Add(time.Microsecond)}
		if got, want := appendTask(nil, task), marshalWithReflection(task); !bytes.Equal(got, want) {
			t.Errorf("appendTask = %s\nencoding/json = %s", got, want)
		}
		task.Description = nil
		if got, want := appendTask(nil, task), marshalWithReflection(task); !bytes.Equal(got, want) {
			t.Errorf("without description: appendTask = %s\nencoding/json = %s", got, want)
		}
	})
}

// TestListStreamsLongLists: a list far longer than one chunk arrives whole,
// valid, in order, and is the store's list byte for byte.
func TestListStreamsLongLists(t *testing.T) {
	t.Parallel()
	store := newMemStore()
	h := newServer(discardLogger(), store, testCORS, nil)
	title := strings.Repeat("長", 500) // 1,500 bytes, so 300 tasks span many chunks
	for range 300 {
		mustCreate(t, store, "u", newTask{Title: title})
	}
	rec := serve(t, h, "GET", "/api/u/tasks", "")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, Content-Type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if rec.Body.Len() < 3*listChunkBytes {
		t.Fatalf("body is %d bytes: the test no longer spans several chunks", rec.Body.Len())
	}
	tasks, err := listAll(t.Context(), store, "u")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(tasks)
	if !bytes.Equal(rec.Body.Bytes(), want) {
		t.Errorf("streamed list differs from the store's list (%d bytes, want %d)", rec.Body.Len(), len(want))
	}
}

// failingListStore lists some tasks, then fails.
type failingListStore struct {
	*memStore
	after int
}

func (s failingListStore) ListTasks(ctx context.Context, userID string, q listQuery) iter.Seq2[Task, error] {
	return func(yield func(Task, error) bool) {
		n := 0
		for t, err := range s.memStore.ListTasks(ctx, userID, q) {
			if n == s.after {
				yield(Task{}, fmt.Errorf("list tasks: %w", errStoreUnavailable))
				return
			}
			if !yield(t, err) {
				return
			}
			n++
		}
	}
}

// TestListFailure: a store error before anything is sent is a clean 503;
// one after the first chunk went out breaks the response, so the client
// can never mistake a partial list for a whole one.
func TestListFailure(t *testing.T) {
	t.Parallel()
	mem := newMemStore()
	for range 100 {
		mustCreate(t, mem, "u", newTask{Title: strings.Repeat("x", 500)})
	}
	early := newServer(discardLogger(), failingListStore{mem, 0}, testCORS, nil)
	wantDetail(t, serve(t, early, "GET", "/api/u/tasks", ""), http.StatusServiceUnavailable, "Database unavailable, try again shortly")

	srv := httptest.NewServer(newServer(discardLogger(), failingListStore{mem, 90}, testCORS, nil))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/api/u/tasks")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Errorf("a list cut short was read without error (%d bytes, valid JSON: %v)", len(body), json.Valid(body))
	}
}

// onEachStore runs test on a server over the memory store and, with
// TEST_DATABASE_URL set, over PostgreSQL, each with a user id of its own.
func onEachStore(t *testing.T, test func(t *testing.T, h http.Handler, user string)) {
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		test(t, newTestServer(t), newUserID(t))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		s := openTestPostgres(t, testPostgresURL(t, "TEST_DATABASE_URL"))
		test(t, newServer(discardLogger(), s, testCORS, nil), newUserID(t))
	})
}

// linkPattern reads a Link header's next-page URL.
var linkPattern = regexp.MustCompile(`^<([^>]+)>; rel="next"$`)

// TestListPagination: following Link headers from ?limit=N visits every
// task once, in order, and the last page has no Link; ?completed= filters
// on every page; without parameters the list is whole and has no Link.
func TestListPagination(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, h http.Handler, user string) {
		testListPagination(t, h, user+"/ü") // escaped in the path, and so in the Link
	})
}

func testListPagination(t *testing.T, h http.Handler, user string) {
	var all []testTask
	for i := range 11 {
		task := createTask(t, h, url.PathEscape(user), fmt.Sprintf(`{"title": "task %d"}`, i))
		if i%2 == 0 {
			task = decodeAs[testTask](t, serve(t, h, "PATCH", "/api/"+url.PathEscape(user)+"/tasks/"+task.ID+"/complete", ""), http.StatusOK)
		}
		all = append(all, task)
	}
	whole := serve(t, h, "GET", "/api/"+url.PathEscape(user)+"/tasks", "")
	if whole.Header().Get("Link") != "" {
		t.Errorf("unpaged list has Link %q", whole.Header().Get("Link"))
	}
	for _, tt := range []struct {
		query string
		want  func(testTask) bool
	}{
		{"limit=3", func(testTask) bool { return true }},
		{"limit=1&completed=true", func(t testTask) bool { return t.IsCompleted }},
		{"completed=no&limit=4", func(t testTask) bool { return !t.IsCompleted }},
		{"limit=1000", func(testTask) bool { return true }},
	} {
		var want []string
		for _, task := range all {
			if tt.want(task) {
				want = append(want, task.ID)
			}
		}
		var got []string
		target := "/api/" + url.PathEscape(user) + "/tasks?" + tt.query
		for pages := 0; target != ""; pages++ {
			if pages > len(all) {
				t.Fatalf("%s: more pages than tasks", tt.query)
			}
			rec := serve(t, h, "GET", target, "")
			page := decodeAs[[]testTask](t, rec, http.StatusOK)
			for _, task := range page {
				got = append(got, task.ID)
			}
			target = ""
			if link := rec.Header().Get("Link"); link != "" {
				m := linkPattern.FindStringSubmatch(link)
				if m == nil {
					t.Fatalf("%s: Link %q is not <url>; rel=\"next\"", tt.query, link)
				}
				target = m[1]
				if len(page) == 0 {
					t.Fatalf("%s: an empty page links to another", tt.query)
				}
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: pages gave %d tasks %v,\nwant %d %v", tt.query, len(got), got, len(want), want)
		}
	}
}

// TestListQueryValidation: bad query parameters are 422s located in the
// query; unknown ones are ignored.
func TestListQueryValidation(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"limit=0", []string{"greater_than_equal@query.limit"}},
		{"limit=1001", []string{"less_than_equal@query.limit"}},
		{"limit=ten", []string{"int_parsing@query.limit"}},
		{"limit=", []string{"int_parsing@query.limit"}},
		{"completed=maybe", []string{"bool_type@query.completed"}},
		{"after=not-a-cursor", []string{"value_error@query.after"}},
		{"after=" + strings.Repeat("A", 32) + "A", []string{"value_error@query.after"}},
		{"limit=-1&completed=2&after=x", []string{"bool_type@query.completed", "greater_than_equal@query.limit", "value_error@query.after"}},
	} {
		wantItems(t, serve(t, h, "GET", "/api/u/tasks?"+tt.query, ""), tt.want...)
	}
	for _, ok := range []string{"sort=desc", "limit=5&limit=7", "completed=TRUE", "after=" + strings.Repeat("A", 32)} {
		if rec := serve(t, h, "GET", "/api/u/tasks?"+ok, ""); rec.Code != http.StatusOK {
			t.Errorf("?%s: %d %s, want 200", ok, rec.Code, rec.Body)
		}
	}
	wantItems(t, serve(t, h, "GET", "/api/%00/tasks?limit=0", ""), "value_error@path.user_id", "greater_than_equal@query.limit")
}

// TestETags: every single-task response carries a strong ETag that changes
// with every write; GET with If-None-Match naming it is a 304 without a
// body; writes with If-Match happen only at that version, else 412 with
// the current ETag and nothing changed.
func TestETags(t *testing.T) {
	t.Parallel()
	onEachStore(t, testETags)
}

func testETags(t *testing.T, h http.Handler, user string) {
	one := func(id string) string { return "/api/" + user + "/tasks/" + id }
	created := serve(t, h, "POST", "/api/"+user+"/tasks", `{"title": "t"}`)
	task := decodeAs[testTask](t, created, http.StatusCreated)
	tag := created.Header().Get("ETag")
	if !regexp.MustCompile(`^"[0-9a-z]+"$`).MatchString(tag) {
		t.Fatalf("ETag %q is not a strong tag", tag)
	}
	if got := serve(t, h, "GET", one(task.ID), "").Header().Get("ETag"); got != tag {
		t.Errorf("GET ETag %q, POST gave %q", got, tag)
	}

	for _, inm := range []string{tag, "W/" + tag, `"x", ` + tag, "*"} {
		rec := serve(t, h, "GET", one(task.ID), "", "If-None-Match", inm)
		if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 || rec.Header().Get("ETag") != tag {
			t.Errorf("If-None-Match %s: %d %q ETag %q, want 304, no body, the ETag", inm, rec.Code, rec.Body, rec.Header().Get("ETag"))
		}
	}
	if rec := serve(t, h, "GET", one(task.ID), "", "If-None-Match", `"other"`); rec.Code != http.StatusOK {
		t.Errorf("If-None-Match another tag: %d, want 200", rec.Code)
	}

	// A write at the current version succeeds and moves the ETag.
	rec := serve(t, h, "PUT", one(task.ID), `{"title": "u"}`, "If-Match", tag)
	decodeAs[testTask](t, rec, http.StatusOK)
	newTag := rec.Header().Get("ETag")
	if newTag == "" || newTag == tag {
		t.Fatalf("ETag after PUT = %q, was %q: want a new one", newTag, tag)
	}
	// The old tag is stale for every write; weak and malformed tags never match.
	for _, w := range []struct{ method, target, body, ifMatch string }{
		{"PUT", one(task.ID), `{"title": "lost"}`, tag},
		{"PATCH", one(task.ID) + "/complete", "", tag},
		{"DELETE", one(task.ID), "", tag},
		{"DELETE", one(task.ID), "", "W/" + newTag},
		{"DELETE", one(task.ID), "", "garbage"},
		{"DELETE", one(task.ID), "", `"-gzzs93zls00"`}, // year 0: no task is at that version
	} {
		rec := serve(t, h, w.method, w.target, w.body, "If-Match", w.ifMatch)
		wantDetail(t, rec, http.StatusPreconditionFailed, "Precondition Failed: the task has changed since that ETag")
		if got := rec.Header().Get("ETag"); got != newTag {
			t.Errorf("%s If-Match %s: 412 with ETag %q, want the current %q", w.method, w.ifMatch, got, newTag)
		}
	}
	if got := getTask(t, h, user, task.ID); got.Title != "u" || got.IsCompleted {
		t.Errorf("refused writes changed the task: %+v", got)
	}
	// "*", or a list naming the current tag, will do.
	rec = serve(t, h, "PATCH", one(task.ID)+"/complete", "", "If-Match", `"old", `+newTag)
	decodeAs[testTask](t, rec, http.StatusOK)
	rec = serve(t, h, "DELETE", one(task.ID), "", "If-Match", "*")
	if rec.Code != http.StatusOK {
		t.Errorf("DELETE If-Match *: %d", rec.Code)
	}
	// A missing task is a 404 whatever the precondition.
	wantDetail(t, serve(t, h, "DELETE", one(task.ID), "", "If-Match", newTag), http.StatusNotFound, "Task not found")
	wantDetail(t, serve(t, h, "GET", one(task.ID), "", "If-None-Match", "*"), http.StatusNotFound, "Task not found")
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
