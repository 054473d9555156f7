package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newTestServer serves the test router on loopback, as `go run .` does.
func newTestServer(t *testing.T) (addr string) {
	t.Helper()
	srv := httptest.NewServer(newTestHandler(t))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestCurlLinesAreTheSteps(t *testing.T) {
	steps := curlSteps("127.0.0.1:8081")
	lines := curlLines("127.0.0.1:8081")
	require.Len(t, lines, len(steps))
	for i, s := range steps {
		assert.NotEqual(t, s.Comment == "", s.Cmd == "", "step %d must be a comment or a command", i)
		if s.Comment != "" {
			assert.True(t, strings.HasPrefix(lines[i], "# "), lines[i])
			continue
		}
		assert.Contains(t, lines[i], "http://127.0.0.1:8081/")
		assert.NotZero(t, s.Want, "step %d needs an expected status", i)
		if s.Var != "" {
			assert.True(t, strings.HasPrefix(s.Cmd, s.Var+"=$(curl "), s.Cmd)
		} else {
			assert.True(t, strings.HasPrefix(s.Cmd, "curl "), s.Cmd)
		}
	}
}

// TestCurlLinesReplayed reads every printed line as a POSIX shell would
// (see shellWords) and sends the request curl would send, so the printed
// walkthrough is checked on any machine, with or without curl.
func TestCurlLinesReplayed(t *testing.T) {
	addr := newTestServer(t)
	env := map[string]string{}
	for i, s := range curlSteps(addr) {
		if s.Cmd == "" {
			continue
		}
		line := curlLines(addr)[i]
		status, captured, err := replay(line, env)
		require.NoError(t, err, "line %d: %s", i, line)
		assert.Equal(t, s.Want, status, "line %d: %s", i, line)
		if s.Var != "" {
			require.NotEmpty(t, captured, "line %d captured nothing: %s", i, line)
			env[s.Var] = captured
		}
	}
}

// TestCurlLinesWithCurl runs the printed lines, unchanged, through sh and
// the real curl against the server on loopback.
func TestCurlLinesWithCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed to run the printed lines (./scripts/test.sh installs it)")
	}
	addr := newTestServer(t)
	steps := curlSteps(addr)
	var script strings.Builder
	for i, line := range curlLines(addr) {
		s := steps[i]
		switch {
		case s.Cmd == "":
			fmt.Fprintln(&script, line)
		case s.Var != "":
			fmt.Fprintln(&script, line)
			fmt.Fprintf(&script, "printf '\\n@@var %d %%s\\n' \"${#%s}\"\n", i, s.Var)
		default:
			fmt.Fprintf(&script, "printf '\\n@@step %d\\n'\n%s\n", i, line)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-u", "-c", script.String())
	out, err := cmd.Output()
	require.NoError(t, err, "sh: %s", exitStderr(err))

	got := map[int]int{} // step -> status, or the captured length for a Var step
	step := -1
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "@@step":
			step, _ = strconv.Atoi(f[1])
		case len(f) == 3 && f[0] == "@@var":
			i, _ := strconv.Atoi(f[1])
			got[i], _ = strconv.Atoi(f[2])
		case len(f) >= 2 && strings.HasPrefix(f[0], "HTTP/") && step >= 0:
			got[step], _ = strconv.Atoi(f[1])
			step = -1
		}
	}
	for i, s := range steps {
		switch {
		case s.Cmd == "":
		case s.Var != "":
			assert.Positive(t, got[i], "line %d captured nothing: %s", i, s.Cmd)
		default:
			assert.Equal(t, s.Want, got[i], "line %d: %s", i, s.Cmd)
		}
	}
}

func exitStderr(err error) string {
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return string(ee.Stderr)
	}
	return ""
}

// pipe stands for an unquoted | in shellWords' output.
const pipe = "\x00|"

// shellWords splits a line as a POSIX shell does, for what the walkthrough
// uses: blanks, '...' and "..." quoting, backslash escapes, $NAME expansion
// (unset names are an error, as under sh -u), an unquoted | (returned as
// pipe) and a # comment at the start of a word.
func shellWords(line string, env map[string]string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // a word is open, even an empty quoted one
	)
	end := func() {
		if in {
			words = append(words, cur.String())
		}
		cur.Reset()
		in = false
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			end()
		case c == '#' && !in:
			return words, nil
		case c == '|':
			end()
			words = append(words, pipe)
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			in = true
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated '")
			}
			cur.WriteString(line[i+1 : i+1+j])
			i += j + 1
			in = true
		case c == '"':
			n, err := doubleQuoted(line[i+1:], env, &cur)
			if err != nil {
				return nil, err
			}
			i += n
			in = true
		case c == '$':
			n, err := expand(line[i+1:], env, &cur)
			if err != nil {
				return nil, err
			}
			i += n
			in = true
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	end()
	return words, nil
}

// doubleQuoted reads up to the closing quote and returns how many bytes it
// read, the quote included.
func doubleQuoted(s string, env map[string]string, cur *strings.Builder) (int, error) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return i + 1, nil
		case c == '\\' && i+1 < len(s) && strings.IndexByte(`"\$`+"`", s[i+1]) >= 0:
			i++
			cur.WriteByte(s[i])
		case c == '$':
			n, err := expand(s[i+1:], env, cur)
			if err != nil {
				return 0, err
			}
			i += n
		case c == '`':
			return 0, errors.New("command substitution is not supported")
		default:
			cur.WriteByte(c)
		}
	}
	return 0, errors.New(`unterminated "`)
}

var varName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*`)

// expand writes the value of the variable named at the start of s and
// returns the length of its name.
func expand(s string, env map[string]string, cur *strings.Builder) (int, error) {
	name := varName.FindString(s)
	if name == "" {
		return 0, errors.New("unsupported $ expansion")
	}
	v, ok := env[name]
	if !ok {
		return 0, fmt.Errorf("%s: parameter not set", name)
	}
	cur.WriteString(v)
	return len(name), nil
}

var (
	capture  = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=\$\((.*)\)$`)
	sedField = regexp.MustCompile(`^s/\.\*"([A-Za-z_]+)":"\\\(\[\^"\]\*\\\)"\.\*/\\1/p$`)
	wHeader  = regexp.MustCompile(`^%header\{([A-Za-z0-9-]+)\}$`)
)

// replay runs one printed line: a curl command, or NAME=$(curl ... [| sed
// -n 's/.*"field":"\([^"]*\)".*/\1/p']). It returns the response status and,
// for a capture, the value the shell would store.
func replay(line string, env map[string]string) (int, string, error) {
	isCapture := false
	if m := capture.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
		line, isCapture = m[2], true
	}
	words, err := shellWords(line, env)
	if err != nil {
		return 0, "", err
	}
	curlArgs, filter := words, []string(nil)
	for i, w := range words {
		if w == pipe {
			curlArgs, filter = words[:i], words[i+1:]
			break
		}
	}
	req, writeOut, err := curlRequest(curlArgs)
	if err != nil {
		return 0, "", err
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, "", err
	}
	if !isCapture {
		return res.StatusCode, "", nil
	}
	out := string(body)
	if m := wHeader.FindStringSubmatch(writeOut); m != nil {
		out = res.Header.Get(m[1])
	} else if writeOut != "" {
		return 0, "", fmt.Errorf("unsupported -w %q", writeOut)
	}
	if filter != nil {
		if out, err = sedFilter(filter, out); err != nil {
			return 0, "", err
		}
	}
	return res.StatusCode, out, nil
}

// sedFilter runs sed -n 's/.*"field":"\([^"]*\)".*/\1/p' on one line of
// JSON: the value of the string member field.
func sedFilter(args []string, in string) (string, error) {
	if len(args) != 3 || args[0] != "sed" || args[1] != "-n" {
		return "", fmt.Errorf("unsupported filter %q", args)
	}
	m := sedField.FindStringSubmatch(args[2])
	if m == nil {
		return "", fmt.Errorf("unsupported sed script %q", args[2])
	}
	v := regexp.MustCompile(`.*"` + m[1] + `":"([^"]*)".*`).FindStringSubmatch(in)
	if v == nil {
		return "", nil
	}
	return v[1], nil
}

// curlRequest builds the request of a curl command line using -i, -s,
// -o, -w, -X, -H, -u and -d, as curl would send it.
func curlRequest(args []string) (*http.Request, string, error) {
	if len(args) == 0 || args[0] != "curl" {
		return nil, "", fmt.Errorf("not a curl command: %q", args)
	}
	var (
		method, target, writeOut, user string
		data                           *string
		header                         = http.Header{}
	)
	for i := 1; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			if target != "" {
				return nil, "", fmt.Errorf("two URLs: %q and %q", target, a)
			}
			target = a
			continue
		}
		if a == "-i" || a == "-s" {
			continue
		}
		if i+1 >= len(args) {
			return nil, "", fmt.Errorf("%s needs a value", a)
		}
		i++
		v := args[i]
		switch a {
		case "-o":
			if v != "/dev/null" {
				return nil, "", fmt.Errorf("unsupported -o %q", v)
			}
		case "-w":
			writeOut = v
		case "-X":
			method = v
		case "-H":
			name, value, ok := strings.Cut(v, ":")
			if !ok {
				return nil, "", fmt.Errorf("bad header %q", v)
			}
			header.Add(name, strings.TrimLeft(value, " "))
		case "-u":
			user = v
		case "-d":
			data = &v
		default:
			return nil, "", fmt.Errorf("unsupported option %s", a)
		}
	}
	var body io.Reader = http.NoBody
	if data != nil {
		body = strings.NewReader(*data)
		if method == "" {
			method = http.MethodPost
		}
		if header.Get("Content-Type") == "" {
			header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		return nil, "", err
	}
	req.Header = header
	if user != "" {
		// curl -u user:password sends Basic with exactly that text.
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user)))
	}
	return req, writeOut, nil
}

func TestShellWords(t *testing.T) {
	env := map[string]string{"TOKEN": "t0k", "EMPTY": ""}
	cases := []struct {
		line string
		want []string
		err  string
	}{
		{`curl -i http://a/b`, []string{"curl", "-i", "http://a/b"}, ""},
		{`curl -H "x: $TOKEN" 'single $TOKEN'`, []string{"curl", "-H", "x: t0k", "single $TOKEN"}, ""},
		{`a "" b`, []string{"a", "", "b"}, ""},
		{`a"b"'c'$TOKEN`, []string{"abct0k"}, ""},
		{`a "q\"uote" \$x`, []string{"a", `q"uote`, "$x"}, ""},
		{`a | sed -n 'p'`, []string{"a", pipe, "sed", "-n", "p"}, ""},
		{`curl http://a/#frag   # comment`, []string{"curl", "http://a/#frag"}, ""},
		{`x=$EMPTY`, []string{"x="}, ""},
		{`echo $UNSET`, nil, "UNSET: parameter not set"},
		{`echo 'open`, nil, "unterminated '"},
		{`echo "open`, nil, `unterminated "`},
		{`echo $(date)`, nil, "unsupported $ expansion"},
	}
	for _, c := range cases {
		t.Run(c.line, func(t *testing.T) {
			got, err := shellWords(c.line, env)
			if c.err != "" {
				require.EqualError(t, err, c.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
}

func TestCurlRequest(t *testing.T) {
	req, w, err := curlRequest([]string{"curl", "-s", "-o", "/dev/null", "-w", "%header{x-a}", "-X", "PUT",
		"-u", "app:", "-H", "Content-Type: application/json", "-d", `{"a":1}`, "http://h/p"})
	require.NoError(t, err)
	assert.Equal(t, "%header{x-a}", w)
	assert.Equal(t, "PUT", req.Method)
	assert.Equal(t, "http://h/p", req.URL.String())
	assert.Equal(t, "Basic YXBwOg==", req.Header.Get("Authorization"))
	assert.Equal(t, "application/json", req.Header.Get("Content-Type"))

	req, _, err = curlRequest([]string{"curl", "-d", "x=1", "http://h/p"})
	require.NoError(t, err)
	assert.Equal(t, "POST", req.Method, "-d without -X posts")
	assert.Equal(t, "application/x-www-form-urlencoded", req.Header.Get("Content-Type"))

	for _, bad := range [][]string{{"wget", "http://h"}, {"curl", "-L", "http://h"}, {"curl", "-o", "f", "http://h"},
		{"curl", "http://a", "http://b"}, {"curl", "-H"}, {"curl", "-H", "nocolon", "http://h"}} {
		_, _, err := curlRequest(bad)
		assert.Error(t, err, "%q", bad)
	}
}
