package app_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidegate/tidegate/internal/seed"
)

// These tests send what Tapglue's own client SDKs send and read what they
// read (github.com/tapglue/android_sdk, github.com/tapglue/snaasSdk-iOS).

// The Android SDK's createUser posts its com.tapglue.android.entities.User
// through Retrofit's GsonConverterFactory. Gson omits null fields but writes
// every primitive one, so a new User("bob", "pw") with setEmail(...) is
// encoded as below, with Content-Type "application/json; charset=UTF-8" and
// Authorization Basic base64(APP_TOKEN + ":" + "") (ServiceFactory starts
// with sessionToken = ""). Tapglue's server decodes it with json.Unmarshal,
// which ignores the counters and flags, and answers 201.
func TestTapglueAndroidSDKSignup(t *testing.T) {
	srv := newServer(t)
	demo := seed.Demo().Apps[0]
	appOnly := "Basic " + base64.StdEncoding.EncodeToString([]byte(demo.AppToken+":"))
	gsonUser := `{"friend_count":0,"follower_count":0,"followed_count":0,` +
		`"is_friend":false,"is_follower":false,"is_followed":false,` +
		`"user_name":"androiduser","password":"a long enough password","enabled":true,` +
		`"email":"androiduser@example.com"}`
	resp := do(t, srv, http.MethodPost, "/0.4/users", gsonUser,
		"Authorization", appOnly, "Content-Type", "application/json; charset=UTF-8")
	body, _ := io.ReadAll(resp.Body)
	assert.Equal(t, http.StatusCreated, resp.StatusCode,
		"Android SDK sign-up refused: %s", body)
}

// Both SDKs take a user's id from "id_string" (Android: @SerializedName
// ("id_string") private String id; iOS: id <- map["id_string"]), the string
// twin of Tapglue's numeric "id". Without it every user the SDK holds has a
// nil id: Android's User.equals throws, iOS's == finds every user equal.
func TestTapglueSDKReadsIDString(t *testing.T) {
	srv := newServer(t)
	demo := seed.Demo().Apps[0]
	appOnly := "Basic " + base64.StdEncoding.EncodeToString([]byte(demo.AppToken+":"))
	// iOS Network.loginUserWithEmail: POST /me/login {"email","password"}.
	resp := do(t, srv, http.MethodPost, "/0.4/me/login",
		`{"email":"`+maryLogin+`","password":"`+maryPassword+`"}`,
		"Authorization", appOnly, "Content-Type", "application/json")
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var user map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&user))
	idString, _ := user["id_string"].(string)
	assert.Equal(t, maryID, idString, "no id_string: the SDKs' User.id is nil")
}
