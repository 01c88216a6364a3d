package main

// Handler micro-benchmarks on the memory store, with allocations, so that
// CPU and allocation regressions in the HTTP layer show:
//
//	go test -run '^$' -bench 'Handler' -benchmem -count 8 . | benchstat -

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// benchRequest serves one request per iteration and checks its status.
func benchRequest(b *testing.B, h http.Handler, method, target, body string, want int) {
	b.Helper()
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			b.Fatalf("%s %s: %d %s", method, target, rec.Code, rec.Body)
		}
	}
}

// benchServe serves the same bodiless request every iteration and checks
// the answer is a 200.
func benchServe(b *testing.B, h http.Handler, req *http.Request) {
	b.Helper()
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

func BenchmarkHandlerGet(b *testing.B) {
	store := newMemStore()
	task := mustCreate(b, store, "u", newTask{Title: "Buy groceries", Description: ptr("Milk, eggs, bread")})
	benchRequest(b, newServer(discardLogger(), store, testCORS, nil), "GET", "/api/u/tasks/"+task.ID, "", http.StatusOK)
}

func BenchmarkHandlerCreate(b *testing.B) {
	h := newServer(discardLogger(), newMemStore(), testCORS, nil)
	benchRequest(b, h, "POST", "/api/u/tasks", `{"title": "Buy groceries", "description": "Milk, eggs, bread"}`, http.StatusCreated)
}

func BenchmarkHandlerList1000(b *testing.B) {
	store := newMemStore()
	for range 1000 {
		mustCreate(b, store, "u", newTask{Title: "Buy groceries", Description: ptr("Milk, eggs, bread")})
	}
	benchRequest(b, newServer(discardLogger(), store, testCORS, nil), "GET", "/api/u/tasks", "", http.StatusOK)
}

// BenchmarkPostgresGet compares unnamed and prepared statements for one
// GetTask, from parallel clients, on TEST_DATABASE_URL.
func BenchmarkPostgresGet(b *testing.B) {
	raw := testPostgresURL(b, "TEST_DATABASE_URL")
	for _, prepare := range []bool{false, true} {
		name := map[bool]string{false: "unnamed", true: "prepared"}[prepare]
		b.Run(name, func(b *testing.B) {
			s := openTestPostgresWith(b, raw, func(o *pgOptions) { o.Prepare = prepare })
			user := testRunID + "-bench"
			task := mustCreate(b, s, user, newTask{Title: "Buy groceries"})
			b.SetParallelism(4)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.GetTask(b.Context(), user, task.ID); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkPostgresGetOverHTTP is one GET of a task through the whole
// stack, loopback HTTP included, on TEST_DATABASE_URL: the CPU profile of
// what the service spends per request.
func BenchmarkPostgresGetOverHTTP(b *testing.B) {
	raw := testPostgresURL(b, "TEST_DATABASE_URL")
	s := openTestPostgresWith(b, raw, func(o *pgOptions) { o.Prepare = true })
	user := testRunID + "-bench"
	task := mustCreate(b, s, user, newTask{Title: "Buy groceries"})
	srv := httptest.NewServer(newServer(discardLogger(), s, testCORS, nil))
	defer srv.Close()
	url := srv.URL + "/api/" + user + "/tasks/" + task.ID
	b.SetParallelism(4)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := srv.Client().Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

// BenchmarkPostgresToggle is one toggle, the write path, with prepared
// statements on TEST_DATABASE_URL: its allocations show work done twice.
func BenchmarkPostgresToggle(b *testing.B) {
	s := openTestPostgresWith(b, testPostgresURL(b, "TEST_DATABASE_URL"), func(o *pgOptions) { o.Prepare = true })
	user := testRunID + "-bench"
	task := mustCreate(b, s, user, newTask{Title: "Buy groceries"})
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.ToggleTask(b.Context(), user, task.ID, nil, idempotencyKey{}); err != nil {
			b.Fatal(err)
		}
	}
}
