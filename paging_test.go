package main

// Pages of the list: limit, the after= cursor and the Link header.

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
)

// TestListPagination: following Link headers from ?limit=N visits every
// task once, in order, and the last page has no Link; ?completed= filters
// on every page; without parameters the list is whole and has no Link.
func TestListPagination(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, h http.Handler, user string) {
		testListPagination(t, h, user+"/ü") // escaped in the path, and so in the Link
	})
}

func testListPagination(t *testing.T, h http.Handler, user string) {
	var all []testTask
	for i := range 11 {
		task := createTask(t, h, url.PathEscape(user), fmt.Sprintf(`{"title": "task %d"}`, i))
		if i%2 == 0 {
			task = decodeAs[testTask](t, serve(t, h, "PATCH", "/api/"+url.PathEscape(user)+"/tasks/"+task.ID+"/complete", ""), http.StatusOK)
		}
		all = append(all, task)
	}
	whole := serve(t, h, "GET", "/api/"+url.PathEscape(user)+"/tasks", "")
	if whole.Header().Get("Link") != "" {
		t.Errorf("unpaged list has Link %q", whole.Header().Get("Link"))
	}
	for _, tt := range []struct {
		query string
		want  func(testTask) bool
	}{
		{"limit=3", func(testTask) bool { return true }},
		{"limit=1&completed=true", func(t testTask) bool { return t.IsCompleted }},
		{"completed=no&limit=4", func(t testTask) bool { return !t.IsCompleted }},
		{"limit=1000", func(testTask) bool { return true }},
	} {
		var want []string
		for _, task := range all {
			if tt.want(task) {
				want = append(want, task.ID)
			}
		}
		var got []string
		target := "/api/" + url.PathEscape(user) + "/tasks?" + tt.query
		for pages := 0; target != ""; pages++ {
			if pages > len(all) {
				t.Fatalf("%s: more pages than tasks", tt.query)
			}
			rec := serve(t, h, "GET", target, "")
			page := decodeAs[[]testTask](t, rec, http.StatusOK)
			for _, task := range page {
				got = append(got, task.ID)
			}
			target = nextLink(t, rec, tt.query)
			if target != "" && len(page) == 0 {
				t.Fatalf("%s: an empty page links to another", tt.query)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: pages gave %d tasks %v,\nwant %d %v", tt.query, len(got), got, len(want), want)
		}
	}
}

// TestHandMadeCursorsAreNotErrors: after= is opaque, but a client can
// send any 32 base64url characters, which name any instant from about
// 290,000 BC to 294,000 AD. PostgreSQL refuses timestamps far outside its
// range, which made such a cursor a 500 there (and a 200 on the memory
// store). A cursor before every task lists them all, one after every task
// lists none, on both stores.
func TestHandMadeCursorsAreNotErrors(t *testing.T) {
	t.Parallel()
	cursor := func(micros int64) string {
		var b [24]byte
		binary.BigEndian.PutUint64(b[:8], uint64(micros))
		return base64.RawURLEncoding.EncodeToString(b[:])
	}
	onEachStore(t, func(t *testing.T, h http.Handler, user string) {
		createTask(t, h, user, `{"title": "a"}`)
		createTask(t, h, user, `{"title": "b"}`)
		for _, tt := range []struct {
			micros int64
			want   int
		}{
			{math.MinInt64, 2}, {-62135596800000001, 2}, {-1, 2},
			{math.MaxInt64, 0}, {253402300800000000, 0},
		} {
			for _, limit := range []string{"", "&limit=5"} {
				target := "/api/" + user + "/tasks?after=" + cursor(tt.micros) + limit
				if got := decodeAs[[]testTask](t, serve(t, h, "GET", target, ""), http.StatusOK); len(got) != tt.want {
					t.Errorf("after %d µs%s: %d tasks, want %d", tt.micros, limit, len(got), tt.want)
				}
			}
		}
	})
}

// TestNoLinkOnAFullLastPage: a Link is sent only when at least one more
// task follows, so a last page exactly as long as limit has none and never
// leads to an empty page, whether it is the first page, one reached by a
// Link, or one of a list narrowed by completed.
func TestNoLinkOnAFullLastPage(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, h http.Handler, user string) {
		tasks := "/api/" + user + "/tasks"
		for i := range 4 {
			task := createTask(t, h, user, fmt.Sprintf(`{"title": "task %d"}`, i))
			if i < 2 {
				serve(t, h, "PATCH", tasks+"/"+task.ID+"/complete", "")
			}
		}
		for _, tt := range []struct {
			query string
			pages []int // the length of each page
		}{
			{"limit=2", []int{2, 2}},
			{"limit=4", []int{4}},
			{"limit=1&completed=true", []int{1, 1}},
			{"completed=false&limit=2", []int{2}},
		} {
			target := tasks + "?" + tt.query
			var got []int
			for target != "" && len(got) <= len(tt.pages) {
				rec := serve(t, h, "GET", target, "")
				got = append(got, len(decodeAs[[]testTask](t, rec, http.StatusOK)))
				target = nextLink(t, rec, tt.query)
			}
			if !slices.Equal(got, tt.pages) {
				t.Errorf("%s: pages of %v tasks, want %v (a full last page must have no Link)", tt.query, got, tt.pages)
			}
		}
	})
}

// nextLink returns the target of a page's Link rel="next", "" without one.
func nextLink(t *testing.T, rec *httptest.ResponseRecorder, query string) string {
	t.Helper()
	link := rec.Header().Get("Link")
	if link == "" {
		return ""
	}
	m := linkPattern.FindStringSubmatch(link)
	if m == nil {
		t.Fatalf("%s: Link %q is not <url>; rel=\"next\"", query, link)
	}
	return m[1]
}
