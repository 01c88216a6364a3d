package main

// openapi.json against the code: the routes on the mux against the
// document's paths and methods, real handler responses against the
// document's response schemas and headers, and the request schemas against
// what the handlers accept. The schemas are checked by schemacheck_test.go.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
	"unicode"
)

// TestOpenAPIServedAsEmbedded: /openapi.json is the embedded file, byte for
// byte, and an OpenAPI 3.1 document.
func TestOpenAPIServedAsEmbedded(t *testing.T) {
	t.Parallel()
	rec := serve(t, newTestServer(t), "GET", "/openapi.json", "")
	doc := decodeAs[struct {
		OpenAPI string `json:"openapi"`
	}](t, rec, http.StatusOK)
	if rec.Body.String() != string(openapiJSON) {
		t.Error("/openapi.json is not the embedded document")
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
}

// TestOpenAPIDocumentsEveryRoute: every route on the mux is an operation of
// openapi.json and every operation is a route, with the same method and
// path, so neither can be added without the other.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	t.Parallel()
	routes := registeredRoutes(t)
	documented := documentedOperations(newSchemaChecker(t))
	for _, r := range routes {
		// A pattern without a method would answer every method, and one with
		// a host would be a route the document's paths cannot express.
		method, path, ok := strings.Cut(r, " ")
		if !ok || method != strings.ToUpper(method) || !strings.HasPrefix(path, "/") {
			t.Errorf("route %q is not METHOD /path", r)
		}
		if !slices.Contains(documented, r) {
			t.Errorf("route %q is not documented in openapi.json", r)
		}
	}
	for _, op := range documented {
		if !slices.Contains(routes, op) {
			t.Errorf("openapi.json documents %q, which routes does not list", op)
		}
	}
	if len(routes) < 10 {
		t.Errorf("only %d routes registered: %q", len(routes), routes)
	}
}

// TestOpenAPISchemasAreChecked: every schema in the document uses only what
// the checker enforces, every pattern compiles and every $ref anywhere in
// the document resolves, including branches no response takes.
func TestOpenAPISchemasAreChecked(t *testing.T) {
	t.Parallel()
	c := newSchemaChecker(t)
	var errs []string
	schemas := 0
	var walk func(node any, at string)
	walk = func(node any, at string) {
		switch n := node.(type) {
		case map[string]any:
			for key, value := range n {
				switch {
				case key == "schema" || strings.HasSuffix(at, ".components.schemas"):
					schemas++
					c.lint(value, at+"."+key, &errs)
				case key == "$ref":
					if _, err := c.resolve(value); err != nil {
						errs = append(errs, fmt.Sprintf("%s: %v", at, err))
					}
				default:
					walk(value, at+"."+key)
				}
			}
		case []any:
			for i, v := range n {
				walk(v, fmt.Sprintf("%s[%d]", at, i))
			}
		}
	}
	walk(c.doc, "$")
	for _, e := range errs {
		t.Error(e)
	}
	if schemas < 20 {
		t.Errorf("only %d schemas found: the walk is broken", schemas)
	}
}

// ---------------------------------------------------------------------------
// Responses

// responseCase is one request whose answer must be what op documents.
type responseCase struct {
	op       string // documented operation, "METHOD /path"
	server   http.Handler
	method   string // "" means op's method
	target   string
	header   []string // name, value, ...; a name twice sends the header twice
	body     string
	cutShort bool // the body ends in a read error half-way
	// gone sends the request with its context already cancelled, as from
	// a client that has gone: an event stream, which never ends on its
	// own, answers what it has at once and ends.
	gone   bool
	status int // the status this case provokes
}

// TestResponsesMatchOpenAPI: real answers of every endpoint, for every
// status each one documents, agree with openapi.json: the status is
// documented for that operation, required headers are present, every
// header is documented there and valid, the media type is documented and
// the body fits its schema. And every documented status, response header,
// 422 type and query or header parameter of every operation is provoked
// or sent here, so the document cannot promise an answer the code does
// not give.
func TestResponsesMatchOpenAPI(t *testing.T) {
	t.Parallel()
	c := newSchemaChecker(t)
	ok := newTestServer(t)
	down := newServer(discardLogger(), &stubStore{err: fmt.Errorf("list: %w", errStoreUnavailable)}, testCORS, nil, nil)
	broken := newServer(discardLogger(), &stubStore{err: errors.New("boom")}, testCORS, nil, nil)
	full := newServer(discardLogger(), newMemStore(1), testCORS, nil, nil)
	drain := &drainer{}
	drain.start()
	draining := newServer(discardLogger(), newMemStore(defaultMaxTasks), testCORS, nil, drain)
	createTask(t, full, "u", `{"title": "the only one allowed"}`)
	task := createTask(t, ok, "u", `{"title": "t", "description": "d"}`)
	doomed := createTask(t, ok, "u", `{"title": "to delete"}`)
	one := "/api/u/tasks/" + task.ID
	// A task for the conditional requests, written only by the last of them.
	guarded := "/api/u/tasks/" + createTask(t, ok, "u", `{"title": "guarded"}`).ID
	guardedTag := serve(t, ok, "GET", guarded, "").Header().Get("ETag")
	docsTag := serve(t, ok, "GET", "/docs", "").Header().Get("ETag")
	expired := newServer(discardLogger(), storeWithForgottenDeletes(t), testCORS, nil, nil)
	cssTag := serve(t, ok, "GET", "/docs/swagger-ui.css", "").Header().Get("ETag")
	// Three tasks, so that a page of two links to a next page.
	for i := range 3 {
		createTask(t, ok, "pager", fmt.Sprintf(`{"title": "page %d"}`, i))
	}
	// A user with as many event streams open as one may hold.
	crowded := newServer(discardLogger(), newMemStore(defaultMaxTasks), testCORS, nil, nil)
	openEventStreams(t, crowded, "/api/u/tasks/events", maxStreamsPerUser)
	link := linkPattern.FindStringSubmatch(serve(t, ok, "GET", "/api/pager/tasks?limit=2", "").Header().Get("Link"))
	if link == nil {
		t.Fatal("a page of 2 of 3 tasks has no Link")
	}
	const (
		list   = "GET /api/{user_id}/tasks"
		create = "POST /api/{user_id}/tasks"
		get    = "GET /api/{user_id}/tasks/{task_id}"
		update = "PUT /api/{user_id}/tasks/{task_id}"
		del    = "DELETE /api/{user_id}/tasks/{task_id}"
		toggle = "PATCH /api/{user_id}/tasks/{task_id}/complete"
		feed   = "GET /api/{user_id}/tasks/changes"
		events = "GET /api/{user_id}/tasks/events"
		stale  = `"0"` // a well-formed ETag that names no version of any task
	)
	tooBig := `{"title": "t"}` + strings.Repeat(" ", maxBodyBytes)
	requestID := func(id string) []string { return []string{"X-Request-ID", id} }
	cases := []responseCase{
		{op: list, server: ok, target: "/api/u/tasks", header: requestID("list-1"), status: 200},
		{op: list, server: ok, target: "/api/nobody/tasks", status: 200},
		{op: list, server: ok, target: "/api/pager/tasks?limit=2", status: 200},
		{op: list, server: ok, target: link[1], status: 200},
		{op: list, server: ok, target: "/api/pager/tasks?completed=No&limit=1000", status: 200},
		{op: list, server: ok, target: "/api/./tasks", status: 404},
		{op: list, server: ok, target: "/api/" + strings.Repeat("u", 256) + "/tasks", status: 422},
		{op: list, server: ok, target: "/api/a%01/tasks", status: 422},
		{op: list, server: ok, target: "/api/u/tasks?limit=0", status: 422},
		{op: list, server: ok, target: "/api/u/tasks?limit=1001&completed=maybe", status: 422},
		{op: list, server: ok, target: "/api/u/tasks?limit=5.0&after=page-2", status: 422},
		{op: list, server: broken, target: "/api/u/tasks", status: 500},
		{op: list, server: down, target: "/api/u/tasks?limit=10", status: 503},

		{op: feed, server: ok, target: "/api/u/tasks/changes", header: requestID("feed-1"), status: 200},
		{op: feed, server: ok, target: "/api/u/tasks/changes?since=" + encodeChangeCursor(cursorAt(0), "u") + "&limit=1", status: 200},
		{op: feed, server: ok, target: "/api/./tasks/changes", status: 404},
		{op: feed, server: expired, target: "/api/u/tasks/changes?since=" + encodeChangeCursor(cursorAt(1), "u"), status: 410},
		{op: feed, server: ok, target: "/api/u/tasks/changes?since=" + encodeChangeCursor(cursorAt(0), "someone-else") + "&limit=0", status: 422},
		{op: feed, server: broken, target: "/api/u/tasks/changes", status: 500},
		{op: feed, server: down, target: "/api/u/tasks/changes", status: 503},
		// A page of the current tasks: its cursor holds two numbers.
		{op: feed, server: ok, target: "/api/pager/tasks/changes?limit=2", status: 200},

		{op: events, server: ok, target: "/api/u/tasks/events", header: requestID("events-1"), gone: true, status: 200},
		{op: events, server: ok, method: "HEAD", target: "/api/u/tasks/events", status: 200},
		{op: events, server: ok, target: "/api/./tasks/events", status: 404},
		{op: events, server: expired, target: "/api/u/tasks/events", header: []string{"Last-Event-ID", encodeChangeCursor(cursorAt(1), "u")}, status: 410},
		{op: events, server: ok, target: "/api/a%01/tasks/events", status: 422},
		{op: events, server: ok, target: "/api/u/tasks/events", header: []string{"Last-Event-ID", "not-a-cursor"}, status: 422},
		{op: events, server: ok, target: "/api/u/tasks/events", header: []string{"Last-Event-ID", encodeChangeCursor(cursorAt(0), "someone-else")}, status: 422},
		{op: events, server: ok, target: "/api/u/tasks/events", header: []string{"Last-Event-ID", encodeChangeCursor(cursorAt(1<<40), "u")}, status: 422},
		{op: events, server: crowded, target: "/api/u/tasks/events", status: 429},
		{op: events, server: broken, target: "/api/u/tasks/events", status: 500},
		{op: events, server: down, target: "/api/u/tasks/events", status: 503},
		{op: events, server: draining, target: "/api/u/tasks/events", status: 503},

		{op: create, server: ok, target: "/api/u/tasks", body: `{"title": "Buy groceries", "description": "Milk, eggs, bread"}`, status: 201},
		{op: create, server: ok, target: "/api/a%20b%2Fc/tasks", body: `{"title": "escaped user"}`, header: requestID("create-1"), status: 201},
		{op: create, server: ok, target: "/api/u/tasks", body: `{"title": "retried"}`, header: []string{"Idempotency-Key", "k-1"}, status: 201},
		{op: create, server: ok, target: "/api/u/tasks", body: `{"title": "retried"}`, header: []string{"Idempotency-Key", "k-1"}, status: 201}, // replayed
		{op: create, server: ok, target: "/api/u/tasks", body: `{"title": "t`, cutShort: true, status: 400},
		{op: create, server: ok, target: "/api/../tasks", body: `{"title": "t"}`, status: 404},
		{op: create, server: ok, target: "/api/u/tasks", body: tooBig, status: 413},
		{op: create, server: ok, target: "/api/u/tasks", body: "", status: 422},
		{op: create, server: ok, target: "/api/u/tasks", body: `{"title": `, status: 422},
		{op: create, server: ok, target: "/api/u/tasks", body: `[]`, status: 422},
		{op: create, server: ok, target: "/api/u/tasks", body: `{"title": 5, "description": ""}`, status: 422},
		{op: create, server: ok, target: "/api/u/tasks", body: `{"title": "\ud800"}`, status: 422},
		{op: create, server: ok, target: "/api/u/tasks", body: `{"title": "", "description": "` + strings.Repeat("d", 5001) + `"}`, status: 422},
		{op: create, server: ok, target: "/api/u/tasks", body: `{"title": " \u3000 "}`, status: 422},
		{op: create, server: ok, target: "/api/u/tasks", body: `{"title": "not the first request"}`, header: []string{"Idempotency-Key", "k-1"}, status: 422},
		{op: create, server: ok, target: "/api/u/tasks", body: `{"title": "t"}`, header: []string{"Idempotency-Key", "two words"}, status: 422},
		{op: create, server: ok, target: "/api/u/tasks", body: `{"title": "t"}`, header: []string{"Idempotency-Key", "a", "Idempotency-Key", "b"}, status: 422},
		{op: create, server: full, target: "/api/u/tasks", body: `{"title": "one too many"}`, status: 409},
		{op: create, server: broken, target: "/api/u/tasks", body: `{"title": "t"}`, status: 500},
		{op: create, server: down, target: "/api/u/tasks", body: `{"title": "t"}`, header: []string{"Idempotency-Key", "k-1"}, status: 503},

		{op: get, server: ok, target: one, header: requestID("get-1"), status: 200},
		{op: get, server: ok, target: "/api/u/tasks/" + strings.ToUpper(task.ID), status: 200},
		{op: get, server: ok, target: guarded, header: []string{"If-None-Match", `"other", ` + guardedTag}, status: 304},
		{op: get, server: ok, target: guarded, header: []string{"If-None-Match", `W/` + stale}, status: 200},
		{op: get, server: ok, target: "/api/u/tasks/" + missingID, header: []string{"If-None-Match", "*"}, status: 404},
		{op: get, server: ok, target: "/api/../tasks/" + missingID, status: 404},
		{op: get, server: ok, target: "/api/u/tasks/not-a-uuid", status: 422},
		{op: get, server: broken, target: one, status: 500},
		{op: get, server: down, target: one, status: 503},

		{op: update, server: ok, target: one, body: `{"title": "new", "description": null, "is_completed": "yes"}`, header: requestID("put-1"), status: 200},
		{op: update, server: ok, target: one, body: `{}`, status: 200},
		{op: update, server: ok, target: one, body: `{"title": "t`, cutShort: true, status: 400},
		{op: update, server: ok, target: "/api/other/tasks/" + task.ID, body: `{}`, header: []string{"If-Match", stale}, status: 404},
		{op: update, server: ok, target: "/api/../tasks/" + task.ID, body: `{}`, status: 404},
		{op: update, server: ok, target: guarded, body: `{"title": "lost update"}`, header: []string{"If-Match", stale}, status: 412},
		{op: update, server: ok, target: one, body: tooBig, status: 413},
		{op: update, server: ok, target: one, body: `{"title": "` + strings.Repeat("a", 501) + `", "is_completed": "maybe"}`, status: 422},
		{op: update, server: ok, target: "/api/" + strings.Repeat("u", 256) + "/tasks/nope", body: `{"title": null}`, status: 422},
		{op: update, server: broken, target: one, body: `{}`, status: 500},
		{op: update, server: down, target: one, body: `{}`, status: 503},

		{op: toggle, server: ok, target: one + "/complete", header: requestID("patch-1"), status: 200},
		{op: toggle, server: ok, target: one + "/complete", header: []string{"Idempotency-Key", "flip-1"}, status: 200},
		{op: toggle, server: ok, target: one + "/complete", header: []string{"Idempotency-Key", "flip-1"}, status: 200}, // replayed
		{op: toggle, server: ok, target: "/api/u/tasks/" + missingID + "/complete", status: 404},
		{op: toggle, server: ok, target: "/api/../tasks/" + task.ID + "/complete", status: 404},
		{op: toggle, server: ok, target: guarded + "/complete", header: []string{"If-Match", "W/" + guardedTag}, status: 412},
		{op: toggle, server: ok, target: one + "0/complete", status: 422},
		{op: toggle, server: ok, target: one + "/complete", header: []string{"Idempotency-Key", "k-1"}, status: 422}, // a create's key
		{op: toggle, server: broken, target: one + "/complete", status: 500},
		{op: toggle, server: down, target: one + "/complete", status: 503},

		{op: del, server: ok, target: "/api/u/tasks/" + doomed.ID, header: []string{"If-Match", "*"}, status: 200},
		{op: del, server: ok, target: "/api/u/tasks/" + doomed.ID, header: requestID("delete-1"), status: 404},
		{op: del, server: ok, target: "/api/./tasks/" + missingID, status: 404},
		{op: del, server: ok, target: guarded, header: []string{"If-Match", `"x", ` + stale}, status: 412},
		{op: del, server: ok, target: "/api/u/tasks/urn:uuid:x", status: 422},
		{op: del, server: broken, target: one, status: 500},
		{op: del, server: down, target: one, status: 503},
		// After the delete: resumed from u's first change, the stream has
		// the delete too.
		{op: events, server: ok, target: "/api/u/tasks/events", header: []string{"Last-Event-ID", encodeChangeCursor(cursorAt(1), "u")}, gone: true, status: 200},

		// Last: the guarded task at the version it was read at.
		{op: update, server: ok, target: guarded, body: `{"title": "guarded, changed"}`, header: []string{"If-Match", guardedTag}, status: 200},

		{op: "GET /healthz", server: down, target: "/healthz", header: requestID("healthz-1"), status: 200},
		{op: "GET /readyz", server: ok, target: "/readyz", header: requestID("readyz-1"), status: 200},
		{op: "GET /readyz", server: broken, target: "/readyz", status: 500},
		{op: "GET /readyz", server: down, target: "/readyz", status: 503},
		{op: "GET /readyz", server: draining, target: "/readyz", status: 503},
		{op: "GET /openapi.json", server: down, target: "/openapi.json", header: requestID("openapi-1"), status: 200},
		{op: "GET /docs", server: down, target: "/docs", header: requestID("docs-1"), status: 200},
		{op: "GET /docs", server: ok, target: "/docs", header: []string{"If-None-Match", docsTag}, status: 304},
		{op: "GET /docs/{asset}", server: ok, target: "/docs/swagger-ui.css", header: requestID("docs-2"), status: 200},
		{op: "GET /docs/{asset}", server: ok, target: "/docs/swagger-init.js", status: 200},
		{op: "GET /docs/{asset}", server: ok, target: "/docs/favicon-32x32.png", status: 200},
		{op: "GET /docs/{asset}", server: ok, target: "/docs/swagger-ui.css", header: []string{"If-None-Match", cssTag}, status: 304},
		{op: "GET /docs/{asset}", server: ok, target: "/docs/swagger-ui.css.map", status: 404},
	}
	cases = append(cases, methodNotAllowedCases(c, ok, task.ID)...)
	cases = append(cases, authCases(t, task.ID)...)

	covered := make(map[string]bool)     // "op status"
	seenDetails := make(map[string]bool) // "op status detail"
	sentParams := make(map[string]bool)  // "op in name"
	seenHeaders := make(map[string]bool) // "op status Header-Name"
	seenTypes := make(map[string]bool)
	seenEvents := make(map[string]bool) // "op event"
	for _, tc := range cases {
		method, _, _ := strings.Cut(tc.op, " ")
		if tc.method != "" {
			method = tc.method
		}
		var body io.Reader = strings.NewReader(tc.body)
		if tc.cutShort {
			body = io.MultiReader(body, iotest.ErrReader(io.ErrUnexpectedEOF))
		}
		req := httptest.NewRequest(method, tc.target, body)
		for i := 0; i+1 < len(tc.header); i += 2 {
			req.Header.Add(tc.header[i], tc.header[i+1])
			sentParams[tc.op+" header "+strings.ToLower(tc.header[i])] = true
		}
		for name := range req.URL.Query() {
			sentParams[tc.op+" query "+name] = true
		}
		if tc.gone {
			ctx, cancel := context.WithCancel(req.Context())
			cancel()
			req = req.WithContext(ctx)
		}
		rec := httptest.NewRecorder()
		tc.server.ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Errorf("%s %s: status %d, want %d (the case does not test what it claims); body: %s",
				method, tc.target, rec.Code, tc.status, brief(rec.Body.String()))
			continue
		}
		c.checkResponse(t, tc.op, rec)
		if strings.HasPrefix(rec.Header().Get("Content-Type"), "text/event-stream") {
			for _, event := range c.checkEventStream(t, tc.op, rec.Body.String()) {
				seenEvents[tc.op+" "+event] = true
			}
		}
		covered[fmt.Sprint(tc.op, " ", rec.Code)] = true
		for name := range rec.Header() {
			seenHeaders[fmt.Sprint(tc.op, " ", rec.Code, " ", name)] = true
		}
		if id := req.Header.Get("X-Request-ID"); id != "" && rec.Header().Get("X-Request-ID") != id {
			t.Errorf("%s %s: X-Request-ID %q, want the request's %q echoed", method, tc.target, rec.Header().Get("X-Request-ID"), id)
		}
		var answer struct{ Detail any }
		json.Unmarshal(rec.Body.Bytes(), &answer)
		if d, ok := answer.Detail.(string); ok {
			seenDetails[fmt.Sprint(tc.op, " ", rec.Code, " ", d)] = true
		}
		if rec.Code == http.StatusUnauthorized {
			checkChallenge(t, tc.op, rec)
		}
		if rec.Code == http.StatusUnprocessableEntity {
			var got struct{ Detail []struct{ Type string } }
			json.Unmarshal(rec.Body.Bytes(), &got)
			for _, it := range got.Detail {
				seenTypes[it.Type] = true
			}
		}
	}
	for _, op := range documentedOperations(c) {
		responses, _ := c.operation(t, op)["responses"].(map[string]any)
		for status := range responses {
			if !covered[op+" "+status] {
				t.Errorf("openapi.json documents %s for %s, but no case here provokes it", status, op)
				continue
			}
			for name := range c.responseHeaders(t, op, status) {
				if !seenHeaders[op+" "+status+" "+name] {
					t.Errorf("openapi.json documents header %s on %s %s, but no case here gets it", name, op, status)
				}
			}
			for _, d := range c.documentedDetails(t, op, status) {
				if !seenDetails[op+" "+status+" "+d] {
					t.Errorf("openapi.json documents detail %q on %s %s, but no case here gets it", d, op, status)
				}
			}
		}
		if c.streamsEvents(t, op) {
			for _, event := range []string{"upsert", "delete"} {
				if !seenEvents[op+" "+event] {
					t.Errorf("%s streams %s events, but no case here gets one", op, event)
				}
			}
		}
		for _, p := range c.parameters(t, op) {
			if p["in"] == "path" {
				continue // in every request
			}
			if key := fmt.Sprint(op, " ", p["in"], " ", p["name"]); !sentParams[key] {
				t.Errorf("openapi.json documents the %s parameter %s of %s, but no case here sends it", p["in"], p["name"], op)
			}
		}
	}
	// Every 422 type the document names is one the code gives.
	types := c.componentSchema(t, "ValidationError")["properties"].(map[string]any)["type"].(map[string]any)["enum"].([]any)
	for _, typ := range types {
		if !seenTypes[typ.(string)] {
			t.Errorf("openapi.json names 422 type %q, which no case here provokes", typ)
		}
	}
}

// eventsEndpoint is the endpoint of the event stream, which the endpoints
// table leaves out: its GET never ends on its own, and the tests that
// read endpoints wait for answers that end.
var eventsEndpoint = endpoint{"GET", "/api/{user_id}/tasks/events", http.StatusOK, ""}

// apiEndpoints is every /api/ endpoint: the endpoints table and the event
// stream.
func apiEndpoints() []endpoint {
	if slices.Contains(endpoints, eventsEndpoint) {
		return endpoints
	}
	return append(slices.Clip(endpoints), eventsEndpoint)
}

// authCases are the answers of the /api/ operations with authentication
// on (every AUTH_* variable set, as in auth_test.go): a good token, none,
// a malformed, an expired and a not yet valid one (401), a good token of
// another user (403), and a good token whose key must be fetched from a
// key server that is down (503). taskID is user u's task; it need not
// exist, since every refusal comes first.
func authCases(t testing.TB, taskID string) []responseCase {
	f := newAuthFixture(t)
	authed := f.handler(newMemStore(defaultMaxTasks))
	down := newAuthFixture(t)
	down.jwks.serve(http.StatusInternalServerError, []byte(`{"error": "down"}`))
	keysDown := down.handler(newMemStore(defaultMaxTasks))
	now := f.clock.now().Unix()
	good := func(sub string) []string { return bearer(f.ed.token(t, claimsFor(f.clock, sub))) }
	cases := []responseCase{
		{op: "GET /api/{user_id}/tasks", server: authed, target: "/api/u/tasks", header: good("u"), status: 200},
		{op: "POST /api/{user_id}/tasks", server: authed, target: "/api/u/tasks", body: `{"title": "t"}`, header: good("u"), status: 201},
		{op: eventsEndpoint.op(), server: authed, target: eventsEndpoint.target("u", taskID), header: good("u"), gone: true, status: 200},
	}
	for _, ep := range apiEndpoints() {
		refused := func(server http.Handler, status int, header ...string) responseCase {
			return responseCase{op: ep.op(), server: server, target: ep.target("u", taskID), body: ep.body, header: header, status: status}
		}
		cases = append(cases,
			refused(authed, 401),
			refused(authed, 401, "Authorization", "Basic dTpw"),
			refused(authed, 401, bearer("not.a.token")...),
			refused(authed, 401, bearer(f.rs.token(t, with(claimsFor(f.clock, "u"), "exp", now-31)))...),
			refused(authed, 401, bearer(f.ec.token(t, with(claimsFor(f.clock, "u"), "nbf", now+31)))...),
			refused(authed, 401, bearer(f.hs.token(t, with(claimsFor(f.clock, "u"), "exp", nil)))...),
			refused(authed, 403, good("someone-else")...),
			refused(keysDown, 503, bearer(down.ed.token(t, claimsFor(down.clock, "u")))...),
		)
	}
	return cases
}

// TestOpenAPISecurityMatchesAuth: an operation requires bearerAuth in
// openapi.json exactly when, with authentication on, it answers 401 without
// a token and not with a good one; each also lists the empty requirement,
// since without AUTH_* set it needs no token (as TestResponsesMatchOpenAPI
// shows); nothing else is ever required. And the bearerAuth scheme says
// what the authenticator checks.
func TestOpenAPISecurityMatchesAuth(t *testing.T) {
	t.Parallel()
	c := newSchemaChecker(t)
	f := newAuthFixture(t)
	authed := f.handler(newMemStore(defaultMaxTasks))
	bearerAuth := map[string]any{"bearerAuth": []any{}}
	protected := 0
	for _, op := range documentedOperations(c) {
		method, path, _ := strings.Cut(op, " ")
		o := c.operation(t, op)
		security, ok := o["security"]
		if !ok {
			security = c.doc["security"] // nil, no requirement, if unset
		}
		reqs, _ := security.([]any)
		var wantsToken, open bool
		for _, r := range reqs {
			switch req, _ := r.(map[string]any); {
			case len(req) == 0:
				open = true
			case reflect.DeepEqual(req, bearerAuth):
				wantsToken = true
			default:
				t.Errorf("%s: security requirement %s is neither bearerAuth nor empty", op, brief(r))
			}
		}
		if wantsToken && !open {
			t.Errorf("%s requires bearerAuth without the empty alternative, but without AUTH_* set it needs no token", op)
		}
		target := concretePath(path, "u", missingID)
		body := ""
		if o["requestBody"] != nil {
			body = `{"title": "t"}`
		}
		if c.streamsEvents(t, op) {
			method = "HEAD" // the stream's headers, and an answer that ends
		}
		noToken := serve(t, authed, method, target, body)
		if refused := noToken.Code == http.StatusUnauthorized; refused != wantsToken {
			t.Errorf("%s without a token, authentication on: %d; openapi.json requires bearerAuth: %v", op, noToken.Code, wantsToken)
		}
		if wantsToken {
			protected++
			withToken := serve(t, authed, method, target, body, bearer(f.ed.token(t, claimsFor(f.clock, "u")))...)
			if withToken.Code == http.StatusUnauthorized || withToken.Code == http.StatusForbidden {
				t.Errorf("%s with a good token: %d %s", op, withToken.Code, withToken.Body)
			}
		}
	}
	api := 0
	for _, r := range registeredRoutes(t) {
		if _, path, _ := strings.Cut(r, " "); strings.HasPrefix(path, "/api/") {
			api++
		}
	}
	if protected != api || api != len(apiEndpoints()) {
		t.Errorf("%d operations require bearerAuth, want the %d under /api/ (%d in the tests' tables)", protected, api, len(apiEndpoints()))
	}

	schemes, _ := c.doc["components"].(map[string]any)["securitySchemes"].(map[string]any)
	if len(schemes) != 1 {
		t.Errorf("security schemes %s, want bearerAuth alone", brief(schemes))
	}
	scheme, _ := schemes["bearerAuth"].(map[string]any)
	for key, want := range map[string]string{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"} {
		if scheme[key] != want {
			t.Errorf("bearerAuth %s = %v, want %q", key, scheme[key], want)
		}
	}
	// What the description promises is what the authenticator checks.
	leeway := fmt.Sprintf("%d seconds", int(authLeeway/time.Second))
	description, _ := scheme["description"].(string)
	for _, want := range []string{algEdDSA, algRS256, algES256, algHS256, "AUTH_JWKS_URL", "AUTH_HS256_SECRET",
		"AUTH_ISSUER", "AUTH_AUDIENCE", "exp is required", leeway, "nbf", "sub must equal the path's user_id"} {
		if !strings.Contains(description, want) {
			t.Errorf("bearerAuth's description does not say %q", want)
		}
	}
	unauthorized, _ := c.followRef(t, map[string]any{"$ref": "#/components/responses/Unauthorized"})["description"].(string)
	if !strings.Contains(unauthorized, leeway) {
		t.Errorf("the Unauthorized response's description does not give the leeway, %s", leeway)
	}
}

// checkChallenge checks a 401's WWW-Authenticate against its detail, as
// the Unauthorized response describes them: Bearer without a token, else
// an invalid_token error whose description is the detail.
func checkChallenge(t testing.TB, op string, rec *httptest.ResponseRecorder) {
	t.Helper()
	var got struct{ Detail string }
	json.Unmarshal(rec.Body.Bytes(), &got)
	want := challengeFor(got.Detail)
	if challenge := rec.Header().Get("WWW-Authenticate"); challenge != want {
		t.Errorf("%s 401 %q: WWW-Authenticate = %q, want %q", op, got.Detail, challenge, want)
	}
}

// streamsEvents reports whether op's 200 is an event stream
// (text/event-stream), whose GET never ends on its own.
func (c schemaChecker) streamsEvents(t testing.TB, op string) bool {
	t.Helper()
	responses, _ := c.operation(t, op)["responses"].(map[string]any)
	content, _ := c.followRef(t, responses["200"])["content"].(map[string]any)
	_, ok := content["text/event-stream"]
	return ok
}

// eventDeleted is the data of a delete event, as op's description has it:
// {"id": "<task id>"}.
var eventDeleted = map[string]any{"type": "object", "required": []any{"id"}, "additionalProperties": false,
	"properties": map[string]any{"id": map[string]any{"type": "string", "format": "uuid"}}}

// checkEventStream checks a recorded event stream as op's description
// sets it out, and returns the events it holds, by name: blocks of lines
// ended by an empty line; a line that starts with a colon is a comment;
// each event has an id that fits the Last-Event-ID parameter's schema (to
// resume after it with), an event that is upsert, whose data is a task
// (TaskRead), or delete, whose data is {"id": "<task id>"}.
func (c schemaChecker) checkEventStream(t testing.TB, op, body string) []string {
	t.Helper()
	idSchema := c.parameterSchema(t, op, "header", "last-event-id")
	upserted := map[string]any{"$ref": "#/components/schemas/TaskRead"}
	if body != "" && !strings.HasSuffix(body, "\n\n") {
		t.Errorf("%s: the stream does not end with a whole event: %s", op, brief(body))
	}
	var events []string
	for _, block := range strings.Split(strings.TrimSuffix(body, "\n\n"), "\n\n") {
		if block == "" {
			continue
		}
		fields := make(map[string]string)
		for _, line := range strings.Split(block, "\n") {
			if strings.HasPrefix(line, ":") {
				continue
			}
			name, value, ok := strings.Cut(line, ": ")
			if _, seen := fields[name]; !ok || seen {
				t.Errorf("%s: line %q of event %s", op, line, brief(block))
			}
			fields[name] = value
		}
		if len(fields) == 0 {
			continue // comments only: a heartbeat
		}
		for _, e := range c.validate(idSchema, fields["id"]) {
			t.Errorf("%s: event id: %s", op, e)
		}
		var data any
		if err := json.Unmarshal([]byte(fields["data"]), &data); err != nil {
			t.Errorf("%s: event data is not JSON: %v: %s", op, err, brief(block))
			continue
		}
		var schema any
		switch fields["event"] {
		case "upsert":
			schema = upserted
		case "delete":
			schema = eventDeleted
		default:
			t.Errorf("%s: event %q is neither upsert nor delete", op, fields["event"])
			continue
		}
		for _, e := range c.validate(schema, data) {
			t.Errorf("%s: %s event data: %s", op, fields["event"], e)
		}
		if len(fields) != 3 {
			t.Errorf("%s: an event of other fields than id, event and data: %s", op, brief(block))
		}
		events = append(events, fields["event"])
	}
	return events
}

// openEventStreams opens n event streams on h at target, and leaves them
// open until the test's end.
func openEventStreams(t testing.TB, h http.Handler, target string, n int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	for range n {
		w := &startedRecorder{ResponseRecorder: httptest.NewRecorder(), started: make(chan struct{})}
		ended := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(ended)
			h.ServeHTTP(w, httptest.NewRequest("GET", target, nil).WithContext(ctx))
		}()
		select {
		case <-w.started:
		case <-ended:
			t.Fatalf("GET %s ended instead of streaming: %d %s", target, w.Code, brief(w.Body.String()))
		case <-time.After(10 * time.Second):
			t.Fatalf("GET %s: no stream within 10 s", target)
		}
	}
}

// startedRecorder is a ResponseRecorder that tells when its answer is
// first flushed: an event stream has begun.
type startedRecorder struct {
	*httptest.ResponseRecorder
	started chan struct{}
	once    sync.Once
}

func (r *startedRecorder) Flush() {
	r.ResponseRecorder.Flush()
	r.once.Do(func() { close(r.started) })
}

// methodNotAllowedCases asks every documented operation's path for a
// method it does not document, expecting the 405 each operation documents,
// with Allow naming exactly the documented methods (and HEAD with GET).
func methodNotAllowedCases(c schemaChecker, h http.Handler, taskID string) []responseCase {
	var cases []responseCase
	ops := documentedOperations(c)
	for _, op := range ops {
		_, path, _ := strings.Cut(op, " ")
		target := concretePath(path, "u", taskID)
		allowed := allowedMethods(ops, target)
		for _, method := range []string{"DELETE", "PUT", "POST", "PATCH", "GET"} {
			if !slices.Contains(allowed, method) {
				cases = append(cases, responseCase{op: op, server: h, method: method, target: target, status: 405})
				break
			}
		}
	}
	return cases
}

// allowedMethods returns the methods documented for every path template
// that target matches (as the router matches it: a {parameter} takes any
// one segment), HEAD coming with GET, sorted: what a 405's Allow names.
// /api/u/tasks/changes is a task path too, for PUT and DELETE.
func allowedMethods(ops []string, target string) []string {
	var methods []string
	for _, op := range ops {
		method, path, _ := strings.Cut(op, " ")
		if !templateMatches(path, target) || slices.Contains(methods, method) {
			continue
		}
		methods = append(methods, method)
		if method == "GET" {
			methods = append(methods, "HEAD")
		}
	}
	slices.Sort(methods)
	return methods
}

// templateMatches reports whether a documented path template matches a
// concrete path, segment by segment.
func templateMatches(template, path string) bool {
	ts, ps := strings.Split(template, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return false
	}
	for i := range ts {
		if ts[i] != ps[i] && !strings.HasPrefix(ts[i], "{") {
			return false
		}
	}
	return true
}

// TestAllowHeaderListsDocumentedMethods: a 405's Allow header names the
// methods openapi.json documents for the paths the request's path matches,
// HEAD coming with GET.
func TestAllowHeaderListsDocumentedMethods(t *testing.T) {
	t.Parallel()
	c := newSchemaChecker(t)
	h := newTestServer(t)
	ops := documentedOperations(c)
	for _, op := range ops {
		_, path, _ := strings.Cut(op, " ")
		want := allowedMethods(ops, concretePath(path, "u", missingID))
		rec := serve(t, h, "TRACE", concretePath(path, "u", missingID), "")
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("TRACE %s: status %d, want 405", path, rec.Code)
			continue
		}
		if got := rec.Header().Get("Allow"); got != strings.Join(want, ", ") {
			t.Errorf("%s: Allow = %q, openapi.json documents %q", path, got, strings.Join(want, ", "))
		}
	}
}

// ---------------------------------------------------------------------------
// Requests

// TestRequestSchemasAgreeWithHandlers: a body fits the documented request
// schema exactly when the handler accepts it (anything but a 422), so the
// document's limits, patterns and types are the code's. (What JSON Schema
// cannot say, such as a lone surrogate escape, is in the descriptions.)
func TestRequestSchemasAgreeWithHandlers(t *testing.T) {
	t.Parallel()
	c := newSchemaChecker(t)
	long := strings.Repeat
	bodies := []string{
		`{"title": "t"}`, `{"title": "t", "description": null}`, `{"title": "t", "description": ""}`,
		`{"title": "t", "colour": "red", "id": 5}`, `{}`, `null`, `[]`, `"t"`, `5`,
		`{"title": null}`, `{"title": 5}`, `{"title": ["t"]}`, `{"title": ""}`, `{"title": " "}`,
		`{"title": "\t\n\u000b\f\r \u0085\u00a0"}`, `{"title": "\u3000\u2028\u2029\u202f\u205f\u1680\u2000\u200a"}`,
		`{"title": "\u200b"}`, `{"title": "\ufeff"}`, `{"title": "\u180e"}`, `{"title": " x "}`, `{"title": "\u0001"}`,
		`{"title": "a\u0000"}`, `{"title": "\u0000"}`, `{"title": "` + long("😀", 500) + `"}`, `{"title": "` + long("😀", 501) + `"}`,
		`{"title": "` + long("a", 500) + `"}`, `{"title": "` + long("e\u0301", 251) + `"}`,
		`{"title": "t", "description": "` + long("漢", 5000) + `"}`, `{"title": "t", "description": "` + long("漢", 5001) + `"}`,
		`{"title": "t", "description": "a\u0000"}`, `{"title": "t", "description": 5}`, `{"title": "t", "description": false}`,
		`{"is_completed": true}`, `{"is_completed": false}`, `{"is_completed": 0}`, `{"is_completed": 1}`, `{"is_completed": 1.0}`,
		`{"is_completed": -0}`, `{"is_completed": 2}`, `{"is_completed": 0.5}`, `{"is_completed": null}`, `{"is_completed": [true]}`,
		`{"is_completed": "yes"}`, `{"is_completed": "OFF"}`, `{"is_completed": "T"}`, `{"is_completed": "maybe"}`,
		`{"is_completed": "1.0"}`, `{"is_completed": ""}`, `{"is_completed": " true"}`,
		`{"description": null, "is_completed": "n"}`, `{"title": "t", "is_completed": "maybe"}`,
	}
	for _, op := range []struct{ name, method string }{{"POST /api/{user_id}/tasks", "POST"}, {"PUT /api/{user_id}/tasks/{task_id}", "PUT"}} {
		schema := c.requestSchema(t, op.name)
		h := newTestServer(t)
		target := "/api/u/tasks"
		if op.method == "PUT" {
			target += "/" + createTask(t, h, "u", `{"title": "t"}`).ID
		}
		for _, body := range bodies {
			rec := serve(t, h, op.method, target, body)
			accepted := rec.Code != http.StatusUnprocessableEntity
			var v any
			if err := json.Unmarshal([]byte(body), &v); err != nil {
				t.Fatalf("%s: %v", body, err)
			}
			errs := c.validate(schema, v)
			if accepted != (len(errs) == 0) {
				t.Errorf("%s %s: handler answered %d, schema errors %q", op.method, brief(body), rec.Code, errs)
			}
		}
	}
}

// TestPathSchemasAgreeWithHandlers: a path value fits the documented
// parameter schema exactly when the handler accepts it.
func TestPathSchemasAgreeWithHandlers(t *testing.T) {
	t.Parallel()
	c := newSchemaChecker(t)
	h := newTestServer(t)
	const path = "/api/{user_id}/tasks/{task_id}"
	userSchema := c.pathParameter(t, path, "user_id")["schema"]
	taskSchema := c.pathParameter(t, path, "task_id")["schema"]
	// format names the form clients should send (the canonical one); as
	// JSON Schema 2020-12 has it, it is an annotation, and the pattern says
	// every form the handler accepts.
	taskAccepts := maps.Clone(taskSchema.(map[string]any))
	delete(taskAccepts, "format")
	if errs := c.validate(taskSchema, missingID); len(errs) > 0 {
		t.Errorf("the canonical task_id %q does not fit the documented schema: %q", missingID, errs)
	}
	upper := strings.ToUpper(missingID)
	bare := strings.ReplaceAll(missingID, "-", "")
	for _, tc := range []struct{ userID, taskID string }{
		{"u", missingID}, {"user-123", upper}, {"a b/c?d#e%f", bare}, {strings.Repeat("u", 255), "{" + missingID + "}"},
		{strings.Repeat("漢", 255), "urn:uuid:" + missingID}, {"😀", "URN:UUID:" + upper}, {"\u00a0", "{" + bare + "}"},
		{strings.Repeat("u", 256), "urn:uuid:{" + missingID + "}"}, {"a\x00", missingID[:35]}, {"a\x01", missingID + "0"},
		{"a\x7f", "0192f1c47-a1e-7c3e-9d5a-3b2f1e0c9a11"}, {"a\u0085", "0192f1c4-7a1e-7c3e-9d5a-3b2f1e0c9a1g"},
		{"a\u009f", "{" + missingID}, {"\u00a0\u2028", missingID[:9] + bare[8:]}, {"\t", " " + missingID},
	} {
		target := "/api/" + url.PathEscape(tc.userID) + "/tasks/" + url.PathEscape(tc.taskID)
		var items []testItem
		rec := serve(t, h, "GET", target, "")
		if rec.Code == http.StatusUnprocessableEntity {
			items = decodeAs[struct{ Detail []testItem }](t, rec, http.StatusUnprocessableEntity).Detail
		} else if rec.Code != http.StatusNotFound {
			t.Fatalf("GET %s: %d %s", target, rec.Code, rec.Body)
		}
		refused := func(field string) bool {
			return slices.ContainsFunc(items, func(it testItem) bool { return it.where() == "path."+field })
		}
		if errs := c.validate(userSchema, tc.userID); refused("user_id") != (len(errs) > 0) {
			t.Errorf("user_id %q: handler refused it: %v; schema errors %q", tc.userID, refused("user_id"), errs)
		}
		if errs := c.validate(taskAccepts, tc.taskID); refused("task_id") != (len(errs) > 0) {
			t.Errorf("task_id %q: handler refused it: %v; schema errors %q", tc.taskID, refused("task_id"), errs)
		}
	}
}

// TestQuerySchemasAgreeWithHandlers: a list query parameter's value fits
// its documented schema exactly when the handler accepts it.
func TestQuerySchemasAgreeWithHandlers(t *testing.T) {
	t.Parallel()
	checkQuerySchemasAgree(t, newSchemaChecker(t))
}

// checkQuerySchemasAgree sends each value of each query parameter of the
// list and compares the handler's verdict (a 422 item at ["query", name]
// or not) with the documented schema's.
func checkQuerySchemasAgree(t testing.TB, c schemaChecker) {
	t.Helper()
	const list = "GET /api/{user_id}/tasks"
	h := newTestServer(t)
	cursor := encodeCursor(listCursor{CreatedAt: time.Date(2026, 11, 25, 20, 28, 51, 123456000, time.UTC), ID: missingID})
	values := map[string][]string{
		"limit": {"1", "2", "999", "1000", "0", "-0", "-1", "1001", "+5", "007", "0001000", " 7 ", "\t8\n", "\u30009\u3000",
			"5.0", "1e2", "0x10", "1_000", "ten", "", "5 5", "99999999999999999999", "\u0661"},
		"completed": {"true", "false", "TRUE", "Off", "yes", "n", "1", "0", "t", "F", "on",
			"maybe", "", "2", "yes ", " true", "truth", "ja", "-1"},
		"after": {cursor, strings.Repeat("A", 32), strings.Repeat("_", 32), strings.Repeat("-", 32), cursor[:31], cursor + "A",
			strings.Repeat("A", 31) + "+", strings.Repeat("A", 31) + "/", strings.Repeat("A", 30) + "==", "not-a-cursor", ""},
	}
	for name, raws := range values {
		schema := c.parameterSchema(t, list, "query", name)
		for _, raw := range raws {
			target := "/api/u/tasks?" + name + "=" + url.QueryEscape(raw)
			rec := serve(t, h, "GET", target, "")
			refused := refusedAt(t, rec, "query."+name)
			errs := c.validate(schema, queryArgument(schema, raw))
			// A boolean is documented as what to send (true or false); the
			// service also reads pydantic's other lax spellings
			// (TestLaxBooleanSchemaAgreesWithCode holds those to laxBool).
			if schema["type"] == "boolean" && !refused && len(errs) > 0 {
				_, lax := laxBoolString(raw)
				if lax {
					continue
				}
			}
			if refused != (len(errs) > 0) {
				t.Errorf("%s=%q: handler refused it: %v (%d); schema errors %q", name, raw, refused, rec.Code, errs)
			}
		}
	}
}

// decimalInteger is how the limit parameter's description says a number
// is written (after white space around it is dropped).
var decimalInteger = regexp.MustCompile(`^[+-]?[0-9]+$`)

// queryArgument is a query value as its parameter's schema sees it. On the
// wire every value is a string; for an integer schema, a string that spells
// a whole number the way the parameter's description says (digits, an
// optional sign, white space around) is that number, and anything else
// stays a string, which the integer schema refuses. (prism coerces more
// liberally: it lets "5.0" through, and the service's 422 for it is a
// documented answer; the description says in words that it is refused.)
func queryArgument(schema map[string]any, raw string) any {
	if schema["type"] == "boolean" {
		if b, err := strconv.ParseBool(raw); err == nil && (raw == "true" || raw == "false") {
			return b
		}
		return raw
	}
	if schema["type"] != "integer" {
		return raw
	}
	trimmed := strings.TrimSpace(raw)
	if !decimalInteger.MatchString(trimmed) {
		return raw
	}
	n, err := strconv.ParseFloat(trimmed, 64)
	if err != nil {
		return raw
	}
	return n
}

// refusedAt reports whether rec is a 422 with an item at where, such as
// "query.limit". An answer other than 200, 201, 304, 412 or 422 fails the
// test: the request was neither accepted nor refused for its input.
func refusedAt(t testing.TB, rec *httptest.ResponseRecorder, where string) bool {
	t.Helper()
	switch rec.Code {
	case http.StatusOK, http.StatusCreated, http.StatusNotModified, http.StatusPreconditionFailed:
		return false
	case http.StatusUnprocessableEntity:
	default:
		t.Errorf("unexpected answer %d %s", rec.Code, brief(rec.Body.String()))
		return false
	}
	var got struct{ Detail []testItem }
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Errorf("422 body: %v", err)
	}
	return slices.ContainsFunc(got.Detail, func(it testItem) bool { return it.where() == where })
}

// TestHeaderSchemasAgreeWithHandlers: the request headers the document
// describes are refused exactly when their schemas say so, and the
// X-Request-ID response header's schema is exactly what the service
// echoes.
func TestHeaderSchemasAgreeWithHandlers(t *testing.T) {
	t.Parallel()
	checkHeaderSchemasAgree(t, newSchemaChecker(t))
}

func checkHeaderSchemasAgree(t testing.TB, c schemaChecker) {
	t.Helper()
	h := newTestServer(t)
	const (
		create = "POST /api/{user_id}/tasks"
		update = "PUT /api/{user_id}/tasks/{task_id}"
		get    = "GET /api/{user_id}/tasks/{task_id}"
	)
	created := serve(t, h, "POST", "/api/u/tasks", `{"title": "t"}`)
	one := created.Header().Get("Location")

	keySchema := c.parameterSchema(t, create, "header", "idempotency-key")
	keys := []string{"a", "6f1c2b0e-3d4a-4f5b-9c8d-7e6f5a4b3c2d", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", strings.Repeat("k", 255),
		strings.Repeat("k", 256), "", "two words", "tab\there", "\x7f", "ключ", "é", "a\x00"}
	for i, key := range keys {
		rec := serve(t, h, "POST", "/api/u/tasks", fmt.Sprintf(`{"title": "t%d"}`, i), "Idempotency-Key", key)
		refused := refusedAt(t, rec, "header.idempotency-key")
		if errs := c.validate(keySchema, key); refused != (len(errs) > 0) {
			t.Errorf("Idempotency-Key %q: handler refused it: %v; schema errors %q", key, refused, errs)
		}
	}

	// If-Match and If-None-Match: no value is refused; one that names no
	// version is a 412 or a 200, never a 422.
	for _, v := range []string{"*", `"x"`, `W/"x"`, "garbage", "", `"a",,"b"`, created.Header().Get("ETag")} {
		for _, p := range []struct{ op, method, name string }{{update, "PUT", "if-match"}, {get, "GET", "if-none-match"}} {
			rec := serve(t, h, p.method, one, `{}`, p.name, v)
			refused := refusedAt(t, rec, "header."+p.name)
			if errs := c.validate(c.parameterSchema(t, p.op, "header", p.name), v); refused || len(errs) > 0 {
				t.Errorf("%s %q: handler refused it: %v; schema errors %q", p.name, v, refused, errs)
			}
		}
	}

	// X-Request-ID: any value is taken (the parameter's schema is any
	// string), and echoed exactly when the response header's schema
	// accepts it; otherwise a fresh id, which the schema accepts, is sent.
	paramSchema := c.parameterSchema(t, "GET /healthz", "header", "x-request-id")
	idSchema := c.responseHeaders(t, "GET /healthz", "200")["X-Request-Id"]["schema"]
	ids := []string{strings.Repeat("a", 128), strings.Repeat("a", 129), "req-1", "a b", "é", "Xk3VQ2M7PA-12", "b64+/=@host:1_2.3"}
	for b := range 256 {
		ids = append(ids, string(rune(b)), string([]byte{'x', byte(b)}))
	}
	for _, id := range ids {
		got := serve(t, h, "GET", "/healthz", "", "X-Request-ID", id).Header().Get("X-Request-ID")
		echoed := got == id
		if errs := c.validate(idSchema, id); echoed != (len(errs) == 0) {
			t.Errorf("X-Request-ID %q: echoed %v; response schema errors %q", id, echoed, errs)
		}
		if errs := c.validate(idSchema, got); len(errs) > 0 {
			t.Errorf("X-Request-ID %q: answered %q, which the schema refuses: %q", id, got, errs)
		}
		if errs := c.validate(paramSchema, id); len(errs) > 0 {
			t.Errorf("X-Request-ID %q: taken, but the parameter's schema refuses it: %q", id, errs)
		}
	}
}

// TestPatternsAgreeWithGoOnEveryCodePoint: the document's patterns say in
// ECMA-262/RE2 what the code says with Go's unicode package, for every
// code point: a title's white space is unicode.IsSpace, a user_id's
// forbidden characters are unicode.IsControl, and NUL is refused in text.
func TestPatternsAgreeWithGoOnEveryCodePoint(t *testing.T) {
	t.Parallel()
	c := newSchemaChecker(t)
	pattern := func(schema string) *regexp.Regexp {
		re, err := compilePattern(c.componentSchema(t, schema)["pattern"])
		if err != nil {
			t.Fatal(err)
		}
		return re
	}
	title, userID, description := pattern("Title"), pattern("UserId"), pattern("Description")
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue // surrogates: not text, refused before any pattern
		}
		s := string(r)
		if got, want := title.MatchString(s), !unicode.IsSpace(r) && r != 0; got != want {
			t.Errorf("title %U: pattern matches %v, code accepts %v", r, got, want)
		}
		if got, want := userID.MatchString(s), !unicode.IsControl(r); got != want {
			t.Errorf("user_id %U: pattern matches %v, code accepts %v", r, got, want)
		}
		if got, want := description.MatchString(s), r != 0; got != want {
			t.Errorf("description %U: pattern matches %v, code accepts %v", r, got, want)
		}
	}
}

// TestLaxBooleanSchemaAgreesWithCode: the is_completed schema accepts
// exactly the strings laxBool does, in every mix of upper and lower case.
// The completed query parameter is documented as a boolean, what a client
// should send; every value its schema takes, the code takes, and its
// description names every spelling the code takes besides.
func TestLaxBooleanSchemaAgreesWithCode(t *testing.T) {
	t.Parallel()
	c := newSchemaChecker(t)
	body := c.componentSchema(t, "TaskUpdate")["properties"].(map[string]any)["is_completed"]
	query := c.parameterSchema(t, "GET /api/{user_id}/tasks", "query", "completed")
	description := c.parameter(t, "GET /api/{user_id}/tasks", "query", "completed")["description"].(string)
	words := []string{"0", "1", "t", "f", "y", "n", "on", "no", "off", "yes", "true", "false",
		"2", "tru", "yess", "of", "nope", "onn", "", " ", "truth", "ye", "fals", "o"}
	for _, w := range words {
		for mask := 0; mask < 1<<len(w); mask++ {
			b := []byte(w)
			for i := range b {
				if mask&(1<<i) != 0 {
					b[i] = byte(unicode.ToUpper(rune(b[i])))
				}
			}
			raw, _ := json.Marshal(string(b))
			_, codeOK := laxBool(raw)
			if errs := c.validate(body, string(b)); codeOK != (len(errs) == 0) {
				t.Errorf("%s: laxBool accepts %v, body schema errors %q", raw, codeOK, errs)
			}
			_, codeOK = laxBoolString(string(b))
			if errs := c.validate(query, queryArgument(query, string(b))); len(errs) == 0 && !codeOK {
				t.Errorf("?completed=%s: the query schema takes it, laxBoolString refuses it", b)
			}
			if codeOK && !strings.Contains(description, " "+strings.ToLower(string(b))) {
				t.Errorf("?completed=%s: the code takes it, the description does not say so", b)
			}
		}
	}
}
