package main

// Hearing every instance's writes: each instance LISTENs on one connection
// of its own, outside the pool, opened when its first event stream
// subscribes, for the notifications pgnotify.go sends. lib/pq's Listener
// reconnects with backoff; after a reconnect, and once the first LISTEN
// holds, every stream is woken to read what it may have missed, so a write
// made while the connection was down still reaches it. A notification that
// was never sent (its instance killed between a commit and the batch) is
// made good by a sweep: every sweep interval, one statement reads the
// counters of the users with streams here, and wakes those that moved.

import (
	"cmp"
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/lib/pq"
)

// listenChannel is the channel notifySQL notifies.
const listenChannel = "task_changes"

// defaultSweepInterval is how late, at most, a write whose notification
// was lost reaches the streams of another instance.
const defaultSweepInterval = 15 * time.Second

// Reconnection backoff of the LISTEN connection.
const (
	listenMinBackoff = 100 * time.Millisecond
	listenMaxBackoff = 10 * time.Second
)

// Subscribe implements taskStore. The first subscription opens the LISTEN
// connection.
func (s *pgStore) Subscribe(userID string) (*subscription, error) {
	sub, err := s.hub.subscribe(userID)
	if err == nil {
		s.listening.Do(s.startListener)
	}
	return sub, err
}

// startListener opens the LISTEN connection and relays what it hears to
// the hub until Close.
func (s *pgStore) startListener() {
	l := pq.NewDialListener(listenDialer{}, s.listenURL, listenMinBackoff, listenMaxBackoff, s.logListenerEvent)
	s.listener = l
	go func() {
		// Listen waits for the first connection; until it holds, writes
		// go unheard, so the streams read again once it does.
		if err := l.Listen(listenChannel); err != nil {
			if !errors.Is(err, net.ErrClosed) { // not the store closing
				s.log.Warn("LISTEN failed: event streams get changes only when they reconnect", "err", err)
			}
			return
		}
		s.hub.resync()
	}()
	go s.relay(l)
}

// relay passes what the listener hears to the hub, and sweeps, until the
// listener is closed.
func (s *pgStore) relay(l *pq.Listener) {
	defer close(s.relayed)
	tick := time.NewTicker(s.sweepEvery)
	defer tick.Stop()
	seen := map[string]int64{} // user → counter at the last sweep
	for {
		select {
		case n, ok := <-l.NotificationChannel():
			if !ok {
				return
			}
			s.heard(n)
		case <-tick.C:
			if !s.ready.Load() {
				continue // nothing to read yet (and the statements not prepared)
			}
			next, err := s.sweep(seen)
			if err != nil {
				s.log.Warn("sweep of the streams' users failed; will try again", "err", err)
				continue
			}
			seen = next
		}
	}
}

// heard wakes the streams of the user another instance wrote for; a nil
// notification (after a reconnect) wakes every stream.
func (s *pgStore) heard(n *pq.Notification) {
	if n == nil {
		s.hub.resync()
		return
	}
	instance, userID, ok := strings.Cut(n.Extra, " ")
	if ok && instance != s.instance { // this instance woke its own at once
		s.hub.changed(userID)
	}
}

// sweepSQL reads the change counters of the users $1.
const sweepSQL = `SELECT user_id, changes FROM task_user WHERE user_id = ANY($1::text[])`

// sweep wakes the streams of each user whose counter has moved since the
// last sweep (seen), or who is new to it, and returns the counters of the
// users with streams now.
func (s *pgStore) sweep(seen map[string]int64) (map[string]int64, error) {
	users := s.hub.userIDs()
	now := make(map[string]int64, len(users))
	for len(users) > 0 {
		chunk := users[:min(len(users), maxNotifyBatch)]
		users = users[len(chunk):]
		if err := s.readCounters(chunk, now); err != nil {
			return nil, err
		}
	}
	for u, n := range now {
		if was, ok := seen[u]; !ok || was != n {
			s.hub.changed(u)
		}
	}
	return now, nil
}

// readCounters puts the counters of users into counters; a user without
// a row (who never wrote) counts 0.
func (s *pgStore) readCounters(users []string, counters map[string]int64) error {
	for _, u := range users {
		counters[u] = 0
	}
	ctx, cancel := s.bound(context.Background())
	defer cancel()
	rows, err := s.query(ctx, sweepSQL, pq.Array(users))
	if err != nil {
		return classify("sweep", err)
	}
	defer rows.Close()
	for rows.Next() {
		var u string
		var n int64
		if err := rows.Scan(&u, &n); err != nil {
			return classify("sweep", err)
		}
		counters[u] = n
	}
	if err := rows.Err(); err != nil {
		return classify("sweep", err)
	}
	return nil
}

// logListenerEvent logs the LISTEN connection's losses and recoveries.
func (s *pgStore) logListenerEvent(ev pq.ListenerEventType, err error) {
	switch ev {
	case pq.ListenerEventDisconnected:
		s.log.Warn("change listener lost its connection; reconnecting", "err", err)
	case pq.ListenerEventConnectionAttemptFailed:
		s.log.Warn("change listener cannot connect; retrying", "err", err)
	case pq.ListenerEventReconnected:
		s.log.Info("change listener reconnected; event streams catch up")
	}
}

// closeListener stops the LISTEN connection, if it was opened.
func (s *pgStore) closeListener() {
	s.listening.Do(func() { close(s.relayed) }) // never to open now
	if s.listener != nil {
		s.listener.Close()
	}
	<-s.relayed
}

// listenDialer dials the LISTEN connection. The connection sits idle
// between notifications, so it has no read deadline as the pool's do;
// TCP keepalives notice a peer that vanished within about 25 seconds, and
// the listener reconnects.
type listenDialer struct{}

func (listenDialer) dialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{Timeout: timeout, KeepAliveConfig: net.KeepAliveConfig{
		Enable: true, Idle: 10 * time.Second, Interval: 5 * time.Second, Count: 3}}
}

func (d listenDialer) Dial(network, addr string) (net.Conn, error) {
	return d.dialer(pgDefaultConnectTimeout).Dial(network, addr)
}

func (d listenDialer) DialTimeout(network, addr string, timeout time.Duration) (net.Conn, error) {
	return d.dialer(timeout).Dial(network, addr)
}

func (d listenDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return d.dialer(pgDefaultConnectTimeout).DialContext(ctx, network, addr)
}

// listenURL is the URL the LISTEN connection uses: DATABASE_LISTEN_URL if
// set, or else DATABASE_URL with a Neon pooler host (its first label
// ending in -pooler) made the endpoint's direct host, since a
// transaction-mode pooler cannot hold a LISTEN. Either way channel_binding,
// which lib/pq does not know, is dropped, as it is for the pool.
func listenURL(databaseURL, override string) string {
	u, err := url.Parse(cmp.Or(override, databaseURL))
	if err != nil {
		return cmp.Or(override, databaseURL) // loadConfig has refused it already
	}
	q := u.Query()
	if q.Has("channel_binding") {
		q.Del("channel_binding")
		u.RawQuery = q.Encode()
	}
	host, rest, _ := strings.Cut(u.Host, ".")
	if direct, ok := strings.CutSuffix(host, "-pooler"); ok && rest != "" && override == "" {
		u.Host = direct + "." + rest
	}
	return u.String()
}
