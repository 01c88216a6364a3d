package main

// Telling every instance of a write: once a write of this instance has
// committed, its user's streams here are woken at once, and the user id is
// queued for one goroutine that sends what is queued with pg_notify, in one
// statement of its own, while the next batch gathers. Not in the write's
// own statement: a transaction that notifies takes a lock that every
// notifying transaction of the server shares, and holds it through its
// commit, so notifying in each write would make the commits of all writes,
// of all instances, wait for one another (measured in
// docs/performance.md). A notification lost to a crash between a commit
// and its batch is made good by the listener's sweep (pglisten.go).

import (
	"context"
	"sync"
	"time"

	"github.com/lib/pq"
)

// notifySQL notifies each of $2's user ids, as sent by instance $1 (whose
// own listener then knows to skip it). Its transaction commits without
// waiting for its WAL record to reach the disk (synchronous_commit off,
// for this transaction only): it writes no data, the notifications go out
// at the commit all the same, and a crash that lost one is what the sweep
// makes good; so a batch takes no disk flush from the writes.
const notifySQL = `SELECT set_config('synchronous_commit', 'off', true),
		pg_notify('task_changes', $1 || ' ' || u) FROM unnest($2::text[]) AS u`

// maxNotifyBatch bounds the user ids one statement notifies.
const maxNotifyBatch = 1000

// notifyGather is the least time between the starts of two batches: under
// a stream of writes, a batch per notifyGather rather than per round trip.
const notifyGather = 5 * time.Millisecond

// notifyQueue holds the users written to since the last batch was sent.
type notifyQueue struct {
	mu      sync.Mutex
	pending map[string]struct{}
	kick    chan struct{} // a token when pending is not empty
}

func newNotifyQueue() *notifyQueue {
	return &notifyQueue{pending: make(map[string]struct{}), kick: make(chan struct{}, 1)}
}

// add queues a user, never blocking.
func (q *notifyQueue) add(userID string) {
	q.mu.Lock()
	q.pending[userID] = struct{}{}
	q.mu.Unlock()
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

// take removes and returns up to n queued users.
func (q *notifyQueue) take(n int) []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	users := make([]string, 0, min(n, len(q.pending)))
	for u := range q.pending {
		if len(users) == n {
			break
		}
		users = append(users, u)
		delete(q.pending, u)
	}
	return users
}

// announce tells the streams of every instance that a write of userID has
// committed; nothing when the write failed or changed nothing (replayed).
func (s *pgStore) announce(userID string, replayed bool, err error) {
	if err != nil || replayed {
		return
	}
	s.hub.changed(userID)
	s.notes.add(userID)
}

// notifyLoop sends the queued users until Close.
func (s *pgStore) notifyLoop() {
	defer close(s.notified)
	for {
		select {
		case <-s.stop:
			return
		case <-s.notes.kick:
		}
		for users := s.notes.take(maxNotifyBatch); len(users) > 0; users = s.notes.take(maxNotifyBatch) {
			gathered := time.NewTimer(notifyGather)
			s.notifyBatch(users)
			select {
			case <-s.stop:
				gathered.Stop()
				return
			case <-gathered.C:
			}
		}
	}
}

// notifyBatch sends one batch.
func (s *pgStore) notifyBatch(users []string) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	if err := s.execOnce(ctx, "notify writes", notifySQL, s.instance, pq.Array(users)); err != nil {
		s.log.Warn("could not tell other instances of writes; their streams catch up at the next sweep",
			"users", len(users), "err", err)
	}
}
