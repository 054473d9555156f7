package bearer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/middleware"
)

// The ES256 key of the fuzzed JWKS document: a fixed scalar, so that the
// document and the tokens in testdata/fuzz/FuzzJWKSVerifier stay valid.
// (ECDSA signatures are randomized: the corpus holds one of them.)
var fuzzESKey = func() *ecdsa.PrivateKey {
	d, _ := hex.DecodeString("3c1b6ad8f1e0a4b27d95c6e3f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708")
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		panic(err)
	}
	return k
}()

const (
	fuzzESKID = "es1"
	// fuzzRefetch is the verifier's refetch interval; the fuzz clock moves
	// fuzzStep per execution, so an unknown kid may refetch at most once
	// every fuzzRefetch/fuzzStep executions.
	fuzzRefetch = 5 * time.Minute
	fuzzStep    = time.Minute
)

// fuzzJWKS is the fixed document the fuzzed verifier fetches: the Ed25519
// test key (ed1) and fuzzESKey (es1).
func fuzzJWKS() string {
	point, _ := fuzzESKey.PublicKey.Bytes()
	return `{"keys":[` +
		`{"kty":"OKP","crv":"Ed25519","kid":"` + edKID + `","x":"` + b64.EncodeToString(edPublic) + `","alg":"EdDSA","use":"sig"},` +
		`{"kty":"EC","crv":"P-256","kid":"` + fuzzESKID + `","x":"` + b64.EncodeToString(point[1:33]) + `","y":"` + b64.EncodeToString(point[33:]) + `","alg":"ES256","use":"sig"}]}`
}

// jwksFuzzClaims are claims valid from t0 for a year: the fuzz clock moves
// a minute per execution, and the genuine seeds must stay genuine for the
// whole run.
func jwksFuzzClaims() jwt.MapClaims {
	return with(validClaims(t0), "exp", t0.Add(365*24*time.Hour).Unix())
}

// jwksFuzzSeeds are the seeds of FuzzJWKSVerifier (also in its testdata
// directory, where the ES256 one is a fixed instance): the first two are
// genuine, every other one must be refused.
func jwksFuzzSeeds(t testing.TB) []string {
	claims := jwksFuzzClaims()
	ed := map[string]any{"kid": edKID}
	es := map[string]any{"kid": fuzzESKID}
	expired := with(validClaims(t0.Add(-48*time.Hour)), "exp", t0.Add(-24*time.Hour).Unix())
	return []string{
		forge(t, jwt.SigningMethodEdDSA, edPrivate, ed, claims),
		forge(t, jwt.SigningMethodES256, fuzzESKey, es, claims),
		forge(t, jwt.SigningMethodEdDSA, edPrivate, ed, expired),
		// alg confusion: HS256 keyed with the published Ed25519 key's bytes.
		forge(t, jwt.SigningMethodHS256, []byte(edPublic), ed, claims),
		// ES256 under the Ed25519 kid, EdDSA under the ES256 kid.
		forge(t, jwt.SigningMethodES256, fuzzESKey, ed, claims),
		forge(t, jwt.SigningMethodEdDSA, edPrivate, es, claims),
		b64.EncodeToString([]byte(`{"alg":"none","kid":"ed1","typ":"at+jwt"}`)) + "." + b64.EncodeToString([]byte(`{"sub":"u-mary"}`)) + ".",
		// a genuine signature under a kid the document lacks: a refetch.
		forge(t, jwt.SigningMethodEdDSA, edPrivate, map[string]any{"kid": "ed9"}, claims),
		// signed by a key nobody published.
		forge(t, jwt.SigningMethodEdDSA, otherEd, ed, claims),
		// a genuine signature, but the header names a key URL.
		forge(t, jwt.SigningMethodEdDSA, edPrivate, map[string]any{"kid": edKID, "jku": "https://evil.example/jwks"}, claims),
	}
}

// FuzzJWKSVerifier fuzzes the token a JWKSVerifier verifies, against a
// loopback httptest server (created once) serving a fixed JWKS document
// with an Ed25519 and an ES256 key. The verifier's clock is fake and moves
// a minute per execution, so no real time passes. Whatever the token,
// nothing may panic, and:
//
//   - the verifier accepts a token only if a plain golang-jwt parser that
//     validates no claims finds a genuine signature by a published key
//     under that key's own algorithm (no alg confusion, no HS256 over a
//     public key, no unpublished key), and a parser validating issuer,
//     audience, exp and iat on the same clock accepts its claims; the
//     principal then carries them;
//   - an execution makes at most one fetch, and the server is never hit
//     again sooner than the refetch interval after the previous hit, on
//     the verifier's clock, however many unknown kids arrive: made-up
//     kids must not let anyone make the verifier hammer the issuer;
//   - a token that does not even have the shape of a JWS within the size
//     limit never causes a fetch.
func FuzzJWKSVerifier(f *testing.F) {
	for _, tok := range jwksFuzzSeeds(f) {
		f.Add(tok)
	}
	clk := newClock()
	var (
		hits      atomic.Int32
		mu        sync.Mutex
		hitTimes  []time.Time // on the verifier's clock
		published = fuzzJWKS()
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hitTimes = append(hitTimes, clk.Now())
		mu.Unlock()
		hits.Add(1)
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write([]byte(published))
	}))
	f.Cleanup(srv.Close)
	v, err := bearer.NewJWKSVerifier(srv.URL,
		bearer.WithIssuer(issuer), bearer.WithAudience(audient), bearer.WithClock(clk.Now),
		bearer.WithLogger(quiet), bearer.WithRefetchInterval(fuzzRefetch),
		// No background refresh for a stale document: every fetch is one
		// the fuzzed token caused, on the calling goroutine.
		bearer.WithJWKSMaxAge(100*365*24*time.Hour))
	require.NoError(f, err)
	f.Cleanup(func() { _ = v.Close() })

	ecPublic := &fuzzESKey.PublicKey
	keyfunc := func(t *jwt.Token) (any, error) {
		switch kid := t.Header["kid"]; {
		case kid == edKID && t.Method.Alg() == bearer.EdDSA:
			return edPublic, nil
		case kid == fuzzESKID && t.Method.Alg() == bearer.ES256:
			return ecPublic, nil
		}
		return nil, jwt.ErrTokenUnverifiable
	}
	signatures := jwt.NewParser(jwt.WithValidMethods([]string{bearer.EdDSA, bearer.ES256}),
		jwt.WithStrictDecoding(), jwt.WithoutClaimsValidation())
	claims := jwt.NewParser(jwt.WithValidMethods([]string{bearer.EdDSA, bearer.ES256}),
		jwt.WithStrictDecoding(), jwt.WithIssuer(issuer), jwt.WithAudience(audient),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(bearer.DefaultLeeway),
		jwt.WithTimeFunc(clk.Now))
	var lastHit time.Time // of the previous execution that fetched

	f.Fuzz(func(t *testing.T, token string) {
		clk.Advance(fuzzStep)
		before := hits.Load()
		p, verr := v.Verify(context.Background(), middleware.Credential{Kind: bearer.Kind, Token: token})
		fetched := hits.Load() - before

		require.LessOrEqual(t, fetched, int32(1), "one verification, several fetches: %q", token)
		if fetched == 1 {
			mu.Lock()
			at := hitTimes[len(hitTimes)-1]
			mu.Unlock()
			if !lastHit.IsZero() {
				require.GreaterOrEqual(t, at.Sub(lastHit), fuzzRefetch,
					"fetched %v after the previous fetch: %q", at.Sub(lastHit), token)
			}
			lastHit = at
			require.LessOrEqual(t, len(token), bearer.DefaultMaxTokenBytes, "an oversized token fetched")
			require.Equal(t, 2, strings.Count(token, "."), "a token that is no JWS fetched: %q", token)
		}

		if verr != nil {
			e := middleware.AsError(verr)
			require.NotNil(t, e, "not a middleware error: %v", verr)
			require.Contains(t, []int{http.StatusUnauthorized, http.StatusServiceUnavailable}, e.Status)
			return
		}
		_, err := signatures.Parse(token, keyfunc)
		require.NoError(t, err, "accepted without a genuine signature of a published key: %q", token)
		var c bearer.Claims
		_, err = claims.ParseWithClaims(token, &c, keyfunc)
		require.NoError(t, err, "accepted with claims golang-jwt refuses: %q", token)
		require.Equal(t, bearer.Kind, p.Kind)
		require.Equal(t, c.Subject, p.Subject)
		require.Equal(t, c.ID, p.Attributes[bearer.AttrTokenID])
	})
}

// TestJWKSVerifierFuzzSeeds keeps FuzzJWKSVerifier meaningful: of its
// seeds, exactly the genuine ones pass, the others are 401s, and the
// unknown kid's one refetches only once the interval has passed.
func TestJWKSVerifierFuzzSeeds(t *testing.T) {
	srv := newJWKSServer(t, serveString(http.StatusOK, fuzzJWKS()))
	clk := newClock()
	v, err := bearer.NewJWKSVerifier(srv.URL, bearer.WithIssuer(issuer), bearer.WithAudience(audient),
		bearer.WithClock(clk.Now), bearer.WithLogger(quiet), bearer.WithRefetchInterval(fuzzRefetch))
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	for i, tok := range jwksFuzzSeeds(t) {
		_, err := v.Verify(t.Context(), middleware.Credential{Kind: bearer.Kind, Token: tok})
		if i < 2 {
			assert.NoError(t, err, "seed %d", i)
			continue
		}
		require.Error(t, err, "seed %d", i)
		assert.Equal(t, http.StatusUnauthorized, middleware.AsError(err).Status, "seed %d", i)
	}
	assert.EqualValues(t, 1, srv.fetches.Load(), "the unknown kid came within the interval of the first fetch")
	clk.Advance(fuzzRefetch)
	unknown := jwksFuzzSeeds(t)[7]
	for range 3 {
		_, err := v.Verify(t.Context(), middleware.Credential{Kind: bearer.Kind, Token: unknown})
		require.Error(t, err)
	}
	assert.EqualValues(t, 2, srv.fetches.Load(), "one refetch per interval")
}
