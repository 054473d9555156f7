package withheld_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/tidegate/tidegate/internal/withheld"
)

type vault struct {
	withheld.Contents[vault]

	secret string
	byName map[string]string
}

// TestContentsPrintsTheNameAlone: every fmt verb and both slog handlers
// print a vault and a *vault by the type's name, never a field, and so does
// fmt for a vault held in another value.
func TestContentsPrintsTheNameAlone(t *testing.T) {
	v := &vault{secret: "s3cr3t-value", byName: map[string]string{"login-name": "hash-value"}}
	outputs := append(withheld.Printings(v),
		fmt.Sprint([]any{v, *v}), fmt.Sprintf("%+v", struct{ V vault }{*v}))
	for _, out := range outputs {
		for _, secret := range []string{"s3cr3t-value", "login-name", "hash-value"} {
			assert.NotContains(t, out, secret)
		}
	}
	assert.Equal(t, "withheld_test.vault{…}", fmt.Sprintf("%+v", v))
	assert.Equal(t, "<nil>", fmt.Sprint((*vault)(nil)))
}

// TestContentsTakesNoSpace: embedding it costs a type no memory, and adds
// nothing to its JSON.
func TestContentsTakesNoSpace(t *testing.T) {
	assert.Zero(t, reflect.TypeFor[withheld.Contents[vault]]().Size())
	b, err := json.Marshal(struct {
		withheld.Contents[vault]
		Name string
	}{Name: "n"})
	assert.NoError(t, err)
	assert.JSONEq(t, `{"Name":"n"}`, string(b))
}
