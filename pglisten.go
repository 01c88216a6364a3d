package main

// Hearing every instance's writes: a trigger on task (schema.sql) sends
// the user id of each write on the task_changes channel as it commits, and
// each instance LISTENs on one connection of its own, outside the pool,
// opened when its first event stream subscribes. lib/pq's Listener
// reconnects with backoff; after a reconnect, and once the first LISTEN
// holds, every stream is woken to read what it may have missed, so a write
// made while the connection was down still reaches it.

import (
	"context"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/lib/pq"
)

// listenChannel is the channel schema.sql's trigger notifies.
const listenChannel = "task_changes"

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
			s.log.Warn("LISTEN failed: event streams get changes only when they reconnect", "err", err)
			return
		}
		s.hub.resync()
	}()
	go s.relay(l)
}

// relay passes each notification to the hub until the listener is closed.
// A nil one follows a reconnect.
func (s *pgStore) relay(l *pq.Listener) {
	defer close(s.relayed)
	for n := range l.NotificationChannel() {
		if n == nil {
			s.hub.resync()
			continue
		}
		s.hub.changed(n.Extra)
	}
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
// set, or else DATABASE_URL with two changes. A Neon pooler host (its
// first label ending in -pooler) becomes the endpoint's direct host, since
// a transaction-mode pooler cannot hold a LISTEN; and channel_binding,
// which lib/pq does not know, is dropped as it is for the pool.
func listenURL(databaseURL, override string) string {
	if override != "" {
		return override
	}
	u, err := url.Parse(databaseURL)
	if err != nil {
		return databaseURL // parsePostgresURL has refused it already
	}
	q := u.Query()
	if q.Has("channel_binding") {
		q.Del("channel_binding")
		u.RawQuery = q.Encode()
	}
	host, rest, _ := strings.Cut(u.Host, ".")
	if direct, ok := strings.CutSuffix(host, "-pooler"); ok && rest != "" {
		u.Host = direct + "." + rest
	}
	return u.String()
}
