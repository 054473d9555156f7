package adversarial_test

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// failure is one way a credential of a kind fails, and its answer.
type failure struct {
	name string
	got  reply
	// noCredential: the request carried no credential of the kind (a
	// password login, no header), so its challenge names no error
	// (RFC 6750 §3.1): its headers are compared with such failures only.
	noCredential bool
}

// headerShape is a response's header without Date, as one string, for
// comparing two responses header by header.
func headerShape(r reply) string {
	var lines []string
	for name, values := range r.header {
		if name == "Date" {
			continue
		}
		lines = append(lines, name+": "+strings.Join(values, " | "))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// assertIndistinguishable asserts that every failure has the body body,
// and that failures of the same status have the very same headers: a
// client learns the status, and from it nothing about why.
func assertIndistinguishable(t *testing.T, failures []failure, body string) {
	t.Helper()
	type group struct {
		status       int
		noCredential bool
	}
	shapes := map[group]string{}
	first := map[group]string{}
	for _, f := range failures {
		assert.Equal(t, body, f.got.body, f.name)
		g := group{f.got.status, f.noCredential}
		shape := headerShape(f.got)
		if prev, ok := shapes[g]; ok {
			assert.Equal(t, prev, shape, "%s answers with other headers than %s", f.name, first[g])
			continue
		}
		shapes[g], first[g] = shape, f.name
	}
}

// TestIdenticalFailureBodies: every way a credential of a kind can fail
// (missing, malformed, unknown, expired, revoked, forged, refreshed away)
// gets the same body, and failures of the same status the same headers;
// the reason is logged, never sent. For app credentials the body tells
// which part failed, as the Tapglue API does (1001: the app or backend
// token, 4007: the session or user id, 4013: no session): app tokens ship
// inside client apps and are not the secret that matters; every failure of
// the same part is indistinguishable.
func TestIdenticalFailureBodies(t *testing.T) {
	t.Parallel()
	s, clock := clocked(t)
	start := clock.Now()

	t.Run("session token", func(t *testing.T) {
		expired := s.sessionLogin(t, mary.Username, mary.Password)
		revoked := s.sessionLogin(t, mary.Username, mary.Password)
		refreshed := s.sessionLogin(t, mary.Username, mary.Password)
		s.checkEmpty(t, s.send(t, req{method: http.MethodPost, path: "/auth/logout", header: h("X-Tidepool-Session-Token", revoked)}), 200)
		clock.Set(start.Add(10 * time.Minute))
		r := s.get(t, "/auth/login", "X-Tidepool-Session-Token", refreshed)
		require.Equal(t, http.StatusOK, r.status)
		secret(r.header.Get("X-Tidepool-Session-Token"))
		clock.Set(start.Add(time.Hour))
		jwt := s.bearerLogin(t, mary.Username, mary.Password).Access
		whoami := func(value string) reply { return s.get(t, "/whoami", "X-Tidepool-Session-Token", value) }
		ping := func(value string) reply { return s.get(t, "/auth/login", "X-Tidepool-Session-Token", value) }
		failures := []failure{
			{name: "missing", got: s.get(t, "/auth/login")},
			{name: "empty", got: s.raw(t, rawGet("/whoami", "X-Tidepool-Session-Token:"))},
			{name: "malformed", got: whoami("a b")},
			{name: "oversized", got: whoami(strings.Repeat("a", 2000))},
			{name: "doubled", got: s.get(t, "/whoami", "X-Tidepool-Session-Token", "a", "X-Tidepool-Session-Token", "b")},
			{name: "unknown", got: whoami(randomToken())},
			{name: "expired", got: whoami(expired)},
			{name: "revoked", got: whoami(revoked)},
			{name: "refreshed away", got: whoami(refreshed)},
			{name: "a JWT", got: whoami(jwt)},
			{name: "refresh, unknown", got: ping(randomToken())},
			{name: "refresh, expired", got: ping(expired)},
			{name: "refresh, revoked", got: ping(revoked)},
		}
		assertIndistinguishable(t, failures, bodySessionRequired)
	})

	t.Run("bearer token", func(t *testing.T) {
		clock.Set(start)
		expired := s.bearerLogin(t, mary.Username, mary.Password)
		revoked := s.bearerLogin(t, mary.Username, mary.Password)
		reused := s.bearerLogin(t, mary.Username, mary.Password)
		key := hmacSigner(jwtSecret)
		ping := func(token string) reply { return s.get(t, "/api/v1/ping", "Authorization", "Bearer "+token) }
		clock.Set(start.Add(time.Hour))
		s.check(t, s.send(t, req{method: http.MethodPost, path: "/api/v1/logout", header: h("Authorization", "Bearer "+revoked.Access)}),
			want{status: 200, body: bodyBearerLoggedOut})
		r := s.bearerRefresh(t, reused.Access, reused.Refresh)
		require.Equal(t, http.StatusOK, r.status)
		var bought tokens
		require.NoError(t, json.Unmarshal([]byte(r.body), &bought))
		secret(bought.Access)
		secret(bought.Refresh)
		failures := []failure{
			{name: "refresh token reused", got: s.bearerRefresh(t, reused.Access, reused.Refresh)},
			{name: "bought by a reused refresh token", got: ping(bought.Access)},
			{name: "revoked by logout", got: ping(revoked.Access)},
			{name: "refresh of a logged out login", got: s.bearerRefresh(t, revoked.Access, revoked.Refresh)},
		}
		clock.Set(start.Add(9 * time.Hour))
		now := clock.Now()
		fresh := s.bearerLogin(t, mary.Username, mary.Password)
		failures = append(failures, []failure{
			{name: "missing", got: s.get(t, "/api/v1/ping"), noCredential: true},
			{name: "wrong password", noCredential: true, got: s.send(t, req{method: http.MethodPost, path: "/api/v1/authenticate",
				body: `{"username":"mary@example.com","password":"` + secret("not mary's password") + `"}`, header: h("Content-Type", "application/json")})},
			{name: "unknown user", noCredential: true, got: s.send(t, req{method: http.MethodPost, path: "/api/v1/authenticate",
				body: `{"username":"nobody@example.com","password":"` + secret("nobody's password") + `"}`, header: h("Content-Type", "application/json")})},
			{name: "empty", got: s.get(t, "/api/v1/ping", "Authorization", "Bearer")},
			{name: "one segment", got: ping("abc")},
			{name: "oversized", got: ping(strings.Repeat("a", 9000) + "..")},
			{name: "garbage", got: ping("a.b.c")},
			{name: "forged", got: ping(jws(headerJSON(), claimsAt(now), hmacSigner([]byte("a different key of thirty-two bytes!"))))},
			{name: "alg none", got: ping(jws(headerJSON("alg", `"none"`), claimsAt(now), noSignature))},
			{name: "wrong typ", got: ping(jws(headerJSON("typ", `"JWT"`), claimsAt(now), key))},
			{name: "unknown kid", got: ping(jws(headerJSON("kid", `"other"`), claimsAt(now), key))},
			{name: "tampered", got: ping(fresh.Access[:len(fresh.Access)-2] + "AA")},
			{name: "expired", got: ping(expired.Access)},
			{name: "refresh with an unknown refresh token", got: s.bearerRefresh(t, fresh.Access, randomToken())},
			{name: "refresh with another login's refresh token", got: s.bearerRefresh(t, fresh.Access, expired.Refresh)},
		}...)
		assertIndistinguishable(t, failures, bodyBearerUnauth)
	})

	t.Run("app credentials", func(t *testing.T) {
		clock.Set(start)
		expired := s.appLogin(t, mary.Username, mary.Password)
		revoked := s.appLogin(t, mary.Username, mary.Password)
		revokedCred := secret(basicAuth(demoApp.AppToken, revoked))
		s.checkEmpty(t, s.send(t, req{method: http.MethodDelete, path: "/0.4/me/logout", header: h("Authorization", revokedCred)}), http.StatusNoContent)
		clock.Set(start.Add(31 * 24 * time.Hour))
		whoami := func(user, password string) reply {
			return s.get(t, "/whoami", "Authorization", basicAuth(user, password))
		}
		app, backend := demoApp.AppToken, demoApp.BackendToken
		assertIndistinguishable(t, []failure{
			{name: "unknown app token", got: whoami(strings.Repeat("0", 32), randomToken())},
			{name: "unknown backend token", got: whoami(strings.Repeat("0", 44), mary.UserID)},
			{name: "app token of the wrong case", got: whoami(strings.ToUpper(app), randomToken())},
			{name: "not a token", got: whoami("mary", mary.Password)},
		}, bodyBasicUnknownApp)
		assertIndistinguishable(t, []failure{
			{name: "unknown session", got: whoami(app, randomToken())},
			{name: "expired session", got: whoami(app, expired)},
			{name: "revoked session", got: whoami(app, revoked)},
			{name: "a user id as a session", got: whoami(app, mary.UserID)},
			{name: "unknown user id", got: whoami(backend, "nobody")},
			{name: "a session as a user id", got: whoami(backend, expired)},
		}, bodyBasicInvalid)
		assertIndistinguishable(t, []failure{
			{name: "no colon", got: s.get(t, "/whoami", "Authorization", "Basic "+b64(app))},
			{name: "bad base64", got: s.get(t, "/whoami", "Authorization", "Basic "+b64(app + ":x")[:10])},
			{name: "invalid UTF-8", got: s.get(t, "/whoami", "Authorization", "Basic "+b64(app+":\xff"))},
			{name: "oversized", got: s.get(t, "/whoami", "Authorization", "Basic "+strings.Repeat("A", 2000))},
		}, bodyBasicBadRequest)
	})
}
