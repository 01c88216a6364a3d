package main

// The body walker against encoding/json, and what decoding costs.

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzKnownMembers: for every valid JSON body, knownMembers finds exactly
// the task members, byte for byte, that decoding the whole body into a map
// finds, and calls an object what encoding/json calls one.
func FuzzKnownMembers(f *testing.F) {
	for _, seed := range []string{
		`{"title": "t"}`, `{"title": "a", "title": "b"}`, ` { "\u0074itle" : "escaped key" } `,
		`{"x": {"title": "nested"}, "description": null, "is_completed": [1, {"a": "}"}]}`,
		`{"a": "\"}", "title": "after a quote"}`, `[{"title": "t"}]`, `null`, `"title"`, `{}`, `12`,
		`{"title":1e5,"is_completed":true,"description":"\\"}`, `{"t\u00edtle": 1, "title\u0000": 2}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !json.Valid(body) {
			return
		}
		got, isObject := knownMembers(body)
		var all map[string]json.RawMessage
		err := json.Unmarshal(body, &all)
		if isObject != (err == nil && all != nil) {
			t.Fatalf("%q: object %v, but encoding/json: %v, %v", body, isObject, all, err)
		}
		for _, name := range taskFields {
			want, ok := all[name]
			if g, gok := got[name]; gok != ok || !bytes.Equal(g, want) {
				t.Errorf("%q: member %s = %q (%v), encoding/json: %q (%v)", body, name, g, gok, want, ok)
			}
		}
	})
}

// bodyShapes are bodies up to the size limit that are cheap to send and
// expensive to take apart: many small members, deep nesting, one long
// string.
func bodyShapes() map[string][]byte {
	wide := []byte(`{"title": "t"`)
	for i := 0; len(wide) < maxBodyBytes-16; i++ {
		wide = append(wide, `,"k`...)
		wide = append(wide, strings.Repeat("x", i%4)...)
		wide = append(wide, `":0`...)
	}
	wide = append(wide, '}')
	deep := []byte(`{"title": "t", "x": ` + strings.Repeat("[", 9990) + strings.Repeat("]", 9990) + `}`)
	long := []byte(`{"title": "t", "description": "` + strings.Repeat("ä", (maxBodyBytes-64)/2) + `"}`)
	return map[string][]byte{"wide": wide, "deep": deep, "long-string": long}
}

// BenchmarkDecodeBody compares what reading a task body costs (json.Valid,
// the walk, the fields) with json.Valid alone on the same bytes: read the
// ratios of each shape's "object" (the walk) and "fields" (the walk and the
// fields a create reads) to its "valid". Run: go test -run '^$'
// -bench DecodeBody -count 6 .
func BenchmarkDecodeBody(b *testing.B) {
	for name, body := range bodyShapes() {
		b.Run(name+"/valid", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				json.Valid(body)
			}
		})
		b.Run(name+"/object", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				var v validator
				v.object(body)
			}
		})
		b.Run(name+"/fields", func(b *testing.B) { // all a create reads
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				var v validator
				fields := v.object(body)
				v.requiredTitle(fields)
				v.description(fields)
			}
		})
		b.Run(name+"/map", func(b *testing.B) { // what object did before
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				var m map[string]json.RawMessage
				json.Unmarshal(body, &m)
			}
		})
	}
}

// TestBodyLimitWithoutContentLength: a body sent without a Content-Length
// (chunked) is held to the same 1 MiB as a declared one: exactly 1 MiB is
// read, one byte more is a 413 with the documented detail, on POST and PUT,
// and nothing is stored.
func TestBodyLimitWithoutContentLength(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	// sendChunked sends a valid JSON body of exactly size bytes, padded
	// with white space, from a reader whose length the server cannot know.
	sendChunked := func(method, target, body string, size int) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(method, target, io.MultiReader(
			strings.NewReader(body), strings.NewReader(strings.Repeat(" ", size-len(body)))))
		req.ContentLength = -1
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	const tooLarge = "Request body is larger than 1048576 bytes"

	rec := sendChunked("POST", "/api/u/tasks", `{"title": "at the limit"}`, maxBodyBytes)
	task := decodeAs[testTask](t, rec, http.StatusCreated)
	rec = sendChunked("POST", "/api/u/tasks", `{"title": "one byte over"}`, maxBodyBytes+1)
	wantDetail(t, rec, http.StatusRequestEntityTooLarge, tooLarge)
	if tasks := listTasks(t, h, "u"); len(tasks) != 1 {
		t.Errorf("%d tasks stored, want 1 (the oversized body must not be stored)", len(tasks))
	}

	one := "/api/u/tasks/" + task.ID
	rec = sendChunked("PUT", one, `{"title": "one byte over"}`, maxBodyBytes+1)
	wantDetail(t, rec, http.StatusRequestEntityTooLarge, tooLarge)
	if got := getTask(t, h, "u", task.ID); got.Title != "at the limit" {
		t.Errorf("an oversized PUT changed the title to %q", got.Title)
	}
	rec = sendChunked("PUT", one, `{"title": "updated at the limit"}`, maxBodyBytes)
	if got := decodeAs[testTask](t, rec, http.StatusOK); got.Title != "updated at the limit" {
		t.Errorf("a 1 MiB PUT gave title %q", got.Title)
	}
}
