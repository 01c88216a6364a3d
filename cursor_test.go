package main

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"net/http"
	"testing"
)

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
	stores := map[string]func(t *testing.T) taskStore{
		"memory": func(*testing.T) taskStore { return newMemStore() },
		"postgres": func(t *testing.T) taskStore {
			return openTestPostgres(t, testPostgresURL(t, "TEST_DATABASE_URL"))
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newServer(discardLogger(), open(t), testCORS, nil)
			user := newUserID(t)
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
}
