package main

// ETags, If-Match and If-None-Match.

import (
	"net/http"
	"regexp"
	"testing"
)

// TestETags: every single-task response carries a strong ETag that changes
// with every write; GET with If-None-Match naming it is a 304 without a
// body; writes with If-Match happen only at that version, else 412 with
// the current ETag and nothing changed.
func TestETags(t *testing.T) {
	t.Parallel()
	onEachStore(t, testETags)
}

func testETags(t *testing.T, h http.Handler, user string) {
	one := func(id string) string { return "/api/" + user + "/tasks/" + id }
	created := serve(t, h, "POST", "/api/"+user+"/tasks", `{"title": "t"}`)
	task := decodeAs[testTask](t, created, http.StatusCreated)
	tag := created.Header().Get("ETag")
	if !regexp.MustCompile(`^"[0-9a-z]+"$`).MatchString(tag) {
		t.Fatalf("ETag %q is not a strong tag", tag)
	}
	if got := serve(t, h, "GET", one(task.ID), "").Header().Get("ETag"); got != tag {
		t.Errorf("GET ETag %q, POST gave %q", got, tag)
	}

	for _, inm := range []string{tag, "W/" + tag, `"x", ` + tag, "*"} {
		rec := serve(t, h, "GET", one(task.ID), "", "If-None-Match", inm)
		if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 || rec.Header().Get("ETag") != tag {
			t.Errorf("If-None-Match %s: %d %q ETag %q, want 304, no body, the ETag", inm, rec.Code, rec.Body, rec.Header().Get("ETag"))
		}
	}
	if rec := serve(t, h, "GET", one(task.ID), "", "If-None-Match", `"x"`, "If-None-Match", tag); rec.Code != http.StatusNotModified {
		t.Errorf("If-None-Match naming the tag on its second line: %d, want 304", rec.Code)
	}
	if rec := serve(t, h, "GET", one(task.ID), "", "If-None-Match", `"other"`); rec.Code != http.StatusOK {
		t.Errorf("If-None-Match another tag: %d, want 200", rec.Code)
	}

	// A write at the current version succeeds and moves the ETag.
	rec := serve(t, h, "PUT", one(task.ID), `{"title": "u"}`, "If-Match", tag)
	decodeAs[testTask](t, rec, http.StatusOK)
	newTag := rec.Header().Get("ETag")
	if newTag == "" || newTag == tag {
		t.Fatalf("ETag after PUT = %q, was %q: want a new one", newTag, tag)
	}
	// The old tag is stale for every write; weak and malformed tags never match.
	for _, w := range []struct{ method, target, body, ifMatch string }{
		{"PUT", one(task.ID), `{"title": "lost"}`, tag},
		{"PATCH", one(task.ID) + "/complete", "", tag},
		{"DELETE", one(task.ID), "", tag},
		{"DELETE", one(task.ID), "", "W/" + newTag},
		{"DELETE", one(task.ID), "", "garbage"},
		{"DELETE", one(task.ID), "", `"-gzzs93zls00"`}, // year 0: no task is at that version
	} {
		rec := serve(t, h, w.method, w.target, w.body, "If-Match", w.ifMatch)
		wantDetail(t, rec, http.StatusPreconditionFailed, "Precondition Failed: the task has changed since that ETag")
		if got := rec.Header().Get("ETag"); got != newTag {
			t.Errorf("%s If-Match %s: 412 with ETag %q, want the current %q", w.method, w.ifMatch, got, newTag)
		}
	}
	if got := getTask(t, h, user, task.ID); got.Title != "u" || got.IsCompleted {
		t.Errorf("refused writes changed the task: %+v", got)
	}
	// "*", or a list naming the current tag, will do.
	rec = serve(t, h, "PATCH", one(task.ID)+"/complete", "", "If-Match", `"old", `+newTag)
	decodeAs[testTask](t, rec, http.StatusOK)
	rec = serve(t, h, "DELETE", one(task.ID), "", "If-Match", "*")
	if rec.Code != http.StatusOK {
		t.Errorf("DELETE If-Match *: %d", rec.Code)
	}
	// A missing task is a 404 whatever the precondition.
	wantDetail(t, serve(t, h, "DELETE", one(task.ID), "", "If-Match", newTag), http.StatusNotFound, "Task not found")
	wantDetail(t, serve(t, h, "GET", one(task.ID), "", "If-None-Match", "*"), http.StatusNotFound, "Task not found")
}
