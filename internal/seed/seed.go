// Package seed reads the seed file that fills the example server's
// in-memory stores: users, servers (for session server tokens) and apps (for
// Tapglue-style app and backend tokens).
package seed

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tidegate/tidegate/middleware"
	"github.com/tidegate/tidegate/session"
)

// MaxFileBytes bounds a seed file.
const MaxFileBytes = 4 << 20

// File is the seed file's content.
type File struct {
	Users   []User   `json:"users"`
	Servers []Server `json:"servers"`
	Apps    []App    `json:"apps"`
}

// User is an account to create.
type User struct {
	UserID   string   `json:"userid"`
	Username string   `json:"username"`
	Password string   `json:"password"`
	Emails   []string `json:"emails"`
	Roles    []string `json:"roles"`
}

// Server is a service allowed to log in for a server token.
type Server struct {
	Name   string `json:"name"`
	Secret string `json:"secret"`
}

// App is a Tapglue-style application.
type App struct {
	Name         string `json:"name"`
	AppToken     string `json:"app_token"`
	BackendToken string `json:"backend_token"`
}

// Load reads and validates the seed file at path. Errors name the file.
func Load(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("seed file %s: %w", path, err)
	}
	defer f.Close()
	seed, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("seed file %s: %w", path, err)
	}
	return seed, nil
}

// Parse reads and validates a seed document: strict JSON (unknown fields
// and trailing data are errors), at most MaxFileBytes.
func Parse(r io.Reader) (*File, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("larger than %d bytes", MaxFileBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	// dec.More reports false before a stray '}' or ']', so it would let
	// "{...} }" through: require the end of the input instead.
	if err := dec.Decode(new(json.RawMessage)); err != io.EOF {
		return nil, errors.New("invalid JSON: data after the top-level object")
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

// Validate checks every entry and reports the first problem by position.
func (f *File) Validate() error {
	logins := map[string]string{}
	ids := map[string]bool{}
	for i, u := range f.Users {
		where := fmt.Sprintf("users[%d]", i)
		switch {
		case u.UserID == "" || strings.TrimSpace(u.Username) == "" || u.Password == "":
			return fmt.Errorf("%s: userid, username and password are required", where)
		case len(u.Password) > 1024:
			return fmt.Errorf("%s: password longer than 1024 bytes", where)
		case ids[u.UserID]:
			return fmt.Errorf("%s: duplicate userid %q", where, u.UserID)
		}
		ids[u.UserID] = true
		for _, login := range append([]string{u.Username}, u.Emails...) {
			// Fold as middleware.MemoryAccounts does (FoldLogin), so that a
			// file that validates also loads.
			folded := middleware.FoldLogin(login)
			if folded == "" {
				return fmt.Errorf("%s: blank email", where)
			}
			if other, taken := logins[folded]; taken && other != u.UserID {
				return fmt.Errorf("%s: login %q already belongs to another user", where, login)
			}
			logins[folded] = u.UserID
		}
	}
	names := map[string]bool{}
	for i, s := range f.Servers {
		where := fmt.Sprintf("servers[%d]", i)
		switch {
		case s.Name == "" || s.Secret == "":
			return fmt.Errorf("%s: name and secret are required", where)
		case len(s.Secret) < 16:
			return fmt.Errorf("%s: secret shorter than 16 bytes", where)
		case names[s.Name]:
			return fmt.Errorf("%s: duplicate server name %q", where, s.Name)
		}
		if err := session.CheckServer(s.Name, s.Secret); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		names[s.Name] = true
	}
	tokens, appNames := map[string]bool{}, map[string]bool{}
	for i, a := range f.Apps {
		where := fmt.Sprintf("apps[%d]", i)
		switch {
		case a.Name == "":
			return fmt.Errorf("%s: name is required", where)
		case appNames[a.Name]:
			return fmt.Errorf("%s: duplicate app name %q", where, a.Name)
		case !isLowerHex(a.AppToken, 32):
			return fmt.Errorf("%s: app_token must be 32 lowercase hex characters", where)
		case !isLowerHex(a.BackendToken, 44):
			return fmt.Errorf("%s: backend_token must be 44 lowercase hex characters", where)
		case tokens[a.AppToken] || tokens[a.BackendToken] || a.AppToken == a.BackendToken[:32]:
			return fmt.Errorf("%s: tokens must be unique and independent", where)
		}
		tokens[a.AppToken], tokens[a.BackendToken], appNames[a.Name] = true, true, true
	}
	return nil
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Demo returns the built-in demo data the example server uses without
// -seed. Its secrets are public: it is for trying tidegate on loopback only.
func Demo() *File {
	return &File{
		Users: []User{{
			UserID: "88144f5ea3", Username: "mary@example.com", Password: "correct horse battery staple",
			Emails: []string{"mary@example.com"}, Roles: []string{"user"},
		}, {
			UserID: "a1d2c3b4e5", Username: "admin@example.com", Password: "admin demo password",
			Emails: []string{"admin@example.com"}, Roles: []string{"user", "admin"},
		}},
		Servers: []Server{{Name: "uploader", Secret: "demo server secret for uploader"}},
		Apps: []App{{
			Name:         "demo",
			AppToken:     "0123456789abcdef0123456789abcdef",
			BackendToken: "fedcba9876543210fedcba9876543210fedcba987654",
		}},
	}
}
