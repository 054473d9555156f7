package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"net"
	"runtime"
	"strings"
	"sync"
	"time"
)

// credentials are the header values /whoami is driven with.
type credentials struct {
	sessions, bearers, basics          []string // valid
	badSessions, badBearers, badBasics []string // invalid
}

const sessionHeader = "X-Tidepool-Session-Token"

// mintAll logs in cfg.credentials times per kind through the server's login
// endpoints, spreading the logins over the seeded users (the login throttle
// forgives successes, so one user may log in many times), with
// cfg.mintWorkers logins at once: each costs an argon2id hash at the
// default cost. It then makes the invalid credentials.
func mintAll(ctx context.Context, cfg config, srv *server) (*credentials, error) {
	workers := cfg.mintWorkers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	c := &credentials{}
	kinds := []struct {
		name string
		dst  *[]string
		mint func(*clientConn, seedUser) (string, error)
	}{
		{"session", &c.sessions, srv.mintSession},
		{"bearer", &c.bearers, srv.mintBearer},
		{"basic", &c.basics, srv.mintBasic},
	}
	for _, k := range kinds {
		logf("minting %d %s credentials (%d logins at once)", cfg.credentials, k.name, workers)
		values, err := mintMany(ctx, srv, cfg.credentials, workers, k.mint)
		if err != nil {
			return nil, fmt.Errorf("minting %s credentials: %w", k.name, err)
		}
		*k.dst = values
	}
	invalid := int(math.Round(float64(3*cfg.credentials) * cfg.invalidShare / (1 - cfg.invalidShare) / 3))
	for range invalid {
		c.badSessions = append(c.badSessions, randomToken())
		c.badBasics = append(c.badBasics, basicValue(srv.appToken, randomToken()))
	}
	for i := range invalid {
		c.badBearers = append(c.badBearers, forge(c.bearers[i%len(c.bearers)]))
	}
	return c, nil
}

func mintMany(ctx context.Context, srv *server, n, workers int, mint func(*clientConn, seedUser) (string, error)) ([]string, error) {
	out := make([]string, n)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			conn, err := net.DialTimeout("tcp", srv.addr, 5*time.Second)
			if err != nil {
				errs[w] = err
				return
			}
			c := newClientConn(conn)
			c.header = map[string]string{}
			defer func() { c.conn.Close() }()
			for i := w; i < n && ctx.Err() == nil; i += workers {
				if c.closed {
					c.conn.Close()
					if conn, err = net.DialTimeout("tcp", srv.addr, 5*time.Second); err != nil {
						errs[w] = err
						return
					}
					c = &clientConn{conn: conn, r: c.r, header: map[string]string{}}
					c.r.Reset(conn)
				}
				_ = c.conn.SetDeadline(time.Now().Add(time.Minute))
				v, err := mint(c, srv.users[i%len(srv.users)])
				if err != nil {
					errs[w] = err
					return
				}
				out[i] = v
			}
			errs[w] = ctx.Err()
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// mintSession: POST /auth/login with HTTP Basic username:password; the
// token comes back in X-Tidepool-Session-Token.
func (s *server) mintSession(c *clientConn, u seedUser) (string, error) {
	status, err := c.roundTrip(rawPOST(s.addr, "/auth/login", "", "Authorization", basicValue(u.Username, u.Password)))
	if err != nil {
		return "", err
	}
	token := c.header[strings.ToLower(sessionHeader)]
	if status != 200 || token == "" {
		return "", fmt.Errorf("POST /auth/login: status %d", status)
	}
	return token, nil
}

// mintBearer: POST /api/v1/authenticate {"username","password"}.
func (s *server) mintBearer(c *clientConn, u seedUser) (string, error) {
	body, _ := json.Marshal(map[string]string{"username": u.Username, "password": u.Password})
	status, err := c.roundTrip(rawPOST(s.addr, "/api/v1/authenticate", string(body), "Content-Type", "application/json"))
	if err != nil {
		return "", err
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if status != 200 || json.Unmarshal(c.body, &out) != nil || out.AccessToken == "" {
		return "", fmt.Errorf("POST /api/v1/authenticate: status %d", status)
	}
	return "Bearer " + out.AccessToken, nil
}

// mintBasic: POST /0.4/me/login with the app token alone and
// {"email","password"}; the credentials are app_token:session_token.
func (s *server) mintBasic(c *clientConn, u seedUser) (string, error) {
	body, _ := json.Marshal(map[string]string{"email": u.Emails[0], "password": u.Password})
	status, err := c.roundTrip(rawPOST(s.addr, "/0.4/me/login", string(body),
		"Content-Type", "application/json", "Authorization", basicValue(s.appToken, "")))
	if err != nil {
		return "", err
	}
	var out struct {
		SessionToken string `json:"session_token"`
	}
	if status != 201 || json.Unmarshal(c.body, &out) != nil || out.SessionToken == "" {
		return "", fmt.Errorf("POST /0.4/me/login: status %d", status)
	}
	return basicValue(s.appToken, out.SessionToken), nil
}

func basicValue(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// randomToken is well-formed like a real token (43 base64url characters)
// and known to nobody.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// forge replaces a bearer token's signature with random bytes of the same
// length: the right header and claims, a signature that does not verify.
func forge(bearerValue string) string {
	dot := strings.LastIndexByte(bearerValue, '.')
	sig, err := base64.RawURLEncoding.DecodeString(bearerValue[dot+1:])
	if err != nil {
		sig = make([]byte, 32)
	}
	_, _ = rand.Read(sig)
	return bearerValue[:dot+1] + base64.RawURLEncoding.EncodeToString(sig)
}

// requests returns the /whoami mix, shuffled: every valid credential
// (want 200) and every invalid one (want 401).
func (c *credentials) requests(addr string) []request {
	var reqs []request
	add := func(header string, values []string, want int) {
		for _, v := range values {
			reqs = append(reqs, request{raw: rawGET(addr, "/whoami", header, v), want: want})
		}
	}
	add(sessionHeader, c.sessions, 200)
	add("Authorization", c.bearers, 200)
	add("Authorization", c.basics, 200)
	add(sessionHeader, c.badSessions, 401)
	add("Authorization", c.badBearers, 401)
	add("Authorization", c.badBasics, 401)
	rng := mrand.New(mrand.NewPCG(8, 8))
	rng.Shuffle(len(reqs), func(i, j int) { reqs[i], reqs[j] = reqs[j], reqs[i] })
	return reqs
}

// describe summarises the mix for the report.
func (c *credentials) describe() string {
	valid := len(c.sessions) + len(c.bearers) + len(c.basics)
	invalid := len(c.badSessions) + len(c.badBearers) + len(c.badBasics)
	return fmt.Sprintf("%d valid credentials (%d session tokens, %d HS256 bearer JWTs, %d app credentials) "+
		"and %d invalid ones (%.1f%%: unknown session tokens, bearer JWTs with a forged signature, "+
		"the right app token with an unknown session token)",
		valid, len(c.sessions), len(c.bearers), len(c.basics), invalid, 100*float64(invalid)/float64(valid+invalid))
}
