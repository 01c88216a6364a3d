package main

// A small JSON Schema checker for the subset openapi.json uses, what
// openapi_test.go and docs_test.go read the document with, and the tests of
// the checker itself.

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

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
	s, _ := c.parameter(t, op, in, name)["schema"].(map[string]any)
	return s
}

// parameter returns op's parameter in (path, query, header) named name.
func (c schemaChecker) parameter(t testing.TB, op, in, name string) map[string]any {
	t.Helper()
	for _, p := range c.parameters(t, op) {
		if p["in"] == in && p["name"] == name {
			return p
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

// unlistedHeaders may be in any response without the document naming
// them: the body's media type and length, which OpenAPI describes as
// content, and Vary (caching; CORS is described in the introduction).
// Connection is hop-by-hop: it speaks of the connection (closed after the
// answer while an instance drains), not of the answer, and a proxy drops it.
var unlistedHeaders = map[string]bool{"Content-Type": true, "Content-Length": true, "Vary": true, "Connection": true}

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
	// Optional headers are written out in each answer that may carry them
	// (a generator reads a $ref'd header as always present).
	answerHeader := func(op, status, name string) any {
		return c.responseHeaders(t, op, status)[http.CanonicalHeaderKey(name)]["schema"]
	}
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
		{"a 422 loc that is no array", validation, `{"detail": [{"type": "missing", "loc": "body.title", "msg": "m"}]}`, false},
		{"a 422 loc holding an object", validation, `{"detail": [{"type": "json_invalid", "loc": ["body", {"at": 10}], "msg": "m"}]}`, false},
		{"limit 1", limit, `1`, true},
		{"limit 1000", limit, `1000`, true},
		{"limit 0", limit, `0`, false},
		{"limit 1001", limit, `1001`, false},
		{"limit 2.5", limit, `2.5`, false},
		{"limit as a string", limit, `"5"`, false},
		{"a strong ETag", header("ETag"), `"\"hoi0ybf1mo\""`, true},
		{"a weak ETag", header("ETag"), `"W/\"hoi0ybf1mo\""`, false},
		{"an unquoted ETag", header("ETag"), `"hoi0ybf1mo"`, false},
		{"a Link to the next page", answerHeader("GET /api/{user_id}/tasks", "200", "Link"), `"</api/a%2Fb/tasks?after=AAZhH6zK6QABkvHEeh58Pp1aOy8eDJoR&limit=2>; rel=\"next\""`, true},
		{"a Link without a cursor", answerHeader("GET /api/{user_id}/tasks", "200", "Link"), `"</api/u/tasks?limit=2>; rel=\"next\""`, false},
		{"a Link to the previous page", answerHeader("GET /api/{user_id}/tasks", "200", "Link"), `"</api/u/tasks?after=AAZhH6zK6QABkvHEeh58Pp1aOy8eDJoR>; rel=\"prev\""`, false},
		{"Idempotent-Replayed true", answerHeader("POST /api/{user_id}/tasks", "201", "Idempotent-Replayed"), `"true"`, true},
		{"Idempotent-Replayed false", answerHeader("POST /api/{user_id}/tasks", "201", "Idempotent-Replayed"), `"false"`, false},
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
	authed := f.handler(newMemStore(defaultMaxTasks))
	down := newAuthFixture(t)
	down.jwks.serve(http.StatusInternalServerError, nil)
	refusals := []*httptest.ResponseRecorder{
		serve(t, authed, "POST", "/api/u/tasks", `{"title": "t"}`),
		serve(t, authed, "POST", "/api/u/tasks", `{"title": "t"}`, bearer("x.y.z")...),
		serve(t, authed, "POST", "/api/u/tasks", `{"title": "t"}`, bearer(f.ed.token(t, claimsFor(f.clock, "v")))...),
		serve(t, down.handler(newMemStore(defaultMaxTasks)), "POST", "/api/u/tasks", `{"title": "t"}`, bearer(down.ed.token(t, claimsFor(down.clock, "u")))...),
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
			at(doc, "paths", "/api/{user_id}/tasks", "post", "responses", "201", "headers", "Idempotent-Replayed", "schema")["const"] = "false"
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
		"completed as a number": func(doc map[string]any) {
			at(doc, "components", "parameters", "Completed")["schema"] = map[string]any{"type": "integer"}
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
