package seed_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/basicauth"
	"github.com/tidegate/tidegate/internal/seed"
	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

// example is testdata/example.json, the documented shape of a seed file.
var example = &seed.File{
	Users: []seed.User{{
		UserID: "88144f5ea3", Username: "mary@example.com", Password: "correct horse battery staple",
		Emails: []string{"mary@example.com"}, Roles: []string{"user"},
	}, {
		UserID: "a1d2c3b4e5", Username: "admin", Password: "admin demo password",
		Emails: []string{"admin@example.com", "root@example.com"}, Roles: []string{"user", "admin"},
	}},
	Servers: []seed.Server{{Name: "uploader", Secret: "demo server secret for uploader"}},
	Apps: []seed.App{{
		Name: "demo", AppToken: "0123456789abcdef0123456789abcdef",
		BackendToken: "fedcba9876543210fedcba9876543210fedcba987654",
	}},
}

func TestLoadExample(t *testing.T) {
	f, err := seed.Load(filepath.Join("testdata", "example.json"))
	require.NoError(t, err)
	assert.Equal(t, example, f)
}

func TestParseAccepts(t *testing.T) {
	for _, tc := range []struct{ name, doc string }{
		{"empty object", `{}`},
		{"empty lists", `{"users": [], "servers": [], "apps": []}`},
		{"null lists", `{"users": null}`},
		{"surrounding whitespace", " \n\t{}\r\n "},
		{"emails and roles optional", `{"users": [{"userid": "u1", "username": "mary", "password": "p"}]}`},
		{"own username repeated as email", `{"users": [{"userid": "u1", "username": "Mary@x.org", "password": "p", "emails": ["mary@X.org"]}]}`},
		{"password of 1024 bytes", `{"users": [{"userid": "u1", "username": "m", "password": "` + strings.Repeat("p", 1024) + `"}]}`},
		{"server secret of 16 bytes", `{"servers": [{"name": "s", "secret": "0123456789abcdef"}]}`},
		{"two apps", `{"apps": [` + app("a", "0", "1") + `,` + app("b", "2", "3") + `]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := seed.Parse(strings.NewReader(tc.doc))
			require.NoError(t, err)
			require.NotNil(t, f)
			assert.NoError(t, f.Validate())
		})
	}
}

// app returns an app entry whose tokens repeat the hex digits a and b.
func app(name, a, b string) string {
	return `{"name": "` + name + `", "app_token": "` + strings.Repeat(a, 32) + `", "backend_token": "` + strings.Repeat(b, 44) + `"}`
}

func user(id, username string, emails ...string) string {
	e, _ := json.Marshal(emails)
	return `{"userid": "` + id + `", "username": "` + username + `", "password": "pw", "emails": ` + string(e) + `}`
}

func TestParseRejects(t *testing.T) {
	users := func(u ...string) string { return `{"users": [` + strings.Join(u, ",") + `]}` }
	apps := func(a ...string) string { return `{"apps": [` + strings.Join(a, ",") + `]}` }
	appTokens := func(appToken, backendToken string) string {
		return apps(`{"name": "a", "app_token": "` + appToken + `", "backend_token": "` + backendToken + `"}`)
	}
	hex32, hex44 := strings.Repeat("a", 32), strings.Repeat("b", 44)
	for _, tc := range []struct {
		name, doc string
		want      string // a part of the error
	}{
		// Syntax and strictness.
		{"empty input", ``, "invalid JSON"},
		{"not JSON", `users: []`, "invalid JSON"},
		{"truncated", `{"users": [`, "invalid JSON"},
		{"top-level array", `[]`, "invalid JSON"},
		{"top-level string", `"x"`, "invalid JSON"},
		{"unknown top-level field", `{"users": [], "admins": []}`, "invalid JSON"},
		{"unknown user field", `{"users": [{"userid": "u", "username": "m", "password": "p", "admin": true}]}`, "invalid JSON"},
		{"unknown server field", `{"servers": [{"name": "s", "secret": "0123456789abcdef", "ttl": 3}]}`, "invalid JSON"},
		{"unknown app field", `{"apps": [{"name": "a", "app_token": "` + hex32 + `", "backend_token": "` + hex44 + `", "x": 1}]}`, "invalid JSON"},
		{"wrong type", `{"users": {}}`, "invalid JSON"},
		{"roles not a list", `{"users": [{"userid": "u", "username": "m", "password": "p", "roles": "admin"}]}`, "invalid JSON"},
		{"second object", `{} {}`, "data after"},
		{"stray closing brace", `{} }`, "data after"},
		{"stray closing bracket", `{"users": []}]`, "data after"},
		{"trailing word", `{}x`, "data after"},
		{"trailing null", `{} null`, "data after"},
		{"trailing comma", `{},`, "data after"},
		// Users.
		{"user without userid", users(`{"username": "m", "password": "p"}`), "users[0]: userid, username and password are required"},
		{"user without username", users(`{"userid": "u", "password": "p"}`), "users[0]: userid, username and password are required"},
		{"user with blank username", users(`{"userid": "u", "username": "  ", "password": "p"}`), "users[0]: userid, username and password are required"},
		{"user without password", users(`{"userid": "u", "username": "m"}`), "users[0]: userid, username and password are required"},
		{"password over 1024 bytes", users(`{"userid": "u", "username": "m", "password": "` + strings.Repeat("p", 1025) + `"}`), "users[0]: password longer"},
		{"duplicate userid", users(user("u1", "a"), user("u1", "b")), `users[1]: duplicate userid "u1"`},
		{"username taken", users(user("u1", "mary"), user("u2", "mary")), "users[1]: login"},
		{"username taken, other case", users(user("u1", "mary"), user("u2", "MARY")), "users[1]: login"},
		{"username taken, padded", users(user("u1", "mary"), user("u2", " Mary ")), "users[1]: login"},
		{"email is another's username", users(user("u1", "mary@x.org"), user("u2", "bob", "Mary@X.org")), "users[1]: login"},
		{"username is another's email", users(user("u1", "bob", "mary@x.org"), user("u2", "MARY@x.org")), "users[1]: login"},
		{"email taken", users(user("u1", "a", "x@y.z"), user("u2", "b", "X@Y.Z")), "users[1]: login"},
		{"blank email", users(user("u1", "a", " ")), "users[0]: blank email"},
		{"empty email", users(user("u1", "a", "")), "users[0]: blank email"},
		// Servers.
		{"server without name", `{"servers": [{"secret": "0123456789abcdef"}]}`, "servers[0]: name and secret are required"},
		{"server without secret", `{"servers": [{"name": "s"}]}`, "servers[0]: name and secret are required"},
		{"short server secret", `{"servers": [{"name": "s", "secret": "0123456789abcde"}]}`, "servers[0]: secret shorter than 16 bytes"},
		{"duplicate server", `{"servers": [{"name": "s", "secret": "0123456789abcdef"}, {"name": "s", "secret": "fedcba9876543210"}]}`, `servers[1]: duplicate server name "s"`},
		{"server name with a space", `{"servers": [{"name": "photo uploader", "secret": "0123456789abcdef"}]}`, "servers[0]: session: server names must be"},
		{"server secret with a tab", `{"servers": [{"name": "s", "secret": "0123456789\tabcdef"}]}`, "servers[0]: session: server secrets must be"},
		// Apps.
		{"app without name", apps(`{"app_token": "` + hex32 + `", "backend_token": "` + hex44 + `"}`), "apps[0]: name is required"},
		{"app token missing", appTokens("", hex44), "apps[0]: app_token must be 32 lowercase hex"},
		{"app token 31", appTokens(hex32[1:], hex44), "apps[0]: app_token must be 32 lowercase hex"},
		{"app token 33", appTokens(hex32+"a", hex44), "apps[0]: app_token must be 32 lowercase hex"},
		{"app token upper case", appTokens(strings.ToUpper(hex32), hex44), "apps[0]: app_token must be 32 lowercase hex"},
		{"app token not hex", appTokens("g"+hex32[1:], hex44), "apps[0]: app_token must be 32 lowercase hex"},
		{"backend token missing", appTokens(hex32, ""), "apps[0]: backend_token must be 44 lowercase hex"},
		{"backend token 43", appTokens(hex32, hex44[1:]), "apps[0]: backend_token must be 44 lowercase hex"},
		{"backend token 45", appTokens(hex32, hex44+"b"), "apps[0]: backend_token must be 44 lowercase hex"},
		{"backend token upper case", appTokens(hex32, "B"+hex44[1:]), "apps[0]: backend_token must be 44 lowercase hex"},
		{"backend token extends app token", appTokens(hex32, hex32+"012345678901"), "apps[0]: tokens must be unique"},
		{"app token reused", apps(app("a", "0", "1"), app("b", "0", "2")), "apps[1]: tokens must be unique"},
		{"backend token reused", apps(app("a", "0", "1"), app("b", "2", "1")), "apps[1]: tokens must be unique"},
		{"duplicate app name", apps(app("a", "0", "1"), app("a", "2", "3")), `apps[1]: duplicate app name "a"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := seed.Parse(strings.NewReader(tc.doc))
			require.Error(t, err)
			assert.Nil(t, f)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestParseErrorsDoNotQuoteSecrets(t *testing.T) {
	for _, doc := range []string{
		`{"users": [{"userid": "u", "username": "m", "password": "hunter2hunter2` + strings.Repeat("x", 1020) + `"}]}`,
		`{"servers": [{"name": "s", "secret": "hunter2hunter2"}]}`,
		`{"apps": [{"name": "a", "app_token": "hunter2hunter2", "backend_token": "` + strings.Repeat("b", 44) + `"}]}`,
		`{"apps": [{"name": "a", "app_token": "` + strings.Repeat("a", 32) + `", "backend_token": "hunter2hunter2"}]}`,
	} {
		_, err := seed.Parse(strings.NewReader(doc))
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "hunter2")
	}
}

func TestParseSizeLimit(t *testing.T) {
	pad := func(n int) []byte {
		doc := []byte(`{"users": []}`)
		return append(doc, bytes.Repeat([]byte(" "), n-len(doc))...)
	}
	_, err := seed.Parse(bytes.NewReader(pad(seed.MaxFileBytes)))
	require.NoError(t, err, "exactly MaxFileBytes is fine")

	_, err = seed.Parse(bytes.NewReader(pad(seed.MaxFileBytes + 1)))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "larger than")

	// An endless reader is cut off, not read to the end.
	_, err = seed.Parse(endless{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "larger than")
}

// endless is a reader of infinite spaces.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

func TestParseReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	_, err := seed.Parse(iotest.ErrReader(boom))
	require.ErrorIs(t, err, boom)
}

func TestLoadErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	t.Run("missing", func(t *testing.T) {
		path := filepath.Join(dir, "nope.json")
		_, err := seed.Load(path)
		require.ErrorIs(t, err, fs.ErrNotExist)
		assert.Contains(t, err.Error(), path)
	})
	t.Run("invalid JSON", func(t *testing.T) {
		path := filepath.Join("testdata", "truncated.json")
		_, err := seed.Load(path)
		require.Error(t, err)
		assert.Contains(t, err.Error(), path)
		assert.Contains(t, err.Error(), "invalid JSON")
	})
	t.Run("invalid content", func(t *testing.T) {
		path := filepath.Join(dir, "dup.json")
		require.NoError(t, os.WriteFile(path, []byte(`{"users": [`+user("u1", "a")+`,`+user("u1", "b")+`]}`), 0o600))
		_, err := seed.Load(path)
		require.Error(t, err)
		assert.Contains(t, err.Error(), path)
		assert.Contains(t, err.Error(), "users[1]: duplicate userid")
	})
	t.Run("a directory", func(t *testing.T) {
		_, err := seed.Load(dir)
		require.Error(t, err)
		assert.Contains(t, err.Error(), dir)
	})
}

func TestDemo(t *testing.T) {
	d := seed.Demo()
	require.NoError(t, d.Validate())
	assert.NotEmpty(t, d.Users)
	assert.NotEmpty(t, d.Servers)
	assert.NotEmpty(t, d.Apps)

	// The demo can be written out as a seed file and read back unchanged.
	data, err := json.Marshal(d)
	require.NoError(t, err)
	back, err := seed.Parse(bytes.NewReader(data))
	require.NoError(t, err)
	assert.Equal(t, d, back)

	// Each call is a fresh copy.
	d.Users[0].Roles[0] = "admin"
	assert.Equal(t, "user", seed.Demo().Users[0].Roles[0])
}

func TestValidateReportsTheFirstProblem(t *testing.T) {
	f := &seed.File{
		Users:   []seed.User{{UserID: "u1", Username: "a", Password: "p"}, {UserID: "u2"}},
		Servers: []seed.Server{{Name: "s"}},
	}
	err := f.Validate()
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "users[1]:"), err.Error())
}

// loadAccounts stores f's users in a MemoryAccounts, as the example server
// does (with a placeholder hash).
func loadAccounts(f *seed.File) error {
	accounts := middleware.NewMemoryAccounts()
	for _, u := range f.Users {
		err := accounts.Create(context.Background(), middleware.Account{
			UserID: u.UserID, Username: u.Username, Emails: u.Emails, Roles: u.Roles, PasswordHash: "hash",
		})
		if err != nil {
			return fmt.Errorf("%s: %w", u.UserID, err)
		}
	}
	return nil
}

// loadServersAndApps loads f's servers and apps as examples/server does.
func loadServersAndApps(f *seed.File) error {
	for _, s := range f.Servers {
		if err := session.CheckServer(s.Name, s.Secret); err != nil { // what session.WithServers checks
			return err
		}
	}
	specs := make([]basicauth.AppSpec, 0, len(f.Apps))
	for _, a := range f.Apps {
		specs = append(specs, basicauth.AppSpec{ID: a.Name, Name: a.Name, AppToken: a.AppToken, BackendToken: a.BackendToken})
	}
	_, err := basicauth.NewMemoryRegistry(specs...)
	return err
}

func TestValidFilesLoadIntoAccounts(t *testing.T) {
	// Validate folds logins exactly as MemoryAccounts does, so a file it
	// accepts never fails later with ErrAccountExists, and one that would
	// is refused with its position.
	for _, f := range []*seed.File{example, seed.Demo()} {
		require.NoError(t, loadAccounts(f))
	}
	for _, users := range [][]seed.User{
		{{UserID: "u1", Username: "mary", Password: "p"}, {UserID: "u2", Username: "  MARY\t", Password: "p"}},
		{{UserID: "u1", Username: "a", Password: "p", Emails: []string{"x@y.z"}}, {UserID: "u2", Username: "b", Password: "p", Emails: []string{" x@y.z"}}},
		{{UserID: "u1", Username: "\t", Password: "p"}},
	} {
		f := &seed.File{Users: users}
		require.Error(t, f.Validate())
	}
}

// FuzzParse checks Parse on arbitrary input: no panic; a document it
// accepts is valid JSON within the size limit, passes Validate, loads into
// MemoryAccounts without a conflict, and reads back unchanged after being
// written out again.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile(filepath.Join("testdata", "example.json"))
	require.NoError(f, err)
	f.Add(example)
	demo, err := json.Marshal(seed.Demo())
	require.NoError(f, err)
	f.Add(demo)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{} }`))
	f.Add([]byte(`{"users": [{"userid": "u1", "username": "Mary", "password": "p", "emails": ["mary"]}]}`))
	f.Add([]byte(`{"users": [{"userid": "u1", "username": "a", "password": "p"}, {"userid": "u2", "username": " A", "password": "p"}]}`))
	f.Add([]byte(`{"apps": [{"name": "a", "app_token": "0123456789abcdef0123456789abcdef", "backend_token": "0123456789abcdef0123456789abcdef012345678901"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		parsed, err := seed.Parse(bytes.NewReader(data))
		if err != nil {
			if parsed != nil {
				t.Fatal("an error with a result")
			}
			return
		}
		if len(data) > seed.MaxFileBytes {
			t.Fatalf("accepted %d bytes", len(data))
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		if err := parsed.Validate(); err != nil {
			t.Fatalf("accepted a file that does not validate: %v", err)
		}
		if err := loadAccounts(parsed); err != nil {
			t.Fatalf("accepted a file whose users do not load: %v", err)
		}
		if err := loadServersAndApps(parsed); err != nil {
			t.Fatalf("accepted a file whose servers or apps do not load: %v", err)
		}
		out, err := json.Marshal(parsed)
		if err != nil {
			t.Fatal(err)
		}
		back, err := seed.Parse(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("written back, it no longer parses: %v", err)
		}
		assert.Equal(t, parsed, back)
	})
}
