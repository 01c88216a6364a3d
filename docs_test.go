package main

// The /docs page against openapi.json: every route shown with its
// parameters, body fields, responses and a curl example that works, and
// nothing fetched from elsewhere.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// externalResource matches anything in a page that would make a browser
// fetch from another host: an element's src or href to http(s) or
// protocol-relative URLs (the page's own links are relative), CSS @import
// or url(), and any script.
var externalResource = regexp.MustCompile(`(?i)(\b(src|href|action|srcset)\s*=\s*["']?\s*(https?:)?//)|@import|url\(|<script`)

// TestDocsPage: /docs is an HTML page, forbidden by its CSP to fetch
// anything, that loads nothing from elsewhere and shows every registered
// route with its parameters, body fields, responses and a curl example.
func TestDocsPage(t *testing.T) {
	t.Parallel()
	c := newSchemaChecker(t)
	rec := serve(t, newTestServer(t), "GET", "/docs", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy = %q, want default-src 'none'", csp)
	}
	page := rec.Body.String()
	if m := externalResource.FindString(page); m != "" {
		t.Errorf("the page would fetch something: %q", m)
	}
	// The introduction shows the security scheme the operations link to.
	if !strings.Contains(page, `<section class="endpoint" id="security-bearerAuth">`+"\n<h3>bearerAuth</h3>\n"+
		"<p><code>Authorization: Bearer &lt;token&gt;</code> (HTTP bearer, JWT)</p>\n<p>A JSON Web Token in Authorization: Bearer &lt;token&gt;. Required on every /api/ operation") {
		t.Error("the page does not show the bearerAuth scheme in its introduction")
	}
	for _, route := range registeredRoutes(t) {
		method, path, _ := strings.Cut(route, " ")
		section := docsSection(t, page, method, path)
		if section == "" {
			continue
		}
		op := c.operation(t, route)
		if !strings.Contains(section, "curl -i") {
			t.Errorf("%s: no curl example", route)
		}
		wantAuth := "<h4>Authentication</h4>\n<p class=\"auth\">None: open to every caller.</p>"
		if op["security"] != nil {
			wantAuth = "<h4>Authentication</h4>\n<p class=\"auth\">Authorization: Bearer token, when the service requires it. " +
				`See <a href="#security-bearerAuth">bearerAuth</a>.</p>`
		}
		if !strings.Contains(section, wantAuth) {
			t.Errorf("%s: the page does not show its security requirement %s as %q", route, brief(op["security"]), wantAuth)
		}
		for _, name := range regexp.MustCompile(`\{(\w+)\}`).FindAllStringSubmatch(path, -1) {
			if !strings.Contains(section, `<td class="name">`+name[1]+`</td>`) {
				t.Errorf("%s: parameter %s not shown", route, name[1])
			}
		}
		if op["requestBody"] != nil {
			props := c.followRef(t, c.requestSchema(t, route))["properties"].(map[string]any)
			for field := range props {
				if !strings.Contains(section, `<td class="name">`+field+`</td>`) {
					t.Errorf("%s: body field %s not shown", route, field)
				}
			}
		}
		for _, p := range c.parameters(t, route) {
			if !strings.Contains(section, fmt.Sprintf(`<td class="name">%s</td><td>%s`, p["name"], p["in"])) {
				t.Errorf("%s: %s parameter %s not shown", route, p["in"], p["name"])
			}
			schema, _ := p["schema"].(map[string]any)
			if lo, hi := schema["minimum"], schema["maximum"]; lo != nil && hi != nil && !strings.Contains(section, fmt.Sprintf("from %v to %v", lo, hi)) {
				t.Errorf("%s: the range of parameter %s is not shown", route, p["name"])
			}
		}
		for status, resp := range op["responses"].(map[string]any) {
			block := responseBlock(section, status)
			if block == "" {
				t.Errorf("%s: response %s not shown", route, status)
				continue
			}
			headers, _ := c.followRef(t, resp)["headers"].(map[string]any)
			for name := range headers {
				if !strings.Contains(block, `<td class="name">`+name+`</td>`) {
					t.Errorf("%s: header %s of response %s not shown", route, name, status)
				}
			}
		}
	}
}

// responseBlock returns the part of an endpoint's section that shows the
// response with status, or "".
func responseBlock(section, status string) string {
	for _, block := range strings.Split(section, `<div class="response">`)[1:] {
		if strings.Contains(block, `">`+status+`</span>`) {
			return block
		}
	}
	return ""
}

// docsSection returns the page's section for one endpoint, from its
// heading to the next section.
func docsSection(t testing.TB, page, method, path string) string {
	t.Helper()
	head := `<span class="method ` + strings.ToLower(method) + `">` + method + `</span><span class="path">` + path + `</span>`
	i := strings.Index(page, head)
	if i < 0 {
		t.Errorf("the page does not show %s %s", method, path)
		return ""
	}
	section := page[i:]
	if end := strings.Index(section, "</section>"); end >= 0 {
		section = section[:end]
	}
	return section
}

// TestDocsCurlExamplesWork: each endpoint's curl example, sent to the
// service, gets the endpoint's success status (given a task with the
// example's id), so the examples are not just text.
func TestDocsCurlExamplesWork(t *testing.T) {
	t.Parallel()
	var d apiDoc
	if err := json.Unmarshal(openapiJSON, &d); err != nil {
		t.Fatal(err)
	}
	page, err := newDocsPage(&d)
	if err != nil {
		t.Fatal(err)
	}
	curl := regexp.MustCompile(`^curl -i(?: -X (\w+))? '` + regexp.QuoteMeta(docsBaseURL) + `([^']*)'(?: \\\n  -H 'Content-Type: application/json' -d '([^']*)')?$`)
	seen := 0
	for _, g := range page.Groups {
		for _, ep := range g.Endpoints {
			m := curl.FindStringSubmatch(ep.Curl)
			if m == nil {
				t.Errorf("%s %s: curl example %q is not of the expected form", ep.Method, ep.Path, ep.Curl)
				continue
			}
			method := cmpOr(m[1], "GET")
			if method != ep.Method {
				t.Errorf("%s %s: curl example uses %s", ep.Method, ep.Path, method)
			}
			h, id := newTestServer(t), ""
			if strings.Contains(ep.Path, "{task_id}") {
				// The example's task: created, then given the example's id.
				id = regexp.MustCompile(`[0-9a-f-]{36}`).FindString(m[2])
			}
			rec := serveExample(t, h, method, m[2], m[3], id)
			if rec.Code >= 300 {
				t.Errorf("%s: %d %s", ep.Curl, rec.Code, rec.Body)
			}
			seen++
		}
	}
	if seen != len(registeredRoutes(t)) {
		t.Errorf("%d curl examples, want one per route (%d)", seen, len(registeredRoutes(t)))
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// serveExample sends one example request; when taskID is set, the task it
// names exists first (for the example's user, created through a store
// that accepts a chosen id).
func serveExample(t *testing.T, h http.Handler, method, target, body, taskID string) *httptest.ResponseRecorder {
	t.Helper()
	if taskID != "" {
		userID, _, _ := strings.Cut(strings.TrimPrefix(target, "/api/"), "/")
		store := newMemStore(defaultMaxTasks)
		task, _, err := store.CreateTask(t.Context(), mustUnescape(t, userID), newTask{Title: "example"}, idempotencyKey{})
		if err != nil {
			t.Fatal(err)
		}
		target = strings.Replace(target, taskID, task.ID, 1)
		h = newServer(discardLogger(), store, testCORS, nil, nil)
	}
	return serve(t, h, method, target, body)
}

func mustUnescape(t testing.TB, s string) string {
	t.Helper()
	u, err := url.PathUnescape(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestRenderDocsRefusesBrokenDocuments: a document the page cannot show
// fully is an error, not a page with holes.
func TestRenderDocsRefusesBrokenDocuments(t *testing.T) {
	t.Parallel()
	for name, doc := range map[string]string{
		"not JSON":                `{`,
		"dangling $ref":           `{"tags": [{"name": "x"}], "paths": {"/a": {"get": {"tags": ["x"], "responses": {"200": {"$ref": "#/components/responses/Nope"}}}}}}`,
		"foreign $ref":            `{"tags": [{"name": "x"}], "paths": {"/a": {"get": {"tags": ["x"], "responses": {"200": {"description": "d", "content": {"application/json": {"schema": {"$ref": "other.json#/X"}}}}}}}}}`,
		"two media types":         `{"tags": [{"name": "x"}], "paths": {"/a": {"get": {"tags": ["x"], "responses": {"200": {"description": "d", "content": {"a/b": {"schema": {}}, "c/d": {"schema": {}}}}}}}}}`,
		"type not a string":       `{"components": {"schemas": {"X": {"type": 5}}}}`,
		"dangling header $ref":    `{"tags": [{"name": "x"}], "paths": {"/a": {"get": {"tags": ["x"], "responses": {"200": {"description": "d", "headers": {"H": {"$ref": "#/components/headers/Nope"}}}}}}}}`,
		"unknown security scheme": `{"tags": [{"name": "x"}], "paths": {"/a": {"get": {"tags": ["x"], "security": [{"nope": []}], "responses": {}}}}}`,
		"API key security scheme": `{"components": {"securitySchemes": {"k": {"type": "apiKey", "name": "k", "in": "header"}}}}`,
		"two schemes together":    `{"tags": [{"name": "x"}], "paths": {"/a": {"get": {"tags": ["x"], "security": [{"a": [], "b": []}], "responses": {}}}}, "components": {"securitySchemes": {"a": {"type": "http", "scheme": "bearer"}, "b": {"type": "http", "scheme": "bearer"}}}}`,
		"header $ref to a schema": `{"tags": [{"name": "x"}], "paths": {"/a": {"get": {"tags": ["x"], "responses": {"200": {"description": "d", "headers": {"H": {"$ref": "#/components/schemas/X"}}}}}}}, "components": {"schemas": {"X": {"type": "string"}}}}`,
	} {
		if _, err := renderDocs([]byte(doc)); err == nil {
			t.Errorf("%s: rendered without error", name)
		}
	}
}
