package main

// The change hub: the event streams open on this instance, by user, and
// the wake-up each gets when its user's changes may have moved on. The hub
// carries no data: a woken stream reads its own changes after its own
// cursor (taskStore.Changes), so a wake-up is one token in a channel of
// one, however many writes it stands for, and a slow stream builds no
// queue. Each store owns a hub and tells it of writes: the memory store
// as it makes them, the PostgreSQL store as its own writes commit
// (pgnotify.go) and from its LISTEN connection, which hears the writes of
// every other instance (pglisten.go).

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// maxStreamsPerUser bounds the event streams one user may hold open on
// one instance.
const maxStreamsPerUser = 10

// errTooManyStreams refuses a stream past maxStreamsPerUser.
var errTooManyStreams = errors.New("too many open event streams")

// changeHub is the set of open subscriptions, by user.
type changeHub struct {
	mu    sync.Mutex
	users map[string]map[*subscription]struct{}
}

// subscription is one open stream's place in the hub.
type subscription struct {
	hub    *changeHub
	userID string
	// wake holds a token when the user's changes may have moved on since
	// the stream last read them.
	wake chan struct{}
}

func newChangeHub() *changeHub {
	return &changeHub{users: make(map[string]map[*subscription]struct{})}
}

// subscribe opens a subscription to userID's changes, or returns
// errTooManyStreams.
func (h *changeHub) subscribe(userID string) (*subscription, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	subs := h.users[userID]
	if len(subs) >= maxStreamsPerUser {
		return nil, fmt.Errorf("subscribe: %w", errTooManyStreams)
	}
	if subs == nil {
		subs = make(map[*subscription]struct{})
		h.users[userID] = subs
	}
	s := &subscription{hub: h, userID: userID, wake: make(chan struct{}, 1)}
	subs[s] = struct{}{}
	return s, nil
}

// close removes the subscription from the hub.
func (s *subscription) close() {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.users[s.userID], s)
	if len(h.users[s.userID]) == 0 {
		delete(h.users, s.userID)
	}
}

// changed wakes userID's streams: a write of theirs has committed.
func (h *changeHub) changed(userID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.users[userID] {
		s.poke()
	}
}

// resync wakes every stream: writes may have gone unheard (the LISTEN
// connection was down), so each reads what it may have missed.
func (h *changeHub) resync() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, subs := range h.users {
		for s := range subs {
			s.poke()
		}
	}
}

// poke leaves a token unless one is already waiting, never blocking.
func (s *subscription) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// userIDs lists the users with open subscriptions.
func (h *changeHub) userIDs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Collect(maps.Keys(h.users))
}
