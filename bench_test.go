package main

// Benchmarks, all here. The handler micro-benchmarks run on the memory
// store, with allocations, so that CPU and allocation regressions in the
// HTTP layer show:
//
//	go test -run '^$' -bench 'Handler' -benchmem -count 8 . | benchstat -

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
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
	store := newMemStore(defaultMaxTasks)
	task := mustCreate(b, store, "u", newTask{Title: "Buy groceries", Description: ptr("Milk, eggs, bread")})
	benchRequest(b, newServer(discardLogger(), store, testCORS, nil, nil), "GET", "/api/u/tasks/"+task.ID, "", http.StatusOK)
}

// BenchmarkHandlerCreate makes one user as many tasks as it runs, so the
// store has no task limit.
func BenchmarkHandlerCreate(b *testing.B) {
	h := newServer(discardLogger(), newMemStore(0), testCORS, nil, nil)
	benchRequest(b, h, "POST", "/api/u/tasks", `{"title": "Buy groceries", "description": "Milk, eggs, bread"}`, http.StatusCreated)
}

func BenchmarkHandlerList1000(b *testing.B) {
	store := newMemStore(defaultMaxTasks)
	for range 1000 {
		mustCreate(b, store, "u", newTask{Title: "Buy groceries", Description: ptr("Milk, eggs, bread")})
	}
	benchRequest(b, newServer(discardLogger(), store, testCORS, nil, nil), "GET", "/api/u/tasks", "", http.StatusOK)
}

// BenchmarkMiddlewareOverhead measures what newServer adds around the bare
// mux (JSON 404/405 handling with its second route match, CORS, access log)
// for one GET of a task on the memory store, and, with TEST_DATABASE_URL
// set, the same GET on PostgreSQL for scale. Compare the sub-benchmarks as
// ratios: go test -run '^$' -bench MiddlewareOverhead -count 8 .
func BenchmarkMiddlewareOverhead(b *testing.B) {
	mem := newMemStore(defaultMaxTasks)
	task, _, err := mem.CreateTask(b.Context(), "u", newTask{Title: "t"}, idempotencyKey{})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, rt := range routes(discardLogger(), mem, nil, nil) {
		mux.Handle(rt.pattern, rt.handler)
	}
	cases := []struct {
		name, target string
		h            http.Handler
	}{
		{"mux", "/api/u/tasks/" + task.ID, mux},
		{"muxErrorsAsJSON", "/api/u/tasks/" + task.ID, muxErrorsAsJSON(discardLogger(), mux)},
		{"newServer", "/api/u/tasks/" + task.ID, newServer(discardLogger(), mem, testCORS, nil, nil)},
	}
	if raw := os.Getenv("TEST_DATABASE_URL"); raw != "" {
		pg := openTestPostgres(b, raw)
		user := newUserID(b)
		task, _, err := pg.CreateTask(b.Context(), user, newTask{Title: "t"}, idempotencyKey{})
		if err != nil {
			b.Fatal(err)
		}
		cases = append(cases, struct {
			name, target string
			h            http.Handler
		}{"newServerOnPostgres", "/api/" + user + "/tasks/" + task.ID, newServer(discardLogger(), pg, testCORS, nil, nil)})
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			benchServe(b, c.h, httptest.NewRequest("GET", c.target, nil))
		})
	}
}

// BenchmarkVerifyToken measures checking one token with the keys cached:
// what authentication adds to a request. go test -run '^$' -bench VerifyToken .
func BenchmarkVerifyToken(b *testing.B) {
	f := newAuthFixture(b)
	claims := claimsFor(f.clock, "user-123")
	for _, s := range []testSigner{f.ed, f.hs, f.rs, f.ec} {
		b.Run(s.alg, func(b *testing.B) {
			tok := s.token(b, claims)
			if _, err := f.auth.verify(b.Context(), tok); err != nil { // also loads the key set
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.auth.verify(b.Context(), tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAuthMiddleware is one GET of a task through the whole stack
// without authentication and with each kind of token, for scale.
func BenchmarkAuthMiddleware(b *testing.B) {
	f := newAuthFixture(b)
	mem := newMemStore(defaultMaxTasks)
	task, _, err := mem.CreateTask(b.Context(), "user-123", newTask{Title: "t"}, idempotencyKey{})
	if err != nil {
		b.Fatal(err)
	}
	target := "/api/user-123/tasks/" + task.ID
	claims := claimsFor(f.clock, "user-123")
	cases := []struct {
		name, token string
		h           http.Handler
	}{
		{"off", "", newServer(discardLogger(), mem, testCORS, nil, nil)},
		{"EdDSA", f.ed.token(b, claims), newServer(discardLogger(), mem, testCORS, f.auth, nil)},
		{"HS256", f.hs.token(b, claims), newServer(discardLogger(), mem, testCORS, f.auth, nil)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", target, nil)
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			benchServe(b, c.h, req)
		})
	}
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
	srv := httptest.NewServer(newServer(discardLogger(), s, testCORS, nil, nil))
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

// BenchmarkListPage reads a page of 50 from the middle of the list of a
// user with 1,000 tasks and of one with 100,000, on the memory store and,
// with TEST_DATABASE_URL set, on PostgreSQL, unfiltered and filtered on the
// state half the tasks have. A page's cost should not grow with the user's
// other tasks: compare each store's two sizes as a ratio (within 2x):
//
//	go test -run '^$' -bench ListPage -count 6 .
func BenchmarkListPage(b *testing.B) {
	stores := map[string]taskStore{"memory": newMemStore(0)}
	if raw := os.Getenv("TEST_DATABASE_URL"); raw != "" {
		stores["postgres"] = openTestPostgresWith(b, raw, func(o *pgOptions) { o.MaxTasks = 0 })
	}
	done := true
	for name, s := range stores {
		for _, size := range []int{1_000, 100_000} {
			user := newUserID(b)
			seedTasks(b, s, user, size)
			middle := listPageAt(b, s, user, size/2)
			for _, q := range []listQuery{{After: middle, Limit: 50}, {Completed: &done, After: middle, Limit: 50}} {
				shape := "all"
				if q.Completed != nil {
					shape = "completed"
				}
				b.Run(fmt.Sprintf("%s/%s/%d", name, shape, size), func(b *testing.B) {
					for b.Loop() {
						page, err := s.ListTasks(b.Context(), user, q)
						if err != nil || len(page) != 50 {
							b.Fatalf("%d tasks, %v", len(page), err)
						}
					}
				})
			}
		}
	}
}

// seedTasks gives a user n tasks, every other one completed: on PostgreSQL
// in one statement, on the memory store through its methods.
func seedTasks(b *testing.B, s taskStore, user string, n int) {
	b.Helper()
	if pg, ok := s.(*pgStore); ok {
		_, err := pg.db.ExecContext(b.Context(), `INSERT INTO task (id, user_id, title, is_completed, created_at, updated_at)
			SELECT gen_random_uuid(), $1, 'seeded', i % 2 = 0, now() + i * interval '1 microsecond', now()
			FROM generate_series(1, $2) AS i`, user, n)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := pg.db.ExecContext(b.Context(), `ANALYZE task`); err != nil {
			b.Fatal(err)
		}
		return
	}
	for i := range n {
		task := mustCreate(b, s, user, newTask{Title: "seeded"})
		if i%2 == 0 {
			if _, _, err := s.ToggleTask(b.Context(), user, task.ID, nil, idempotencyKey{}); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// listPageAt returns the cursor of the user's task at position i.
func listPageAt(b *testing.B, s taskStore, user string, i int) *listCursor {
	b.Helper()
	tasks, err := listAll(b.Context(), s, user)
	if err != nil || len(tasks) <= i {
		b.Fatalf("%d tasks, %v", len(tasks), err)
	}
	return &listCursor{CreatedAt: tasks[i].CreatedAt, ID: tasks[i].ID}
}

// BenchmarkEventLatency: from a write sent to its event read off an open
// stream, on the memory store (one process) and, with TEST_DATABASE_URL,
// across instances: the write through one PostgreSQL store, the stream
// served by another over the same database, woken by its LISTEN
// connection. Reports the median and the 90th percentile:
//
//	go test -run '^$' -bench EventLatency -count 3 .
func BenchmarkEventLatency(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		s := newMemStore(0)
		benchEventLatency(b, s, s)
	})
	b.Run("postgres-across-instances", func(b *testing.B) {
		raw := testPostgresURL(b, "TEST_DATABASE_URL")
		benchEventLatency(b, openTestPostgres(b, raw), openTestPostgres(b, raw))
	})
}

func benchEventLatency(b *testing.B, writer, server taskStore) {
	srv := httptest.NewServer(newServer(discardLogger(), server, testCORS, nil, nil))
	b.Cleanup(srv.Close)
	user := newUserID(b)
	stream := openStream(b, srv.URL+"/api/"+user+"/tasks/events")
	var took []time.Duration
	for b.Loop() {
		start := time.Now()
		task := mustCreate(b, writer, user, newTask{Title: "t"})
		stream.want(b, "upsert", task.ID)
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)*9/10].Microseconds())/1000, "p90-ms")
}

// BenchmarkEventsFirstPage: a stream's first page of 100 upserts, from the
// memory store, written and flushed (the request is already cancelled, so
// the stream ends there):
//
//	go test -run '^$' -bench EventsFirstPage -benchmem -count 6 .
func BenchmarkEventsFirstPage(b *testing.B) {
	store := newMemStore(0)
	for range 100 {
		mustCreate(b, store, "u", newTask{Title: "Buy groceries"})
	}
	h := newServer(discardLogger(), store, testCORS, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest("GET", "/api/u/tasks/events", nil).WithContext(ctx)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "event: upsert") {
			b.Fatalf("%d %.200s", rec.Code, rec.Body)
		}
	}
}
