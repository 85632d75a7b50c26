package session

import (
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session/server/memory"
)

func configEnv(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

func TestConfigFromLookupEmpty(t *testing.T) {
	c, err := configFromLookup(configEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	// Nothing set: every field keeps its zero value (the defaults come from
	// New), except that HttpOnly stays on.
	if !reflect.DeepEqual(c, Config{}) {
		t.Errorf("configFromLookup(empty) = %+v, want the zero Config", c)
	}
}

func TestConfigFromLookupEveryVariable(t *testing.T) {
	env := map[string]string{
		"SESSION_ENGINE":                  "Server",
		"SESSION_SECRET_KEY":              "0123456789abcdef0123456789abcdef",
		"SESSION_SECRET_KEY_FALLBACKS":    "old-1-0123456789abcdef0123456789,,old-2-0123456789abcdef0123456789",
		"SESSION_SERIALIZER":              "JSON",
		"SESSION_COMPRESSION":             " zstd ",
		"SESSION_SIGN_ONLY":               "true",
		"SESSION_COOKIE_NAME":             "sid",
		"SESSION_COOKIE_AGE":              "3600",
		"SESSION_COOKIE_DOMAIN":           ".example.com",
		"SESSION_COOKIE_PATH":             "/app",
		"SESSION_COOKIE_SECURE":           "1",
		"SESSION_COOKIE_HTTPONLY":         "false",
		"SESSION_COOKIE_SAMESITE":         "strict",
		"SESSION_COOKIE_PARTITIONED":      "TRUE",
		"SESSION_SAVE_EVERY_REQUEST":      "t",
		"SESSION_EXPIRE_AT_BROWSER_CLOSE": "True",
		"SESSION_MAX_LIFETIME":            "86400",
	}
	c, err := configFromLookup(configEnv(env))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Engine:               EngineServer,
		SecretKey:            []byte("0123456789abcdef0123456789abcdef"),
		SecretKeyFallbacks:   [][]byte{[]byte("old-1-0123456789abcdef0123456789"), []byte("old-2-0123456789abcdef0123456789")},
		Serializer:           "json",
		Compression:          "zstd",
		SignOnly:             true,
		CookieName:           "sid",
		CookieAge:            time.Hour,
		CookieDomain:         ".example.com",
		CookiePath:           "/app",
		CookieSecure:         true,
		CookieSameSite:       http.SameSiteStrictMode,
		CookieScriptAccess:   true,
		CookiePartitioned:    true,
		SaveEveryRequest:     true,
		ExpireAtBrowserClose: true,
		MaxLifetime:          24 * time.Hour,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("configFromLookup:\n got %+v\nwant %+v", c, want)
	}

	// The other accepted values.
	for v, want := range map[string]http.SameSite{"Lax": http.SameSiteLaxMode, "none": http.SameSiteNoneMode, "STRICT": http.SameSiteStrictMode} {
		c, err := configFromLookup(configEnv(map[string]string{"SESSION_COOKIE_SAMESITE": v}))
		if err != nil || c.CookieSameSite != want {
			t.Errorf("SESSION_COOKIE_SAMESITE=%s: %v, %v; want %v", v, c.CookieSameSite, err, want)
		}
	}
	for v, want := range map[string]Engine{"cookie": EngineCookie, "auto": EngineAuto} {
		c, err := configFromLookup(configEnv(map[string]string{"SESSION_ENGINE": v}))
		if err != nil || c.Engine != want {
			t.Errorf("SESSION_ENGINE=%s: %v, %v", v, c.Engine, err)
		}
	}
	for _, v := range []string{"msgpack", "gob"} {
		c, err := configFromLookup(configEnv(map[string]string{"SESSION_SERIALIZER": v}))
		if err != nil || c.Serializer != v {
			t.Errorf("SESSION_SERIALIZER=%s: %q, %v", v, c.Serializer, err)
		}
	}
	for _, v := range []string{"s2", "none"} {
		c, err := configFromLookup(configEnv(map[string]string{"SESSION_COMPRESSION": v}))
		if err != nil || c.Compression != v {
			t.Errorf("SESSION_COMPRESSION=%s: %q, %v", v, c.Compression, err)
		}
	}
	c, err = configFromLookup(configEnv(map[string]string{"SESSION_COOKIE_HTTPONLY": "true"}))
	if err != nil || c.CookieScriptAccess {
		t.Errorf("SESSION_COOKIE_HTTPONLY=true: CookieScriptAccess = %v, %v", c.CookieScriptAccess, err)
	}
}

// TestConfigFromLookupResultWorks checks that a configuration read from the
// environment builds a Manager whose cookie has the attributes asked for.
func TestConfigFromLookupResultWorks(t *testing.T) {
	c, err := configFromLookup(configEnv(map[string]string{
		"SESSION_SECRET_KEY":      strings.Repeat("z", 40),
		"SESSION_COOKIE_NAME":     "sid",
		"SESSION_COOKIE_SECURE":   "true",
		"SESSION_COOKIE_SAMESITE": "None",
		"SESSION_COOKIE_AGE":      "60",
	}))
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := m.jar.Header("v", m.cfg.CookieAge)
	if err != nil {
		t.Fatal(err)
	}
	if want := "sid=v; Max-Age=60; Path=/; Secure; HttpOnly; SameSite=None"; hdr != want {
		t.Errorf("header %q, want %q", hdr, want)
	}
}

func TestConfigFromLookupBadValues(t *testing.T) {
	tests := []struct {
		name, value string
		want        []string // every one must appear in the message
	}{
		{"SESSION_ENGINE", "database", []string{`SESSION_ENGINE="database"`, "cookie, server, auto"}},
		{"SESSION_SERIALIZER", "pickle", []string{`SESSION_SERIALIZER="pickle"`, "msgpack, json, gob"}},
		{"SESSION_COMPRESSION", "gzip", []string{`SESSION_COMPRESSION="gzip"`, "s2", "zstd", "none"}},
		{"SESSION_SIGN_ONLY", "yes", []string{`SESSION_SIGN_ONLY="yes"`, "true or false"}},
		{"SESSION_COOKIE_AGE", "two weeks", []string{`SESSION_COOKIE_AGE="two weeks"`, "positive number of seconds"}},
		{"SESSION_COOKIE_AGE", "0", []string{`SESSION_COOKIE_AGE="0"`, "positive number of seconds"}},
		{"SESSION_COOKIE_AGE", "-5", []string{`SESSION_COOKIE_AGE="-5"`, "positive number of seconds"}},
		{"SESSION_COOKIE_AGE", "1.5", []string{`SESSION_COOKIE_AGE="1.5"`, "positive number of seconds"}},
		{"SESSION_COOKIE_SECURE", "on", []string{`SESSION_COOKIE_SECURE="on"`, "true or false"}},
		{"SESSION_COOKIE_HTTPONLY", "", []string{`SESSION_COOKIE_HTTPONLY=""`, "true or false"}},
		{"SESSION_COOKIE_SAMESITE", "Default", []string{`SESSION_COOKIE_SAMESITE="Default"`, "Lax, Strict, None"}},
		{"SESSION_COOKIE_PARTITIONED", "2", []string{`SESSION_COOKIE_PARTITIONED="2"`, "true or false"}},
		{"SESSION_SAVE_EVERY_REQUEST", "no", []string{`SESSION_SAVE_EVERY_REQUEST="no"`, "true or false"}},
		{"SESSION_EXPIRE_AT_BROWSER_CLOSE", "maybe", []string{`SESSION_EXPIRE_AT_BROWSER_CLOSE="maybe"`, "true or false"}},
		{"SESSION_MAX_LIFETIME", "-1", []string{`SESSION_MAX_LIFETIME="-1"`, "number of seconds"}},
		{"SESSION_MAX_LIFETIME", "1d", []string{`SESSION_MAX_LIFETIME="1d"`, "number of seconds"}},
	}
	for _, tt := range tests {
		_, err := configFromLookup(configEnv(map[string]string{tt.name: tt.value}))
		if err == nil {
			t.Errorf("%s=%q accepted", tt.name, tt.value)
			continue
		}
		if !errors.Is(err, ErrConfig) {
			t.Errorf("%s=%q: errors.Is(%v, ErrConfig) = false", tt.name, tt.value, err)
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s=%q: message %q lacks %q", tt.name, tt.value, err, w)
			}
		}
	}

	// Several bad values are all reported at once.
	_, err := configFromLookup(configEnv(map[string]string{"SESSION_ENGINE": "x", "SESSION_COOKIE_AGE": "y", "SESSION_SIGN_ONLY": "z"}))
	for _, w := range []string{"SESSION_ENGINE", "SESSION_COOKIE_AGE", "SESSION_SIGN_ONLY"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("combined error %v lacks %s", err, w)
		}
	}
	if !errors.Is(err, ErrConfig) {
		t.Errorf("errors.Is(%v, ErrConfig) = false", err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("SESSION_COOKIE_NAME", "from_env")
	t.Setenv("SESSION_COOKIE_AGE", "120")
	c, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if c.CookieName != "from_env" || c.CookieAge != 2*time.Minute {
		t.Errorf("ConfigFromEnv: CookieName %q, CookieAge %v", c.CookieName, c.CookieAge)
	}
}

func TestConfigFromEnvUsers(t *testing.T) {
	c, err := configFromLookup(configEnv(map[string]string{
		"SESSION_REVALIDATE_INTERVAL": "30",
		"SESSION_MAX_USER_SESSIONS":   "5",
		"SESSION_END_OLDEST_SESSION":  "true",
		"SESSION_RECORD_CLIENT_ADDR":  "true",
		"SESSION_NOT_BEFORE":          "2026-12-01T09:00:00Z",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.RevalidateInterval != 30*time.Second || c.MaxUserSessions != 5 || !c.EndOldestSession || !c.RecordClientAddr ||
		!c.NotBefore.Equal(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("ConfigFromEnv: %+v", c)
	}
	for name, bad := range map[string]string{
		"SESSION_REVALIDATE_INTERVAL": "0",
		"SESSION_MAX_USER_SESSIONS":   "-1",
		"SESSION_NOT_BEFORE":          "yesterday",
	} {
		_, err := configFromLookup(configEnv(map[string]string{name: bad}))
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: %v, want a config error naming it", name, bad, err)
		}
	}
}

func TestConfigNewRejects(t *testing.T) {
	secret := []byte(strings.Repeat("s", 32))
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"missing secret", Config{}, []string{"SecretKey", "32 bytes"}},
		{"short secret", Config{SecretKey: secret[:31]}, []string{"31 bytes", "32 bytes"}},
		{"short fallback", Config{SecretKey: secret, SecretKeyFallbacks: [][]byte{[]byte("short")}}, []string{"Fallbacks[0]", "32 bytes"}},
		{"unknown engine", Config{SecretKey: secret, Engine: "redis"}, []string{`"redis"`, "cookie, server or auto"}},
		{"server without store", Config{SecretKey: secret, Engine: EngineServer}, []string{`"server"`, "Store"}},
		{"auto without store", Config{SecretKey: secret, Engine: EngineAuto}, []string{`"auto"`, "Store"}},
		{"unknown serializer", Config{SecretKey: secret, Serializer: "xml"}, []string{`"xml"`, "msgpack, json, gob"}},
		{"unknown compression", Config{SecretKey: secret, Compression: "lz4"}, []string{"lz4"}},
		{"negative age", Config{SecretKey: secret, CookieAge: -time.Second}, []string{"CookieAge"}},
		{"Partitioned without Secure", Config{SecretKey: secret, CookiePartitioned: true}, []string{"Partitioned", "Secure"}},
		{"SameSite=None without Secure", Config{SecretKey: secret, CookieSameSite: http.SameSiteNoneMode}, []string{"SameSite=None", "Secure"}},
		{"cookie name with a space", Config{SecretKey: secret, CookieName: "session id"}, []string{"invalid cookie name", `"session id"`}},
		{"cookie name with =", Config{SecretKey: secret, CookieName: "a=b"}, []string{"invalid cookie name"}},
		{"cookie path with ;", Config{SecretKey: secret, CookiePath: "/;Domain=evil"}, []string{"Path"}},
		{"negative cookie size", Config{SecretKey: secret, CookieMaxSize: -1}, []string{"MaxSize"}},
		{"session limit without an index", Config{SecretKey: secret, MaxUserSessions: 3}, []string{"MaxUserSessions", "Registry"}},
		{"negative revalidation", Config{SecretKey: secret, RevalidateInterval: -time.Second}, []string{"RevalidateInterval"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := New(tt.cfg)
			if err == nil {
				t.Fatalf("New accepted %+v", tt.cfg)
			}
			if m != nil {
				t.Errorf("New returned a Manager with error %v", err)
			}
			if !errors.Is(err, ErrConfig) {
				t.Errorf("errors.Is(%v, ErrConfig) = false", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestConfigNewAccepts(t *testing.T) {
	secret := []byte(strings.Repeat("s", 32))
	for _, cfg := range []Config{
		{SecretKey: secret},
		{SecretKey: secret, Engine: EngineServer, Store: memory.New()},
		{SecretKey: secret, Engine: EngineAuto, Store: memory.New()},
		{SecretKey: secret, CookieSecure: true, CookiePartitioned: true, CookieSameSite: http.SameSiteNoneMode},
		{SecretKey: secret, Serializer: "gob", Compression: "none", SignOnly: true},
	} {
		if _, err := New(cfg); err != nil {
			t.Errorf("New(%+v): %v", cfg, err)
		}
	}
	m, err := New(Config{SecretKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	// The defaults.
	c := m.cfg
	if c.Engine != EngineCookie || c.Serializer != "msgpack" || c.Compression != "auto" || c.CookieName != "sessionid" ||
		c.CookieAge != 14*24*time.Hour || c.CookiePath != "/" || c.CookieSameSite != http.SameSiteLaxMode || c.CookieMaxSize != 4096 {
		t.Errorf("defaults: %+v", c)
	}
}

// TestConfigSecretRule checks the one rule for secrets: exact bytes, in
// the secret and the fallbacks alike, whitespace refused, and *_FILE
// variables whose final newline is not part of the key. A key written to
// a secret file works as the secret and, moved to the fallbacks file, still
// opens the sessions it sealed: a rotation done by moving files logs
// nobody out.
func TestConfigSecretRule(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	oldKey := "old-0123456789abcdef0123456789abcdef"
	newKey := "new-0123456789abcdef0123456789abcdef"

	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // substring of the error; "" for success
	}{
		{"trailing newline in the variable", map[string]string{"SESSION_SECRET_KEY": oldKey + "\n"}, "SESSION_SECRET_KEY has leading or trailing whitespace"},
		{"leading space in the variable", map[string]string{"SESSION_SECRET_KEY": " " + oldKey}, "whitespace"},
		{"space around a fallback", map[string]string{"SESSION_SECRET_KEY": newKey, "SESSION_SECRET_KEY_FALLBACKS": oldKey + ", " + oldKey}, "SESSION_SECRET_KEY_FALLBACKS, key 2, has leading or trailing whitespace"},
		{"both the variable and the file", map[string]string{"SESSION_SECRET_KEY": newKey, "SESSION_SECRET_KEY_FILE": write("both", newKey)}, "both SESSION_SECRET_KEY and SESSION_SECRET_KEY_FILE"},
		{"a missing file", map[string]string{"SESSION_SECRET_KEY_FILE": filepath.Join(dir, "absent")}, "SESSION_SECRET_KEY_FILE"},
		{"two newlines at the end of the file", map[string]string{"SESSION_SECRET_KEY_FILE": write("two", newKey+"\n\n")}, "whitespace"},
		{"a space in the fallbacks file", map[string]string{"SESSION_SECRET_KEY": newKey, "SESSION_SECRET_KEY_FALLBACKS_FILE": write("fbspace", oldKey+" \n")}, "key 1"},
		{"CRLF file", map[string]string{"SESSION_SECRET_KEY_FILE": write("crlf", newKey+"\r\n")}, ""},
		{"bad base64", map[string]string{"SESSION_SECRET_KEY": "base64:not base64!"}, "not standard base64"},
	} {
		_, err := configFromLookup(configEnv(tc.env))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrConfig)):
			t.Errorf("%s: error %v, want ErrConfig mentioning %q", tc.name, err, tc.want)
		}
	}

	// A key that held whitespace, given in base64: its exact bytes.
	spaced := " a key that was used with a space around it, 0123456789 "
	spacedCfg, err := configFromLookup(configEnv(map[string]string{"SESSION_SECRET_KEY": "base64:" + base64.StdEncoding.EncodeToString([]byte(spaced))}))
	if err != nil || string(spacedCfg.SecretKey) != spaced {
		t.Fatalf("base64: key = %q, %v", spacedCfg.SecretKey, err)
	}

	// Rotation by files: the old key as the secret, then as a fallback.
	before, err := configFromLookup(configEnv(map[string]string{"SESSION_SECRET_KEY_FILE": write("secret", oldKey+"\n")}))
	if err != nil {
		t.Fatal(err)
	}
	if string(before.SecretKey) != oldKey {
		t.Fatalf("SecretKey from the file = %q, want %q", before.SecretKey, oldKey)
	}
	after, err := configFromLookup(configEnv(map[string]string{
		"SESSION_SECRET_KEY_FILE":           write("secret2", newKey+"\n"),
		"SESSION_SECRET_KEY_FALLBACKS_FILE": write("fallbacks", oldKey+"\n\nanother-0123456789abcdef0123456789\n"),
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(after.SecretKeyFallbacks) != 2 || string(after.SecretKeyFallbacks[0]) != oldKey {
		t.Fatalf("fallbacks from the file = %q", after.SecretKeyFallbacks)
	}
	m1, _ := mwManager(t, before)
	m2, _ := mwManager(t, after)
	c := mwSave(t, m1, map[string]any{"user": "ada"})
	rec := mwDo(m2, func(w http.ResponseWriter, r *http.Request) {
		if got := FromRequest(r).Get("user"); got != "ada" {
			t.Errorf("after the rotation the session holds %v, want ada", got)
		}
	}, c)
	if _, ok := mwCookie(m2, rec.Header()); !ok {
		t.Error("a session read with the fallback key was not re-sealed with the new key")
	}
}

// TestConfigFromLookupDjango checks the SESSION_DJANGO* variables: the
// switch, Django's own engine names and default, the secrets, and the
// mistakes reported.
func TestConfigFromLookupDjango(t *testing.T) {
	const secret = "django-insecure-0123456789abcdef"
	c, err := configFromLookup(configEnv(map[string]string{
		"SESSION_DJANGO":                      "Share",
		"SESSION_DJANGO_SECRET_KEY":           secret,
		"SESSION_DJANGO_SECRET_KEY_FALLBACKS": "old-one,old-two",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := &DjangoConfig{SecretKey: []byte(secret), Fallbacks: [][]byte{[]byte("old-one"), []byte("old-two")}, Mode: DjangoShare, Engine: DjangoDB}
	if !reflect.DeepEqual(c.Django, want) {
		t.Errorf("Django = %+v, want %+v (db is Django's default engine)", c.Django, want)
	}
	for _, e := range []DjangoEngine{DjangoSignedCookies, DjangoDB, DjangoCachedDB} {
		c, err := configFromLookup(configEnv(map[string]string{"SESSION_DJANGO": "migrate", "SESSION_DJANGO_ENGINE": string(e), "SESSION_DJANGO_SECRET_KEY": secret}))
		if err != nil || c.Django.Engine != e || c.Django.Mode != DjangoMigrate {
			t.Errorf("SESSION_DJANGO_ENGINE=%s: %+v, %v", e, c.Django, err)
		}
	}
	if c, err := configFromLookup(configEnv(nil)); err != nil || c.Django != nil {
		t.Errorf("without SESSION_DJANGO: %+v, %v", c.Django, err)
	}
	for _, env := range []map[string]string{
		{"SESSION_DJANGO": "copy", "SESSION_DJANGO_SECRET_KEY": secret},
		{"SESSION_DJANGO": "share"},
		{"SESSION_DJANGO": "share", "SESSION_DJANGO_SECRET_KEY": secret, "SESSION_DJANGO_ENGINE": "db"},
		{"SESSION_DJANGO": "share", "SESSION_DJANGO_SECRET_KEY": secret + " "},
		{"SESSION_DJANGO_SECRET_KEY": secret},
		{"SESSION_DJANGO_ENGINE": string(DjangoDB)},
	} {
		_, err := configFromLookup(configEnv(env))
		if !errors.Is(err, ErrConfig) {
			t.Errorf("%v: %v, want ErrConfig", env, err)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%v: the error shows the secret: %v", env, err)
		}
	}
	// Sharing signed cookies needs no store: the Config works as it is.
	c, err = configFromLookup(configEnv(map[string]string{"SESSION_SECRET_KEY": string(mwSecret), "SESSION_DJANGO": "share", "SESSION_DJANGO_ENGINE": string(DjangoSignedCookies), "SESSION_DJANGO_SECRET_KEY": secret}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(c); err != nil {
		t.Errorf("New of the signed_cookies share Config: %v", err)
	}
	// db needs Django's table, which sessionenv opens.
	c.Django.Engine = DjangoDB
	if _, err := New(c); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "Django.Store") {
		t.Errorf("New of the db share Config without a store: %v", err)
	}
}
