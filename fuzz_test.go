package main

// Fuzz targets: any path segment and body (FuzzRequests), create and update
// bodies (FuzzTaskBody) and path parameters (FuzzPathParams), each held to
// the contract. FuzzAppendTask is in encode_test.go. CI fuzzes each target
// by name, and testdata/fuzz/FuzzPathParams holds a corpus: do not rename
// them.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

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

// ---------------------------------------------------------------------------
// Bodies

// wantContractAnswer checks what every answer must be: one of the statuses
// the contract allows for the route, JSON, with a detail on errors, and 422
// items located in the body, path or query. It returns the 422 items.
func wantContractAnswer(t *testing.T, rec *httptest.ResponseRecorder, what string, allowed ...int) []testItem {
	t.Helper()
	if !slices.Contains(allowed, rec.Code) {
		t.Fatalf("%s: status %d, want one of %v; body %.300s", what, rec.Code, allowed, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" || !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("%s: not a JSON answer (Content-Type %q): %q", what, ct, rec.Body)
	}
	if rec.Code < 400 {
		return nil
	}
	var errBody struct{ Detail json.RawMessage }
	if err := json.Unmarshal(rec.Body.Bytes(), &errBody); err != nil || len(errBody.Detail) == 0 || isNull(errBody.Detail) {
		t.Fatalf("%s: error %d without a detail: %s", what, rec.Code, rec.Body)
	}
	if rec.Code != http.StatusUnprocessableEntity {
		return nil
	}
	var items []testItem
	if err := json.Unmarshal(errBody.Detail, &items); err != nil || len(items) == 0 {
		t.Fatalf("%s: 422 detail is not a list of items: %s", what, rec.Body)
	}
	for _, it := range items {
		if it.Type == "" || it.Msg == "" || len(it.Loc) == 0 || !slices.Contains([]any{"body", "path", "query"}, it.Loc[0]) {
			t.Fatalf("%s: malformed 422 item %+v", what, it)
		}
	}
	return items
}

// wantReadBack checks that GET target answers exactly the bytes a write
// answered.
func wantReadBack(t *testing.T, h http.Handler, target string, written *httptest.ResponseRecorder) {
	t.Helper()
	rec := serve(t, h, "GET", target, "")
	if rec.Code != http.StatusOK || rec.Body.String() != written.Body.String() {
		t.Fatalf("GET %s after the write: %d %.300s\nwant 200 %.300s", target, rec.Code, rec.Body, written.Body)
	}
}

// wantStorable checks the contract's limits on a task that was accepted.
func wantStorable(t *testing.T, task testTask) {
	t.Helper()
	wantWellFormed(t, task)
	if n := utf8.RuneCountInString(task.Title); n < 1 || n > maxTitleLen || strings.TrimSpace(task.Title) == "" ||
		strings.IndexByte(task.Title, 0) >= 0 {
		t.Errorf("accepted title %q (%d characters)", task.Title, n)
	}
	if d := task.Description; d != nil && (utf8.RuneCountInString(*d) > maxDescriptionLen || strings.IndexByte(*d, 0) >= 0) {
		t.Errorf("accepted description %q", *d)
	}
}

// loneSurrogateEscape finds what might be a \uD800-\uDFFF escape. It also
// matches an escaped backslash before "ud800": the oracle below only skips
// more bodies than it must.
var loneSurrogateEscape = regexp.MustCompile(`(?i)\\ud[89a-f]`)

// bodyFields decodes a body the way the contract reads it, independently
// of the service's decoder: nil if it is not a JSON object of valid UTF-8,
// or might hold a lone surrogate escape (encoding/json would turn one
// into U+FFFD, where the contract wants a 422).
func bodyFields(body []byte) map[string]json.RawMessage {
	var fields map[string]json.RawMessage
	if !utf8.Valid(body) || loneSurrogateEscape.Match(body) || json.Unmarshal(body, &fields) != nil {
		return nil
	}
	return fields
}

// textField decodes a string field and reports whether it meets the
// contract: a JSON string of minLen to maxLen code points, without NUL.
func textField(raw json.RawMessage, minLen, maxLen int) (string, bool) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	n := utf8.RuneCountInString(s)
	return s, n >= minLen && n <= maxLen && strings.IndexByte(s, 0) < 0
}

// validTitle reports whether raw is a title the contract accepts.
func validTitle(raw json.RawMessage) (string, bool) {
	s, ok := textField(raw, 1, maxTitleLen)
	return s, ok && strings.TrimSpace(s) != ""
}

// validDescription reports whether raw is a description the contract
// accepts; nil for null.
func validDescription(raw json.RawMessage) (*string, bool) {
	if isNull(raw) {
		return nil, true
	}
	s, ok := textField(raw, 0, maxDescriptionLen)
	return &s, ok
}

// bodySeeds are the contract's edge cases for a POST or PUT body.
func bodySeeds() []string {
	long := strings.Repeat
	seeds := []string{
		``, ` `, "\n\t", `null`, `[]`, `[{"title": "t"}]`, `"t"`, `42`, `true`, `{}`,
		`{"title": "t"}`, `{"title": "t", "description": "d"}`, `{"title": "t", "description": null}`,
		`{"title": ""}`, `{"title": " "}`, `{"title": " \t\n\r "}`, `{"title": "\u3000"}`, `{"title": "\u00a0\u2028"}`,
		`{"title": "` + long("a", 500) + `"}`, `{"title": "` + long("a", 501) + `"}`,
		`{"title": "` + long("漢", 500) + `"}`, `{"title": "` + long("😀", 501) + `"}`,
		`{"title": "` + long("e\u0301", 250) + `"}`, `{"title": "👩‍💻"}`, `{"title": "\ud83d\ude00"}`,
		`{"title": "a\u0000b"}`, "{\"title\": \"a\x00b\"}", `{"title": "t", "description": "\u0000"}`,
		`{"title": "\ud800"}`, `{"title": "\udc00"}`, `{"title": "\ude00\ud83d"}`, `{"title": "\\ud800"}`,
		`{"title": null}`, `{"description": null}`, `{"title": 1}`, `{"title": ["t"]}`, `{"title": {"t": 1}}`,
		`{"title": 1e999}`, `{"title": "t", "is_completed": 1e999}`, `{"title": 123456789012345678901234567890}`,
		`{"is_completed": true}`, `{"is_completed": "yes"}`, `{"is_completed": "OFF"}`, `{"is_completed": 1}`,
		`{"is_completed": 1.0}`, `{"is_completed": -0}`, `{"is_completed": 2}`, `{"is_completed": null}`,
		`{"is_completed": "maybe"}`, `{"is_completed": [true]}`,
		`{"title": "t", "description": "` + long("d", 5000) + `"}`, `{"title": "t", "description": "` + long("😀", 5001) + `"}`,
		`{"title": "a", "title": ""}`, `{"Title": "case"}`, `{"title": "t", "id": "x", "user_id": "y", "colour": 1}`,
		`{"title": "t"} x`, `{"title": `, `{`, `title=t`, "\xef\xbb\xbf{\"title\": \"bom\"}", "{\"title\": \"\xff\"}",
		long("[", 10000), `{"title": "t", "description": {"a": [1, {"b": null}]}}`,
	}
	return seeds
}

// FuzzTaskBody: whatever the body of a create or an update, the answer is
// one the contract allows for the route (never a 500); the task a 2xx
// answer shows reads back identically, holds exactly what was sent, and
// meets the contract's limits; and a body the contract accepts is accepted.
func FuzzTaskBody(f *testing.F) {
	for _, body := range bodySeeds() {
		f.Add(false, []byte(body))
		f.Add(true, []byte(body))
	}
	f.Fuzz(func(t *testing.T, put bool, body []byte) {
		// A fresh store per input: the outcome depends on the input alone,
		// and memory does not grow over millions of runs.
		h := newTestServer(t)
		fields := bodyFields(body)
		if !put {
			rec := serve(t, h, "POST", "/api/u/tasks", string(body))
			wantContractAnswer(t, rec, "POST", http.StatusCreated, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity)
			title, titleOK := validTitle(fields["title"])
			description, descriptionOK := validDescription(fields["description"])
			if _, ok := fields["description"]; !ok {
				description, descriptionOK = nil, true
			}
			if rec.Code != http.StatusCreated {
				if fields != nil && titleOK && descriptionOK {
					t.Fatalf("POST %.300q: %d %.300s, but the contract accepts it", body, rec.Code, rec.Body)
				}
				return
			}
			var task testTask
			if err := json.Unmarshal(rec.Body.Bytes(), &task); err != nil {
				t.Fatal(err)
			}
			wantStorable(t, task)
			want := testTask{ID: task.ID, UserID: "u", Title: title, Description: description,
				CreatedAt: task.CreatedAt, UpdatedAt: task.CreatedAt}
			if fields != nil && !equalTasks(task, want) {
				t.Fatalf("POST %.300q created %s\nwant %s", body, show(task), show(want))
			}
			wantReadBack(t, h, rec.Header().Get("Location"), rec)
			return
		}

		orig := createTask(t, h, "u", `{"title": "original", "description": "kept"}`)
		target := "/api/u/tasks/" + orig.ID
		rec := serve(t, h, "PUT", target, string(body))
		wantContractAnswer(t, rec, "PUT", http.StatusOK, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity)
		// valid: the contract accepts the body; lax: is_completed is in a
		// form other than true or false, which this oracle does not judge
		// (TestUpdateTaskAcceptsPydanticBooleans does).
		want, valid, lax := orig, fields != nil, false
		if raw, ok := fields["title"]; ok {
			var titleOK bool
			want.Title, titleOK = validTitle(raw)
			valid = valid && titleOK
		}
		if raw, ok := fields["description"]; ok {
			var descriptionOK bool
			want.Description, descriptionOK = validDescription(raw)
			valid = valid && descriptionOK
		}
		if raw, ok := fields["is_completed"]; ok {
			lax = string(raw) != "true" && string(raw) != "false"
			want.IsCompleted = string(raw) == "true"
		}
		if rec.Code != http.StatusOK {
			if valid && !lax {
				t.Fatalf("PUT %.300q: %d %.300s, but the contract accepts it", body, rec.Code, rec.Body)
			}
			if got := getTask(t, h, "u", orig.ID); !equalTasks(got, orig) {
				t.Fatalf("PUT %.300q answered %d but changed the task to %s", body, rec.Code, show(got))
			}
			return
		}
		var task testTask
		if err := json.Unmarshal(rec.Body.Bytes(), &task); err != nil {
			t.Fatal(err)
		}
		wantStorable(t, task)
		if task.UpdatedAt <= orig.UpdatedAt {
			t.Fatalf("PUT %.300q: updated_at %s did not move past %s", body, task.UpdatedAt, orig.UpdatedAt)
		}
		want.UpdatedAt = task.UpdatedAt
		if lax {
			want.IsCompleted = task.IsCompleted
		}
		if fields != nil && !equalTasks(task, want) {
			t.Fatalf("PUT %.300q updated to %s\nwant %s", body, show(task), show(want))
		}
		wantReadBack(t, h, target, rec)
	})
}

// ---------------------------------------------------------------------------
// Path parameters

// validUserID is the contract's rule for {user_id}: 1 to 255 code points of
// valid UTF-8, no control characters.
func validUserID(s string) bool {
	n := utf8.RuneCountInString(s)
	return utf8.ValidString(s) && n >= 1 && n <= maxUserIDLen && !strings.ContainsFunc(s, unicode.IsControl)
}

// FuzzPathParams: whatever the {user_id} and {task_id} segments, the answer
// is one the contract allows (never a 500), a user id is refused exactly
// when the contract says so, and a request that succeeds acts on the task
// of exactly that user. The segments are sent either escaped (so any byte,
// "/" included, reaches the handler as the value) or raw (so the server's
// own %-decoding and routing are fuzzed too). In the task segment, $id,
// $ID and $hex stand for the target task's id in lowercase, uppercase and
// bare hex: a random string almost never names an existing task.
func FuzzPathParams(f *testing.F) {
	users := []string{"u", "", " ", ".", "..", "a/b", "a%2Fb", "%2e%2e", "a b", "?", "a?b=c", "#", "tasks",
		"\x00", "a%00b", "\x01", "%01", "\n", "%0A", "\x7f", "%7F", "\u0085", "%C2%85", "\u200b", "\u202e",
		"\xff", "%FF", "\xed\xa0\x80", "%ED%A0%80", "%", "%zz", "%E6%BC%A2", "漢", "😀", "👩‍💻", "e\u0301",
		strings.Repeat("u", 255), strings.Repeat("u", 256), strings.Repeat("漢", 255), strings.Repeat("😀", 256),
		strings.Repeat("%E6%BC%A2", 255)}
	tasks := []string{"$id", "$ID", "$hex", "{$id}", "%7B$ID%7D", "urn:uuid:$id", "URN:UUID:$ID", "$id/", "$id%00",
		"{$id", "$id}", "urn:uuid:{$id}", missingID, "not-a-uuid", "", ".", "..", "\x00", "%00", "\xff",
		"0192f1c4-7a1e-7c3e-9d5a-3b2f1e0c9a1g", "0192f1c47-a1e-7c3e-9d5a-3b2f1e0c9a11", strings.Repeat("f", 1000)}
	for i, u := range users {
		f.Add(uint8(i), true, u, tasks[i%len(tasks)])
		f.Add(uint8(i+1), false, u, tasks[i%len(tasks)])
	}
	for i, task := range tasks {
		f.Add(uint8(i), true, "u", task)
		f.Add(uint8(i+1), false, "u", task)
	}
	f.Fuzz(func(t *testing.T, route uint8, escape bool, user, task string) {
		r := endpoints[int(route)%len(endpoints)]
		store := newMemStore(defaultMaxTasks)
		h := newServer(discardLogger(), store, testCORS, nil, nil)
		// The target belongs to the user exactly as fuzzed, so a request
		// whose path decodes back to it can find it.
		target, _, err := store.CreateTask(t.Context(), user, newTask{Title: "target"}, idempotencyKey{})
		if err != nil {
			t.Fatal(err)
		}
		task = strings.NewReplacer("$id", target.ID, "$ID", strings.ToUpper(target.ID),
			"$hex", strings.ReplaceAll(target.ID, "-", "")).Replace(task)
		userSeg, taskSeg := user, task
		if escape {
			userSeg, taskSeg = url.PathEscape(user), url.PathEscape(task)
		}
		path := r.target(userSeg, taskSeg)
		if !escape && strings.ContainsFunc(userSeg+taskSeg, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			// Raw, white space or a line break would end the request
			// target or start another header: a different request, not a
			// different path parameter. (A silent return, not t.Skip: the
			// seed corpus runs in CI's verbose test step.)
			return
		}
		const body = `{"title": "t"}`
		// Parse the request as the server does, so that what reaches the
		// handler is exactly what a real connection would deliver.
		raw := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: svc\r\nContent-Length: %d\r\n\r\n%s", r.method, path, len(body), body)
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			if escape {
				t.Fatalf("escaped request %q refused: %v", path, err)
			}
			return // the server answers 400 before any handler runs
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		what := r.method + " " + path
		items := wantContractAnswer(t, rec, what, r.status, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusUnprocessableEntity)
		if rec.Code == http.StatusOK || rec.Code == http.StatusCreated {
			checkPathSuccess(t, h, rec, what, user, escape, target)
		}
		if !escape {
			return
		}

		// Escaped, the path has the route's shape whatever the values, so
		// it misses the route only where the mux would clean it: an empty,
		// "." or ".." segment of the escaped path (url.PathEscape leaves
		// dots alone), or an empty task segment, which no wildcard matches.
		// Nor does a wildcard match a segment that decodes to a lone "/"
		// (%2F): Go's router takes it for a trailing slash.
		oneTask := r.oneTask()
		segments := strings.Split(strings.TrimSuffix(path, "/"), "/")[1:]
		unroutable := slices.ContainsFunc(segments, func(seg string) bool {
			return seg == "" || seg == "." || seg == ".." || seg == "%2F"
		}) || oneTask && task == ""
		routeMiss := rec.Code == http.StatusNotFound && strings.Contains(rec.Body.String(), `"Not Found"`)
		if routeMiss != unroutable || rec.Code == http.StatusMethodNotAllowed {
			t.Fatalf("%s: %d %s; route miss expected: %v", what, rec.Code, rec.Body, unroutable)
		}
		if routeMiss {
			return
		}
		userRefused := slices.ContainsFunc(items, func(it testItem) bool { return it.where() == "path.user_id" })
		if userRefused == validUserID(user) {
			t.Fatalf("%s: user_id %q refused: %v; the contract says valid: %v (%s)", what, user, userRefused, validUserID(user), rec.Body)
		}
		namesTarget := slices.Contains([]string{target.ID, strings.ToUpper(target.ID), strings.ReplaceAll(target.ID, "-", ""),
			"{" + target.ID + "}", "urn:uuid:" + target.ID, "URN:UUID:" + strings.ToUpper(target.ID)}, task)
		if validUserID(user) && (!oneTask || namesTarget) && rec.Code != r.status {
			t.Fatalf("%s: %d %s, want %d: the user id is valid and the task exists", what, rec.Code, rec.Body, r.status)
		}
	})
}

// checkPathSuccess checks a 2xx answer in FuzzPathParams: it concerns a
// valid user id (exactly the fuzzed one when it was sent escaped), the
// target task unless it created one, and what it shows reads back.
func checkPathSuccess(t *testing.T, h http.Handler, rec *httptest.ResponseRecorder, what, user string, escape bool, target Task) {
	t.Helper()
	wantUser := func(got string) {
		t.Helper()
		if !validUserID(got) || escape && got != user {
			t.Fatalf("%s answered for user %q (%q sent, escaped: %v)", what, got, user, escape)
		}
	}
	body := rec.Body.Bytes()
	switch {
	case body[0] == '[': // a list
		var tasks []testTask
		if err := json.Unmarshal(body, &tasks); err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			wantUser(task.UserID)
		}
		if escape && (len(tasks) != 1 || tasks[0].ID != target.ID) {
			t.Fatalf("%s listed %d tasks, want the target only", what, len(tasks))
		}
	case bytes.HasPrefix(body, []byte(`{"changes":`)): // the change feed, from the start
		var feed struct {
			Changes []struct {
				Op   string
				Task testTask
			}
		}
		if err := json.Unmarshal(body, &feed); err != nil {
			t.Fatal(err)
		}
		for _, c := range feed.Changes {
			wantUser(c.Task.UserID)
		}
		if escape && (len(feed.Changes) != 1 || feed.Changes[0].Task.ID != target.ID) {
			t.Fatalf("%s gave %d changes, want the target only", what, len(feed.Changes))
		}
	case bytes.Contains(body, []byte(`"message"`)): // a delete
		if string(body) != `{"message":"Task deleted successfully"}` {
			t.Fatalf("%s: %s", what, body)
		}
	case rec.Code == http.StatusCreated:
		var task testTask
		if err := json.Unmarshal(body, &task); err != nil {
			t.Fatal(err)
		}
		wantUser(task.UserID)
		wantReadBack(t, h, rec.Header().Get("Location"), rec)
	default:
		var task testTask
		if err := json.Unmarshal(body, &task); err != nil {
			t.Fatal(err)
		}
		wantUser(task.UserID)
		if task.ID != target.ID {
			t.Fatalf("%s answered task %s, want the target %s", what, task.ID, target.ID)
		}
		wantReadBack(t, h, "/api/"+url.PathEscape(task.UserID)+"/tasks/"+task.ID, rec)
	}
}
