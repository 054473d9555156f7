package withheld_test

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/tidegate/tidegate/internal/withheld"
	"github.com/tidegate/tidegate/internal/withheld/withheldtest"
)

// TestSecret: a set secret is "<withheld>", an empty one `""`.
func TestSecret(t *testing.T) {
	assert.Equal(t, "<withheld>", withheld.Secret("s3cr3t"))
	assert.Equal(t, `""`, withheld.Secret(""))
}

// TestContentsNamesItsPackage: the name printed is qualified by the
// package, as SECURITY.md shows ("middleware.Cache{…}").
func TestContentsNamesItsPackage(t *testing.T) {
	assert.Equal(t, "withheld_test.vault{…}", fmt.Sprint(vault{}))
	assert.Equal(t, "withheld_test.vault{…}", withheld.Contents[vault]{}.String())
}

// onlyStringer is safe under the verbs fmt routes to String or GoString,
// and prints its field under the others (%d).
type onlyStringer struct{ secret string }

func (onlyStringer) String() string   { return "safe" }
func (onlyStringer) GoString() string { return "safe" }

// pointerSafe is safe as a pointer only: its Format has a pointer receiver.
type pointerSafe struct{ secret string }

func (*pointerSafe) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, "safe") }

// TestPrintingsProbesEveryRoute: Printings is what the print-safety
// tests rely on, so it must reach a leak by every route: a verb that
// bypasses String, and the value a pointer points to.
func TestPrintingsProbesEveryRoute(t *testing.T) {
	leaks := func(v any, secret string) bool {
		for _, out := range withheldtest.Printings(v) {
			if strings.Contains(out, secret) {
				return true
			}
		}
		return false
	}
	assert.True(t, leaks(onlyStringer{"leak-1"}, "leak-1"), "a verb fmt does not route to String")
	assert.True(t, leaks(&pointerSafe{"leak-2"}, "leak-2"), "the value behind a pointer")
}
