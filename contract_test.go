package main

// Lines of docs/api.md ("Change feed", "Live events", "Limits") that no
// other test held to the code, each test naming the line it holds.

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// contractGoneDetail is the 410's detail as docs/api.md gives it.
const contractGoneDetail = "The changes since that cursor are no longer kept (deletes are kept 30 days): list the tasks again, without since"

// contractFeed is a change feed answer, each change kept raw so that a
// task can be compared byte for byte.
type contractFeed struct {
	Changes []map[string]json.RawMessage `json:"changes"`
	Cursor  string                       `json:"cursor"`
	HasMore bool                         `json:"has_more"`
}

// feedGet reads GET /api/{user}/tasks/changes with the query given
// (without "?"), and fails the test unless it is a 200.
func feedGet(t *testing.T, h http.Handler, user, query string) contractFeed {
	t.Helper()
	target := "/api/" + url.PathEscape(user) + "/tasks/changes"
	if query != "" {
		target += "?" + query
	}
	return decodeAs[contractFeed](t, serve(t, h, "GET", target, ""), http.StatusOK)
}

// ops renders a feed answer's changes as "+id" (upsert) and "-id" (delete).
func (f contractFeed) ops(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, c := range f.Changes {
		var op string
		if err := json.Unmarshal(c["op"], &op); err != nil {
			t.Fatalf("change %s: op: %v", c, err)
		}
		switch op {
		case "upsert":
			var task testTask
			if err := json.Unmarshal(c["task"], &task); err != nil {
				t.Fatalf("upsert %s: %v", c, err)
			}
			out = append(out, "+"+task.ID)
		case "delete":
			var id string
			if err := json.Unmarshal(c["id"], &id); err != nil {
				t.Fatalf("delete %s: %v", c, err)
			}
			out = append(out, "-"+id)
		default:
			t.Fatalf("change with op %q: %s", op, c)
		}
	}
	return out
}

// TestContractFeedPathIsATaskPath holds docs/api.md, Change feed: "The
// path is also a task path for PUT and DELETE (`changes` in the place of a
// task id), which answer 422 `uuid_parsing` as for any task id that is not
// a UUID; a `405` on it lists `GET`, `HEAD`, `PUT` and `DELETE`."
func TestContractFeedPathIsATaskPath(t *testing.T) {
	t.Parallel()
	h := newTestServer(t)
	for _, method := range []string{"POST", "PATCH"} {
		rec := serve(t, h, method, "/api/u/tasks/changes", "")
		wantDetail(t, rec, http.StatusMethodNotAllowed, "Method Not Allowed")
		allow := strings.Split(rec.Header().Get("Allow"), ", ")
		slices.Sort(allow)
		if want := []string{"DELETE", "GET", "HEAD", "PUT"}; !slices.Equal(allow, want) {
			t.Errorf("%s /api/u/tasks/changes: Allow %q, want the methods %q", method, rec.Header().Get("Allow"), want)
		}
	}
	wantItems(t, serve(t, h, "PUT", "/api/u/tasks/changes", `{"title": "t"}`), "uuid_parsing@path.task_id")
	wantItems(t, serve(t, h, "DELETE", "/api/u/tasks/changes", ""), "uuid_parsing@path.task_id")
}

// TestContractFeedQuery holds docs/api.md, Change feed: "`limit`: at most
// this many changes, 1 to 1,000 (1,000 by default); `has_more: true` says
// more follow at once" and "A cursor is the user's: one of another user,
// malformed, or past the user's last change is a 422 `value_error` at
// `["query", "since"]`; `limit` as for the list (`int_parsing`,
// `greater_than_equal`, `less_than_equal` at `["query", "limit"]`)", with
// the list's tolerance of white space, `+` and leading zeros (Pagination).
func TestContractFeedQuery(t *testing.T) {
	t.Parallel()
	store := newMemStore(defaultMaxTasks)
	h := newServer(discardLogger(), store, testCORS, nil, nil)
	for range 3 {
		mustCreate(t, store, "u", newTask{Title: "t"})
	}
	for query, want := range map[string][]string{
		"limit=ten":          {"int_parsing@query.limit"},
		"limit=":             {"int_parsing@query.limit"},
		"limit=5.0":          {"int_parsing@query.limit"},
		"limit=1e2":          {"int_parsing@query.limit"},
		"limit=0":            {"greater_than_equal@query.limit"},
		"limit=-1":           {"greater_than_equal@query.limit"},
		"limit=1001":         {"less_than_equal@query.limit"},
		"since=nope":         {"value_error@query.since"},
		"since=nope&limit=0": {"value_error@query.since", "greater_than_equal@query.limit"},
		"since=" + feedGet(t, h, "other", "").Cursor:          {"value_error@query.since"},
		"since=" + encodeChangeCursor(cursorAt(99), "u"):      {"value_error@query.since"},
		"since=" + encodeChangeCursor(cursorAt(1), "u") + "x": {"value_error@query.since"},
	} {
		items := wantItems(t, serve(t, h, "GET", "/api/u/tasks/changes?"+query, ""), want...)
		for _, it := range items {
			switch it.Type {
			case "greater_than_equal":
				if it.Ctx["ge"] != float64(1) {
					t.Errorf("%s: ctx %v, want ge 1", query, it.Ctx)
				}
			case "less_than_equal":
				if it.Ctx["le"] != float64(1000) {
					t.Errorf("%s: ctx %v, want le 1000", query, it.Ctx)
				}
			}
		}
	}
	for _, limit := range []string{"2", "%202%20", "%2B2", "002"} {
		if page := feedGet(t, h, "u", "limit="+limit); len(page.Changes) != 2 || !page.HasMore {
			t.Errorf("limit=%s of 3 tasks: %d changes, has_more %v; want 2 and true", limit, len(page.Changes), page.HasMore)
		}
	}
	for range maxPageLimit - 2 {
		mustCreate(t, store, "u", newTask{Title: "t"})
	}
	first := feedGet(t, h, "u", "")
	if len(first.Changes) != 1000 || !first.HasMore {
		t.Fatalf("1,001 tasks without limit: %d changes, has_more %v; want 1000 and true", len(first.Changes), first.HasMore)
	}
	if rest := feedGet(t, h, "u", "since="+first.Cursor); len(rest.Changes) != 1 || rest.HasMore {
		t.Errorf("after the first 1,000: %d changes, has_more %v; want 1 and false", len(rest.Changes), rest.HasMore)
	}
}

// TestContractPagingMeetsNo410 holds docs/api.md, Change feed: "Paging
// through the current tasks (no `since`, then the cursors it gives) never
// meets a 410 for deletes older than that reading: its cursors remember
// where it began"; and, Live events, that such a cursor opens the stream
// ("With `Last-Event-ID: <an event id or a feed cursor>`, right after it")
// while a cursor that needs a forgotten delete is a 410 there too ("one
// too old a 410, as for `since`").
func TestContractPagingMeetsNo410(t *testing.T) {
	t.Parallel()
	onEachStoreWith(t, func(o *pgOptions) { o.TombstoneWindow = 2 }, func(t *testing.T, s taskStore) {
		h := newServer(discardLogger(), s, testCORS, nil, nil)
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close) // after the streams close (cleanups run last first)
		user := newUserID(t)
		del := func(task Task) {
			t.Helper()
			if err := s.DeleteTask(t.Context(), user, task.ID, nil); err != nil {
				t.Fatal(err)
			}
		}
		a := mustCreate(t, s, user, newTask{Title: "a"}) // change 1
		old := feedGet(t, h, user, "").Cursor            // a plain cursor after 1
		g1 := mustCreate(t, s, user, newTask{Title: "g1"})
		b := mustCreate(t, s, user, newTask{Title: "b"})
		c := mustCreate(t, s, user, newTask{Title: "c"})
		del(g1) // change 5
		g2 := mustCreate(t, s, user, newTask{Title: "g2"})
		del(g2) // change 7: a window of 2 forgets the delete of g1 (5)

		// The delete of g1 is forgotten: a cursor from before it is too old.
		wantDetail(t, serve(t, h, "GET", "/api/"+user+"/tasks/changes?since="+old, ""), http.StatusGone, contractGoneDetail)
		wantDetail(t, serve(t, h, "GET", "/api/"+user+"/tasks/events", "", "Last-Event-ID", old), http.StatusGone, contractGoneDetail)

		// A reading of the current tasks that began after it passes a's
		// number (1), older than the forgotten delete, without a 410.
		page := feedGet(t, h, user, "limit=1")
		if got := page.ops(t); !slices.Equal(got, []string{"+" + a.ID}) || !page.HasMore {
			t.Fatalf("the first page of one: %v, has_more %v", got, page.HasMore)
		}
		afterA := page.Cursor
		var upserts []string
		for page.HasMore {
			page = feedGet(t, h, user, "limit=1&since="+page.Cursor) // fails on a 410
			for _, op := range page.ops(t) {
				if strings.HasPrefix(op, "+") {
					upserts = append(upserts, op)
				}
			}
		}
		if want := []string{"+" + b.ID, "+" + c.ID}; !slices.Equal(upserts, want) {
			t.Errorf("the pages after a: upserts %v, want %v", upserts, want)
		}
		stream := openStream(t, srv.URL+"/api/"+user+"/tasks/events", "Last-Event-ID", afterA)
		stream.want(t, "upsert", b.ID)
		stream.want(t, "upsert", c.ID)
		stream.want(t, "delete", g2.ID)
	})
}

// TestContractStreamFromFeedCursor holds docs/api.md, Live events: "With
// `Last-Event-ID: <an event id or a feed cursor>`, right after it: no gap,
// no duplicate. A client that has synced with the change feed opens the
// stream with its `cursor` as `Last-Event-ID`."
func TestContractStreamFromFeedCursor(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, h http.Handler, user string) {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close) // after the streams close (cleanups run last first)
		a := createTask(t, h, user, `{"title": "a"}`)
		b := createTask(t, h, user, `{"title": "b"}`)
		// A sync, a page of one at a time.
		page := feedGet(t, h, user, "limit=1")
		synced := page.ops(t)
		for page.HasMore {
			page = feedGet(t, h, user, "limit=1&since="+page.Cursor)
			synced = append(synced, page.ops(t)...)
		}
		if want := []string{"+" + a.ID, "+" + b.ID}; !slices.Equal(synced, want) {
			t.Fatalf("the sync: %v, want %v", synced, want)
		}
		serve(t, h, "PATCH", "/api/"+user+"/tasks/"+a.ID+"/complete", "")
		c := createTask(t, h, user, `{"title": "c"}`)
		if rec := serve(t, h, "DELETE", "/api/"+user+"/tasks/"+b.ID, ""); rec.Code != http.StatusOK {
			t.Fatalf("delete b: %d %s", rec.Code, rec.Body)
		}
		stream := openStream(t, srv.URL+"/api/"+user+"/tasks/events", "Last-Event-ID", page.Cursor)
		if toggled := stream.want(t, "upsert", a.ID); !strings.Contains(toggled.data, `"is_completed":true`) {
			t.Errorf("a, toggled after the sync: %s", toggled.data)
		}
		stream.want(t, "upsert", c.ID)
		stream.want(t, "delete", b.ID)
		// Nothing the sync had comes again: the next event is the next write.
		d := createTask(t, h, user, `{"title": "d"}`)
		stream.want(t, "upsert", d.ID)
	})
}

// TestContractEventIDIsASince holds docs/api.md, Live events: "its `id`
// is a cursor, the same kind the change feed's `since` takes"; and, Change
// feed, "ask again with the answer's `cursor` (that of the last change in
// it, or `since` when there is none)".
func TestContractEventIDIsASince(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, h http.Handler, user string) {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close) // after the streams close (cleanups run last first)
		a := createTask(t, h, user, `{"title": "a"}`)
		x := createTask(t, h, user, `{"title": "x"}`)
		stream := openStream(t, srv.URL+"/api/"+user+"/tasks/events")
		// The current tasks first: a's id is taken in the middle of that
		// reading, x's at its end.
		eA := stream.want(t, "upsert", a.ID)
		stream.want(t, "upsert", x.ID)
		b := createTask(t, h, user, `{"title": "b"}`)
		eB := stream.want(t, "upsert", b.ID)
		serve(t, h, "DELETE", "/api/"+user+"/tasks/"+a.ID, "")
		eDel := stream.want(t, "delete", a.ID)

		for _, tc := range []struct {
			name, since string
			want        []string
		}{
			{"a's upsert", eA.id, []string{"+" + x.ID, "+" + b.ID, "-" + a.ID}},
			{"b's upsert", eB.id, []string{"-" + a.ID}},
			{"the delete", eDel.id, nil},
		} {
			page := feedGet(t, h, user, "since="+tc.since)
			if got := page.ops(t); !slices.Equal(got, tc.want) || page.HasMore {
				t.Errorf("since the id of %s: %v, has_more %v; want %v", tc.name, got, page.HasMore, tc.want)
			}
			if tc.want == nil && page.Cursor != tc.since {
				t.Errorf("since the id of %s, nothing new: cursor %q, want since %q", tc.name, page.Cursor, tc.since)
			}
		}
	})
}

// TestContractEventData holds docs/api.md, Live events: "Each change is
// one event: `event: upsert` with the task as every endpoint writes it, or
// `event: delete` with `{"id": …}`"; and, Change feed, `{"op": "upsert",
// "task": …}` (the task as every endpoint writes it) and `{"op":
// "delete", "id": …}`.
func TestContractEventData(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, h http.Handler, user string) {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close) // after the streams close (cleanups run last first)
		// Characters encoding/json escapes (<, >, &, U+2028) or that need
		// escaping (", tab), and others it writes as they are.
		task := createTask(t, h, user, `{"title": "Say \"hi\" <b>&</b>", "description": "é 🎉 \u2028 \t end"}`)
		path := "/api/" + user + "/tasks/" + task.ID
		read := serve(t, h, "GET", path, "").Body.String()

		stream := openStream(t, srv.URL+"/api/"+user+"/tasks/events")
		if e := stream.want(t, "upsert", task.ID); e.data != read {
			t.Errorf("upsert event data:\n%s\nGET answers:\n%s", e.data, read)
		}
		first := feedGet(t, h, user, "")
		if len(first.Changes) != 1 || string(first.Changes[0]["task"]) != read || len(first.Changes[0]) != 2 {
			t.Errorf("the feed's upsert: %s\nGET answers:\n%s", first.Changes, read)
		}

		updated := serve(t, h, "PUT", path, `{"title": "<new>", "description": null}`)
		if updated.Code != http.StatusOK {
			t.Fatalf("PUT: %d %s", updated.Code, updated.Body)
		}
		reread := serve(t, h, "GET", path, "").Body.String()
		if e := stream.want(t, "upsert", task.ID); e.data != updated.Body.String() || e.data != reread {
			t.Errorf("upsert event data after an update:\n%s\nPUT answered:\n%s\nGET answers:\n%s", e.data, updated.Body, reread)
		}

		beforeDelete := feedGet(t, h, user, "").Cursor
		serve(t, h, "DELETE", path, "")
		if e := stream.want(t, "delete", task.ID); e.data != `{"id":"`+task.ID+`"}` {
			t.Errorf("delete event data %s, want {\"id\":\"%s\"}", e.data, task.ID)
		}
		after := feedGet(t, h, user, "since="+beforeDelete)
		if len(after.Changes) != 1 || len(after.Changes[0]) != 2 || string(after.Changes[0]["op"]) != `"delete"` ||
			string(after.Changes[0]["id"]) != `"`+task.ID+`"` {
			t.Errorf("the feed's delete: %s, want {\"op\":\"delete\",\"id\":\"%s\"}", after.Changes, task.ID)
		}
	})
}

// TestContractDeletesKept holds docs/api.md, Change feed: "Deletes are
// kept 30 days as tombstones, and only those among the user's last 10,000
// changes", and the Limits row "Deletes kept for the change feed | those
// of the last 30 days among the user's last 10,000 changes | a cursor that
// needs an older one is a 410", with the 410's detail. On the memory
// store, whose clock a test sets; PostgreSQL purges by the same age
// (TestTombstoneWindow holds both stores to the same window rule).
func TestContractDeletesKept(t *testing.T) {
	t.Parallel()
	// setUp makes a user whose first task (change 1) comes before a
	// delete (3), and returns a plain cursor after change 1.
	setUp := func(t *testing.T, s *memStore) (http.Handler, Task, string) {
		h := newServer(discardLogger(), s, testCORS, nil, nil)
		mustCreate(t, s, "u", newTask{Title: "kept"})
		cursor := feedGet(t, h, "u", "").Cursor
		gone := mustCreate(t, s, "u", newTask{Title: "gone"})
		if err := s.DeleteTask(t.Context(), "u", gone.ID, nil); err != nil {
			t.Fatal(err)
		}
		return h, gone, cursor
	}
	wantKept := func(t *testing.T, h http.Handler, cursor string, gone Task) {
		t.Helper()
		if got := feedGet(t, h, "u", "since="+cursor).ops(t); !slices.Contains(got, "-"+gone.ID) {
			t.Errorf("the changes since a cursor from before the delete: %v, want its delete", got)
		}
	}
	t.Run("30 days", func(t *testing.T) {
		t.Parallel()
		s := newMemStore(defaultMaxTasks)
		clock := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
		s.now = func() time.Time { return clock }
		h, gone, cursor := setUp(t, s)
		clock = clock.Add(30*24*time.Hour - time.Second)
		mustCreate(t, s, "u", newTask{Title: "a second short of 30 days later"})
		wantKept(t, h, cursor, gone)
		clock = clock.Add(time.Second)
		mustCreate(t, s, "u", newTask{Title: "30 days later"})
		wantDetail(t, serve(t, h, "GET", "/api/u/tasks/changes?since="+cursor, ""), http.StatusGone, contractGoneDetail)
	})
	t.Run("10,000 changes", func(t *testing.T) {
		t.Parallel()
		s := newMemStore(defaultMaxTasks)
		h, gone, cursor := setUp(t, s)
		toggled := mustCreate(t, s, "u", newTask{Title: "toggled"}) // change 4
		for range 9996 {                                            // changes 5 to 10,000
			if _, _, err := s.ToggleTask(t.Context(), "u", toggled.ID, nil, idempotencyKey{}); err != nil {
				t.Fatal(err)
			}
		}
		deleteNew := func() {
			t.Helper()
			task := mustCreate(t, s, "u", newTask{Title: "made to be deleted"})
			if err := s.DeleteTask(t.Context(), "u", task.ID, nil); err != nil {
				t.Fatal(err)
			}
		}
		deleteNew() // changes 10,001 and 10,002: the last 10,000 are 3 to 10,002
		wantKept(t, h, cursor, gone)
		deleteNew() // changes 10,003 and 10,004: the delete (3) is no longer among them
		wantDetail(t, serve(t, h, "GET", "/api/u/tasks/changes?since="+cursor, ""), http.StatusGone, contractGoneDetail)
	})
}
