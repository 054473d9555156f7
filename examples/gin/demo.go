package main

// The demo data, the same as examples/server's built-in set. Its secrets
// are public: this program is for trying tidegate on loopback only.

// demoUser is an account the program creates at start.
type demoUser struct {
	UserID, Username, Password string
	Roles                      []string
}

// demoApp is a Tapglue-style application with its two tokens.
type demoApp struct {
	ID, AppToken, BackendToken string
}

var (
	mary = demoUser{UserID: "88144f5ea3", Username: "mary@example.com",
		Password: "correct horse battery staple", Roles: []string{"user"}}
	admin = demoUser{UserID: "a1d2c3b4e5", Username: "admin@example.com",
		Password: "admin demo password", Roles: []string{"user", "admin"}}
	demo = demoApp{ID: "demo", AppToken: "0123456789abcdef0123456789abcdef",
		BackendToken: "fedcba9876543210fedcba9876543210fedcba987654"}

	demoUsers = []demoUser{mary, admin}
	demoApps  = []demoApp{demo}
)
