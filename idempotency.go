package main

// Idempotency keys: an Idempotency-Key header on POST or PATCH …/complete
// binds a retry to the first answer, so a retried write is not a second
// write. The stores record and replay the answers.

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// idempotencyKey names one write, so that a client's retry gets the first
// answer again instead of a second write. The zero value means no key.
type idempotencyKey struct {
	Key  string   // the Idempotency-Key header, scoped to the user
	Hash [32]byte // what the request asked for; a retry must ask the same
}

// idempotencyRetention is how long a key is remembered.
const idempotencyRetention = 24 * time.Hour

// maxKeysPerUser is how many keys a user has remembered at most: a new key
// past it forgets the user's oldest. Each key keeps a copy of its answer,
// so this bounds one user's key storage at maxKeysPerUser answers.
const maxKeysPerUser = 1000

// errKeyReused means an idempotency key came back with a different request.
var errKeyReused = errors.New("idempotency key was used for a different request")

// markReplayed tells the client an answer is a replay of the first one.
func markReplayed(w http.ResponseWriter, replayed bool) {
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
}

// maxIdempotencyKeyLen bounds the Idempotency-Key header.
const maxIdempotencyKeyLen = 255

// idempotencyKey reads the Idempotency-Key header, if any, and binds it to
// what the request asks (its kind and values), so that the key replays
// only the same request. The header must be 1 to 255 visible ASCII
// characters, and sent once.
func (v *validator) idempotencyKey(r *http.Request, what ...any) idempotencyKey {
	values := r.Header.Values("Idempotency-Key")
	if len(values) == 0 {
		return idempotencyKey{}
	}
	key := values[0]
	valid := len(values) == 1 && key != "" && len(key) <= maxIdempotencyKeyLen &&
		strings.IndexFunc(key, func(c rune) bool { return c < 0x21 || c > 0x7e }) < 0
	if !valid {
		v.add("value_error", "Value error, Idempotency-Key must be sent once, as 1 to 255 visible ASCII characters",
			nil, "header", "idempotency-key")
		return idempotencyKey{}
	}
	return newIdempotencyKey(key, what...)
}

// newIdempotencyKey binds key to the request that what describes.
func newIdempotencyKey(key string, what ...any) idempotencyKey {
	request, err := json.Marshal(what) // unambiguous: each value quoted, null as null
	if err != nil {
		panic(fmt.Sprintf("encode idempotent request: %v", err)) // strings and pointers to them cannot fail
	}
	return idempotencyKey{Key: key, Hash: sha256.Sum256(request)}
}
