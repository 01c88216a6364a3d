package main

// Conditional requests: a task's ETag is its version (updated_at), GET
// with If-None-Match answers 304, and a write with If-Match happens only if
// the task is still at a version the header names (else 412).

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ifMatch is a write's precondition. nil means none; otherwise the write
// happens only if the task's updated_at, its version, is one of these.
type ifMatch []time.Time

// met reports whether a task at version v meets the precondition.
func (c ifMatch) met(v time.Time) bool {
	return c == nil || slices.ContainsFunc(c, v.Equal)
}

// staleError is a write refused by its precondition: the task has changed
// since the client read it. Current is the task as it is now.
type staleError struct {
	Current Task
}

func (e *staleError) Error() string { return "task changed since it was read" }

// etag is a task's strong entity tag. It names the task's version: its
// updated_at, which every write moves forward, in microseconds, base 36.
func etag(t Task) string {
	return `"` + strconv.FormatInt(t.UpdatedAt.UnixMicro(), 36) + `"`
}

// entityTags splits an If-Match or If-None-Match value into its tags,
// each with its W/ prefix if it has one. "*" comes back as itself.
func entityTags(header string) []string {
	var tags []string
	for _, tag := range strings.Split(header, ",") {
		if tag = strings.TrimSpace(tag); tag != "" {
			tags = append(tags, tag)
		}
	}
	return tags
}

// parseIfMatch reads If-Match: nil when absent or "*" (any existing task
// will do, and a missing one is a 404 anyway); otherwise the versions its
// strong tags name. Weak or malformed tags name none (If-Match compares
// strongly), so a header with only those is never met: 412.
func parseIfMatch(h http.Header) ifMatch {
	values := h.Values("If-Match")
	if len(values) == 0 {
		return nil
	}
	cond := ifMatch{}
	for _, tag := range entityTags(strings.Join(values, ",")) {
		if tag == "*" {
			return nil
		}
		if v, ok := tagVersion(tag); ok {
			cond = append(cond, v)
		}
	}
	return cond
}

// tagVersion reads the version a strong tag made by etag names.
func tagVersion(tag string) (time.Time, bool) {
	if len(tag) < 3 || tag[0] != '"' || tag[len(tag)-1] != '"' {
		return time.Time{}, false
	}
	micros, err := strconv.ParseInt(tag[1:len(tag)-1], 36, 64)
	// Outside years 1 to 9999 no stored task can be at that version, and
	// PostgreSQL would refuse the timestamp: the tag names none.
	if err != nil || micros < minCursorMicros || micros > maxCursorMicros {
		return time.Time{}, false
	}
	return time.UnixMicro(micros).UTC(), true
}

// noneMatch reports whether If-None-Match, over all its header lines (a
// list may be split across them, as for If-Match), names the current
// entity tag (weak comparison, as RFC 9110 asks for GET) or is "*".
func noneMatch(h http.Header, current string) bool {
	for _, tag := range entityTags(strings.Join(h.Values("If-None-Match"), ",")) {
		if tag == "*" || strings.TrimPrefix(tag, "W/") == current {
			return true
		}
	}
	return false
}
