package nilness_test

import (
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/tidegate/tidegate/internal/nilness"
)

// readerFunc is a func type implementing io.Reader.
type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestIs(t *testing.T) {
	var nilReader io.Reader
	cases := map[string]struct {
		v    any
		want bool
	}{
		"nil":                     {nil, true},
		"nil interface":           {nilReader, true},
		"nil pointer":             {(*strings.Reader)(nil), true},
		"nil func":                {readerFunc(nil), true},
		"pointer":                 {strings.NewReader("x"), false},
		"func":                    {readerFunc(func([]byte) (int, error) { return 0, io.EOF }), false},
		"value":                   {42, false},
		"nil slice is not a miss": {[]byte(nil), false},
	}
	for name, tc := range cases {
		assert.Equal(t, tc.want, nilness.Is(tc.v), name)
	}
}
