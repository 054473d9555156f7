package middleware_test

import (
	"strings"
	"testing"
	"unicode"

	"github.com/tidegate/tidegate/middleware"
)

// FuzzFoldLogin: FoldLogin's documented property. Two names fold alike
// exactly when strings.EqualFold says they are equal (after the surrounding
// white space FoldLogin drops), and folding is idempotent. b is a, rune by
// rune, moved along its case-folding orbit by mask, so equal pairs are
// generated, and also compared with other as it is.
func FuzzFoldLogin(f *testing.F) {
	f.Add("ΟΔΥΣΣΕΥΣ", []byte{1, 2, 3}, "οδυσσευς")
	f.Add("Kelvin \u212a", []byte{0, 1}, "kelvin k")
	f.Add("İstanbul", []byte{1}, "istanbul")
	f.Add(" Bob@Example.com ", []byte{1, 1, 1}, "bob@example.com")
	f.Add("stra\u00dfe \u017f", []byte{2, 1}, "STRASSE S")
	f.Fuzz(func(t *testing.T, a string, mask []byte, other string) {
		var sb strings.Builder
		i := 0
		for _, r := range a {
			if i < len(mask) {
				for range mask[i] % 4 {
					r = unicode.SimpleFold(r)
				}
			}
			i++
			sb.WriteRune(r)
		}
		b := sb.String()
		for _, pair := range [][2]string{{a, b}, {a, other}} {
			x, y := pair[0], pair[1]
			fx, fy := middleware.FoldLogin(x), middleware.FoldLogin(y)
			if want := strings.EqualFold(strings.TrimSpace(x), strings.TrimSpace(y)); (fx == fy) != want {
				t.Fatalf("FoldLogin(%q)=%q, FoldLogin(%q)=%q, EqualFold %v", x, fx, y, fy, want)
			}
			if middleware.FoldLogin(fx) != fx {
				t.Fatalf("FoldLogin not idempotent on %q: %q -> %q", x, fx, middleware.FoldLogin(fx))
			}
		}
	})
}
