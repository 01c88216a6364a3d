package main

// The request body: read up to maxBodyBytes, then walked as a JSON object
// for the members a task body may set, at a cost bounded by its size
// whatever its shape.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"unicode/utf8"
)

// errBodyTooLarge is returned by readBody for a body over maxBodyBytes.
var errBodyTooLarge = errors.New("request body too large")

// errBodyUnreadable means the client stopped sending its body part-way.
var errBodyUnreadable = errors.New("request body could not be read")

// readBody reads the whole request body, up to maxBodyBytes. The
// Content-Type is deliberately ignored: curl -d sends a form type.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > maxBodyBytes {
		return nil, errBodyTooLarge // declared too large: don't read it first
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, errBodyTooLarge
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBodyUnreadable, err)
	}
	return body, nil
}

// taskFields are the members a task body may set; every other member is
// ignored, as FastAPI ignores unknown fields.
var taskFields = [...]string{"title", "description", "is_completed"}

// object parses the body as a JSON object and returns its taskFields
// members, undecoded. Problems with the body as a whole are reported at loc
// ["body"], as FastAPI does.
//
// The cost is bounded by the body's size, whatever its shape: the body is
// checked with json.Valid, then its top-level members are walked without
// decoding the values of unknown ones (a map of every member would cost
// two orders of magnitude more for a body of many small members).
func (v *validator) object(body []byte) map[string]json.RawMessage {
	if len(bytes.TrimSpace(body)) == 0 {
		v.add("missing", "Field required", nil, "body")
		return nil
	}
	if !utf8.Valid(body) {
		v.add("json_invalid", "JSON decode error", map[string]any{"error": "body is not valid UTF-8"}, "body", 0)
		return nil
	}
	if !json.Valid(body) {
		// Unmarshal checks the whole body before it decodes anything, so
		// this finds where the syntax breaks at json.Valid's cost.
		var syntaxErr *json.SyntaxError
		if err := json.Unmarshal(body, new(struct{})); errors.As(err, &syntaxErr) {
			v.add("json_invalid", "JSON decode error", map[string]any{"error": syntaxErr.Error()}, "body", syntaxErr.Offset)
		} else {
			v.add("json_invalid", "JSON decode error", map[string]any{"error": "invalid JSON"}, "body", 0)
		}
		return nil
	}
	fields, isObject := knownMembers(body)
	switch {
	case string(bytes.TrimSpace(body)) == "null":
		v.add("missing", "Field required", nil, "body")
	case !isObject:
		v.add("model_attributes_type", "Input should be a valid dictionary or object to extract fields from", nil, "body")
	}
	return fields
}

// knownMembers returns the taskFields members of body, valid JSON, if it is
// an object; of a member given twice, the last counts, as encoding/json
// decodes it.
func knownMembers(body []byte) (map[string]json.RawMessage, bool) {
	i := skipSpace(body, 0)
	if body[i] != '{' {
		return nil, false
	}
	fields := make(map[string]json.RawMessage, len(taskFields))
	for i = skipSpace(body, i+1); body[i] != '}'; i = skipSpace(body, i) {
		if body[i] == ',' {
			i = skipSpace(body, i+1)
		}
		keyEnd := skipString(body, i)
		key := body[i+1 : keyEnd-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			var unescaped string
			json.Unmarshal(body[i:keyEnd], &unescaped) // valid JSON: cannot fail
			key = []byte(unescaped)
		}
		start := skipSpace(body, skipSpace(body, keyEnd)+1) // past the colon
		end := skipValue(body, start)
		for _, name := range taskFields {
			if string(key) == name {
				fields[name] = body[start:end]
			}
		}
		i = end
	}
	return fields, true
}

// skipSpace returns the index of the first non-space byte at or after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the JSON string that starts at
// b[i], a quote: the first quote after it not escaped by an odd run of
// backslashes. bytes.IndexByte finds each candidate quote at memory speed.
func skipString(b []byte, i int) int {
	for i++; ; {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return len(b)
		}
		j += i
		backslashes := 0
		for k := j - 1; k >= i && b[k] == '\\'; k-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			return j + 1
		}
		i = j + 1
	}
}

// isValueEnd reports whether c ends a number or a literal.
func isValueEnd(c byte) bool {
	return c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// skipValue returns the index just past the JSON value that starts at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	}
	for i < len(b) && !isValueEnd(b[i]) {
		i++ // a number, true, false or null
	}
	return i
}
