package main

// Reading requests: the body (size limit), path values, query parameters
// and JSON fields, checked the way pydantic checks them for FastAPI, each
// problem one item of a 422.

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits from the contract, in Unicode code points (bytes for the body).
const (
	maxUserIDLen      = 255
	maxTitleLen       = 500
	maxDescriptionLen = 5000
	maxBodyBytes      = 1 << 20
)

// listQuery reads the list's optional query parameters. Unknown ones are
// ignored, as FastAPI does; of a repeated one, the last counts.
func (v *validator) listQuery(r *http.Request) listQuery {
	var q listQuery
	last := lastQueryValue(r)
	if raw, ok := last("completed"); ok {
		if b, ok := laxBoolString(raw); ok {
			q.Completed = &b
		} else {
			v.add("bool_type", "Input should be a valid boolean, unable to interpret input", nil, "query", "completed")
		}
	}
	if raw, ok := last("limit"); ok {
		q.Limit = v.limit(raw)
	}
	if raw, ok := last("after"); ok {
		if c, ok := decodeCursor(raw); ok {
			q.After = &c
		} else {
			v.add("value_error", "Value error, after must be a cursor from a Link header", nil, "query", "after")
		}
	}
	return q
}

// lastQueryValue returns a lookup of the request's query parameters that
// gives, of a repeated one, the last value, as FastAPI does.
func lastQueryValue(r *http.Request) func(name string) (string, bool) {
	params := r.URL.Query()
	return func(name string) (string, bool) {
		vals := params[name]
		if len(vals) == 0 {
			return "", false
		}
		return vals[len(vals)-1], true
	}
}

// limit reads a limit= value: a whole number from 1 to maxPageLimit, or 0
// after a 422 item.
func (v *validator) limit(raw string) int {
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	switch {
	case err != nil:
		v.add("int_parsing", "Input should be a valid integer, unable to parse string as an integer", nil, "query", "limit")
	case n < 1:
		v.add("greater_than_equal", "Input should be greater than or equal to 1", map[string]any{"ge": 1}, "query", "limit")
	case n > maxPageLimit:
		v.add("less_than_equal", fmt.Sprintf("Input should be less than or equal to %d", maxPageLimit),
			map[string]any{"le": maxPageLimit}, "query", "limit")
	default:
		return n
	}
	return 0
}

// fieldError is one item of a 422 response, in FastAPI's shape.
type fieldError struct {
	Type string         `json:"type"`
	Loc  []any          `json:"loc"`
	Msg  string         `json:"msg"`
	Ctx  map[string]any `json:"ctx,omitempty"`
}

// validationError carries every problem found in one request.
type validationError struct {
	items []fieldError
}

func (e *validationError) Error() string {
	return fmt.Sprintf("invalid request: %d field errors", len(e.items))
}

// validator collects one fieldError per invalid field, so a request with
// several problems gets them all in one 422, as FastAPI reports them.
type validator struct {
	items []fieldError
}

// err returns the collected problems, or nil if there were none.
func (v *validator) err() error {
	if len(v.items) == 0 {
		return nil
	}
	return &validationError{items: v.items}
}

func (v *validator) add(typ, msg string, ctx map[string]any, loc ...any) {
	v.items = append(v.items, fieldError{Type: typ, Loc: loc, Msg: msg, Ctx: ctx})
}

// userID returns the {user_id} path value: 1 to 255 code points of valid
// UTF-8 without control characters.
func (v *validator) userID(r *http.Request) string {
	s := r.PathValue("user_id")
	if !utf8.ValidString(s) { // a percent-escape such as %FF; decoded JSON strings are always valid
		v.add("string_unicode", msgStringUnicode, nil, "path", "user_id")
		return s
	}
	if v.text(s, 1, maxUserIDLen, "path", "user_id") && strings.IndexFunc(s, unicode.IsControl) >= 0 {
		v.add("value_error", "Value error, user_id must not contain control characters", nil, "path", "user_id")
	}
	return s
}

// taskPathValues reads the path values of a request on one task that has
// nothing else to check.
func taskPathValues(r *http.Request) (userID, taskID string, err error) {
	var v validator
	userID, taskID = v.userID(r), v.taskID(r)
	return userID, taskID, v.err()
}

// taskID returns the {task_id} path value as a canonical (lowercase,
// hyphenated) UUID.
func (v *validator) taskID(r *http.Request) string {
	id, ok := parseUUID(r.PathValue("task_id"))
	if !ok {
		v.add("uuid_parsing", "Input should be a valid UUID", nil, "path", "task_id")
	}
	return id
}

// requiredTitle validates the title of a new task.
func (v *validator) requiredTitle(fields map[string]json.RawMessage) string {
	raw, ok := fields["title"]
	if !ok {
		if fields != nil {
			v.add("missing", "Field required", nil, "body", "title")
		}
		return ""
	}
	s, _ := v.title(raw)
	return s
}

// optionalTitle validates the title of an update: absent is nil, null is an
// error (a task always has a title).
func (v *validator) optionalTitle(fields map[string]json.RawMessage) *string {
	raw, ok := fields["title"]
	if !ok {
		return nil
	}
	s, ok := v.title(raw)
	if !ok {
		return nil
	}
	return &s
}

func (v *validator) title(raw json.RawMessage) (string, bool) {
	s, ok := v.string(raw, "title", maxTitleLen)
	if !ok || !v.text(s, 1, maxTitleLen, "body", "title") {
		return "", false
	}
	if strings.TrimSpace(s) == "" {
		v.add("value_error", "Value error, title must not be only white space", nil, "body", "title")
		return "", false
	}
	return s, true
}

// description validates an optional, nullable description.
func (v *validator) description(fields map[string]json.RawMessage) *string {
	raw, ok := fields["description"]
	if !ok || isNull(raw) {
		return nil
	}
	s, ok := v.string(raw, "description", maxDescriptionLen)
	if !ok || !v.text(s, 0, maxDescriptionLen, "body", "description") {
		return nil
	}
	return &s
}

// string decodes a JSON string field that may hold at most maxLen code
// points. Lone UTF-16 surrogates are refused: encoding/json would silently
// turn them into U+FFFD. A string whose raw form is too long for maxLen
// code points (each takes at most 12 bytes, \uXXXX\uXXXX) is refused
// without being decoded, so a long string costs one scan, not three.
func (v *validator) string(raw json.RawMessage, field string, maxLen int) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		v.add("string_type", "Input should be a valid string", nil, "body", field)
		return "", false
	}
	if hasLoneSurrogate(raw) {
		v.add("string_unicode", msgStringUnicode, nil, "body", field)
		return "", false
	}
	if len(raw)-2 > 12*maxLen {
		if hasNULEscape(raw) {
			v.addNUL("body", field) // reported before the length, as text does
		} else {
			v.addTooLong(maxLen, "body", field)
		}
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		v.add("string_type", "Input should be a valid string", nil, "body", field)
		return "", false
	}
	return s, true
}

// hasNULEscape reports whether a raw JSON string holds \u0000, the only way
// NUL can arrive in one.
func hasNULEscape(raw []byte) bool {
	for i := 0; ; {
		j := bytes.Index(raw[i:], []byte(`\u0000`))
		if j < 0 {
			return false
		}
		j += i
		backslashes := 0
		for k := j; k >= 0 && raw[k] == '\\'; k-- {
			backslashes++
		}
		if backslashes%2 == 1 { // not an escaped backslash before "u0000"
			return true
		}
		i = j + 1
	}
}

// msgStringUnicode is pydantic's message for text that is not Unicode.
const msgStringUnicode = "Input should be a valid string, unable to parse raw data as a unicode string"

// text checks what every stored string must satisfy: no NUL (PostgreSQL
// cannot store it) and a length in code points. s is valid UTF-8.
func (v *validator) text(s string, minLen, maxLen int, loc ...any) bool {
	if strings.IndexByte(s, 0) >= 0 {
		v.addNUL(loc...)
		return false
	}
	n := utf8.RuneCountInString(s)
	if n < minLen {
		v.add("string_too_short", plural("String should have at least %d character", minLen), map[string]any{"min_length": minLen}, loc...)
		return false
	}
	if n > maxLen {
		v.addTooLong(maxLen, loc...)
		return false
	}
	return true
}

// addNUL reports text holding NUL.
func (v *validator) addNUL(loc ...any) {
	v.add("value_error", "Value error, text must not contain the NUL character (U+0000)", nil, loc...)
}

// addTooLong reports text over maxLen code points.
func (v *validator) addTooLong(maxLen int, loc ...any) {
	v.add("string_too_long", plural("String should have at most %d character", maxLen), map[string]any{"max_length": maxLen}, loc...)
}

// optionalBool decodes a boolean field as pydantic's lax mode does (true,
// false, 0, 1 and the strings "true", "yes", "on", "1" and so on), so a
// client written for the FastAPI service keeps working. Absent is nil;
// null is an error.
func (v *validator) optionalBool(fields map[string]json.RawMessage, field string) *bool {
	raw, ok := fields[field]
	if !ok {
		return nil
	}
	b, ok := laxBool(raw)
	if !ok {
		v.add("bool_type", "Input should be a valid boolean", nil, "body", field)
		return nil
	}
	return &b
}

// laxBool interprets raw the way pydantic's lax boolean does.
func laxBool(raw json.RawMessage) (b, ok bool) {
	var x any
	if json.Unmarshal(raw, &x) != nil {
		return false, false
	}
	switch x := x.(type) {
	case bool:
		return x, true
	case float64:
		return x == 1, x == 0 || x == 1
	case string:
		return laxBoolString(x)
	}
	return false, false
}

// laxBoolString reads the strings pydantic's lax mode takes for a boolean.
func laxBoolString(s string) (b, ok bool) {
	switch strings.ToLower(s) {
	case "1", "on", "t", "true", "y", "yes":
		return true, true
	case "0", "off", "f", "false", "n", "no":
		return false, true
	}
	return false, false
}

func isNull(raw json.RawMessage) bool {
	return string(raw) == "null"
}

func plural(format string, n int) string {
	s := fmt.Sprintf(format, n)
	if n != 1 {
		s += "s"
	}
	return s
}

// hasLoneSurrogate reports whether a raw JSON string holds a \uXXXX escape
// for half of a UTF-16 surrogate pair without its other half.
func hasLoneSurrogate(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		i++ // the escaped character
		if i >= len(raw) || raw[i] != 'u' {
			continue
		}
		r, ok := hexRune(raw, i+1)
		if !ok {
			continue
		}
		i += 4
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return true // low half first
		case r >= 0xD800 && r <= 0xDBFF:
			if i+2 >= len(raw) || raw[i+1] != '\\' || raw[i+2] != 'u' {
				return true
			}
			low, ok := hexRune(raw, i+3)
			if !ok || low < 0xDC00 || low > 0xDFFF {
				return true
			}
			i += 6
		}
	}
	return false
}

// hexRune decodes the four hex digits at raw[i:].
func hexRune(raw []byte, i int) (rune, bool) {
	if i+4 > len(raw) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(raw[i:i+4]), 16, 16)
	return rune(n), err == nil
}

// parseUUID accepts the forms pydantic accepts for a UUID path parameter, in
// any case: 8-4-4-4-12 with hyphens, 32 bare hex digits, either wrapped in
// braces, or behind "urn:uuid:". It returns the canonical lowercase form.
func parseUUID(s string) (string, bool) {
	if len(s) > 9 && strings.EqualFold(s[:9], "urn:uuid:") {
		s = s[9:]
	} else if len(s) > 2 && s[0] == '{' && s[len(s)-1] == '}' {
		s = s[1 : len(s)-1]
	}
	switch len(s) {
	case 36:
		if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			return "", false
		}
		s = s[:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	case 32:
	default:
		return "", false
	}
	var u [16]byte
	if _, err := hex.Decode(u[:], []byte(s)); err != nil {
		return "", false
	}
	return formatUUID(u), true
}
