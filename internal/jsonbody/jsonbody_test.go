package jsonbody_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/tidegate/tidegate/internal/jsonbody"
)

func TestDeclared(t *testing.T) {
	for _, tc := range []struct {
		name     string
		types    []string
		encoding []string
		want     bool
	}{
		{"application/json", []string{"application/json"}, nil, true},
		{"with charset, any case", []string{"APPLICATION/JSON; charset=utf-8"}, nil, true},
		{"identity coding", []string{"application/json"}, []string{"identity"}, true},
		{"identity, spelt otherwise", []string{"application/json"}, []string{" Identity "}, true},
		{"no Content-Type", nil, nil, false},
		{"another type", []string{"text/plain"}, nil, false},
		{"unparsable type", []string{"application/json; ="}, nil, false},
		{"two type lines", []string{"application/json", "text/plain"}, nil, false},
		{"two type lines, both JSON", []string{"application/json", "application/json"}, nil, false},
		{"gzip", []string{"application/json"}, []string{"gzip"}, false},
		{"identity then gzip, one line", []string{"application/json"}, []string{"identity, gzip"}, false},
		{"identity then gzip, two lines", []string{"application/json"}, []string{"identity", "gzip"}, false},
		{"empty coding", []string{"application/json"}, []string{""}, false},
		{"identity with a tab", []string{"application/json"}, []string{"\tidentity"}, true},
		{"identity with a no-break space", []string{"application/json"}, []string{"identity\u00a0"}, false},
		{"identity with an ideographic space", []string{"application/json"}, []string{"\u3000identity"}, false},
		{"identity with a line separator", []string{"application/json"}, []string{"identity\u2028"}, false},
		{"type with a dotted capital I", []string{"appl\u0130cation/json"}, nil, false},
		{"type with a no-break space", []string{"application/json\u00a0"}, nil, false},
		{"type after an ideographic space", []string{"\u3000application/json"}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.types {
				h.Add("Content-Type", v)
			}
			for _, v := range tc.encoding {
				h.Add("Content-Encoding", v)
			}
			assert.Equal(t, tc.want, jsonbody.Declared(h))
		})
	}
}
