package middleware

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
		for _, f := range sh.flights {
			if f.done != nil {
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

// TestNoFlightLeftBehind: one shard; Verifiers that panic, refuse, or
// answer past the verify timeout; callers whose request is already
// cancelled; and Invalidate, InvalidateSubject and Purge meanwhile. When
// every call has returned, no flight is left in the shard.
func TestNoFlightLeftBehind(t *testing.T) {
	v := VerifierFunc(func(_ context.Context, cr Credential) (Principal, error) {
		n, _ := strconv.Atoi(cr.Token)
		switch rand.IntN(6) {
		case 0:
			panic("boom")
		case 1:
			time.Sleep(3 * time.Millisecond) // past the verify timeout
		case 2:
			return Principal{}, Invalid("no")
		}
		runtime.Gosched()
		return Principal{Subject: "s" + strconv.Itoa(n%4)}, nil
	})
	c, err := NewCache(v, time.Hour, WithMaxEntries(1), WithVerifyTimeout(time.Millisecond), WithRefusals(time.Millisecond, 4))
	require.NoError(t, err)
	defer c.Close()

	var callers sync.WaitGroup
	for g := range 8 {
		callers.Add(1)
		go func() {
			defer callers.Done()
			for i := range 300 {
				ctx := context.Background()
				if (i+g)%5 == 0 {
					canceled, cancel := context.WithCancel(ctx)
					cancel()
					ctx = canceled
				}
				_, _ = c.Verify(ctx, Credential{Kind: "session", Token: strconv.Itoa(rand.IntN(8))})
			}
		}()
	}
	done := make(chan struct{})
	invalidated := make(chan struct{})
	go func() {
		defer close(invalidated)
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			switch i % 3 {
			case 0:
				c.Invalidate(Credential{Kind: "session", Token: strconv.Itoa(rand.IntN(8))})
			case 1:
				c.InvalidateSubject("s" + strconv.Itoa(rand.IntN(4)))
			default:
				c.Purge()
			}
			runtime.Gosched()
		}
	}()
	callers.Wait()
	close(done)
	<-invalidated

	sh := &c.shards[0]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	assert.Empty(t, sh.flights, "flights left behind")
}
