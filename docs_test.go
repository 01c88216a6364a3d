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
	"items": true, "prefixItems": true, "enum": true, "const": true, "minLength": true, "maxLength": true,
	"minItems": true, "minimum": true, "maximum": true, "pattern": true, "format": true, "anyOf": true,
	"description": true,
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
	case float64:
		if m, ok := s["minimum"]; ok && v < asNumber(m) {
			fail("%v is less than %v", v, m)
		}
		if m, ok := s["maximum"]; ok && v > asNumber(m) {
			fail("%v is more than %v", v, m)
		}
	case []any:
		if n, ok := s["minItems"]; ok && float64(len(v)) < asNumber(n) {
			fail("%d items, fewer than %v", len(v), n)
		}
		// JSON Schema 2020-12: prefixItems holds the first items, items
		// the rest.
		prefix, _ := s["prefixItems"].([]any)
		for i, item := range v {
			if i < len(prefix) {
				c.check(prefix[i], item, fmt.Sprintf("%s[%d]", at, i), errs)
			} else if items, ok := s["items"]; ok {
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
		case key == "prefixItems":
			prefix, ok := value.([]any)
			if !ok {
				*errs = append(*errs, fmt.Sprintf("%s: prefixItems must be a list", at))
			}
			for i, p := range prefix {
				c.lint(p, fmt.Sprintf("%s.prefixItems[%d]", at, i), errs)
			}
		case key == "minimum" || key == "maximum":
			if _, ok := value.(float64); !ok {
				*errs = append(*errs, fmt.Sprintf("%s: %s %v is not a number", at, key, value))
			}
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

// parameters returns op's parameters, its path's and its own, resolved.
func (c schemaChecker) parameters(t testing.TB, op string) []map[string]any {
	t.Helper()
	_, path, _ := strings.Cut(op, " ")
	item, _ := c.doc["paths"].(map[string]any)[path].(map[string]any)
	shared, _ := item["parameters"].([]any)
	own, _ := c.operation(t, op)["parameters"].([]any)
	var params []map[string]any
	for _, p := range slices.Concat(shared, own) {
		params = append(params, c.followRef(t, p))
	}
	return params
}

// parameterSchema returns the schema of op's parameter name, in in.
func (c schemaChecker) parameterSchema(t testing.TB, op, in, name string) map[string]any {
	t.Helper()
	for _, p := range c.parameters(t, op) {
		if p["in"] == in && p["name"] == name {
			s, _ := p["schema"].(map[string]any)
			return s
		}
	}
	t.Fatalf("openapi.json: %s has no %s parameter %s", op, in, name)
	return nil
}

// componentHeaderSchema returns the schema of components.headers[name].
func (c schemaChecker) componentHeaderSchema(t testing.TB, name string) map[string]any {
	t.Helper()
	h, _ := c.doc["components"].(map[string]any)["headers"].(map[string]any)[name].(map[string]any)
	s, ok := h["schema"].(map[string]any)
	if !ok {
		t.Fatalf("openapi.json has no header %s with a schema", name)
	}
	return s
}

// responseHeaders returns the headers op documents for status, resolved,
// by their canonical names (as net/http writes them: "Etag").
func (c schemaChecker) responseHeaders(t testing.TB, op, status string) map[string]map[string]any {
	t.Helper()
	responses, _ := c.operation(t, op)["responses"].(map[string]any)
	headers, _ := c.followRef(t, responses[status])["headers"].(map[string]any)
	out := make(map[string]map[string]any)
	for name, h := range headers {
		out[http.CanonicalHeaderKey(name)] = c.followRef(t, h)
	}
	return out
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

// unlistedHeaders may be in any response without the document naming
// them: the body's media type and length, which OpenAPI describes as
// content, and Vary (caching; CORS is described in the introduction).
var unlistedHeaders = map[string]bool{"Content-Type": true, "Content-Length": true, "Vary": true}

// checkResponse checks a recorded response against what op documents for
// its status: the status itself, required headers, every header's schema,
// no header the document does not name there, the media type and the
// body's schema.
func (c schemaChecker) checkResponse(t testing.TB, op string, rec *httptest.ResponseRecorder) {
	t.Helper()
	responses, _ := c.operation(t, op)["responses"].(map[string]any)
	documented, ok := responses[strconv.Itoa(rec.Code)]
	if !ok {
		t.Errorf("%s answered %d, which openapi.json does not document; body: %s", op, rec.Code, brief(rec.Body.String()))
		return
	}
	resp := c.followRef(t, documented)
	headers := c.responseHeaders(t, op, strconv.Itoa(rec.Code))
	for name, h := range headers {
		values := rec.Header().Values(name)
		if len(values) == 0 {
			if h["required"] == true {
				t.Errorf("%s %d: required header %s is missing", op, rec.Code, name)
			}
			continue
		}
		if len(values) > 1 {
			t.Errorf("%s %d: header %s sent %d times", op, rec.Code, name, len(values))
		}
		for _, e := range c.validate(h["schema"], values[0]) {
			t.Errorf("%s %d: header %s: %s", op, rec.Code, name, e)
		}
	}
	for name := range rec.Header() {
		if headers[name] == nil && !unlistedHeaders[name] {
			t.Errorf("%s %d: header %s is not documented for this answer", op, rec.Code, name)
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

// registeredRoutes returns the pattern of every route the server serves.
func registeredRoutes(t testing.TB) []string {
	t.Helper()
	var patterns []string
	for _, rt := range routes(discardLogger(), newMemStore(), nil) {
		patterns = append(patterns, rt.pattern)
	}
	slices.Sort(patterns)
	return patterns
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
	limit := c.parameterSchema(t, "GET /api/{user_id}/tasks", "query", "limit")
	header := func(name string) any { return c.componentHeaderSchema(t, name) }
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
		{"a 422 item of unknown type", validation, `{"detail": [{"type": "float_parsing", "loc": ["body"], "msg": "m"}]}`, false},
		{"a 422 at a header", validation, `{"detail": [{"type": "value_error", "loc": ["header", "idempotency-key"], "msg": "m"}]}`, true},
		{"a 422 at a query parameter, with ctx", validation, `{"detail": [{"type": "greater_than_equal", "loc": ["query", "limit"], "msg": "m", "ctx": {"ge": 1}}]}`, true},
		{"a 422 at a cookie", validation, `{"detail": [{"type": "missing", "loc": ["cookie", "session"], "msg": "m"}]}`, false},
		{"a 422 loc starting with an offset", validation, `{"detail": [{"type": "json_invalid", "loc": [10], "msg": "m"}]}`, false},
		{"limit 1", limit, `1`, true},
		{"limit 1000", limit, `1000`, true},
		{"limit 0", limit, `0`, false},
		{"limit 1001", limit, `1001`, false},
		{"limit 2.5", limit, `2.5`, false},
		{"limit as a string", limit, `"5"`, false},
		{"a strong ETag", header("ETag"), `"\"hoi0ybf1mo\""`, true},
		{"a weak ETag", header("ETag"), `"W/\"hoi0ybf1mo\""`, false},
		{"an unquoted ETag", header("ETag"), `"hoi0ybf1mo"`, false},
		{"a Link to the next page", header("Link"), `"</api/a%2Fb/tasks?after=AAZhH6zK6QABkvHEeh58Pp1aOy8eDJoR&limit=2>; rel=\"next\""`, true},
		{"a Link without a cursor", header("Link"), `"</api/u/tasks?limit=2>; rel=\"next\""`, false},
		{"a Link to the previous page", header("Link"), `"</api/u/tasks?after=AAZhH6zK6QABkvHEeh58Pp1aOy8eDJoR>; rel=\"prev\""`, false},
		{"Idempotent-Replayed true", header("IdempotentReplayed"), `"true"`, true},
		{"Idempotent-Replayed false", header("IdempotentReplayed"), `"false"`, false},
		{"a request id", header("XRequestID"), `"Xk3VQ2M7PA-12"`, true},
		{"a request id with a space", header("XRequestID"), `"a b"`, false},
		{"a request id of 129 characters", header("XRequestID"), `"` + strings.Repeat("a", 129) + `"`, false},
		{"a 422 loc with a boolean", validation, `{"detail": [{"type": "missing", "loc": ["body", true], "msg": "m"}]}`, false},
		{"a 422 loc with a fraction", validation, `{"detail": [{"type": "missing", "loc": ["body", 1.5], "msg": "m"}]}`, false},
		{"a 422 with a string detail", validation, `{"detail": "Not Found"}`, false},
		{"the delete answer", map[string]any{"$ref": "#/components/schemas/DeleteResult"}, `{"message": "Task deleted successfully"}`, true},
		{"another message", map[string]any{"$ref": "#/components/schemas/DeleteResult"}, `{"message": "Task deleted"}`, false},
		{"a 404 of another route", c.followRef(t, map[string]any{"$ref": "#/components/responses/NotFound"})["content"].(map[string]any)["application/json"].(map[string]any)["schema"], `{"detail": "Task not found"}`, false},
		{"an update with a lax boolean", map[string]any{"$ref": "#/components/schemas/TaskUpdate"}, `{"is_completed": "Yes"}`, true},
		{"an update with 2", map[string]any{"$ref": "#/components/schemas/TaskUpdate"}, `{"is_completed": 2}`, false},
		{"an update with a null title", map[string]any{"$ref": "#/components/schemas/TaskUpdate"}, `{"title": null}`, false},
		{"an unknown keyword", map[string]any{"type": "integer", "multipleOf": 2}, `4`, false},
		{"a prefix item", map[string]any{"prefixItems": []any{map[string]any{"const": "a"}}, "items": map[string]any{"type": "integer"}}, `["a", 1, 2]`, true},
		{"a wrong prefix item", map[string]any{"prefixItems": []any{map[string]any{"const": "a"}}, "items": map[string]any{"type": "integer"}}, `["b", 1]`, false},
		{"a wrong item after the prefix", map[string]any{"prefixItems": []any{map[string]any{"const": "a"}}, "items": map[string]any{"type": "integer"}}, `["a", "b"]`, false},
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

// TestSchemaCheckerFailsAMutatedDocument: checkResponse and the agreement
// checks, given a document that says something else than the code does,
// report it.
func TestSchemaCheckerFailsAMutatedDocument(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	const (
		create = "POST /api/{user_id}/tasks"
		get    = "GET /api/{user_id}/tasks/{task_id}"
	)
	first := serve(t, h, "POST", "/api/u/tasks", `{"title": "t"}`, "Idempotency-Key", "k")
	replay := serve(t, h, "POST", "/api/u/tasks", `{"title": "t"}`, "Idempotency-Key", "k")
	if replay.Header().Get("Idempotent-Replayed") != "true" {
		t.Fatalf("the retry was not replayed: %d %s", replay.Code, replay.Body)
	}
	notModified := serve(t, h, "GET", first.Header().Get("Location"), "", "If-None-Match", first.Header().Get("ETag"))
	if notModified.Code != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d", notModified.Code)
	}
	// The answers of authentication, on a create.
	f := newAuthFixture(t)
	authed := f.handler(newMemStore())
	down := newAuthFixture(t)
	down.jwks.serve(http.StatusInternalServerError, nil)
	refusals := []*httptest.ResponseRecorder{
		serve(t, authed, "POST", "/api/u/tasks", `{"title": "t"}`),
		serve(t, authed, "POST", "/api/u/tasks", `{"title": "t"}`, bearer("x.y.z")...),
		serve(t, authed, "POST", "/api/u/tasks", `{"title": "t"}`, bearer(f.ed.token(t, claimsFor(f.clock, "v")))...),
		serve(t, down.handler(newMemStore()), "POST", "/api/u/tasks", `{"title": "t"}`, bearer(down.ed.token(t, claimsFor(down.clock, "u")))...),
	}
	for i, want := range []int{401, 401, 403, 503} {
		if refusals[i].Code != want {
			t.Fatalf("refusal %d: %d %s, want %d", i, refusals[i].Code, refusals[i].Body, want)
		}
	}
	check := func(c schemaChecker) func(testing.TB) {
		return func(tb testing.TB) {
			c.checkResponse(tb, create, first)
			c.checkResponse(tb, create, replay)
			c.checkResponse(tb, get, notModified)
			for _, rec := range refusals {
				c.checkResponse(tb, create, rec)
			}
			checkQuerySchemasAgree(tb, c)
			checkHeaderSchemasAgree(tb, c)
		}
	}
	at := func(doc map[string]any, keys ...string) map[string]any {
		node := doc
		for _, k := range keys {
			node = node[k].(map[string]any)
		}
		return node
	}
	mutations := map[string]func(doc map[string]any){
		"title at most 0 characters": func(doc map[string]any) {
			at(doc, "components", "schemas", "Title")["maxLength"] = 0.0
		},
		"no 201 documented": func(doc map[string]any) {
			delete(at(doc, "paths", "/api/{user_id}/tasks", "post", "responses"), "201")
		},
		"a required header the code does not send": func(doc map[string]any) {
			headers := at(doc, "paths", "/api/{user_id}/tasks", "post", "responses", "201", "headers")
			headers["X-Never-Sent"] = map[string]any{"required": true, "schema": map[string]any{"type": "string"}}
		},
		"another media type": func(doc map[string]any) {
			resp := at(doc, "paths", "/api/{user_id}/tasks", "post", "responses", "201")
			resp["content"] = map[string]any{"application/xml": resp["content"].(map[string]any)["application/json"]}
		},
		"no ETag on a 201": func(doc map[string]any) {
			delete(at(doc, "paths", "/api/{user_id}/tasks", "post", "responses", "201", "headers"), "ETag")
		},
		"weak ETags": func(doc map[string]any) {
			at(doc, "components", "headers", "ETag", "schema")["pattern"] = `^W/"[0-9a-z]+"$`
		},
		"Idempotent-Replayed: false": func(doc map[string]any) {
			at(doc, "components", "headers", "IdempotentReplayed", "schema")["const"] = "false"
		},
		"request ids of digits": func(doc map[string]any) {
			at(doc, "components", "headers", "XRequestID", "schema")["pattern"] = "^[0-9]{1,128}$"
		},
		"no 304 documented": func(doc map[string]any) {
			delete(at(doc, "paths", "/api/{user_id}/tasks/{task_id}", "get", "responses"), "304")
		},
		"a 304 with a body": func(doc map[string]any) {
			at(doc, "components", "responses", "NotModified")["content"] = map[string]any{
				"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/TaskRead"}}}
		},
		"limit up to 100": func(doc map[string]any) {
			at(doc, "components", "parameters", "Limit", "schema")["maximum"] = 100.0
		},
		"limit from 0": func(doc map[string]any) {
			at(doc, "components", "parameters", "Limit", "schema")["minimum"] = 0.0
		},
		"completed only true or false": func(doc map[string]any) {
			at(doc, "components", "parameters", "Completed", "schema")["pattern"] = "^(?:true|false)$"
		},
		"any after": func(doc map[string]any) {
			delete(at(doc, "components", "parameters", "After", "schema"), "pattern")
		},
		"keys of up to 64 characters": func(doc map[string]any) {
			at(doc, "components", "parameters", "IdempotencyKey", "schema")["maxLength"] = 64.0
		},
		"If-Match as an ETag": func(doc map[string]any) {
			at(doc, "components", "parameters", "IfMatch")["schema"] = map[string]any{"$ref": "#/components/headers/ETag/schema"}
		},
		"a 401 without WWW-Authenticate": func(doc map[string]any) {
			delete(at(doc, "components", "responses", "Unauthorized", "headers"), "WWW-Authenticate")
		},
		"a challenge never with an error": func(doc map[string]any) {
			at(doc, "components", "responses", "Unauthorized", "headers", "WWW-Authenticate", "schema")["pattern"] = "^Bearer$"
		},
		"no 401 documented": func(doc map[string]any) {
			delete(at(doc, "paths", "/api/{user_id}/tasks", "post", "responses"), "401")
		},
		"a 401 detail the code does not give": func(doc map[string]any) {
			at(doc, "components", "responses", "Unauthorized", "content", "application/json", "schema", "properties", "detail")["enum"] = []any{"Not authenticated", "Unauthorized"}
		},
		"no 403 documented": func(doc map[string]any) {
			delete(at(doc, "paths", "/api/{user_id}/tasks", "post", "responses"), "403")
		},
		"a 403 of another wording": func(doc map[string]any) {
			at(doc, "components", "responses", "Forbidden", "content", "application/json", "schema", "properties", "detail")["const"] = "Forbidden"
		},
		"the database's 503 only": func(doc map[string]any) {
			at(doc, "paths", "/api/{user_id}/tasks", "post", "responses")["503"] = map[string]any{"$ref": "#/components/responses/ServiceUnavailable"}
		},
	}
	for name, mutate := range mutations {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newSchemaChecker(t)
			mutate(c.doc)
			if failures := collectFailures(check(c)); len(failures) == 0 {
				t.Error("the mutated document passed")
			}
		})
	}
	// And the real document passes the same checks.
	if failures := collectFailures(check(newSchemaChecker(t))); len(failures) > 0 {
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
	header   []string // name, value, ...; a name twice sends the header twice
	body     string
	cutShort bool // the body ends in a read error half-way
	status   int  // the status this case provokes
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
	down := newServer(discardLogger(), &stubStore{err: fmt.Errorf("list: %w", errStoreUnavailable)}, testCORS, nil)
	broken := newServer(discardLogger(), &stubStore{err: errors.New("boom")}, testCORS, nil)
	task := createTask(t, ok, "u", `{"title": "t", "description": "d"}`)
	doomed := createTask(t, ok, "u", `{"title": "to delete"}`)
	one := "/api/u/tasks/" + task.ID
	// A task for the conditional requests, written only by the last of them.
	guarded := "/api/u/tasks/" + createTask(t, ok, "u", `{"title": "guarded"}`).ID
	guardedTag := serve(t, ok, "GET", guarded, "").Header().Get("ETag")
	// Three tasks, so that a page of two links to a next page.
	for i := range 3 {
		createTask(t, ok, "pager", fmt.Sprintf(`{"title": "page %d"}`, i))
	}
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

		// Last: the guarded task at the version it was read at.
		{op: update, server: ok, target: guarded, body: `{"title": "guarded, changed"}`, header: []string{"If-Match", guardedTag}, status: 200},

		{op: "GET /healthz", server: down, target: "/healthz", header: requestID("healthz-1"), status: 200},
		{op: "GET /readyz", server: ok, target: "/readyz", header: requestID("readyz-1"), status: 200},
		{op: "GET /readyz", server: broken, target: "/readyz", status: 500},
		{op: "GET /readyz", server: down, target: "/readyz", status: 503},
		{op: "GET /openapi.json", server: down, target: "/openapi.json", header: requestID("openapi-1"), status: 200},
		{op: "GET /docs", server: down, target: "/docs", header: requestID("docs-1"), status: 200},
	}
	cases = append(cases, methodNotAllowedCases(c, ok, task.ID)...)
	cases = append(cases, authCases(t, one)...)

	covered := make(map[string]bool)     // "op status"
	seenDetails := make(map[string]bool) // "op status detail"
	sentParams := make(map[string]bool)  // "op in name"
	seenHeaders := make(map[string]bool) // "op status Header-Name"
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
		req := httptest.NewRequest(method, tc.target, body)
		for i := 0; i+1 < len(tc.header); i += 2 {
			req.Header.Add(tc.header[i], tc.header[i+1])
			sentParams[tc.op+" header "+strings.ToLower(tc.header[i])] = true
		}
		for name := range req.URL.Query() {
			sentParams[tc.op+" query "+name] = true
		}
		rec := httptest.NewRecorder()
		tc.server.ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Errorf("%s %s: status %d, want %d (the case does not test what it claims); body: %s",
				method, tc.target, rec.Code, tc.status, brief(rec.Body.String()))
			continue
		}
		c.checkResponse(t, tc.op, rec)
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

// authCases are the answers of the six /api/ operations with
// authentication on (every AUTH_* variable set, as in auth_test.go): a
// good token, none, a malformed, an expired and a not yet valid one
// (401), a good token of another user (403), and a good token whose key
// must be fetched from a key server that is down (503). one is a task's
// path; the task need not exist, since every refusal comes first.
func authCases(t testing.TB, one string) []responseCase {
	f := newAuthFixture(t)
	authed := f.handler(newMemStore())
	down := newAuthFixture(t)
	down.jwks.serve(http.StatusInternalServerError, []byte(`{"error": "down"}`))
	keysDown := down.handler(newMemStore())
	now := f.clock.now().Unix()
	good := func(sub string) []string { return bearer(f.ed.token(t, claimsFor(f.clock, sub))) }
	ops := []struct{ op, target, body string }{
		{"GET /api/{user_id}/tasks", "/api/u/tasks", ""},
		{"POST /api/{user_id}/tasks", "/api/u/tasks", `{"title": "t"}`},
		{"GET /api/{user_id}/tasks/{task_id}", one, ""},
		{"PUT /api/{user_id}/tasks/{task_id}", one, `{}`},
		{"DELETE /api/{user_id}/tasks/{task_id}", one, ""},
		{"PATCH /api/{user_id}/tasks/{task_id}/complete", one + "/complete", ""},
	}
	cases := []responseCase{
		{op: ops[0].op, server: authed, target: "/api/u/tasks", header: good("u"), status: 200},
		{op: ops[1].op, server: authed, target: "/api/u/tasks", body: `{"title": "t"}`, header: good("u"), status: 201},
	}
	for _, o := range ops {
		refused := func(server http.Handler, status int, header ...string) responseCase {
			return responseCase{op: o.op, server: server, target: o.target, body: o.body, header: header, status: status}
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
	authed := f.handler(newMemStore())
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
	if protected != 6 {
		t.Errorf("%d operations require bearerAuth, want the six under /api/", protected)
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
	want := `Bearer error="invalid_token", error_description="` + got.Detail + `"`
	if got.Detail == "Not authenticated" {
		want = "Bearer"
	}
	if challenge := rec.Header().Get("WWW-Authenticate"); challenge != want {
		t.Errorf("%s 401 %q: WWW-Authenticate = %q, want %q", op, got.Detail, challenge, want)
	}
}

// documentedDetails returns the fixed detail strings (a const or an enum)
// op documents for status, or none when its detail is not a fixed string.
func (c schemaChecker) documentedDetails(t testing.TB, op, status string) []string {
	t.Helper()
	responses, _ := c.operation(t, op)["responses"].(map[string]any)
	content, _ := c.followRef(t, responses[status])["content"].(map[string]any)
	media, _ := content["application/json"].(map[string]any)
	schema, _ := media["schema"].(map[string]any)
	props, _ := schema["properties"].(map[string]any)
	d, _ := props["detail"].(map[string]any)
	var out []string
	if v, ok := d["const"].(string); ok {
		out = append(out, v)
	}
	enum, _ := d["enum"].([]any)
	for _, v := range enum {
		out = append(out, v.(string))
	}
	return out
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

// TestLaxBooleanSchemaAgreesWithCode: the is_completed schema and the
// completed query parameter's accept exactly the strings laxBool does, in
// every mix of upper and lower case.
func TestLaxBooleanSchemaAgreesWithCode(t *testing.T) {
	t.Parallel()
	c := newSchemaChecker(t)
	body := c.componentSchema(t, "TaskUpdate")["properties"].(map[string]any)["is_completed"]
	query := c.parameterSchema(t, "GET /api/{user_id}/tasks", "query", "completed")
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
			if errs := c.validate(query, string(b)); codeOK != (len(errs) == 0) {
				t.Errorf("?completed=%s: laxBoolString accepts %v, query schema errors %q", b, codeOK, errs)
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
		store := newMemStore()
		task, _, err := store.CreateTask(t.Context(), mustUnescape(t, userID), newTask{Title: "example"}, idempotencyKey{})
		if err != nil {
			t.Fatal(err)
		}
		target = strings.Replace(target, taskID, task.ID, 1)
		h = newServer(discardLogger(), store, testCORS, nil)
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
