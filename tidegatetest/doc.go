// Package tidegatetest helps you test your own handlers and wiring around
// tidegate, without real credentials where you do not want them and with
// real ones, minted in-process, where you do.
//
//   - WithPrincipal puts a principal on a request, as if the middleware had
//     authenticated it: test a handler that sits behind Require, Any,
//     RequireRole or RequireScope without any credential at all.
//   - StaticVerifier answers from a fixed table of credentials and
//     principals (anything else is middleware.Invalid): build schemes with
//     it (session.NewScheme, middleware.NewScheme) to test which routes
//     accept which kinds, with the real extractors, challenges and bodies.
//   - Clock is a fixed, settable clock for every WithClock option of
//     tidegate (pass clock.Now), safe for concurrent use.
//   - NewAccounts fills a middleware.MemoryAccounts and a
//     middleware.PasswordLogin with cheap argon2id parameters
//     (middleware.TestArgon2Params), ready for session.New, bearer.New and
//     basicauth.New.
//   - LoginSession, LoginBearer and LoginBasic mint valid credentials for a
//     configured service by logging in through its own handler in-process
//     (no network); IssueSession and IssueBearer mint them without a
//     password; BasicHeader and BearerHeader spell the Authorization values.
//
// The helpers that take a testing.TB stop the test with t.Fatalf when the
// service refuses; their messages never contain a password or a token.
//
// Use this package in tests only: its password hashing is deliberately
// cheap, and StaticVerifier compares credentials without the care a
// production verifier needs.
package tidegatetest
