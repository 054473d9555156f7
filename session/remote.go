package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tidegate/tidegate/middleware"
	"golang.org/x/sync/singleflight"
)

// Remote verifier defaults.
const (
	// DefaultRemoteTimeout bounds each call to the auth server. It is
	// shorter than middleware.DefaultVerifyTimeout, so that a cache in
	// front sees the remote's own 503 rather than its timeout.
	DefaultRemoteTimeout = 3 * time.Second
	// DefaultRefreshMargin is how long before its expiry the server token
	// is renewed (at most half its lifetime).
	DefaultRefreshMargin = 5 * time.Minute
	// maxRemoteBody bounds what is read of an auth server's response.
	maxRemoteBody = 16 << 10
	// minLoginBackoff and maxLoginBackoff bound how long a failed server
	// login keeps the next one from being tried: the wait starts at the
	// minimum and doubles with each failure in a row. An auth server's
	// Retry-After is honoured up to maxLoginRetryAfter.
	minLoginBackoff    = time.Second
	maxLoginBackoff    = time.Minute
	maxLoginRetryAfter = 15 * time.Minute
)

// RemoteVerifier is a middleware.Verifier for services that accept session
// tokens without sharing the auth server's store: it asks the auth server's
// GET /token/{token}, authenticated with a server token that it gets from
// POST /serverlogin with its own name and secret and renews lazily before
// it expires (concurrent renewals are one call; while the current token
// still works, requests use it and do not wait for its renewal). After a
// failed server login, no other is tried for a while (from 1 s, doubling up
// to a minute, or the auth server's Retry-After, at most 15 minutes):
// meanwhile a request that needs a new server token gets a 503 at once. A
// server token the auth server refuses right after issuing it counts as a
// failed login; the backoff ends when the auth server accepts one.
//
// Put it behind middleware.NewCache, so that only the first request with a
// token, and one per cache TTL after, costs a call. The auth server failing
// (5xx), timing out or being unreachable is middleware.Unavailable (503),
// never a bad token; only the auth server's "invalid token" answer is.
//
// The token travels in the URL path, escaped; URLs are never logged and no
// error kept by this verifier quotes one. Redirects are never followed: the
// server token would go with them.
type RemoteVerifier struct {
	base   string // scheme://host/prefix, without a trailing slash
	name   string
	secret string
	client *http.Client
	now    func() time.Time
	margin time.Duration
	logger *slog.Logger

	timeout    time.Duration
	timeoutSet bool

	mu        sync.Mutex
	token     string    // current server token, "" when none
	expires   time.Time // when the server token stops working
	refreshAt time.Time // when to renew it
	// loginAfter is when the next server login may be tried, after backoff
	// following failures in a row; failedAt when the last one failed.
	loginAfter time.Time
	failedAt   time.Time
	backoff    time.Duration
	flights    singleflight.Group
}

// RemoteOption configures NewRemoteVerifier.
type RemoteOption func(*RemoteVerifier) error

// WithHTTPClient sets the HTTP client (default a client on a clone of
// http.DefaultTransport, its own; on http.DefaultTransport itself when a
// program replaced it by another kind of RoundTripper). The client is copied: its redirect policy is
// replaced by "never follow", and WithRemoteTimeout (or
// DefaultRemoteTimeout when the client has none) sets its timeout.
func WithHTTPClient(c *http.Client) RemoteOption {
	return func(v *RemoteVerifier) error {
		if c == nil {
			return errors.New("session: HTTP client must not be nil")
		}
		copied := *c
		v.client = &copied
		return nil
	}
}

// WithRemoteTimeout bounds each call to the auth server (default
// DefaultRemoteTimeout). A call that takes longer answers 503.
func WithRemoteTimeout(d time.Duration) RemoteOption {
	return func(v *RemoteVerifier) error {
		v.timeout, v.timeoutSet = d, true
		return positive(d, "remote timeout")
	}
}

// WithRemoteClock sets the clock that decides when the server token is
// renewed (default time.Now).
func WithRemoteClock(now func() time.Time) RemoteOption {
	return func(v *RemoteVerifier) error {
		if now == nil {
			return errors.New("session: clock must not be nil")
		}
		v.now = now
		return nil
	}
}

// WithRefreshMargin sets how long before its expiry the server token is
// renewed (default DefaultRefreshMargin, capped at half the token's life).
func WithRefreshMargin(d time.Duration) RemoteOption {
	return func(v *RemoteVerifier) error { v.margin = d; return positive(d, "refresh margin") }
}

// WithRemoteLogger sets the logger (default slog.Default()). A refused
// server login, which means misconfigured credentials, is logged at Error.
func WithRemoteLogger(l *slog.Logger) RemoteOption {
	return func(v *RemoteVerifier) error {
		if l == nil {
			return errors.New("session: logger must not be nil")
		}
		v.logger = l
		return nil
	}
}

// String describes the verifier by its auth server and server name, never
// its server secret or server token: either lets anyone look up any user's
// session token.
func (v *RemoteVerifier) String() string {
	if v == nil {
		return "session remote verifier <nil>"
	}
	return "session remote verifier of " + strconv.Quote(v.base) + " as " + strconv.Quote(v.name)
}

// GoString is String, so that %#v is as safe as %v.
func (v *RemoteVerifier) GoString() string { return v.String() }

// Format implements fmt.Formatter so that every verb prints String. Without
// it, fmt printed the verifier field by field, secrets included (and read
// the server token without its lock).
func (v *RemoteVerifier) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, v.String()) }

// LogValue implements slog.LogValuer: a logged verifier shows its auth
// server and server name only.
func (v *RemoteVerifier) LogValue() slog.Value {
	if v == nil {
		return slog.StringValue("<nil>")
	}
	return slog.GroupValue(slog.String("base", v.base), slog.String("server", v.name))
}

// NewRemoteVerifier returns a verifier that asks the auth server mounted at
// baseURL (for example "https://auth.internal/auth"), logging in as
// serverName with serverSecret. Use https outside a trusted network: the
// secret and the tokens travel in headers.
func NewRemoteVerifier(baseURL, serverName, serverSecret string, opts ...RemoteOption) (*RemoteVerifier, error) {
	base, err := parseBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	if err := CheckServer(serverName, serverSecret); err != nil {
		return nil, err
	}
	v := &RemoteVerifier{base: base, name: serverName, secret: serverSecret, now: time.Now,
		margin: DefaultRefreshMargin, logger: slog.Default(), timeout: DefaultRemoteTimeout}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("session: nil remote option")
		}
		if err := opt(v); err != nil {
			return nil, err
		}
	}
	if v.client == nil {
		v.client = &http.Client{Transport: ownTransport()}
	}
	if v.timeoutSet || v.client.Timeout == 0 {
		v.client.Timeout = v.timeout
	}
	v.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return v, nil
}

// ownTransport returns a clone of http.DefaultTransport, so that Close
// releases this verifier's idle connections, never those of every other
// user of the default transport in the process. A program that replaced
// the default transport (a tracing or proxy wrapper) gets that transport,
// as http.Client would have used it.
func ownTransport() http.RoundTripper {
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		return t.Clone()
	}
	return http.DefaultTransport
}

// parseBaseURL accepts an absolute http(s) URL without credentials, query
// or fragment, and returns it without a trailing slash.
func parseBaseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", errors.New("session: base URL must be an absolute http or https URL without credentials, query or fragment")
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// built reports whether v was made by NewRemoteVerifier. Verify refuses
// with ErrInternal on a nil or zero one, and Close does nothing.
func (v *RemoteVerifier) built() bool { return v != nil && v.client != nil }

// errCallerRefused: the auth server refused our server token.
var errCallerRefused = errors.New("session: server token refused")

// Verify implements middleware.Verifier.
func (v *RemoteVerifier) Verify(ctx context.Context, c middleware.Credential) (middleware.Principal, error) {
	if !v.built() {
		return middleware.Principal{}, notBuilt("RemoteVerifier")
	}
	if c.Kind != Kind || c.Secret != "" || !issuedTokenSyntax(c.Token) {
		// Not a token this package could have issued: no call needed.
		return middleware.Principal{}, middleware.Invalid("syntax")
	}
	for attempt := 0; ; attempt++ {
		serverToken, err := v.serverToken(ctx)
		if err != nil {
			return middleware.Principal{}, err
		}
		p, err := v.lookup(ctx, serverToken, c.Token)
		if !errors.Is(err, errCallerRefused) {
			if err == nil || errors.Is(err, middleware.ErrInvalidCredential) {
				v.serverTokenAccepted() // the auth server answered as to a server
			}
			return p, err
		}
		// The auth server forgot or revoked our server token (a restart
		// with an in-memory store, say): log in again, once.
		v.forget(serverToken)
		if attempt > 0 {
			// It refuses the very token it just issued (replicas without a
			// shared store, say): a failed login, for the backoff. Logging
			// in again for every request made two logins per request, each
			// a server session in the auth server's store.
			v.loginFailed(0)
			return middleware.Principal{}, middleware.Unavailable("server token refused", nil)
		}
	}
}

// serverTokenAccepted ends the login backoff once the auth server has
// accepted a server token got by a login since the last failure: a login
// alone does not, since the server may refuse the token it issued (see
// Verify), and neither does the old token still working while renewals
// fail, or the backoff would never grow past its first step.
func (v *RemoteVerifier) serverTokenAccepted() {
	v.mu.Lock()
	if v.loginAfter.IsZero() { // login clears it, loginFailed sets it
		v.backoff = 0
	}
	v.mu.Unlock()
}

// issuedTokenSyntax reports whether t could be a token of middleware.NewToken:
// base64url characters only, bounded. This keeps dot segments and any
// other path syntax out of the URL before escaping even matters.
func issuedTokenSyntax(t string) bool {
	if t == "" || len(t) > MaxTokenBytes {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// lookup asks GET /token/{token}.
func (v *RemoteVerifier) lookup(ctx context.Context, serverToken, token string) (middleware.Principal, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.base+"/token/"+url.PathEscape(token), nil)
	if err != nil {
		return middleware.Principal{}, middleware.Unavailable("request", nil) // its text quotes the URL
	}
	req.Header.Set(HeaderToken, serverToken)
	res, err := v.do(req)
	if err != nil {
		return middleware.Principal{}, err
	}
	switch res.status {
	case http.StatusOK:
		return v.principal(res.body)
	case http.StatusUnauthorized:
		switch body := bytes.TrimSpace(res.body); {
		case bytes.Equal(body, bodyTokenRequired):
			return middleware.Principal{}, errCallerRefused
		case bytes.Equal(body, bodyInvalidToken):
			return middleware.Principal{}, middleware.Invalid("remote")
		}
		// A 401 of something else (a gateway in front of the auth server)
		// says nothing of the token: refusing it would log its user out.
		return middleware.Principal{}, middleware.Unavailable("remote status", nil)
	default:
		return middleware.Principal{}, middleware.Unavailable("remote status", nil)
	}
}

// principal decodes a 200 answer of GET /token/{token}.
func (v *RemoteVerifier) principal(body []byte) (middleware.Principal, error) {
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil || tr.UserID == "" {
		return middleware.Principal{}, middleware.Unavailable("remote body", nil)
	}
	expires, err := time.Parse(time.RFC3339, tr.ExpiresAt)
	if err != nil {
		return middleware.Principal{}, middleware.Unavailable("remote body", nil)
	}
	// An expiry already past on this clock is refused here, as a Verifier
	// must refuse an expired credential. The zero instant would otherwise
	// have read as "no expiry" to the cache and the scheme, and been
	// trusted for the cache's whole TTL.
	if !expires.After(v.now()) {
		return middleware.Principal{}, middleware.Invalid("expired")
	}
	p := middleware.Principal{Subject: tr.UserID, Kind: Kind, Actor: middleware.ActorUser, ExpiresAt: expires}
	if tr.IsServer {
		p.Actor = middleware.ActorServer
	}
	return p, nil
}

// serverToken returns a server token that is not due for renewal, logging
// in first when needed. If renewal fails while the current token still
// works, the current token is used.
func (v *RemoteVerifier) serverToken(ctx context.Context) (string, error) {
	token, expires, fresh := v.current()
	if fresh {
		return token, nil
	}
	now := v.now()
	usable := token != "" && now.Before(expires)
	if wait := v.loginWait(now); wait > 0 {
		if usable {
			return token, nil
		}
		return "", backoffError(wait)
	}
	// One login for all concurrent callers, not cancelled when the first
	// caller goes away; the client timeout bounds it. A login that ended
	// between the look above and this flight left a fresh token: the
	// flight takes it rather than log in a second time.
	results := v.flights.DoChan("login", func() (any, error) {
		if token, _, fresh := v.current(); fresh {
			return token, nil
		}
		if wait := v.loginWait(v.now()); wait > 0 { // a login failed meanwhile
			return "", backoffError(wait)
		}
		return v.login(context.WithoutCancel(ctx))
	})
	if usable {
		return token, nil // the renewal goes on without this request
	}
	select {
	case res := <-results:
		if res.Err != nil {
			return "", res.Err
		}
		return res.Val.(string), nil
	case <-ctx.Done():
		return "", middleware.Unavailable("canceled", ctx.Err())
	}
}

// backoffError is the 503 of a request that needs a server login while
// logins wait after failures.
func backoffError(wait time.Duration) *middleware.Error {
	e := middleware.Unavailable("server login backoff", nil)
	e.RetryAfter = wait
	return e
}

// loginWait returns how long the next server login must still wait after
// failures, or 0.
func (v *RemoteVerifier) loginWait(now time.Time) time.Duration {
	v.mu.Lock()
	defer v.mu.Unlock()
	if now.Before(v.failedAt) {
		return 0 // the clock went back: the wait, measured from the failure, would be unbounded
	}
	return max(0, v.loginAfter.Sub(now))
}

// loginFailed makes the next server login wait: the backoff, doubled from
// the last failure's, or the auth server's Retry-After (retryAfterOf bounds
// it) if longer.
func (v *RemoteVerifier) loginFailed(retryAfter time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.backoff = min(max(2*v.backoff, minLoginBackoff), maxLoginBackoff)
	v.failedAt = v.now()
	v.loginAfter = v.failedAt.Add(max(v.backoff, retryAfter))
}

// current returns the server token, its expiry, and whether it is fresh:
// not yet due for renewal.
func (v *RemoteVerifier) current() (token string, expires time.Time, fresh bool) {
	v.mu.Lock()
	token, expires, refreshAt := v.token, v.expires, v.refreshAt
	v.mu.Unlock()
	return token, expires, token != "" && v.now().Before(refreshAt)
}

// login gets a new server token from POST /serverlogin.
func (v *RemoteVerifier) login(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.base+"/serverlogin", http.NoBody)
	if err != nil {
		return "", middleware.Unavailable("request", nil)
	}
	req.Header.Set(HeaderServerName, v.name)
	req.Header.Set(HeaderServerSecret, v.secret)
	res, err := v.do(req)
	if err != nil {
		v.loginFailed(0)
		return "", err
	}
	token, expires, err := v.loginResult(ctx, res)
	if err != nil {
		v.loginFailed(retryAfterOf(res.header))
		return "", err
	}
	now := v.now()
	v.mu.Lock()
	v.token, v.expires = token, expires
	v.refreshAt = expires.Add(-min(v.margin, expires.Sub(now)/2))
	v.loginAfter = time.Time{} // the backoff itself ends when the token is accepted
	v.mu.Unlock()
	return token, nil
}

// retryAfterOf reads a Retry-After of delay-seconds (RFC 9110 §10.2.3), or 0.
func retryAfterOf(h http.Header) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After")))
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(min(n, int(maxLoginRetryAfter/time.Second))) * time.Second
}

// loginResult checks a POST /serverlogin answer.
func (v *RemoteVerifier) loginResult(ctx context.Context, res remoteResponse) (string, time.Time, error) {
	if res.status != http.StatusOK {
		if res.status == http.StatusBadRequest || res.status == http.StatusUnauthorized {
			v.logger.LogAttrs(ctx, slog.LevelError, "tidegate session server login refused",
				slog.String("server", v.name), slog.Int("status", res.status))
			return "", time.Time{}, middleware.Unavailable("server login refused", nil)
		}
		return "", time.Time{}, middleware.Unavailable("remote status", nil)
	}
	var tr tokenResponse
	if err := json.Unmarshal(res.body, &tr); err != nil {
		return "", time.Time{}, middleware.Unavailable("remote body", nil)
	}
	expires, err := time.Parse(time.RFC3339, tr.ExpiresAt)
	token := res.header.Get(HeaderToken)
	if err != nil || !issuedTokenSyntax(token) || !v.now().Before(expires) {
		return "", time.Time{}, middleware.Unavailable("remote body", nil)
	}
	return token, expires, nil
}

// forget drops the server token if it is still token, so that the next call
// logs in again.
func (v *RemoteVerifier) forget(token string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.token == token {
		v.token = ""
	}
}

// remoteResponse is what is kept of an auth server's answer.
type remoteResponse struct {
	status int
	header http.Header
	body   []byte
}

// do sends req and reads at most maxRemoteBody of the answer. Transport
// failures and timeouts are Unavailable; the cause kept is the transport's
// own error, without the *url.Error around it, whose text quotes the URL
// and so the token.
func (v *RemoteVerifier) do(req *http.Request) (remoteResponse, error) {
	resp, err := v.client.Do(req)
	if err != nil {
		return remoteResponse{}, transportError(req.Context(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRemoteBody+1))
	if err != nil {
		return remoteResponse{}, transportError(req.Context(), err)
	}
	if len(body) > maxRemoteBody {
		return remoteResponse{}, middleware.Unavailable("remote body", nil)
	}
	return remoteResponse{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// transportError classifies a failed call as a timeout, a cancellation or an
// unreachable server, keeping a cause that does not quote the URL.
func transportError(ctx context.Context, err error) error {
	cause := err
	if ue, ok := errors.AsType[*url.Error](err); ok {
		cause = ue.Err
	}
	var timeout interface{ Timeout() bool }
	switch {
	case ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded):
		return middleware.Unavailable("canceled", ctx.Err())
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &timeout) && timeout.Timeout():
		return middleware.Unavailable("timeout", cause)
	default:
		return middleware.Unavailable("unreachable", cause)
	}
}

// Close releases the client's idle connections: its own transport's by
// default, but that client's transport's with WithHTTPClient, and the
// program's default transport's when it replaced http.DefaultTransport by
// another kind of RoundTripper (see ownTransport). The verifier keeps
// working afterwards.
func (v *RemoteVerifier) Close() error {
	if !v.built() {
		return nil // no client, no connections
	}
	v.client.CloseIdleConnections()
	return nil
}
