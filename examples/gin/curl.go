package main

import "fmt"

// step is one line of the walkthrough printed at start: a shell comment
// (Cmd empty), a curl command whose response has status Want, or a command
// that stores what it extracts from a response in the shell variable Var.
type step struct {
	Comment string
	Cmd     string
	Want    int
	Var     string
}

// curlSteps is the walkthrough against a server at addr (host:port): every
// kind of route with the demo users, in an order that works when pasted
// into a POSIX shell line by line. Tests run every line.
func curlSteps(addr string) []step {
	base := "http://" + addr
	sessionHeader := `-H "x-tidepool-session-token: $SESSION"`
	jwtHeader := `-H "Authorization: Bearer $JWT"`
	appUser := fmt.Sprintf(`-u "%s:$APP_SESSION"`, demo.AppToken)
	backend := fmt.Sprintf("-u %s:%s", demo.BackendToken, admin.UserID)
	jsonBody := func(fields string) string { return `-H 'Content-Type: application/json' -d '{` + fields + `}'` }
	field := func(name string) string { return `sed -n 's/.*"` + name + `":"\([^"]*\)".*/\1/p'` }
	return []step{
		{Comment: "# public routes"},
		{Cmd: "curl -i " + base + "/healthz", Want: 200},
		{Cmd: "curl -i " + base + "/hello", Want: 200},

		{Comment: "# session token (Tidepool): log in with HTTP Basic, keep the x-tidepool-session-token header"},
		{Var: "SESSION", Cmd: fmt.Sprintf(`SESSION=$(curl -s -o /dev/null -w '%%header{x-tidepool-session-token}' -X POST -u '%s:%s' %s/auth/login)`,
			mary.Username, mary.Password, base), Want: 200},
		{Cmd: "curl -i " + sessionHeader + " " + base + "/hello", Want: 200},
		{Cmd: "curl -i " + sessionHeader + " " + base + "/session/whoami", Want: 200},
		{Cmd: "curl -i " + sessionHeader + " " + base + "/whoami", Want: 200},
		{Cmd: "curl -i " + sessionHeader + " " + base + "/admin/stats   # 403: mary is not an admin", Want: 403},

		{Comment: "# bearer JWT (Tidal): authenticate with JSON, keep the access_token"},
		{Var: "JWT", Cmd: fmt.Sprintf(`JWT=$(curl -s -X POST %s %s/api/v1/authenticate | %s)`,
			jsonBody(fmt.Sprintf(`"username":"%s","password":"%s"`, admin.Username, admin.Password)), base, field("access_token")), Want: 200},
		{Cmd: "curl -i " + jwtHeader + " " + base + "/api/v1/ping", Want: 200},
		{Cmd: "curl -i " + jwtHeader + " " + base + "/whoami", Want: 200},
		{Cmd: "curl -i " + jwtHeader + " " + base + "/admin/stats", Want: 200},
		{Cmd: "curl -i " + jwtHeader + " " + base + "/session/whoami   # 401: session tokens only", Want: 401},

		{Comment: "# app credentials (Tapglue): log in with the app token, then send app token + session token"},
		{Var: "APP_SESSION", Cmd: fmt.Sprintf(`APP_SESSION=$(curl -s -X POST -u %s: %s %s/0.4/me/login | %s)`,
			demo.AppToken, jsonBody(fmt.Sprintf(`"user_name":"%s","password":"%s"`, mary.Username, mary.Password)), base,
			field("session_token")), Want: 201},
		{Cmd: "curl -i " + appUser + " " + base + "/whoami", Want: 200},
		{Cmd: "curl -i " + backend + " " + base + "/admin/stats   # the app's backend, acting for the admin", Want: 200},

		{Comment: "# log out: the session token stops working at once"},
		{Cmd: "curl -i -X POST " + sessionHeader + " " + base + "/auth/logout", Want: 200},
		{Cmd: "curl -i " + sessionHeader + " " + base + "/session/whoami   # 401 now", Want: 401},
	}
}

// curlLines is the walkthrough as printed.
func curlLines(addr string) []string {
	steps := curlSteps(addr)
	lines := make([]string, len(steps))
	for i, s := range steps {
		lines[i] = s.Comment + s.Cmd
	}
	return lines
}
