package basicauth_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/middleware"
)

// failingCreate is a session store whose Create fails (Redis down).
type failingCreate struct{ middleware.SessionStore }

func (failingCreate) Create(context.Context, middleware.TokenDigest, middleware.Session) error {
	return errors.New("connection refused")
}

// TestLoginEventNamesTheKnownSubject: once the password is checked the
// account is known, so the endpoint's event of a login that then fails
// (the session store down, 503) names its subject, as bearer's
// /authenticate does in the same place; the typed login name stays out.
func TestLoginEventNamesTheKnownSubject(t *testing.T) {
	store, err := middleware.NewMemorySessionStore()
	require.NoError(t, err)
	events := &eventRecorder{}
	f := newFixture(t, fixtureConfig{opts: []basicauth.Option{basicauth.WithLogger(slog.New(events)),
		basicauth.WithSessionStore(failingCreate{store})}})

	events.take()
	res := f.do(t, http.MethodPost, "/0.4/me/login", basic(appA+":"), `{"user_name":"mary","password":"`+maryPassword+`"}`)
	require.Equal(t, http.StatusServiceUnavailable, res.status, res.body)
	var endpoint map[string]string
	for _, e := range events.take() {
		if e["endpoint"] == "login" {
			endpoint = e
		}
	}
	require.NotNil(t, endpoint, "the login endpoint's event")
	assert.Equal(t, string(middleware.OutcomeError), endpoint["outcome"])
	assert.Equal(t, maryID, endpoint["subject"], "the subject is known once the password was checked")
}
