// Command quickstart is the README's quick start: a handler behind a session-token
// scheme whose Verifier knows one token.
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"

	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

func main() {
	verify := middleware.VerifierFunc(func(ctx context.Context, c middleware.Credential) (middleware.Principal, error) {
		if c.Token != "s3cr3t-t0ken" { // look the token up in your own store
			return middleware.Principal{}, middleware.Invalid("unknown token")
		}
		return middleware.Principal{Subject: "user-1"}, nil
	})
	cache, _ := middleware.NewCache(verify, session.DefaultCacheTTL) // errors only on bad configuration
	scheme, _ := session.NewScheme(cache)                            // x-tidepool-session-token: <token>
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := middleware.FromRequest(r)
		fmt.Fprintf(w, "hello %s\n", p.Subject)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:8081", middleware.Require(scheme)(hello)))
}
