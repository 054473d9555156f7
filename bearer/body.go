package bearer

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Errors of the request body readers. Their text never reaches a client.
var (
	errNotJSON   = errors.New("bearer: content type is not application/json")
	errBadBody   = errors.New("bearer: body is not the expected JSON object")
	errBodyLarge = errors.New("bearer: body larger than 64 KiB")
)

// readFields reads a request body that must be a JSON object with exactly
// the named members, each a string (see parseFields). The Content-Type must
// be application/json: besides matching the documented API, that keeps
// cross-site form posts out, since a browser sends application/json across
// origins only after a CORS preflight.
func readFields(w http.ResponseWriter, r *http.Request, names ...string) ([]string, error) {
	if !jsonContentType(r.Header) {
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

// jsonContentType reports whether h holds exactly one Content-Type field
// line, naming application/json (any parameters). Content-Type is not a
// list (RFC 9110 §8.3, §5.3): a request with two lines is malformed, and
// reading the first one only served application/json then text/plain while
// a proxy or WAF reading the last one saw text/plain.
func jsonContentType(h http.Header) bool {
	lines := h.Values("Content-Type")
	if len(lines) != 1 {
		return false
	}
	mediaType, _, err := mime.ParseMediaType(lines[0])
	return err == nil && mediaType == contentTypeJSON
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
