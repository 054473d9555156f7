package bearer

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/tidegate/tidegate/internal/jsonbody"
)

// Errors of the request body readers. Their text never reaches a client.
var (
	errNotJSON   = errors.New("bearer: body not declared plain application/json")
	errBadBody   = errors.New("bearer: body is not the expected JSON object")
	errBodyLarge = errors.New("bearer: body larger than 64 KiB")
)

// readFields reads a request body that must be a JSON object with exactly
// the named members, each a string (see parseFields). It must be declared
// plain application/json (see jsonbody.Declared): besides matching the
// documented API, that keeps cross-site form posts out, since a browser
// sends application/json across origins only after a CORS preflight.
func readFields(w http.ResponseWriter, r *http.Request, names ...string) ([]string, error) {
	if !jsonbody.Declared(r.Header) {
		return nil, errNotJSON
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			return nil, errBodyLarge
		}
		return nil, errBadBody
	}
	return parseFields(data, names...)
}

// parseFields parses data as a JSON object whose members are exactly names,
// each once, each a string, and returns the values in the order of names.
// Member names match exactly (encoding/json alone would also accept
// "USERNAME"); unknown members, repeated members, other value types and
// anything after the object are refused, so that a body has one meaning
// only. The documented bodies have no other members.
//
// The body must be valid UTF-8 and no value may hold U+FFFD: encoding/json
// turns invalid bytes and lone surrogate escapes ("\ud800") into U+FFFD,
// so that different passwords would log in alike, and RFC 8259 §8.1
// requires UTF-8 anyway.
func parseFields(data []byte, names ...string) ([]string, error) {
	if !utf8.Valid(data) {
		return nil, errBadBody
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errBadBody
	}
	values := make([]string, len(names))
	seen := make([]bool, len(names))
	for dec.More() {
		t, err := dec.Token()
		key, isKey := t.(string)
		if err != nil || !isKey {
			return nil, errBadBody
		}
		i := indexOf(names, key)
		if i < 0 || seen[i] {
			return nil, errBadBody
		}
		t, err = dec.Token()
		v, isString := t.(string)
		if err != nil || !isString || strings.ContainsRune(v, utf8.RuneError) {
			return nil, errBadBody
		}
		values[i], seen[i] = v, true
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, errBadBody
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errBadBody
	}
	for _, ok := range seen {
		if !ok {
			return nil, errBadBody
		}
	}
	return values, nil
}

func indexOf(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -1
}
