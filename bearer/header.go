package bearer

// maxHeaderSegment bounds the encoded JOSE header of a token. A tidegate
// header ({"alg","kid","typ"}) takes about 100 characters.
const maxHeaderSegment = 1024

// maxHeaderBytes is the decoded size of the largest header segment.
const maxHeaderBytes = maxHeaderSegment * 3 / 4

// josePart holds the JOSE header members that matter, as slices of the
// decoded header (no allocation).
type josePart struct {
	alg, kid, typ []byte
}

// Reasons parseHeader refuses a header.
const (
	reasonHeader   = "header"    // not the JSON this parser accepts
	reasonCrit     = "crit"      // a critical extension (RFC 7515 §4.1.11)
	reasonKeyParam = "key param" // jku, jwk, x5u, x5c, x5t: keys named by the token
)

// parseHeader reads a JOSE header (RFC 7515 §4). It is strict on purpose,
// since it runs before the signature is checked:
//
//   - one JSON object; alg, kid and typ must be present, once each, as
//     strings;
//   - strings must be printable ASCII without escapes (tidegate's own
//     headers always are);
//   - crit is refused: tidegate understands no extension, and RFC 7515
//     §4.1.11 requires refusing a token whose critical extensions are not
//     understood;
//   - jku, jwk, x5u, x5c, x5t and x5t#S256 are refused: the key is chosen by
//     kid among configured keys only, never fetched or taken from the token
//     (RFC 8725 §3.10);
//   - other members are ignored as RFC 7515 §4 requires, but only with
//     string, number, true, false or null values: an object or array value
//     is refused, since every registered member with such a value is one of
//     the refused ones.
//
// It returns "" and the parts, or a reason for refusal.
func parseHeader(b []byte) (josePart, string) {
	var h josePart
	p := byteScanner{b: b}
	if !p.expect('{') {
		return h, reasonHeader
	}
	if p.peek() == '}' {
		return h, reasonHeader // alg, kid and typ are missing
	}
	for {
		name, ok := p.str()
		if !ok || !p.expect(':') {
			return h, reasonHeader
		}
		which, v, reason := readMember(&p, name)
		if reason != "" {
			return h, reason
		}
		// Direct assignments (not through a pointer) keep the decoded
		// header on the caller's stack.
		repeated := false
		switch which {
		case memberAlg:
			repeated, h.alg = h.alg != nil, v
		case memberKid:
			repeated, h.kid = h.kid != nil, v
		case memberTyp:
			repeated, h.typ = h.typ != nil, v
		}
		if repeated {
			return h, reasonHeader // RFC 7515 §4
		}
		switch p.next() {
		case ',':
			continue
		case '}':
			if !p.end() || h.alg == nil || h.kid == nil || h.typ == nil {
				return h, reasonHeader
			}
			return h, ""
		default:
			return h, reasonHeader
		}
	}
}

// The header members parseHeader keeps.
const (
	memberOther = iota
	memberAlg
	memberKid
	memberTyp
)

// readMember reads the value of one header member. For alg, kid and typ it
// returns which one and its string value; other members are skipped.
func readMember(p *byteScanner, name []byte) (int, []byte, string) {
	which := memberOther
	switch string(name) {
	case "alg":
		which = memberAlg
	case "kid":
		which = memberKid
	case "typ":
		which = memberTyp
	case "crit":
		return 0, nil, reasonCrit
	case "jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256":
		return 0, nil, reasonKeyParam
	default:
		if !p.scalar() {
			return 0, nil, reasonHeader
		}
		return memberOther, nil, ""
	}
	v, ok := p.str()
	if !ok {
		return 0, nil, reasonHeader // not a string
	}
	return which, v, ""
}

// byteScanner reads the restricted JSON of parseHeader.
type byteScanner struct {
	b []byte
	i int
}

func (p *byteScanner) peek() byte {
	for p.i < len(p.b) {
		switch c := p.b[p.i]; c {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return c
		}
	}
	return 0
}

func (p *byteScanner) next() byte {
	c := p.peek()
	if c != 0 {
		p.i++
	}
	return c
}

func (p *byteScanner) expect(c byte) bool { return p.next() == c }

func (p *byteScanner) end() bool { return p.peek() == 0 && p.i == len(p.b) }

// str reads a string of printable ASCII without escapes. The result is a
// non-nil slice of the input.
func (p *byteScanner) str() ([]byte, bool) {
	if !p.expect('"') {
		return nil, false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return p.b[start : p.i-1 : p.i-1], true
		case c == '\\' || c < 0x20 || c > 0x7e:
			return nil, false
		}
		p.i++
	}
	return nil, false
}

// scalar skips a string, number, true, false or null.
func (p *byteScanner) scalar() bool {
	switch p.peek() {
	case '"':
		_, ok := p.str()
		return ok
	case 't':
		return p.literal("true")
	case 'f':
		return p.literal("false")
	case 'n':
		return p.literal("null")
	}
	return p.number()
}

func (p *byteScanner) literal(word string) bool {
	if len(p.b)-p.i < len(word) || string(p.b[p.i:p.i+len(word)]) != word {
		return false
	}
	p.i += len(word)
	return true
}

// number skips a JSON number (RFC 8259 §6):
// -? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?
func (p *byteScanner) number() bool {
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.b) && p.b[p.i] == '0':
		p.i++
	case p.digits() == 0:
		return false
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if p.digits() == 0 {
			return false
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if p.digits() == 0 {
			return false
		}
	}
	return true
}

func (p *byteScanner) digits() int {
	start := p.i
	for p.i < len(p.b) && '0' <= p.b[p.i] && p.b[p.i] <= '9' {
		p.i++
	}
	return p.i - start
}
