package main

// What the handlers refuse, and what they accept at the edges: the body
// (its size, reading it, its fields), the path parameters, the list's
// query, with FastAPI's 422 items.

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
)

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
