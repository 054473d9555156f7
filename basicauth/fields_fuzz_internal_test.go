package basicauth

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzValidFields: what POST /users accepts as user_name and email holds the
// rules handlers.go documents: bounded, valid UTF-8, no control characters,
// no surrounding white space (user_name); no white space or control at all
// and exactly one "@" with something on each side (email).
func FuzzValidFields(f *testing.F) {
	for _, s := range []string{"bob", "Zoë Ångström", "bob@example.com", "b\u00e9b", " bob", "b\tob", "a@b@c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if validUserName(s) {
			if s == "" || len(s) > MaxUserNameBytes || !utf8.ValidString(s) ||
				strings.ContainsFunc(s, unicode.IsControl) || strings.TrimSpace(s) != s {
				t.Fatalf("validUserName accepted %q", s)
			}
		}
		if validEmail(s) {
			at := strings.IndexByte(s, '@')
			if len(s) > MaxEmailBytes || !utf8.ValidString(s) || at <= 0 || at == len(s)-1 ||
				strings.Count(s, "@") != 1 ||
				strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
				t.Fatalf("validEmail accepted %q", s)
			}
		}
	})
}
