package bearer_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/bearer"
)

// TestRefreshDoesNotRetryAStoreRefusal: a rotation the store refused
// (invalid or reused refresh token) changed nothing, so it is not run
// again; only an answer that may have been lost is (see
// TestRefreshRetriesARotationWhoseAnswerWasLost, which covers no refusal
// but a full store). A retried reuse would let a store whose second answer
// differs turn a detected reuse into a rotation.
func TestRefreshDoesNotRetryAStoreRefusal(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{"invalid refresh token", bearer.ErrRefreshInvalid},
		{"reused refresh token", bearer.ErrRefreshReused},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem, err := bearer.NewMemoryRefreshStore()
			require.NoError(t, err)
			// The first Rotate answers tc.err without touching the store; a
			// second one would be carried out.
			store := &lateRotations{MemoryRefreshStore: mem, err: tc.err}
			e := newEnv(t, bearer.WithRefreshStore(store))
			tok := e.authenticate(t, "mary@example.com")
			store.failures.Store(1)
			rec := e.refresh(tok.AccessToken, *tok.RefreshToken)
			assert.Equal(t, http.StatusUnauthorized, rec.Code, rec.Body.String())
			assert.Equal(t, int32(1), store.calls.Load(), "a refusal is asked of the store once")
		})
	}
}
