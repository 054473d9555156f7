package middleware

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// addFlight appends a flight of fk, whose key hashes to hash, to sh, as a
// miss does.
func addFlight(sh *cacheShard, fk flightKey, hash uint64) *flight {
	f := &flight{}
	sh.flights = append(sh.flights, pendingFlight{hash: hash, key: fk, flight: f})
	return f
}

// TestFlightOfComparesTheWholeKey: a flight is joined only by a request
// with its kind, form, generation and key; a shared hash is not enough.
func TestFlightOfComparesTheWholeKey(t *testing.T) {
	var sh cacheShard
	a := flightKey{kind: "session", form: tokenKey, generation: 1, key: "a"}
	b := flightKey{kind: "session", form: tokenKey, generation: 1, key: "b"}
	fa, fb := addFlight(&sh, a, 7), addFlight(&sh, b, 7) // one hash for both keys

	assert.Same(t, fa, sh.flightOf(a, 7))
	assert.Same(t, fb, sh.flightOf(b, 7))
	for name, other := range map[string]flightKey{
		"another kind":       {kind: "bearer", form: tokenKey, generation: 1, key: "a"},
		"another form":       {kind: "session", form: partsKey, generation: 1, key: "a"},
		"another generation": {kind: "session", form: tokenKey, generation: 2, key: "a"},
	} {
		assert.Nil(t, sh.flightOf(other, 7), name)
	}
	assert.Nil(t, sh.flightOf(a, 8), "another hash")
}

// TestFlightsRemovedAndVoided: removing a flight leaves every other one
// findable, whatever its place in the list, and voiding a key's flights
// takes out all of them (of any kind, form or generation), wherever they
// stand, and no other.
func TestFlightsRemovedAndVoided(t *testing.T) {
	var sh cacheShard
	key := func(k string, generation uint64) flightKey {
		return flightKey{kind: "session", form: tokenKey, generation: generation, key: k}
	}
	// The voided key's flights first, in the middle and last twice over:
	// removing one moves the last flight into its place.
	order := []flightKey{key("a", 1), key("b", 1), key("a", 2), key("c", 1), key("a", 3), key("a", 4)}
	flights := map[flightKey]*flight{}
	for i, fk := range order {
		flights[fk] = addFlight(&sh, fk, uint64(i%2))
	}
	hashOf := func(fk flightKey) uint64 {
		for i, o := range order {
			if o == fk {
				return uint64(i % 2)
			}
		}
		t.Fatalf("no flight %v", fk)
		return 0
	}

	sh.voidFlightsLocked("a")
	require.Len(t, sh.flights, 2)
	for fk, f := range flights {
		if fk.key == "a" {
			assert.True(t, f.void, "%v is voided", fk)
			assert.Nil(t, sh.flightOf(fk, hashOf(fk)), "%v is out", fk)
		} else {
			assert.False(t, f.void, "%v is not voided", fk)
			assert.Same(t, f, sh.flightOf(fk, hashOf(fk)), "%v stays", fk)
		}
	}

	sh.removeFlight(flights[key("a", 1)]) // no longer there: nothing happens
	require.Len(t, sh.flights, 2)
	sh.removeFlight(flights[key("b", 1)])
	assert.Nil(t, sh.flightOf(key("b", 1), hashOf(key("b", 1))))
	assert.Same(t, flights[key("c", 1)], sh.flightOf(key("c", 1), hashOf(key("c", 1))))
	sh.removeFlight(flights[key("c", 1)])
	assert.Empty(t, sh.flights)
}

// TestFlightsReleaseABurst: once a burst of concurrent misses is over, the
// shard does not keep its list's memory, nor any flight reachable from it;
// a small list keeps its capacity for the next misses.
func TestFlightsReleaseABurst(t *testing.T) {
	var sh cacheShard
	var burst []*flight
	for i := range 4 * maxIdleFlights {
		burst = append(burst, addFlight(&sh, flightKey{key: fmt.Sprint(i)}, uint64(i)))
	}
	spare := sh.flights[:cap(sh.flights)]
	for _, f := range burst {
		sh.removeFlight(f)
	}
	assert.Nil(t, sh.flights, "the burst's list is released")
	for i, p := range spare {
		require.Nil(t, p.flight, "slot %d still holds a flight", i)
	}

	f := addFlight(&sh, flightKey{key: "x"}, 1)
	sh.removeFlight(f)
	assert.NotNil(t, sh.flights, "a small list is kept")
	assert.Empty(t, sh.flights)
}

// TestManyFlightsInOneShard: a cache of one shard with many verifications
// in flight at once, each joined by a second request: one Verifier call
// per credential, every request gets its own credential's principal, and
// no flight is left behind.
func TestManyFlightsInOneShard(t *testing.T) {
	const creds = 100
	release := make(chan struct{})
	var calls atomic.Int64
	var entered sync.WaitGroup
	entered.Add(creds)
	v := VerifierFunc(func(_ context.Context, c Credential) (Principal, error) {
		if calls.Add(1) <= creds {
			entered.Done()
		}
		<-release
		return Principal{Subject: "user-" + c.Token}, nil
	})
	c, err := NewCache(v, time.Hour, WithMaxEntries(1))
	require.NoError(t, err)
	defer c.Close()
	require.Len(t, c.shards, 1)

	type answer struct {
		token, subject string
		err            error
	}
	answers := make(chan answer, 2*creds)
	verify := func(token string) {
		p, err := c.Verify(context.Background(), Credential{Kind: "session", Token: token})
		answers <- answer{token, p.Subject, err}
	}
	for i := range creds {
		go verify(fmt.Sprint("t", i)) // the leaders
	}
	entered.Wait()
	for i := range creds {
		go verify(fmt.Sprint("t", i)) // a waiter for each
	}
	sh := &c.shards[0]
	require.Eventually(t, func() bool {
		sh.mu.Lock()
		defer sh.mu.Unlock()
		waited := 0
		for _, p := range sh.flights {
			if p.flight.done != nil {
				waited++
			}
		}
		return waited == creds
	}, 10*time.Second, time.Millisecond, "every waiter joins its credential's flight")
	close(release)
	for range 2 * creds {
		a := <-answers
		require.NoError(t, a.err)
		require.Equal(t, "user-"+a.token, a.subject)
	}
	assert.EqualValues(t, creds, calls.Load(), "one verification per credential")
	sh.mu.Lock()
	defer sh.mu.Unlock()
	assert.Empty(t, sh.flights, "no flight is left behind")
}
