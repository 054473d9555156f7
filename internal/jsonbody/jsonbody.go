// Package jsonbody tells whether a request declares its body as plain
// JSON, the one form the kinds' JSON endpoints (bearer's and basicauth's)
// read.
package jsonbody

import (
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Declared reports whether h declares a body of plain JSON: exactly one
// Content-Type field line naming application/json (any parameters), and no
// content coding but identity. Anything else is answered 415 (RFC 9110
// §15.5.16), for the body would not mean to an intermediary what the
// endpoint reads:
//   - Content-Type is not a list (RFC 9110 §8.3, §5.3): with two lines,
//     an endpoint reading the first would serve application/json then
//     text/plain while a proxy or WAF reading the last one sees text/plain;
//   - a coded body's content is what its coding decodes to (RFC 9110 §8.4),
//     and net/http decodes no request coding: plain JSON labelled gzip
//     would log in while a proxy honouring the label reads something else,
//     and a really gzipped body would be read as its compressed bytes.
//
// Only ASCII is read: mime.ParseMediaType and strings.TrimSpace also trim
// Unicode spaces (U+00A0, U+3000) and fold Unicode case ("applİcation"),
// where HTTP knows only SP and HTAB (RFC 9110 §5.6.3) and ASCII case, so a
// proxy would read such a value as another type or coding.
func Declared(h http.Header) bool {
	types := h.Values("Content-Type")
	if len(types) != 1 || !isASCII(types[0]) {
		return false
	}
	mediaType, _, err := mime.ParseMediaType(types[0])
	if err != nil || mediaType != "application/json" {
		return false
	}
	return identityCoding(h.Values("Content-Encoding"))
}

// identityCoding reports whether the Content-Encoding lines name no coding
// but identity (none at all, or only "identity", in any ASCII case).
func identityCoding(lines []string) bool {
	for _, line := range lines {
		if !isASCII(line) {
			return false
		}
		for coding := range strings.SplitSeq(line, ",") {
			if !strings.EqualFold(strings.Trim(coding, " \t"), "identity") {
				return false
			}
		}
	}
	return true
}

// isASCII reports whether s holds ASCII bytes only.
func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// Refused tells a client whose body Declared refused what the endpoint
// reads: Accept-Encoding: identity. RFC 9110 §12.5.3: a 415 for a content
// coding ought to carry it, so that a client can tell a coding problem
// from a media type one; it costs nothing on the other 415s.
func Refused(h http.Header) { h.Set("Accept-Encoding", "identity") }
