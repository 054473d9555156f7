package middleware_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/middleware"
)

// TestAnyAmbiguityWithoutRFC6750AnswersFirst: when none of the
// schemes that saw a credential has an RFC 6750 challenge, the first of
// them (in Any's order) answers the 400, as Any's doc says.
func TestAnyAmbiguityWithoutRFC6750AnswersFirst(t *testing.T) {
	for _, order := range permutations([]kindSpec{realSessionSpec, basicSpec}) {
		rec, log, kinds := serveAnyInOrder(t, order,
			sessionHeader, tokGood, "Authorization", basicValue(tokGood, "pw"))
		require.Equal(t, http.StatusBadRequest, rec.Code, "order %v", kinds)
		assert.Contains(t, log, "kind="+string(kinds[0])+" outcome=rejected reason=ambiguous status=400",
			"order %v: the first scheme answers", kinds)
	}
}

// TestAnyBrokenExtractorAnswersAsItsScheme: the 500 of a broken
// extractor is its own scheme's, in every order, not the first scheme's.
func TestAnyBrokenExtractorAnswersAsItsScheme(t *testing.T) {
	for _, order := range permutations([]kindSpec{realSessionSpec, panicking(bearerSpec)}) {
		rec, log, kinds := serveAnyInOrder(t, order, sessionHeader, tokGood)
		require.Equal(t, http.StatusInternalServerError, rec.Code, "order %v", kinds)
		assert.Contains(t, log, "kind=bearer outcome=error reason=panic", "order %v", kinds)
		assert.NotContains(t, log, "kind=session", "order %v", kinds)
	}
}

// TestAnyVerifierFailureLogsFingerprint: a credential Any's scheme
// refuses is logged with its fingerprint, as under Require.
func TestAnyVerifierFailureLogsFingerprint(t *testing.T) {
	rec, log, _ := serveAnyInOrder(t, []kindSpec{sessionSpec, bearerSpec}, "Authorization", "Bearer "+tokRevoked)
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Contains(t, log, "reason=revoked")
	assert.Contains(t, log, " fp=", "the refused credential's fingerprint")
}

// TestExtractorSentinelErrors: an extractor may return the bare
// sentinels (the Extractor contract asks for ErrNoCredential itself) or
// wrap them: each keeps its kind's status under Require and Any, and only
// an error of no kind is the 500 "extractor_error", logged by its type.
func TestExtractorSentinelErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		err    error
		status int // alone, under Require
	}{
		"bare ErrNoCredential":    {middleware.ErrNoCredential, http.StatusUnauthorized},
		"wrapped ErrNoCredential": {fmt.Errorf("no header: %w", middleware.ErrNoCredential), http.StatusUnauthorized},
		"wrapped ErrMalformed":    {fmt.Errorf("bad tenant id: %w", middleware.ErrMalformed), http.StatusBadRequest},
		"bare ErrForbidden":       {middleware.ErrForbidden, http.StatusForbidden},
		"wrapped ErrRateLimited":  {fmt.Errorf("slow down: %w", middleware.ErrRateLimited), http.StatusTooManyRequests},
		"error of no kind":        {errors.New("tenant lookup failed"), http.StatusInternalServerError},
	} {
		t.Run(name, func(t *testing.T) {
			custom := withExtractor(realSessionSpec, func(*http.Request) (middleware.Credential, error) {
				return middleware.Credential{Kind: kindSession, Token: "half-read"}, tc.err
			})
			logger, buf := debugLogger()
			s := newScheme(t, custom, &testVerifier{}, middleware.WithLogger(logger))
			rec := serve(middleware.Require(s)(principalHandler(&seen{})), newRequest())
			assert.Equal(t, tc.status, rec.Code, "Require")

			_, err := s.Extract(newRequest())
			assert.Equal(t, tc.status, middleware.AsError(err).Status, "Scheme.Extract")
			if tc.status == http.StatusInternalServerError {
				assert.Contains(t, buf.String(), "reason=extractor_error status=500 cause=*errors.errorString")
				cred, _ := s.Extract(newRequest())
				assert.True(t, cred.IsZero(), "no credential beside a broken extractor's error")
			}

			// Beside a valid Bearer token, only "no credential" lets it through.
			anyRec, _, _ := serveAnyInOrder(t, []kindSpec{custom, bearerSpec}, "Authorization", "Bearer "+tokGood)
			switch tc.status {
			case http.StatusUnauthorized:
				assert.Equal(t, http.StatusOK, anyRec.Code, "Any")
			case http.StatusInternalServerError:
				assert.Equal(t, http.StatusInternalServerError, anyRec.Code, "Any")
			default:
				assert.Equal(t, http.StatusBadRequest, anyRec.Code, "Any: two kinds")
			}
		})
	}
}

// TestAccountLogValue: an Account logs every field but its hash.
func TestAccountLogValue(t *testing.T) {
	a := middleware.Account{UserID: "u-1", Username: "mary", Emails: []string{"m@example.com"},
		Roles: []string{"admin"}, PasswordHash: "$argon2id$secret", Disabled: true}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("state", "account", a)
	assert.Contains(t, buf.String(), `account.user_id=u-1 account.username=mary account.emails=[m@example.com] `+
		`account.roles=[admin] account.password_hash=<withheld> account.disabled=true`)
}

// TestExpiredPrincipalLogsItsSubject: a principal the Verifier vouched for
// but that has expired is refused with its subject named in the log event,
// uncached and through a Cache; a refusal whose subject the Verifier names
// (Error.Subject) is logged with it; one that names none is logged without
// a subject.
func TestExpiredPrincipalLogsItsSubject(t *testing.T) {
	named := middleware.VerifierFunc(func(ctx context.Context, c middleware.Credential) (middleware.Principal, error) {
		if c.Token == tokRevoked {
			e := middleware.Invalid("revoked")
			e.Subject = subjAdmin
			return middleware.Principal{}, e
		}
		return (&testVerifier{}).Verify(ctx, c)
	})
	at := func() time.Time { return t0 }
	for _, cached := range []bool{false, true} {
		var v middleware.Verifier = named
		if cached {
			v = newTestCache(t, named, time.Hour, middleware.WithClock(at))
		}
		for token, want := range map[string]string{tokExpired: "subject=" + subjGood, tokRevoked: "subject=" + subjAdmin, tokUnknown: ""} {
			logger, buf := debugLogger()
			s := newScheme(t, sessionSpec, v, middleware.WithLogger(logger), middleware.WithClock(at))
			req := newRequest()
			req.Header.Set(sessionHeader, token)
			rec := serve(middleware.Require(s)(principalHandler(&seen{})), req)
			require.Equal(t, http.StatusUnauthorized, rec.Code, "%s, cached %v", token, cached)
			if want == "" {
				assert.NotContains(t, buf.String(), "subject=", "%s, cached %v", token, cached)
			} else {
				assert.Contains(t, buf.String(), want, "%s, cached %v", token, cached)
			}
		}
	}
}
