package middleware

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkCacheLookup measures the cache's hit path alone, without the
// HTTP harness: no allocation, so that serial and parallel figures compare
// the cache's locking and nothing else. Through ServeHTTP the harness's own
// allocations (a request copy, a recorder) keep the garbage collector busy
// enough that even the bare handler does not scale on 2 cores; here, a
// single lock taken by every hit would show as a parallel figure no better
// than the serial one.
func BenchmarkCacheLookup(b *testing.B) {
	v := VerifierFunc(func(context.Context, Credential) (Principal, error) {
		return Principal{Subject: "u"}, nil
	})
	c, err := NewCache(v, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	const users = 1024
	creds := make([]Credential, users)
	for i := range creds {
		creds[i] = Credential{Kind: "session", Token: fmt.Sprintf("st_%037d", i)}
		if _, e := c.verifyShared(context.Background(), creds[i], false); e != nil {
			b.Fatal(e)
		}
	}
	hit := func(i int) {
		key, form := creds[i%users].cacheKey()
		if c.lookup("session", form, key) == nil {
			b.Fatal("miss")
		}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			hit(i)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(1)) * 7919
			for pb.Next() {
				hit(i)
				i++
			}
		})
	})
}
