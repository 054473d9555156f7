package examplecheck_test

import (
	"go/doc"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEveryExampleHasOutput: go test takes an Example's expected output
// from the function's last comment group only, so a comment on the line
// just above "// Output:" joins that group and the example is compiled but
// never run, its output never checked. That happened once
// (bearer's ExampleNewMemoryRefreshStore); this walks every module of the
// repository so that it cannot happen again unnoticed.
func TestEveryExampleHasOutput(t *testing.T) {
	root := filepath.Join("..", "..")
	examples := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		for _, ex := range doc.Examples(f) {
			examples++
			if ex.Output == "" && !ex.EmptyOutput {
				t.Errorf("%s: Example%s has no output go test recognises: it is compiled but never run", path, ex.Name)
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, examples, 20, "the walk found the repository's examples")
}
