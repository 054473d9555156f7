package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/middleware"
)

// NewAppRegistry builds a registry for one test holding apps, each
// registered as basicauth.AppSpec documents (ID defaults to Name, only the
// tokens' digests are kept). Registries that share a backend must not see
// each other's apps.
type NewAppRegistry func(t *testing.T, apps ...basicauth.AppSpec) basicauth.AppRegistry

// AppRegistry runs the conformance suite of basicauth.AppRegistry against
// the registries newRegistry builds.
func AppRegistry(t *testing.T, newRegistry NewAppRegistry) {
	cases := []struct {
		name string
		run  func(t *testing.T, x *registryFixture)
	}{
		{"lookup_both_tokens", testRegistryLookup},
		{"lookup_wrong_type", testRegistryWrongType},
		{"lookup_unknown", testRegistryUnknown},
		{"id_defaults_to_name", testRegistryIDDefaultsToName},
		{"rotate_app_token", testRegistryRotateApp},
		{"rotate_backend_token", testRegistryRotateBackend},
		{"rotate_unknown_app", testRegistryRotateUnknown},
		{"rotate_into_used_digest", testRegistryRotateIntoUsed},
		{"rotate_invalid_type", testRegistryRotateInvalidType},
		{"rotated_out_digest_is_free", testRegistryRotatedOutIsFree},
		{"revoke", testRegistryRevoke},
		{"concurrent_rotations_of_one_app", testRegistryConcurrentRotations},
		{"concurrent_rotations_into_one_digest", testRegistryConcurrentSameDigest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			specs := []basicauth.AppSpec{testApp("app-1", "One"), testApp("app-2", "Two"), testApp("", "Three")}
			r := newRegistry(t, specs...)
			require.NotNil(t, r)
			tc.run(t, &registryFixture{t: t, r: r})
		})
	}
}

// hexToken returns n lowercase hex characters derived from seed, so that
// every test token is well formed and distinct.
func hexToken(seed string, n int) string {
	var out []byte
	for i := 0; len(out) < n; i++ {
		sum := sha256.Sum256([]byte(fmt.Sprint(seed, "/", i)))
		out = hex.AppendEncode(out, sum[:])
	}
	return string(out[:n])
}

// Test tokens of an app: named by the app's ID, or its Name when ID is "".
func testAppToken(name string) string { return hexToken("app/"+name, basicauth.AppTokenLen) }
func testBackendToken(name string) string {
	return hexToken("backend/"+name, basicauth.BackendTokenLen)
}

func testApp(id, name string) basicauth.AppSpec {
	key := id
	if key == "" {
		key = name
	}
	return basicauth.AppSpec{ID: id, Name: name, AppToken: testAppToken(key), BackendToken: testBackendToken(key)}
}

// fresh returns the digest of a new token named name.
func fresh(name string) middleware.TokenDigest {
	return middleware.DigestToken(hexToken("fresh/"+name, 32))
}

// registryFixture is a registry under test.
type registryFixture struct {
	t *testing.T
	r basicauth.AppRegistry
}

// finds requires that the token of type typ with digest d is the app's.
func (x *registryFixture) finds(typ basicauth.TokenType, d middleware.TokenDigest, want basicauth.App) {
	x.t.Helper()
	got, err := x.r.Lookup(ctx, typ, d)
	require.NoError(x.t, err, "%v token", typ)
	assert.Equal(x.t, want, got)
}

// missing requires that no app has a token of type typ with digest d.
func (x *registryFixture) missing(typ basicauth.TokenType, d middleware.TokenDigest, msg string) {
	x.t.Helper()
	got, err := x.r.Lookup(ctx, typ, d)
	require.ErrorIs(x.t, err, basicauth.ErrAppNotFound, msg)
	assert.Equal(x.t, basicauth.App{}, got, "a failed Lookup returns the zero App")
}

var (
	appOne   = basicauth.App{ID: "app-1", Name: "One"}
	appTwo   = basicauth.App{ID: "app-2", Name: "Two"}
	appThree = basicauth.App{ID: "Three", Name: "Three"}
)

// unchanged requires that app-2 and Three still hold their tokens.
func (x *registryFixture) unchanged() {
	x.t.Helper()
	x.finds(basicauth.AppToken, middleware.DigestToken(testAppToken("app-2")), appTwo)
	x.finds(basicauth.BackendToken, middleware.DigestToken(testBackendToken("app-2")), appTwo)
	x.finds(basicauth.AppToken, middleware.DigestToken(testAppToken("Three")), appThree)
	x.finds(basicauth.BackendToken, middleware.DigestToken(testBackendToken("Three")), appThree)
}

var (
	oneApp     = middleware.DigestToken(testAppToken("app-1"))
	oneBackend = middleware.DigestToken(testBackendToken("app-1"))
)

func testRegistryLookup(t *testing.T, x *registryFixture) {
	x.finds(basicauth.AppToken, oneApp, appOne)
	x.finds(basicauth.BackendToken, oneBackend, appOne)
	x.unchanged()
}

func testRegistryWrongType(t *testing.T, x *registryFixture) {
	x.missing(basicauth.BackendToken, oneApp, "an app token is not a backend token")
	x.missing(basicauth.AppToken, oneBackend, "a backend token is not an app token")
	for _, typ := range []basicauth.TokenType{0, 3, -1} {
		x.missing(typ, oneApp, fmt.Sprint("token type ", int(typ)))
		x.missing(typ, oneBackend, fmt.Sprint("token type ", int(typ)))
	}
}

func testRegistryUnknown(t *testing.T, x *registryFixture) {
	for name, d := range map[string]middleware.TokenDigest{
		"never registered": fresh("x"),
		"zero digest":      {},
		"digest of the token in upper case": middleware.DigestToken(
			fmt.Sprintf("%X", testAppToken("app-1"))),
		"a digest one bit off": func() middleware.TokenDigest { d := oneApp; d[31] ^= 1; return d }(),
	} {
		x.missing(basicauth.AppToken, d, name)
		x.missing(basicauth.BackendToken, d, name)
	}
}

func testRegistryIDDefaultsToName(t *testing.T, x *registryFixture) {
	x.finds(basicauth.AppToken, middleware.DigestToken(testAppToken("Three")), appThree)
	require.NoError(t, x.r.Rotate(ctx, "Three", basicauth.BackendToken, fresh("three")))
	x.finds(basicauth.BackendToken, fresh("three"), appThree)
}

func testRegistryRotateApp(t *testing.T, x *registryFixture) {
	require.NoError(t, x.r.Rotate(ctx, "app-1", basicauth.AppToken, fresh("1")))
	x.missing(basicauth.AppToken, oneApp, "the old token stops matching at once")
	x.finds(basicauth.AppToken, fresh("1"), appOne)
	x.missing(basicauth.BackendToken, fresh("1"), "the new token is an app token")
	x.finds(basicauth.BackendToken, oneBackend, appOne) // the other token is kept
	require.NoError(t, x.r.Rotate(ctx, "app-1", basicauth.AppToken, fresh("2")))
	x.missing(basicauth.AppToken, fresh("1"), "rotated again")
	x.missing(basicauth.AppToken, oneApp, "the first token stays dead")
	x.finds(basicauth.AppToken, fresh("2"), appOne)
	x.unchanged()
}

func testRegistryRotateBackend(t *testing.T, x *registryFixture) {
	require.NoError(t, x.r.Rotate(ctx, "app-1", basicauth.BackendToken, fresh("1")))
	x.missing(basicauth.BackendToken, oneBackend, "the old token stops matching at once")
	x.finds(basicauth.BackendToken, fresh("1"), appOne)
	x.missing(basicauth.AppToken, fresh("1"), "the new token is a backend token")
	x.finds(basicauth.AppToken, oneApp, appOne)
	x.unchanged()
}

func testRegistryRotateUnknown(t *testing.T, x *registryFixture) {
	for _, id := range []string{"app-3", "", "app-", "APP-1", "One"} {
		err := x.r.Rotate(ctx, id, basicauth.AppToken, fresh(id))
		require.ErrorIs(t, err, basicauth.ErrAppNotFound, "app %q", id)
		x.missing(basicauth.AppToken, fresh(id), "nothing was stored")
	}
	x.finds(basicauth.AppToken, oneApp, appOne)
}

func testRegistryRotateIntoUsed(t *testing.T, x *registryFixture) {
	for name, d := range map[string]middleware.TokenDigest{
		"its own current token":       oneApp,
		"its own backend token":       oneBackend,
		"another app's app token":     middleware.DigestToken(testAppToken("app-2")),
		"another app's backend token": middleware.DigestToken(testBackendToken("app-2")),
	} {
		for _, typ := range []basicauth.TokenType{basicauth.AppToken, basicauth.BackendToken} {
			err := x.r.Rotate(ctx, "app-1", typ, d)
			require.ErrorIs(t, err, basicauth.ErrAppExists, "%s as the %v token", name, typ)
		}
	}
	x.finds(basicauth.AppToken, oneApp, appOne) // nothing changed
	x.finds(basicauth.BackendToken, oneBackend, appOne)
	x.unchanged()
}

func testRegistryRotateInvalidType(t *testing.T, x *registryFixture) {
	for _, typ := range []basicauth.TokenType{0, 3} {
		require.Error(t, x.r.Rotate(ctx, "app-1", typ, fresh("x")), "type %d", int(typ))
	}
	x.finds(basicauth.AppToken, oneApp, appOne)
	x.finds(basicauth.BackendToken, oneBackend, appOne)
	x.missing(basicauth.AppToken, fresh("x"), "nothing was stored")
	x.missing(basicauth.BackendToken, fresh("x"), "nothing was stored")
}

func testRegistryRotatedOutIsFree(t *testing.T, x *registryFixture) {
	require.NoError(t, x.r.Rotate(ctx, "app-1", basicauth.AppToken, fresh("1")))
	// The old token is in use no more: another app may take its digest.
	require.NoError(t, x.r.Rotate(ctx, "app-2", basicauth.AppToken, oneApp))
	x.finds(basicauth.AppToken, oneApp, appTwo)
	x.finds(basicauth.AppToken, fresh("1"), appOne)
}

func testRegistryRevoke(t *testing.T, x *registryFixture) {
	require.NoError(t, x.r.Revoke(ctx, "app-1"))
	x.missing(basicauth.AppToken, oneApp, "a revoked app's app token")
	x.missing(basicauth.BackendToken, oneBackend, "a revoked app's backend token")
	x.unchanged()
	require.ErrorIs(t, x.r.Rotate(ctx, "app-1", basicauth.AppToken, fresh("1")), basicauth.ErrAppNotFound)
	x.missing(basicauth.AppToken, fresh("1"), "a rotation of a revoked app stored nothing")
	require.NoError(t, x.r.Revoke(ctx, "app-1"), "twice")
	require.NoError(t, x.r.Revoke(ctx, "unknown"), "an unknown app")
	require.NoError(t, x.r.Revoke(ctx, ""), "an empty id")
	x.unchanged()
	// The revoked app's tokens are in use no more.
	require.NoError(t, x.r.Rotate(ctx, "app-2", basicauth.BackendToken, oneBackend))
	x.finds(basicauth.BackendToken, oneBackend, appTwo)
}

func testRegistryConcurrentRotations(t *testing.T, x *registryFixture) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range racers {
		wg.Go(func() {
			<-start
			assert.NoError(t, x.r.Rotate(ctx, "app-1", basicauth.AppToken, fresh(fmt.Sprint(i))))
		})
		wg.Go(func() {
			<-start
			got, err := x.r.Lookup(ctx, basicauth.BackendToken, oneBackend)
			assert.NoError(t, err, "the backend token is untouched throughout")
			assert.Equal(t, appOne, got)
		})
	}
	close(start)
	wg.Wait()
	matching := 0
	for i := range racers {
		if _, err := x.r.Lookup(ctx, basicauth.AppToken, fresh(fmt.Sprint(i))); err == nil {
			matching++
		} else {
			require.ErrorIs(t, err, basicauth.ErrAppNotFound)
		}
	}
	assert.Equal(t, 1, matching, "an app has one app token, whatever the interleaving")
	x.missing(basicauth.AppToken, oneApp, "the original token is gone")
}

func testRegistryConcurrentSameDigest(t *testing.T, x *registryFixture) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, racers)
	ids := []string{"app-1", "app-2", "Three"}
	for i := range racers {
		wg.Go(func() {
			<-start
			errs[i] = x.r.Rotate(ctx, ids[i%len(ids)], basicauth.TokenType(1+i/len(ids)%2), fresh("contested"))
		})
	}
	close(start)
	wg.Wait()
	won := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, won, "two rotations took one digest")
			won = i
			continue
		}
		require.ErrorIs(t, err, basicauth.ErrAppExists)
	}
	require.NotEqual(t, -1, won, "one rotation takes the digest")
	winner := map[string]basicauth.App{"app-1": appOne, "app-2": appTwo, "Three": appThree}[ids[won%len(ids)]]
	typ := basicauth.TokenType(1 + won/len(ids)%2)
	x.finds(typ, fresh("contested"), winner)
	other := basicauth.AppToken + basicauth.BackendToken - typ
	x.missing(other, fresh("contested"), "the digest is the winner's token of one type only")
}
