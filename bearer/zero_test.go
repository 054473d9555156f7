package bearer_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/bearer"
	"github.com/tidegate/tidegate/middleware"
)

// TestZeroValuesAreRefused: a key set, password login or store its
// constructor did not make (a zero value) is refused by New, or its methods
// answer an error; none panics at request time.
func TestZeroValuesAreRefused(t *testing.T) {
	ctx := context.Background()
	login, err := middleware.NewPasswordLogin(middleware.NewMemoryAccounts())
	require.NoError(t, err)

	_, err = bearer.New(login, &bearer.KeySet{})
	require.Error(t, err, "a zero key set")
	_, err = bearer.New(&middleware.PasswordLogin{}, testKeySet(t))
	require.Error(t, err, "a zero password login")

	refresh := &bearer.MemoryRefreshStore{}
	f := bearer.Family{ID: "sid", Subject: "u", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	var d middleware.TokenDigest
	require.ErrorIs(t, refresh.Create(ctx, f, d, f.ExpiresAt), middleware.ErrInternal)
	_, err = refresh.Rotate(ctx, bearer.Rotation{})
	require.ErrorIs(t, err, middleware.ErrInternal)

	revoked := &bearer.MemoryRevocationList{}
	until := time.Now().Add(time.Hour)
	require.ErrorIs(t, revoked.RevokeToken(ctx, "jti", until), middleware.ErrInternal)
	require.ErrorIs(t, revoked.RevokeLogin(ctx, "sid", until), middleware.ErrInternal)
	require.ErrorIs(t, revoked.RevokeSubject(ctx, "u", time.Now(), until), middleware.ErrInternal)
	_, err = revoked.Revoked(ctx, bearer.TokenRef{ID: "jti"})
	require.ErrorIs(t, err, middleware.ErrInternal, "a list that cannot record revocations must not report tokens valid")
}

// TestZeroServiceAnswersErrors: a Service or JWKSVerifier its constructor
// did not make (a zero value, or the nil a failed New returns before a
// deferred Close) answers ErrInternal, or does nothing; it used to panic.
func TestZeroServiceAnswersErrors(t *testing.T) {
	ctx := context.Background()
	var none *bearer.Service
	for name, s := range map[string]*bearer.Service{"zero": {}, "nil": none} {
		t.Run(name, func(t *testing.T) {
			require.NotPanics(t, func() {
				require.NoError(t, s.Close())
				require.ErrorIs(t, s.RevokeSubject(ctx, "u"), middleware.ErrInternal)
				_, err := s.Issue(ctx, middleware.Account{UserID: "u"})
				require.ErrorIs(t, err, middleware.ErrInternal)
			})
		})
	}

	var noVerifier *bearer.JWKSVerifier
	for name, j := range map[string]*bearer.JWKSVerifier{"zero JWKSVerifier": {}, "nil JWKSVerifier": noVerifier} {
		t.Run(name, func(t *testing.T) {
			require.NotPanics(t, func() {
				_, err := j.Verify(ctx, middleware.Credential{Kind: bearer.Kind, Token: "a.b.c"})
				require.ErrorIs(t, err, middleware.ErrInternal)
				require.NoError(t, j.Close())
			})
		})
	}
}

// TestZeroServiceHandlerFailsSafe: a zero Service's Handler returned nil,
// so the wiring succeeded and the first request panicked, while every other
// method fails safe; a nil *Service (a failed New's) is wired the same way.
func TestZeroServiceHandlerFailsSafe(t *testing.T) {
	var none *bearer.Service
	for name, svc := range map[string]*bearer.Service{"zero": {}, "nil": none} {
		t.Run(name, func(t *testing.T) {
			h := svc.Handler()
			rec := httptest.NewRecorder()
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("a request to a zero Service's Handler panicked at request time: %v", r)
					}
				}()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/authenticate", nil))
			}()
			if rec.Code != http.StatusInternalServerError {
				t.Fatalf("status %d, want 500", rec.Code)
			}
			require.JSONEq(t, `{"error":"server_error","error_description":"internal error"}`, rec.Body.String(),
				"the scheme's 500 body")
		})
	}
}

// TestNilServiceGettersAnswerNil: Scheme and Cache of a nil *Service answer
// what a zero Service's do (nil, which middleware.Require refuses at wiring
// time); they used to dereference the nil pointer.
func TestNilServiceGettersAnswerNil(t *testing.T) {
	var none *bearer.Service
	for name, s := range map[string]*bearer.Service{"zero": {}, "nil": none} {
		t.Run(name, func(t *testing.T) {
			require.NotPanics(t, func() {
				require.Nil(t, s.Scheme())
				require.Nil(t, s.Cache())
			})
		})
	}
}
