package bearer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidegate/tidegate/internal/withheld"
	"github.com/tidegate/tidegate/middleware"
)

// Defaults of NewJWKSVerifier.
const (
	// DefaultRefetchInterval is how often at most an unknown kid makes the
	// verifier fetch the JWKS document again.
	DefaultRefetchInterval = 30 * time.Second
	// DefaultJWKSMaxAge is how long a fetched document is used before a
	// verification has it fetched again (on a goroutine of its own: the
	// document keeps serving its keys meanwhile).
	DefaultJWKSMaxAge = time.Hour
	// MaxJWKSBytes bounds a JWKS document.
	MaxJWKSBytes = 256 << 10
	// fetchTimeout bounds every fetch, whatever the client's own timeout
	// (the default client has the same): a fetch holds the one fetch slot,
	// and a request waiting for a key must get its 503 rather than wait for
	// ever.
	fetchTimeout = 5 * time.Second
)

var errJWKSFetch = errors.New("bearer: JWKS fetch failed")

// JWKSVerifier verifies access tokens issued by a tidegate bearer Service
// elsewhere, with the public keys of its JWKS document (see
// Service.JWKSHandler), for services that accept tokens but do not issue
// them. It checks everything the issuing Service checks (issuer, audience,
// typ, algorithm pinned to each key, expiry, ...) except revocation, unless
// it is given the issuer's revocation list with WithRevocationList; its
// cache then trusts a verification for at most the cache TTL (WithCacheTTL,
// DefaultCacheTTL), unless its Cache is registered with the issuer's
// broadcaster (redisstore.Broadcaster), which makes revocations take
// effect at once.
//
// The document is fetched on first use, and again when it is older than
// the max age or a token names an unknown kid, at most once per refetch
// interval. A failed fetch is a 503 (the verifier cannot decide), never a
// 401; known keys keep working while the issuer is slow or unreachable (a
// stale document is refreshed in the background; only a token naming a
// kid the document lacks waits for a fetch), or serves a document that is
// unusable, except a key that document publishes with its private part:
// that one is dropped at once. Redirects are followed only
// to URLs NewJWKSVerifier would accept.
//
// JWKSVerifier is a middleware.Verifier; Scheme wraps it in a cache and the
// bearer extractor, challenge and renderer.
type JWKSVerifier struct {
	withheld.Contents[JWKSVerifier] // prints as its name alone: no secret in a log

	url      string
	cfg      jwksConfig
	state    atomic.Pointer[jwksState]
	fetching chan struct{} // a one-slot semaphore: one fetch at a time
	// lastAttempt, leaked and tooManyLeaked are guarded by fetching.
	lastAttempt time.Time
	// leaked holds the public keys (by publicKeyID) that a fetched
	// document published with their private part: never trusted again.
	leaked        map[string]struct{}
	tooManyLeaked bool // over maxLeakedKeys of them: no key is trusted
	verifier      *tokenVerifier
	cache         *middleware.Cache
	scheme        *middleware.Scheme
	// life is the context of every fetch (each bounded by the fetch
	// timeout): a fetch serves every caller, so no caller's cancellation
	// ends it; Close does.
	life  context.Context
	close context.CancelFunc
	// background counts refreshes running on their own goroutine; closed,
	// under closeMu, stops new ones once Close has begun.
	closeMu    sync.Mutex
	closed     bool
	background sync.WaitGroup
}

// jwksState is one outcome of fetching, replaced as a whole.
type jwksState struct {
	keys      map[string]*Key
	fetchedAt time.Time // of the keys; zero if no fetch ever succeeded
	failed    bool      // the latest attempt failed
}

// NewJWKSVerifier returns a verifier for tokens whose keys are published at
// jwksURL, which must be https (or http on a loopback address, for tests
// and sidecars) and carry no credentials (user:password@): a URL ends up in
// logs and error messages; give credentials to WithHTTPClient's transport
// instead. Give it the issuer's WithIssuer and WithAudience when the issuer
// sets them.
func NewJWKSVerifier(jwksURL string, opts ...JWKSOption) (*JWKSVerifier, error) {
	if err := checkJWKSURL(jwksURL); err != nil {
		return nil, err
	}
	cfg := jwksConfig{
		common:      defaultCommon(),
		client:      &http.Client{Timeout: fetchTimeout},
		minInterval: DefaultRefetchInterval,
		maxAge:      DefaultJWKSMaxAge,
		maxBytes:    MaxJWKSBytes,
	}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("bearer: nil option")
		}
		if err := opt.applyJWKS(&cfg); err != nil {
			return nil, err
		}
	}
	cfg.client = withRedirectCheck(cfg.client)
	j := &JWKSVerifier{url: jwksURL, cfg: cfg, fetching: make(chan struct{}, 1), leaked: map[string]struct{}{}}
	j.life, j.close = context.WithCancel(context.Background())
	j.verifier = newTokenVerifier(&cfg.common, nil, j)
	var err error
	j.cache, j.scheme, err = newScheme(&cfg.common, j.verifier, cfg.cacheTTL)
	if err != nil {
		return nil, err
	}
	return j, nil
}

// checkJWKSURL accepts an absolute https URL without credentials, or an
// http one on a loopback address.
func checkJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("bearer: invalid JWKS URL")
	}
	if u.User != nil {
		return errors.New("bearer: the JWKS URL must not carry credentials (user:password@), which would end up in logs")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
	}
	return errors.New("bearer: the JWKS URL must be https (or http on a loopback address)")
}

// withRedirectCheck returns a copy of client that follows a redirect only
// to a URL checkJWKSURL accepts (and at most 10): the JWKS document is the
// trust anchor of every token, and a redirect from an https URL to plain
// HTTP elsewhere would let anyone on that path publish their own keys
// (RFC 8725 §3.10). A CheckRedirect the client already has runs after.
func withRedirectCheck(client *http.Client) *http.Client {
	c := *client
	next := client.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("bearer: too many JWKS redirects")
		}
		if err := checkJWKSURL(req.URL.String()); err != nil {
			return err
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
	return &c
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Verify implements middleware.Verifier, without caching. A nil or zero
// JWKSVerifier (not made by NewJWKSVerifier) answers ErrInternal.
func (j *JWKSVerifier) Verify(ctx context.Context, cred middleware.Credential) (middleware.Principal, error) {
	if !j.built() {
		return middleware.Principal{}, notBuilt("JWKSVerifier")
	}
	return j.verifier.Verify(ctx, cred)
}

// built reports whether j was made by NewJWKSVerifier.
func (j *JWKSVerifier) built() bool { return j != nil && j.verifier != nil && j.close != nil }

// Scheme returns the bearer scheme of this verifier, for middleware.Require,
// Optional and Any; nil for a nil or zero JWKSVerifier.
func (j *JWKSVerifier) Scheme() *middleware.Scheme {
	if j == nil {
		return nil
	}
	return j.scheme
}

// Cache returns the cache of verified tokens in front of the verifier.
// Register it with a redisstore.Broadcaster to hear the issuer's
// revocations at once; otherwise a revoked token is trusted for up to the
// cache TTL (WithCacheTTL) after its revocation. It is nil for a nil or
// zero JWKSVerifier.
func (j *JWKSVerifier) Cache() *middleware.Cache {
	if j == nil {
		return nil
	}
	return j.cache
}

// Close stops the scheme cache's background goroutine and any fetch in
// progress, and waits for a background refresh to end. It does nothing on
// a nil or zero JWKSVerifier.
func (j *JWKSVerifier) Close() error {
	if !j.built() {
		return nil // no cache, no fetch, no goroutine
	}
	j.closeMu.Lock()
	j.closed = true
	j.closeMu.Unlock()
	j.close()
	j.background.Wait()
	return j.cache.Close()
}

// key implements keySource: the key of kid from the current document. A
// document older than the max age still serves the keys it has, at once,
// while a refresh runs on its own goroutine: known keys must keep working
// while the issuer is slow or unreachable, and a request must not wait for
// a fetch it does not need. A kid the document lacks makes the caller wait
// for a fetch (at most one per refetch interval).
func (j *JWKSVerifier) key(ctx context.Context, kid string) (*Key, error) {
	st := j.state.Load()
	if st != nil {
		if k, ok := st.keys[kid]; ok {
			if !j.cfg.now().Before(st.fetchedAt.Add(j.cfg.maxAge)) {
				j.refreshInBackground(st)
			}
			return k, nil
		}
	}
	st, err := j.refresh(ctx, st)
	if err != nil {
		return nil, err
	}
	if k, ok := st.keys[kid]; ok {
		return k, nil
	}
	if st.failed {
		return nil, middleware.Unavailable("jwks", errJWKSFetch)
	}
	return nil, middleware.Invalid(reasonUnknownKey)
}

// refreshInBackground starts a refresh on its own goroutine, unless a
// fetch is under way or Close has begun. A panic in it (in an HTTP
// client's transport, say) is recovered and logged by its type, as the
// request path's are: on its own goroutine it would end the process.
func (j *JWKSVerifier) refreshInBackground(seen *jwksState) {
	select {
	case j.fetching <- struct{}{}:
	default:
		return
	}
	j.closeMu.Lock()
	defer j.closeMu.Unlock()
	if j.closed {
		<-j.fetching
		return
	}
	j.background.Add(1)
	go func() {
		defer j.background.Done()
		defer func() { <-j.fetching }()
		defer func() {
			if v := recover(); v != nil {
				j.cfg.logger.LogAttrs(j.life, slog.LevelError, "tidegate bearer JWKS refresh panicked",
					slog.String("kind", string(Kind)), slog.String("panic_type", fmt.Sprintf("%T", v)))
			}
		}()
		j.refreshLocked(seen)
	}()
}

// refresh fetches the document unless another request did since seen was
// loaded, or the last attempt is more recent than the refetch interval. A
// caller that has gone away gets its own 503 and leaves the state alone.
func (j *JWKSVerifier) refresh(ctx context.Context, seen *jwksState) (*jwksState, error) {
	if err := ctx.Err(); err != nil {
		return nil, middleware.Unavailable("jwks", err)
	}
	select {
	case j.fetching <- struct{}{}:
	case <-ctx.Done():
		return nil, middleware.Unavailable("jwks", ctx.Err())
	}
	defer func() { <-j.fetching }()
	return j.refreshLocked(seen), nil
}

// refreshLocked is refresh, for a caller holding the fetching slot. The
// fetch runs with the verifier's own context: it serves every caller.
func (j *JWKSVerifier) refreshLocked(seen *jwksState) *jwksState {
	st := j.state.Load()
	now := j.cfg.now()
	if st != seen || st != nil && now.Before(j.lastAttempt.Add(j.cfg.minInterval)) {
		return st
	}
	j.lastAttempt = now
	ctx, cancel := context.WithTimeout(j.life, fetchTimeout)
	defer cancel()
	data, err := j.fetch(ctx)
	var (
		keys        map[string]*Key
		newlyLeaked bool
	)
	if err == nil {
		// Before decoding, which refuses such a document: its leaked
		// keys must go from the keys kept as much as from new ones.
		newlyLeaked = j.rememberLeaked(leakedPublicKeys(data))
		keys, err = decodeJWKS(data)
	}
	var next jwksState
	if err != nil {
		if st != nil {
			next = *st // keep the keys we have
		}
		next.failed = true
		j.cfg.logger.LogAttrs(j.life, slog.LevelWarn, "tidegate bearer JWKS fetch failed",
			slog.String("kind", string(Kind)))
	} else {
		next = jwksState{keys: keys, fetchedAt: now}
	}
	var dropped int
	next.keys, dropped = j.trusted(next.keys)
	j.state.Store(&next)
	if dropped > 0 || newlyLeaked {
		// After the new state is stored: a verification that begins after
		// the purge reads it, and one begun before stores nothing in the
		// cache (the purge voids it), so no token the leaked keys verified
		// is served from the cache again, whether or not the new document
		// still lists them.
		j.cache.Purge()
	}
	return &next
}

// rememberLeaked adds to the public keys never trusted again those a
// fetched document published with their private part (see leaked.go), and
// reports whether any was new. Called holding the fetching slot.
func (j *JWKSVerifier) rememberLeaked(ids []string, tooMany bool) (changed bool) {
	if len(ids) == 0 && !tooMany {
		return false
	}
	if !j.tooManyLeaked {
		for _, id := range ids {
			if _, known := j.leaked[id]; !known {
				j.leaked[id], changed = struct{}{}, true
			}
		}
		if tooMany || len(j.leaked) > maxLeakedKeys {
			// Fail closed: trust no key at all, and remember no more.
			j.tooManyLeaked, j.leaked, changed = true, nil, true
		}
	}
	if j.tooManyLeaked {
		j.cfg.logger.LogAttrs(j.life, slog.LevelError,
			"tidegate bearer JWKS document publishes too many private keys; no key of the issuer is trusted any more",
			slog.String("kind", string(Kind)))
	} else {
		j.cfg.logger.LogAttrs(j.life, slog.LevelError,
			"tidegate bearer JWKS document publishes private key material; those keys are never trusted again",
			slog.String("kind", string(Kind)), slog.Int("keys", len(ids)))
	}
	return changed
}

// trusted returns keys without those whose private part was published
// (none at all past maxLeakedKeys), and how many it left out. keys itself
// is left as it is: earlier states share it. Called holding the fetching
// slot.
func (j *JWKSVerifier) trusted(keys map[string]*Key) (map[string]*Key, int) {
	switch {
	case j.tooManyLeaked:
		return nil, len(keys)
	case len(j.leaked) == 0:
		return keys, 0
	}
	kept := make(map[string]*Key, len(keys))
	for kid, k := range keys {
		if _, bad := j.leaked[publicKeyID(k.public)]; !bad {
			kept[kid] = k
		}
	}
	return kept, len(keys) - len(kept)
}

// fetch GETs the document, bounded in size.
func (j *JWKSVerifier) fetch(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := j.cfg.client.Do(req)
	if err != nil {
		return nil, errJWKSFetch
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, errJWKSFetch
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, j.cfg.maxBytes+1))
	if err != nil || int64(len(data)) > j.cfg.maxBytes {
		return nil, errJWKSFetch
	}
	return data, nil
}
