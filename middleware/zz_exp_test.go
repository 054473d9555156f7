package middleware

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func BenchmarkExpMissRaw(b *testing.B) {
	v := VerifierFunc(func(context.Context, Credential) (Principal, error) {
		return Principal{Subject: "88144f5ea3", ExpiresAt: time.Now().Add(time.Hour)}, nil
	})
	c, err := NewCache(v, time.Hour, WithMaxEntries(4096))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	creds := make([]Credential, 1<<16)
	for i := range creds {
		creds[i] = Credential{Kind: "session", Token: fmt.Sprintf("st_%037d", i)}
	}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, e := c.verifyShared(ctx, creds[i%len(creds)], false); e != nil {
			b.Fatal(e)
		}
	}
}
