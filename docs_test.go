package main

// openapi.json against the code: the routes on the mux against the
// document's paths and methods, real handler responses against the
// document's response schemas and headers, the request schemas against
// what the handlers accept, and the /docs page against the document. The
// schemas are checked by a small JSON Schema checker, tested here too.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unicode"
	"unicode/utf8"
)

// ---------------------------------------------------------------------------
// A JSON Schema checker for the subset openapi.json uses

// schemaChecker validates JSON values (as encoding/json decodes them into
// any) against the JSON Schema 2020-12 keywords openapi.json uses, resolving
// "#/..." references in the document. A keyword it does not know is an
// error, not a pass: the document cannot use a constraint the tests would
// silently skip.
type schemaChecker struct {
	doc map[string]any
}

// checkedKeywords are the keywords the checker enforces, plus description,
// which asserts nothing.
var checkedKeywords = map[string]bool{
	"$ref": true, "type": true, "properties": true, "required": true, "additionalProperties": true,
	"items": true, "enum": true, "const": true, "minLength": true, "maxLength": true, "minItems": true,
	"pattern": true, "format": true, "anyOf": true, "description": true,
}

// checkedFormats are the formats the checker enforces.
var checkedFormats = map[string]*regexp.Regexp{
	"uuid":      regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`),
	"date-time": nil, // checked with time.Parse
}

func newSchemaChecker(t testing.TB) schemaChecker {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(openapiJSON, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	return schemaChecker{doc: doc}
}

// validate returns every way v fails schema, each prefixed with where in
// v; none when v is valid.
func (c schemaChecker) validate(schema, v any) []string {
	var errs []string
	c.check(schema, v, "$", &errs)
	return errs
}

func (c schemaChecker) check(schema, v any, at string, errs *[]string) {
	fail := func(format string, args ...any) {
		*errs = append(*errs, at+": "+fmt.Sprintf(format, args...))
	}
	s, ok := schema.(map[string]any)
	if !ok {
		fail("schema is %T, not an object", schema)
		return
	}
	for key := range s {
		if !checkedKeywords[key] {
			fail("schema keyword %q is not supported by the checker", key)
		}
	}
	if ref, ok := s["$ref"]; ok {
		target, err := c.resolve(ref)
		if err != nil {
			fail("%v", err)
			return
		}
		c.check(target, v, at, errs) // and the sibling keywords below
	}
	if types, ok := s["type"]; ok && !hasType(types, v) {
		fail("%s is not of type %v", brief(v), types)
	}
	if want, ok := s["const"]; ok && !reflect.DeepEqual(v, want) {
		fail("%s is not %s", brief(v), brief(want))
	}
	if enum, ok := s["enum"]; ok {
		list, _ := enum.([]any)
		if !slices.ContainsFunc(list, func(x any) bool { return reflect.DeepEqual(v, x) }) {
			fail("%s is not one of %s", brief(v), brief(enum))
		}
	}
	if alts, ok := s["anyOf"]; ok {
		c.checkAnyOf(alts, v, at, errs)
	}
	switch v := v.(type) {
	case string:
		c.checkString(s, v, fail)
	case []any:
		if n, ok := s["minItems"]; ok && float64(len(v)) < asNumber(n) {
			fail("%d items, fewer than %v", len(v), n)
		}
		if items, ok := s["items"]; ok {
			for i, item := range v {
				c.check(items, item, fmt.Sprintf("%s[%d]", at, i), errs)
			}
		}
	case map[string]any:
		c.checkObject(s, v, at, errs)
	}
}

func (c schemaChecker) checkAnyOf(alts, v any, at string, errs *[]string) {
	list, ok := alts.([]any)
	if !ok || len(list) == 0 {
		*errs = append(*errs, at+": anyOf must be a non-empty list")
		return
	}
	var why []string
	for _, alt := range list {
		altErrs := c.validate(alt, v)
		if len(altErrs) == 0 {
			return
		}
		why = append(why, altErrs...)
	}
	*errs = append(*errs, fmt.Sprintf("%s: %s matches no anyOf alternative (%s)", at, brief(v), strings.Join(why, "; ")))
}

func (c schemaChecker) checkString(s map[string]any, v string, fail func(string, ...any)) {
	n := float64(utf8.RuneCountInString(v)) // JSON Schema counts code points
	if m, ok := s["minLength"]; ok && n < asNumber(m) {
		fail("%d characters, fewer than %v", int(n), m)
	}
	if m, ok := s["maxLength"]; ok && n > asNumber(m) {
		fail("%d characters, more than %v", int(n), m)
	}
	if p, ok := s["pattern"]; ok {
		re, err := compilePattern(p)
		if err != nil {
			fail("%v", err)
		} else if !re.MatchString(v) {
			fail("%s does not match %s", brief(v), p)
		}
	}
	if f, ok := s["format"]; ok {
		switch f {
		case "date-time":
			if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
				fail("%s is not a date-time: %v", brief(v), err)
			}
		case "uuid":
			if !checkedFormats["uuid"].MatchString(v) {
				fail("%s is not a uuid", brief(v))
			}
		default:
			fail("format %v is not supported by the checker", f)
		}
	}
}

func (c schemaChecker) checkObject(s, v map[string]any, at string, errs *[]string) {
	required, _ := s["required"].([]any)
	for _, name := range required {
		if _, ok := v[name.(string)]; !ok {
			*errs = append(*errs, fmt.Sprintf("%s: required property %q is missing", at, name))
		}
	}
	props, _ := s["properties"].(map[string]any)
	for name, value := range v {
		if ps, ok := props[name]; ok {
			c.check(ps, value, at+"."+name, errs)
			continue
		}
		switch extra := s["additionalProperties"].(type) {
		case nil, bool:
			if extra == false {
				*errs = append(*errs, fmt.Sprintf("%s: property %q is not allowed", at, name))
			}
		default:
			c.check(extra, value, at+"."+name, errs)
		}
	}
}

// resolve follows a local reference such as "#/components/schemas/Task".
func (c schemaChecker) resolve(ref any) (any, error) {
	s, ok := ref.(string)
	if !ok || !strings.HasPrefix(s, "#/") {
		return nil, fmt.Errorf("$ref %v is not a local reference", ref)
	}
	var node any = c.doc
	for _, part := range strings.Split(s[2:], "/") {
		part = strings.NewReplacer("~1", "/", "~0", "~").Replace(part)
		m, ok := node.(map[string]any)
		if !ok || m[part] == nil {
			return nil, fmt.Errorf("$ref %s does not resolve", s)
		}
		node = m[part]
	}
	return node, nil
}

// hasType reports whether v is of the JSON type named by types, a name or a
// list of names.
func hasType(types, v any) bool {
	names, ok := types.([]any)
	if !ok {
		names = []any{types}
	}
	for _, name := range names {
		switch x := v.(type) {
		case nil:
			ok = name == "null"
		case bool:
			ok = name == "boolean"
		case string:
			ok = name == "string"
		case []any:
			ok = name == "array"
		case map[string]any:
			ok = name == "object"
		case float64:
			ok = name == "number" || name == "integer" && x == math.Trunc(x)
		}
		if ok {
			return true
		}
	}
	return false
}

// compilePattern compiles a schema pattern. JSON Schema patterns are
// ECMA-262 and Go's are RE2; the document keeps to their common ground, and
// the Node validators in .ci/run compile the same patterns as ECMA-262.
func compilePattern(p any) (*regexp.Regexp, error) {
	s, ok := p.(string)
	if !ok {
		return nil, fmt.Errorf("pattern %v is not a string", p)
	}
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, fmt.Errorf("pattern %q does not compile: %w", s, err)
	}
	return re, nil
}

func asNumber(x any) float64 {
	f, _ := x.(float64)
	return f
}

// brief renders a value for a message, cut short if long.
func brief(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 60 {
		return string(b[:57]) + "..."
	}
	return string(b)
}

// lint checks that a schema uses only checked keywords and formats, that
// its patterns compile and its references resolve, recursing into
// subschemas. (validate only meets the branches a value takes.)
func (c schemaChecker) lint(schema any, at string, errs *[]string) {
	s, ok := schema.(map[string]any)
	if !ok {
		*errs = append(*errs, fmt.Sprintf("%s: schema is %T, not an object", at, schema))
		return
	}
	for key, value := range s {
		switch {
		case !checkedKeywords[key]:
			*errs = append(*errs, fmt.Sprintf("%s: keyword %q is not supported by the checker", at, key))
		case key == "$ref":
			if _, err := c.resolve(value); err != nil {
				*errs = append(*errs, fmt.Sprintf("%s: %v", at, err))
			}
		case key == "pattern":
			if _, err := compilePattern(value); err != nil {
				*errs = append(*errs, fmt.Sprintf("%s: %v", at, err))
			}
		case key == "format":
			if _, ok := checkedFormats[fmt.Sprint(value)]; !ok {
				*errs = append(*errs, fmt.Sprintf("%s: format %v is not supported by the checker", at, value))
			}
		case key == "properties":
			props, _ := value.(map[string]any)
			for name, ps := range props {
				c.lint(ps, at+".properties."+name, errs)
			}
		case key == "items":
			c.lint(value, at+".items", errs)
		case key == "additionalProperties":
			if _, isBool := value.(bool); !isBool {
				c.lint(value, at+".additionalProperties", errs)
			}
		case key == "anyOf":
			alts, _ := value.([]any)
			for i, alt := range alts {
				c.lint(alt, fmt.Sprintf("%s.anyOf[%d]", at, i), errs)
			}
		}
	}
}

// ---------------------------------------------------------------------------
// Reading the document

// documentedOperations returns "METHOD /path" for every operation in the
// document.
func documentedOperations(c schemaChecker) []string {
	var ops []string
	paths, _ := c.doc["paths"].(map[string]any)
	for path, item := range paths {
		for key := range item.(map[string]any) {
			switch key {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
				ops = append(ops, strings.ToUpper(key)+" "+path)
			}
		}
	}
	slices.Sort(ops)
	return ops
}

// operation returns the operation object for "METHOD /path".
func (c schemaChecker) operation(t testing.TB, op string) map[string]any {
	t.Helper()
	method, path, _ := strings.Cut(op, " ")
	item, _ := c.doc["paths"].(map[string]any)[path].(map[string]any)
	o, ok := item[strings.ToLower(method)].(map[string]any)
	if !ok {
		t.Fatalf("openapi.json has no operation %s", op)
	}
	return o
}

// followRef returns node, or what its $ref points to.
func (c schemaChecker) followRef(t testing.TB, node any) map[string]any {
	t.Helper()
	m, _ := node.(map[string]any)
	if ref, ok := m["$ref"]; ok {
		target, err := c.resolve(ref)
		if err != nil {
			t.Fatal(err)
		}
		m, _ = target.(map[string]any)
	}
	return m
}

// pathParameter returns the parameter object named name on path.
func (c schemaChecker) pathParameter(t testing.TB, path, name string) map[string]any {
	t.Helper()
	item, _ := c.doc["paths"].(map[string]any)[path].(map[string]any)
	params, _ := item["parameters"].([]any)
	for _, p := range params {
		if param := c.followRef(t, p); param["name"] == name {
			return param
		}
	}
	t.Fatalf("openapi.json: %s has no parameter %s", path, name)
	return nil
}

// requestSchema returns the JSON request body schema of op.
func (c schemaChecker) requestSchema(t testing.TB, op string) any {
	t.Helper()
	body, _ := c.operation(t, op)["requestBody"].(map[string]any)
	media, _ := body["content"].(map[string]any)["application/json"].(map[string]any)
	if media["schema"] == nil {
		t.Fatalf("openapi.json: %s has no application/json request body", op)
	}
	return media["schema"]
}

// componentSchema returns components.schemas[name].
func (c schemaChecker) componentSchema(t testing.TB, name string) map[string]any {
	t.Helper()
	s, ok := c.doc["components"].(map[string]any)["schemas"].(map[string]any)[name].(map[string]any)
	if !ok {
		t.Fatalf("openapi.json has no schema %s", name)
	}
	return s
}

// checkResponse checks a recorded response against what op documents for
// its status: the status itself, required headers and their schemas, the
// media type and the body's schema.
func (c schemaChecker) checkResponse(t testing.TB, op string, rec *httptest.ResponseRecorder) {
	t.Helper()
	responses, _ := c.operation(t, op)["responses"].(map[string]any)
	documented, ok := responses[strconv.Itoa(rec.Code)]
	if !ok {
		t.Errorf("%s answered %d, which openapi.json does not document; body: %s", op, rec.Code, brief(rec.Body.String()))
		return
	}
	resp := c.followRef(t, documented)
	headers, _ := resp["headers"].(map[string]any)
	for name, h := range headers {
		h := h.(map[string]any)
		value := rec.Header().Get(name)
		if value == "" {
			if h["required"] == true {
				t.Errorf("%s %d: required header %s is missing", op, rec.Code, name)
			}
			continue
		}
		for _, e := range c.validate(h["schema"], value) {
			t.Errorf("%s %d: header %s: %s", op, rec.Code, name, e)
		}
	}
	content, _ := resp["content"].(map[string]any)
	if len(content) == 0 {
		if rec.Body.Len() > 0 {
			t.Errorf("%s %d: a body where openapi.json documents none", op, rec.Code)
		}
		return
	}
	mediaType, _, err := mime.ParseMediaType(rec.Header().Get("Content-Type"))
	if err != nil {
		t.Errorf("%s %d: Content-Type %q: %v", op, rec.Code, rec.Header().Get("Content-Type"), err)
		return
	}
	media, ok := content[mediaType].(map[string]any)
	if !ok {
		t.Errorf("%s %d: Content-Type %s is not documented", op, rec.Code, mediaType)
		return
	}
	var body any = rec.Body.String()
	if mediaType == "application/json" {
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Errorf("%s %d: body is not JSON: %v", op, rec.Code, err)
			return
		}
	}
	for _, e := range c.validate(media["schema"], body) {
		t.Errorf("%s %d: body %s", op, rec.Code, e)
	}
}

// concretePath fills a documented path's parameters with real values.
func concretePath(path, userID, taskID string) string {
	return strings.NewReplacer("{user_id}", userID, "{task_id}", taskID).Replace(path)
}

// ---------------------------------------------------------------------------
// Routes

// patternRecorder collects the patterns addRoutes registers.
type patternRecorder struct{ patterns []string }

func (p *patternRecorder) Handle(pattern string, _ http.Handler) {
	p.patterns = append(p.patterns, pattern)
}

// registeredRoutes returns the pattern of every route addRoutes registers.
func registeredRoutes(t testing.TB) []string {
	t.Helper()
	var rec patternRecorder
	addRoutes(&rec, discardLogger(), newMemStore())
	slices.Sort(rec.patterns)
	return rec.patterns
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
			t.Errorf("openapi.json documents %q, which addRoutes does not register", op)
		}
	}
	if len(routes) < 10 {
		t.Errorf("only %d routes registered: %q", len(routes), routes)
	}
}

// ---------------------------------------------------------------------------
// The checker itself

// TestSchemaCheckerRejectsWrongValues: the checker is what the response
// test relies on, so it must fail a response that differs from the
// document in any way the document constrains.
func TestSchemaCheckerRejectsWrongValues(t *testing.T) {
	t.Parallel()
	c := newSchemaChecker(t)
	h := newTestServer(t)
	created := serve(t, h, "POST", "/api/u/tasks", `{"title": "Buy groceries", "description": "Milk"}`)
	taskRead := map[string]any{"$ref": "#/components/schemas/TaskRead"}
	validation := map[string]any{"$ref": "#/components/schemas/HTTPValidationError"}
	item := `{"type": "missing", "loc": ["body", "title"], "msg": "Field required"}`
	// mutate returns the created task's JSON with one field replaced (or
	// removed, for a nil value).
	mutate := func(field string, value any) string {
		var task map[string]any
		json.Unmarshal(created.Body.Bytes(), &task)
		if value == nil {
			delete(task, field)
		} else {
			task[field] = value
		}
		b, _ := json.Marshal(task)
		return string(b)
	}
	tests := []struct {
		name   string
		schema any
		value  string
		valid  bool
	}{
		{"a real task", taskRead, created.Body.String(), true},
		{"description null", taskRead, mutate("description", json.RawMessage("null")), true},
		{"id missing", taskRead, mutate("id", nil), false},
		{"description missing", taskRead, mutate("description", nil), false},
		{"extra field", taskRead, mutate("colour", "red"), false},
		{"id upper case", taskRead, mutate("id", "0192F1C4-7A1E-7C3E-9D5A-3B2F1E0C9A11"), false},
		{"id not a UUID", taskRead, mutate("id", "42"), false},
		{"title empty", taskRead, mutate("title", ""), false},
		{"title 501 emoji", taskRead, mutate("title", strings.Repeat("😀", 501)), false},
		{"title 500 emoji", taskRead, mutate("title", strings.Repeat("😀", 500)), true},
		{"title only white space", taskRead, mutate("title", " \u3000"), false},
		{"title a number", taskRead, mutate("title", 5), false},
		{"is_completed a string", taskRead, mutate("is_completed", "false"), false},
		{"created_at without microseconds", taskRead, mutate("created_at", "2026-11-25T20:28:51Z"), false},
		{"created_at with an offset", taskRead, mutate("created_at", "2026-11-25T20:28:51.123456+01:00"), false},
		{"created_at not a date", taskRead, mutate("created_at", "2026-13-45T20:28:51.123456Z"), false},
		{"user_id with a control character", taskRead, mutate("user_id", "a\x01"), false},
		{"user_id 256", taskRead, mutate("user_id", strings.Repeat("u", 256)), false},
		{"an array of tasks", map[string]any{"type": "array", "items": taskRead}, "[" + created.Body.String() + "]", true},
		{"an array holding a wrong task", map[string]any{"type": "array", "items": taskRead}, "[" + mutate("id", nil) + "]", false},
		{"a 422", validation, `{"detail": [` + item + `]}`, true},
		{"a 422 with ctx and an offset", validation, `{"detail": [{"type": "json_invalid", "loc": ["body", 10], "msg": "JSON decode error", "ctx": {"error": "x"}}]}`, true},
		{"a 422 without items", validation, `{"detail": []}`, false},
		{"a 422 item without msg", validation, `{"detail": [{"type": "missing", "loc": ["body"]}]}`, false},
		{"a 422 item with input", validation, `{"detail": [{"type": "missing", "loc": ["body"], "msg": "m", "input": 1}]}`, false},
		{"a 422 item of unknown type", validation, `{"detail": [{"type": "int_parsing", "loc": ["body"], "msg": "m"}]}`, false},
		{"a 422 loc with a boolean", validation, `{"detail": [{"type": "missing", "loc": ["body", true], "msg": "m"}]}`, false},
		{"a 422 loc with a fraction", validation, `{"detail": [{"type": "missing", "loc": ["body", 1.5], "msg": "m"}]}`, false},
		{"a 422 with a string detail", validation, `{"detail": "Not Found"}`, false},
		{"the delete answer", map[string]any{"$ref": "#/components/schemas/DeleteResult"}, `{"message": "Task deleted successfully"}`, true},
		{"another message", map[string]any{"$ref": "#/components/schemas/DeleteResult"}, `{"message": "Task deleted"}`, false},
		{"a 404 of another route", c.followRef(t, map[string]any{"$ref": "#/components/responses/NotFound"})["content"].(map[string]any)["application/json"].(map[string]any)["schema"], `{"detail": "Task not found"}`, false},
		{"an update with a lax boolean", map[string]any{"$ref": "#/components/schemas/TaskUpdate"}, `{"is_completed": "Yes"}`, true},
		{"an update with 2", map[string]any{"$ref": "#/components/schemas/TaskUpdate"}, `{"is_completed": 2}`, false},
		{"an update with a null title", map[string]any{"$ref": "#/components/schemas/TaskUpdate"}, `{"title": null}`, false},
		{"an unknown keyword", map[string]any{"type": "integer", "minimum": 1}, `5`, false},
		{"an unknown format", map[string]any{"type": "string", "format": "email"}, `"a@b"`, false},
		{"a dangling $ref", map[string]any{"$ref": "#/components/schemas/Nope"}, `{}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v any
			if err := json.Unmarshal([]byte(tt.value), &v); err != nil {
				t.Fatal(err)
			}
			errs := c.validate(tt.schema, v)
			if tt.valid && len(errs) > 0 {
				t.Errorf("rejected a valid value: %q", errs)
			}
			if !tt.valid && len(errs) == 0 {
				t.Errorf("accepted %s", tt.value)
			}
		})
	}
}

// TestSchemaCheckerFailsAMutatedDocument: checkResponse, given a document
// that says something else than the code does, reports it.
func TestSchemaCheckerFailsAMutatedDocument(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	rec := serve(t, h, "POST", "/api/u/tasks", `{"title": "t"}`)
	mutations := map[string]func(doc map[string]any){
		"title at most 0 characters": func(doc map[string]any) {
			schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
			schemas["Title"].(map[string]any)["maxLength"] = 0.0
		},
		"no 201 documented": func(doc map[string]any) {
			op := doc["paths"].(map[string]any)["/api/{user_id}/tasks"].(map[string]any)["post"].(map[string]any)
			delete(op["responses"].(map[string]any), "201")
		},
		"a required header the code does not send": func(doc map[string]any) {
			op := doc["paths"].(map[string]any)["/api/{user_id}/tasks"].(map[string]any)["post"].(map[string]any)
			headers := op["responses"].(map[string]any)["201"].(map[string]any)["headers"].(map[string]any)
			headers["X-Never-Sent"] = map[string]any{"required": true, "schema": map[string]any{"type": "string"}}
		},
		"another media type": func(doc map[string]any) {
			op := doc["paths"].(map[string]any)["/api/{user_id}/tasks"].(map[string]any)["post"].(map[string]any)
			resp := op["responses"].(map[string]any)["201"].(map[string]any)
			resp["content"] = map[string]any{"application/xml": resp["content"].(map[string]any)["application/json"]}
		},
	}
	for name, mutate := range mutations {
		t.Run(name, func(t *testing.T) {
			c := newSchemaChecker(t)
			mutate(c.doc)
			if failures := collectFailures(func(tb testing.TB) { c.checkResponse(tb, "POST /api/{user_id}/tasks", rec) }); len(failures) == 0 {
				t.Error("the mutated document passed")
			}
		})
	}
	// And the real document passes the same response.
	if failures := collectFailures(func(tb testing.TB) {
		newSchemaChecker(t).checkResponse(tb, "POST /api/{user_id}/tasks", rec)
	}); len(failures) > 0 {
		t.Errorf("the real document failed: %q", failures)
	}
}

// failureRecorder is a testing.TB that records failures instead of
// failing, so a test can check that a check fails.
type failureRecorder struct {
	testing.TB
	failures []string
}

func (f *failureRecorder) Helper() {}
func (f *failureRecorder) Errorf(format string, args ...any) {
	f.failures = append(f.failures, fmt.Sprintf(format, args...))
}
func (f *failureRecorder) Fatalf(format string, args ...any) {
	f.failures = append(f.failures, fmt.Sprintf(format, args...))
	panic(errFatal)
}
func (f *failureRecorder) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }

var errFatal = errors.New("fatal")

// collectFailures runs check and returns what it reported.
func collectFailures(check func(testing.TB)) (failures []string) {
	f := &failureRecorder{}
	defer func() {
		if p := recover(); p != nil && p != errFatal {
			panic(p)
		}
		failures = f.failures
	}()
	check(f)
	return f.failures
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
	body     string
	cutShort bool // the body ends in a read error half-way
	status   int  // the status this case provokes
}

// TestResponsesMatchOpenAPI: real answers of every endpoint, for every
// status each one documents, agree with openapi.json: the status is
// documented for that operation, required headers are present and valid,
// the media type is documented and the body fits its schema. And every
// documented status of every operation is provoked here, so the document
// cannot promise an answer the code does not give.
func TestResponsesMatchOpenAPI(t *testing.T) {
	t.Parallel()
	c := newSchemaChecker(t)
	ok := newTestServer(t)
	down := newServer(discardLogger(), &stubStore{err: fmt.Errorf("list: %w", errStoreUnavailable)}, testCORS)
	broken := newServer(discardLogger(), &stubStore{err: errors.New("boom")}, testCORS)
	task := createTask(t, ok, "u", `{"title": "t", "description": "d"}`)
	doomed := createTask(t, ok, "u", `{"title": "to delete"}`)
	one := "/api/u/tasks/" + task.ID
	const (
		list   = "GET /api/{user_id}/tasks"
		create = "POST /api/{user_id}/tasks"
		get    = "GET /api/{user_id}/tasks/{task_id}"
		update = "PUT /api/{user_id}/tasks/{task_id}"
		del    = "DELETE /api/{user_id}/tasks/{task_id}"
		toggle = "PATCH /api/{user_id}/tasks/{task_id}/complete"
	)
	tooBig := `{"title": "t"}` + strings.Repeat(" ", maxBodyBytes)
	cases := []responseCase{
		{op: list, server: ok, target: "/api/u/tasks", status: 200},
		{op: list, server: ok, target: "/api/nobody/tasks", status: 200},
		{op: list, server: ok, target: "/api/./tasks", status: 404},
		{op: list, server: ok, target: "/api/" + strings.Repeat("u", 256) + "/tasks", status: 422},
		{op: list, server: ok, target: "/api/a%01/tasks", status: 422},
		{op: list, server: broken, target: "/api/u/tasks", status: 500},
		{op: list, server: down, target: "/api/u/tasks", status: 503},

		{op: create, server: ok, target: "/api/u/tasks", body: `{"title": "Buy groceries", "description": "Milk, eggs, bread"}`, status: 201},
		{op: create, server: ok, target: "/api/a%20b%2Fc/tasks", body: `{"title": "escaped user"}`, status: 201},
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
		{op: create, server: broken, target: "/api/u/tasks", body: `{"title": "t"}`, status: 500},
		{op: create, server: down, target: "/api/u/tasks", body: `{"title": "t"}`, status: 503},

		{op: get, server: ok, target: one, status: 200},
		{op: get, server: ok, target: "/api/u/tasks/" + strings.ToUpper(task.ID), status: 200},
		{op: get, server: ok, target: "/api/u/tasks/" + missingID, status: 404},
		{op: get, server: ok, target: "/api/../tasks/" + missingID, status: 404},
		{op: get, server: ok, target: "/api/u/tasks/not-a-uuid", status: 422},
		{op: get, server: broken, target: one, status: 500},
		{op: get, server: down, target: one, status: 503},

		{op: update, server: ok, target: one, body: `{"title": "new", "description": null, "is_completed": "yes"}`, status: 200},
		{op: update, server: ok, target: one, body: `{}`, status: 200},
		{op: update, server: ok, target: one, body: `{"title": "t`, cutShort: true, status: 400},
		{op: update, server: ok, target: "/api/other/tasks/" + task.ID, body: `{}`, status: 404},
		{op: update, server: ok, target: one, body: tooBig, status: 413},
		{op: update, server: ok, target: one, body: `{"title": "` + strings.Repeat("a", 501) + `", "is_completed": "maybe"}`, status: 422},
		{op: update, server: ok, target: "/api/" + strings.Repeat("u", 256) + "/tasks/nope", body: `{"title": null}`, status: 422},
		{op: update, server: broken, target: one, body: `{}`, status: 500},
		{op: update, server: down, target: one, body: `{}`, status: 503},

		{op: toggle, server: ok, target: one + "/complete", status: 200},
		{op: toggle, server: ok, target: "/api/u/tasks/" + missingID + "/complete", status: 404},
		{op: toggle, server: ok, target: one + "0/complete", status: 422},
		{op: toggle, server: broken, target: one + "/complete", status: 500},
		{op: toggle, server: down, target: one + "/complete", status: 503},

		{op: del, server: ok, target: "/api/u/tasks/" + doomed.ID, status: 200},
		{op: del, server: ok, target: "/api/u/tasks/" + doomed.ID, status: 404},
		{op: del, server: ok, target: "/api/u/tasks/urn:uuid:x", status: 422},
		{op: del, server: broken, target: one, status: 500},
		{op: del, server: down, target: one, status: 503},

		{op: "GET /healthz", server: down, target: "/healthz", status: 200},
		{op: "GET /readyz", server: ok, target: "/readyz", status: 200},
		{op: "GET /readyz", server: broken, target: "/readyz", status: 500},
		{op: "GET /readyz", server: down, target: "/readyz", status: 503},
		{op: "GET /openapi.json", server: down, target: "/openapi.json", status: 200},
		{op: "GET /docs", server: down, target: "/docs", status: 200},
	}
	cases = append(cases, methodNotAllowedCases(c, ok, task.ID)...)

	covered := make(map[string]bool) // "op status"
	seenTypes := make(map[string]bool)
	for _, tc := range cases {
		method, _, _ := strings.Cut(tc.op, " ")
		if tc.method != "" {
			method = tc.method
		}
		var body io.Reader = strings.NewReader(tc.body)
		if tc.cutShort {
			body = io.MultiReader(body, iotest.ErrReader(io.ErrUnexpectedEOF))
		}
		rec := httptest.NewRecorder()
		tc.server.ServeHTTP(rec, httptest.NewRequest(method, tc.target, body))
		if rec.Code != tc.status {
			t.Errorf("%s %s: status %d, want %d (the case does not test what it claims); body: %s",
				method, tc.target, rec.Code, tc.status, brief(rec.Body.String()))
			continue
		}
		c.checkResponse(t, tc.op, rec)
		covered[fmt.Sprint(tc.op, " ", rec.Code)] = true
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

// methodNotAllowedCases asks every documented operation's path for a
// method it does not document, expecting the 405 each operation documents,
// with Allow naming exactly the documented methods (and HEAD with GET).
func methodNotAllowedCases(c schemaChecker, h http.Handler, taskID string) []responseCase {
	var cases []responseCase
	ops := documentedOperations(c)
	for _, op := range ops {
		_, path, _ := strings.Cut(op, " ")
		for _, method := range []string{"DELETE", "PUT", "POST", "PATCH", "GET"} {
			if !slices.Contains(ops, method+" "+path) {
				cases = append(cases, responseCase{op: op, server: h, method: method,
					target: concretePath(path, "u", taskID), status: 405})
				break
			}
		}
	}
	return cases
}

// TestAllowHeaderListsDocumentedMethods: a 405's Allow header names the
// methods openapi.json documents for the path, HEAD coming with GET.
func TestAllowHeaderListsDocumentedMethods(t *testing.T) {
	t.Parallel()
	c := newSchemaChecker(t)
	h := newTestServer(t)
	methods := make(map[string][]string) // path → documented methods
	for _, op := range documentedOperations(c) {
		method, path, _ := strings.Cut(op, " ")
		methods[path] = append(methods[path], method)
		if method == "GET" {
			methods[path] = append(methods[path], "HEAD")
		}
	}
	for path, want := range methods {
		slices.Sort(want)
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
		if errs := c.validate(taskSchema, tc.taskID); refused("task_id") != (len(errs) > 0) {
			t.Errorf("task_id %q: handler refused it: %v; schema errors %q", tc.taskID, refused("task_id"), errs)
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
func TestLaxBooleanSchemaAgreesWithCode(t *testing.T) {
	t.Parallel()
	c := newSchemaChecker(t)
	schema := c.componentSchema(t, "TaskUpdate")["properties"].(map[string]any)["is_completed"]
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
			if errs := c.validate(schema, string(b)); codeOK != (len(errs) == 0) {
				t.Errorf("%s: laxBool accepts %v, schema errors %q", raw, codeOK, errs)
			}
		}
	}
}

// ---------------------------------------------------------------------------
// /docs

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
		for status := range op["responses"].(map[string]any) {
			if !strings.Contains(section, `">`+status+`</span>`) {
				t.Errorf("%s: response %s not shown", route, status)
			}
		}
	}
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
		store := newMemStore()
		task, _, err := store.CreateTask(t.Context(), mustUnescape(t, userID), newTask{Title: "example"}, idempotencyKey{})
		if err != nil {
			t.Fatal(err)
		}
		target = strings.Replace(target, taskID, task.ID, 1)
		h = newServer(discardLogger(), store, testCORS)
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
		"not JSON":          `{`,
		"dangling $ref":     `{"tags": [{"name": "x"}], "paths": {"/a": {"get": {"tags": ["x"], "responses": {"200": {"$ref": "#/components/responses/Nope"}}}}}}`,
		"foreign $ref":      `{"tags": [{"name": "x"}], "paths": {"/a": {"get": {"tags": ["x"], "responses": {"200": {"description": "d", "content": {"application/json": {"schema": {"$ref": "other.json#/X"}}}}}}}}}`,
		"two media types":   `{"tags": [{"name": "x"}], "paths": {"/a": {"get": {"tags": ["x"], "responses": {"200": {"description": "d", "content": {"a/b": {"schema": {}}, "c/d": {"schema": {}}}}}}}}}`,
		"type not a string": `{"components": {"schemas": {"X": {"type": 5}}}}`,
	} {
		if _, err := renderDocs([]byte(doc)); err == nil {
			t.Errorf("%s: rendered without error", name)
		}
	}
}
