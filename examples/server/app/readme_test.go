package app_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/examples/server/app"
	"github.com/tidegate/tidegate/internal/redistest"
	"github.com/tidegate/tidegate/middleware"
)

// readmeMarker precedes every README code block whose curl lines must work
// against examples/server exactly as printed; replicasMarker precedes those
// that run against two replicas sharing one Redis, on ports 8080 and 8081.
const (
	readmeMarker   = "<!-- tested against examples/server -->"
	replicasMarker = "<!-- tested against two replicas on Redis -->"
)

// readmeStep is one command of the README and the output it shows.
type readmeStep struct {
	command string
	want    string // "" when the README shows no output
}

// readmeSteps returns the tested blocks' commands in order. A comment line
// right after a command is the output that command prints; "…" in it
// stands for any text.
func readmeSteps(t *testing.T, readme, marker string) []readmeStep {
	t.Helper()
	var steps []readmeStep
	blocks := strings.Split(readme, marker)[1:]
	require.NotEmpty(t, blocks, "the README has no block marked %q", marker)
	for _, block := range blocks {
		start := strings.Index(block, "```sh\n")
		end := strings.Index(block[start+6:], "```")
		require.True(t, start >= 0 && end >= 0, "a marked block must be a ```sh block")
		for _, line := range strings.Split(block[start+6:start+6+end], "\n") {
			switch {
			case strings.TrimSpace(line) == "":
			case strings.HasPrefix(line, "# "):
				require.NotEmpty(t, steps, "output line before any command: %q", line)
				steps[len(steps)-1].want = strings.TrimPrefix(line, "# ")
			default:
				steps = append(steps, readmeStep{command: line})
			}
		}
	}
	return steps
}

// TestReadmeCurlLines runs every curl line of the README's guide, in order
// and in one shell (so variables set by one line serve the next), against
// the example server with its demo seed, and checks the output each shows.
func TestReadmeCurlLines(t *testing.T) {
	steps := readmeSteps(t, readReadme(t), readmeMarker)
	hasher, err := middleware.NewArgon2idHasher(middleware.TestArgon2Params)
	require.NoError(t, err)
	a, err := app.New(app.Config{Hasher: hasher, InsecureBasic: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	runReadmeSteps(t, steps, map[string]string{"http://127.0.0.1:8080": srv.URL})
}

// TestReadmeScalingOutLines runs the "Scaling out" section's curl lines
// against two example servers sharing one real Redis, as the README starts
// them: the first on port 8080, the second on 8081.
func TestReadmeScalingOutLines(t *testing.T) {
	steps := readmeSteps(t, readReadme(t), replicasMarker)
	target := redistest.Shared(t)
	rs := newReplicas(t, 2, target.Addr, target.Prefix)
	runReadmeSteps(t, steps, map[string]string{
		"http://127.0.0.1:8080": rs[0].URL,
		"http://127.0.0.1:8081": rs[1].URL,
	})
}

// TestEveryReadmeCurlLineIsTested keeps the guide honest: a curl line in
// any code block of the README must be in a block one of the tests above
// runs.
func TestEveryReadmeCurlLineIsTested(t *testing.T) {
	readme := readReadme(t)
	blocks := strings.Split(readme, "```")
	for i := 1; i < len(blocks); i += 2 { // the odd pieces are inside fences
		if !strings.Contains(blocks[i], "curl ") {
			continue
		}
		before := strings.TrimSpace(blocks[i-1])
		tested := strings.HasSuffix(before, readmeMarker) || strings.HasSuffix(before, replicasMarker)
		assert.True(t, tested, "README code block with curl lines is not marked as tested:\n%s", blocks[i])
	}
}

func readReadme(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"bash", "curl"} {
		_, err := exec.LookPath(tool)
		require.NoError(t, err, "%s is needed to run the README's lines (./scripts/test.sh installs it)", tool)
	}
	readme, err := os.ReadFile("../../../README.md")
	require.NoError(t, err)
	return string(readme)
}

// runReadmeSteps runs steps in one bash, with the README's addresses
// replaced by the test servers' (urls), and checks each output shown.
func runReadmeSteps(t *testing.T, steps []readmeStep, urls map[string]string) {
	t.Helper()
	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	for i, s := range steps {
		command := s.command
		for from, to := range urls {
			command = strings.ReplaceAll(command, from, to)
		}
		fmt.Fprintf(&script, "%s\necho; echo '<<<step %d>>>'\n", command, i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Dir = t.TempDir() // the guide writes a scratch file
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "the README's commands failed:\n%s\n%s", out, stderr.String())

	outputs := regexp.MustCompile(`(?m)^<<<step \d+>>>\n?`).Split(string(out), -1)
	require.Len(t, outputs, len(steps)+1)
	for i, s := range steps {
		// Bodies end in a newline or not; what the reader sees on one line
		// is what is compared.
		got := strings.ReplaceAll(strings.TrimSpace(outputs[i]), "\n", "")
		if s.want == "" {
			continue
		}
		pattern := "^" + strings.ReplaceAll(regexp.QuoteMeta(s.want), "…", ".*") + "$"
		require.Regexp(t, pattern, got, "README step %d: %s", i+1, s.command)
	}
}

// TestReadmeQuickStartIsTheQuickstartProgram: the README's quick start is
// examples/quickstart/main.go after its package clause, which go build and
// go vet check with the rest of the module.
func TestReadmeQuickStartIsTheQuickstartProgram(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	require.NoError(t, err)
	program, err := os.ReadFile("../../quickstart/main.go")
	require.NoError(t, err)
	_, body, ok := strings.Cut(string(program), "package main\n\n")
	require.True(t, ok)
	assert.Contains(t, string(readme), "```go\n"+body+"```\n")
	assert.LessOrEqual(t, strings.Count(body, "\n"), 25, "the quick start is at most 25 lines")
}
