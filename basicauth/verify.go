package basicauth

import (
	"context"
	"errors"

	"github.com/tidegate/tidegate/middleware"
)

// Kind is the credential kind of this package.
const Kind middleware.Kind = "basic"

// ActorApp is the Actor of a principal authenticated by an app (or backend)
// token alone, with no user: the app-only middleware's principal for
// sign-up and login. Its Subject is "app:" + the app id. The core knows no
// such actor: code that reads ActingAs should treat any actor it does not
// know as "not a user".
const ActorApp middleware.Actor = "app"

// AppSubjectPrefix starts the Subject of an ActorApp principal; no user id
// issued by this package contains a colon.
const AppSubjectPrefix = "app:"

// verifier checks Basic app credentials for one of the two schemes.
// needUser is true for the user scheme: app-only credentials are then
// refused with 4013.
type verifier struct {
	s        *Service
	needUser bool
}

// Verify implements middleware.Verifier. It decides first whether the token
// part is a known app or backend token (1001 otherwise), then what the
// password part means.
func (v verifier) Verify(ctx context.Context, c middleware.Credential) (middleware.Principal, error) {
	t, app, err := v.s.lookupApp(ctx, c.Token)
	if err != nil {
		return middleware.Principal{}, err
	}
	if c.Secret == "" {
		if v.needUser {
			return middleware.Principal{}, middleware.Invalid(reasonSessionRequired)
		}
		return appPrincipal(app, t), nil
	}
	if t == AppToken {
		return v.s.sessionPrincipal(ctx, app, c.Secret)
	}
	return v.s.backendPrincipal(ctx, app, c.Secret)
}

// lookupApp finds the app of a token part. The token's type follows from its
// length; anything that is not an app or backend token in form is unknown
// without a lookup.
func (s *Service) lookupApp(ctx context.Context, token string) (TokenType, App, error) {
	var t TokenType
	switch {
	case isLowerHex(token, AppTokenLen):
		t = AppToken
	case isLowerHex(token, BackendTokenLen):
		t = BackendToken
	default:
		return 0, App{}, middleware.Invalid(reasonUnknownApp)
	}
	app, err := s.apps.Lookup(ctx, t, middleware.DigestToken(token))
	switch {
	case errors.Is(err, ErrAppNotFound):
		return 0, App{}, middleware.Invalid(reasonUnknownApp)
	case err != nil:
		return 0, App{}, middleware.Unavailable("app registry", err)
	case app.ID == "":
		// An unscoped session is a session-kind one (see App.ID).
		return 0, App{}, middleware.Internal("app without an id")
	}
	return t, app, nil
}

// sessionPrincipal checks an app session: it must be live and belong to app.
func (s *Service) sessionPrincipal(ctx context.Context, app App, token string) (middleware.Principal, error) {
	sess, err := s.sessions.Lookup(ctx, middleware.DigestToken(token))
	switch {
	case errors.Is(err, middleware.ErrSessionNotFound):
		return middleware.Principal{}, middleware.Invalid(reasonInvalidSession)
	case err != nil:
		return middleware.Principal{}, middleware.Unavailable("session store", err)
	}
	// Sessions are scoped to their app: one issued in app A is refused with
	// app B's token, as is any session that is not an app user's.
	if sess.App != app.ID || sess.Subject == "" || (sess.Actor != "" && sess.Actor != middleware.ActorUser) {
		return middleware.Principal{}, middleware.Invalid(reasonInvalidSession)
	}
	return middleware.Principal{
		Subject:    sess.Subject,
		Kind:       Kind,
		Actor:      middleware.ActorUser,
		App:        app.ID,
		Roles:      sess.Roles,
		ExpiresAt:  sess.ExpiresAt,
		Attributes: map[string]string{"token": AppToken.String()},
	}, nil
}

// backendPrincipal checks the user id a backend acts for. An id that is
// not well-formed or names no (enabled) account is 401 (4007), never 500.
func (s *Service) backendPrincipal(ctx context.Context, app App, userID string) (middleware.Principal, error) {
	if len(userID) > MaxUserIDBytes {
		return middleware.Principal{}, middleware.Invalid(reasonUnknownUser)
	}
	account, err := s.accounts.FindByID(ctx, userID)
	switch {
	case errors.Is(err, middleware.ErrAccountNotFound):
		return middleware.Principal{}, middleware.Invalid(reasonUnknownUser)
	case err != nil:
		return middleware.Principal{}, middleware.Unavailable("accounts", err)
	case account.Disabled || account.UserID != userID:
		return middleware.Principal{}, middleware.Invalid(reasonUnknownUser)
	}
	return middleware.Principal{
		Subject:    account.UserID,
		Kind:       Kind,
		Actor:      middleware.ActorBackend,
		App:        app.ID,
		Roles:      account.Roles,
		Attributes: map[string]string{"token": BackendToken.String()},
	}, nil
}

// appPrincipal is the principal of app-only credentials.
func appPrincipal(app App, t TokenType) middleware.Principal {
	return middleware.Principal{
		Subject:    AppSubjectPrefix + app.ID,
		Kind:       Kind,
		Actor:      ActorApp,
		App:        app.ID,
		Attributes: map[string]string{"token": t.String()},
	}
}
