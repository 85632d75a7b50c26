package session

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/server"
	"github.com/sessionkit/session/server/memory"
)

// fitsLargest returns values(n) for the largest n under which a session
// saved by m still fits in its cookie.
func fitsLargest(t *testing.T, m *Manager, values func(n int) map[string]any) map[string]any {
	t.Helper()
	lo, hi := 1, 8192 // values(lo) fits, values(hi) does not
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if encodedFits(m, values(mid)) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return values(lo)
}

// encodedFits reports whether a Set-Cookie header for values fits m's
// budget.
func encodedFits(m *Manager, values map[string]any) bool {
	now := m.cfg.Now()
	v, err := m.jar.Encode(codec.Payload{Kind: codec.KindData, Values: values, Created: now, Expires: now.Add(m.cfg.CookieAge), ID: codec.ID{1}})
	if err != nil {
		return false
	}
	_, err = m.jar.Header(v, m.cfg.CookieAge)
	return err == nil
}

// TestUnrequestedRewriteNeverFails checks that a session read in an old
// format (serializer, compression, encryption mode, key, engine) whose
// rewrite in the current format fails is served as read: no error
// response, no Set-Cookie (the client keeps a cookie that still works),
// one WARN however often the cookie comes back; and that a change the
// handler makes is still saved or reported.
func TestUnrequestedRewriteNeverFails(t *testing.T) {
	blobs := func(n int) map[string]any { return map[string]any{"blob": randomText(n)} }
	text := func(n int) map[string]any {
		return map[string]any{"note": strings.Repeat("the cart holds a compressible note. ", n/36+1)[:n]}
	}
	bytes := func(n int) map[string]any { return map[string]any{"raw": []byte(randomText(n))} }

	type setup struct {
		old, cur Config
		values   func(n int) map[string]any // nil: the fixed values below
		fixed    map[string]any
		failOn   func(s *mwFailStore) // makes the store fail under cur
	}
	for _, tc := range []struct {
		name string
		setup
	}{
		{"serializer: msgpack to json with +Inf", setup{
			old: Config{Serializer: "msgpack"}, cur: Config{Serializer: "json"},
			fixed: map[string]any{"ratio": math.Inf(1), "user": "ada"}}},
		{"serializer: msgpack to json over the budget", setup{
			old: Config{Serializer: "msgpack", Compression: "none"}, cur: Config{Serializer: "json", Compression: "none"},
			values: bytes}},
		{"encryption: sign-only to encrypted near the limit", setup{
			old: Config{SignOnly: true}, cur: Config{},
			values: blobs}},
		{"compression: s2 to none near the limit", setup{
			old: Config{Compression: "s2"}, cur: Config{Compression: "none"},
			values: text}},
		{"key: a fallback's stored session, store writes failing", setup{
			old: Config{Engine: EngineServer}, cur: Config{Engine: EngineServer, SecretKey: rotatedSecret, SecretKeyFallbacks: [][]byte{mwSecret}},
			fixed: map[string]any{"user": "ada"}, failOn: func(s *mwFailStore) { s.failWrite.Store(true) }}},
		{"engine: cookie to server, store writes failing", setup{
			old: Config{Engine: EngineCookie}, cur: Config{Engine: EngineServer},
			fixed: map[string]any{"user": "ada"}, failOn: func(s *mwFailStore) { s.failWrite.Store(true) }}},
		{"engine: server to cookie, store writes failing", setup{
			old: Config{Engine: EngineServer}, cur: Config{Engine: EngineCookie},
			fixed: map[string]any{"user": "ada"}, failOn: func(s *mwFailStore) { s.failWrite.Store(true) }}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &mwFailStore{Store: memory.New()}
			defer store.Close()
			tc.old.Store, tc.cur.Store = store, store
			mOld, _ := mwManager(t, tc.old)
			mCur, logs := mwManager(t, tc.cur)
			values := tc.fixed
			if tc.values != nil {
				values = fitsLargest(t, mOld, tc.values)
				if encodedFits(mCur, values) {
					t.Fatalf("precondition: the session fits in the current format too")
				}
			}
			value := mwSave(t, mOld, values)
			if tc.failOn != nil {
				tc.failOn(store)
			}
			for i := range 3 {
				var got map[string]any
				rec := mwDo(mCur, func(w http.ResponseWriter, r *http.Request) {
					got = FromRequest(r).Values()
				}, value)
				if rec.Code != http.StatusOK {
					t.Fatalf("request %d: status %d %q: an unrequested rewrite failed the request", i, rec.Code, rec.Body)
				}
				if !reflect.DeepEqual(got, values) && !(tc.name == "serializer: msgpack to json with +Inf" && got["user"] == "ada") {
					t.Fatalf("request %d: the session reads %v, want %v", i, got, values)
				}
				if sc := rec.Header().Values("Set-Cookie"); len(sc) != 0 {
					t.Fatalf("request %d: Set-Cookie %q: the client must keep its working cookie", i, sc)
				}
			}
			if n := strings.Count(logs.String(), "could not rewrite the session"); n != 1 {
				t.Errorf("the skipped rewrite was logged %d times over 3 requests, want once:\n%s", n, logs)
			}
			if !strings.Contains(logs.String(), "level=WARN") {
				t.Errorf("the skipped rewrite is not logged at WARN:\n%s", logs)
			}

			// A change the handler asks for is not skipped: it is saved
			// or it is the error response.
			rec := mwDo(mCur, setHandler("more", 1), value)
			if tc.failOn == nil && tc.values == nil {
				return // +Inf: the change cannot be encoded either
			}
			if rec.Code == http.StatusOK && len(rec.Header().Values("Set-Cookie")) == 0 {
				t.Errorf("a requested change was neither saved nor reported (status %d)", rec.Code)
			}
		})
	}
}

// TestServerSessionTooLargeForCookieEngine checks that a session that
// lives in the store and does not fit in a cookie stays in the store when
// the engine changes to cookie: it keeps working, read and written.
func TestServerSessionTooLargeForCookieEngine(t *testing.T) {
	store := memory.New()
	defer store.Close()
	mServer, _ := mwManager(t, Config{Engine: EngineServer, Store: store})
	mCookie, _ := mwManager(t, Config{Engine: EngineCookie, Store: store})
	values := map[string]any{"blob": randomText(6000)}
	if encodedFits(mCookie, values) {
		t.Fatal("precondition: the session fits in a cookie")
	}
	value := mwSave(t, mServer, values)
	for i, h := range []http.HandlerFunc{
		func(w http.ResponseWriter, r *http.Request) { FromRequest(r).Len() },
		setHandler("n", i64(1)),
		setHandler("n", i64(2)),
	} {
		rec := mwDo(mCookie, h, value)
		if rec.Code != http.StatusOK {
			t.Fatalf("step %d: status %d %q", i, rec.Code, rec.Body)
		}
		if c, ok := mwCookie(mCookie, rec.Header()); ok {
			value = c.Value
		}
		d, err := mCookie.openCookie(value)
		if err != nil || d.Ref == "" {
			t.Fatalf("step %d: the client's cookie is not a store reference: %v", i, err)
		}
	}
	var got map[string]any
	mwDo(mCookie, func(w http.ResponseWriter, r *http.Request) { got = FromRequest(r).Values() }, value)
	if got["blob"] != values["blob"] || got["n"] != i64(2) {
		t.Errorf("the session reads %v", got)
	}
}

func i64(n int64) int64 { return n }

// tooLargeStore is a memory store whose every Load finds a blob over its
// limit, as one planted behind the store's back.
type tooLargeStore struct{ *memory.Store }

func (tooLargeStore) Load(context.Context, string) ([]byte, error) {
	return nil, fmt.Errorf("planted: %w", server.ErrTooLarge)
}

// TestStoredBlobTooLarge checks that a stored blob over the store's limit
// is a corrupted session (a new, empty one and a security warning), not a
// store failure that would answer every request with the error response.
func TestStoredBlobTooLarge(t *testing.T) {
	store := tooLargeStore{memory.New()}
	defer store.Close()
	m, logs := mwManager(t, Config{Engine: EngineServer, Store: store})
	value := mwSave(t, m, map[string]any{"user": "ada"})
	var got any
	rec := mwDo(m, func(w http.ResponseWriter, r *http.Request) { got = FromRequest(r).Get("user") }, value)
	if rec.Code != http.StatusOK || got != nil {
		t.Fatalf("status %d, user %v; want 200 and an empty session", rec.Code, got)
	}
	if !strings.Contains(logs.String(), "session data corrupted") {
		t.Errorf("no security warning:\n%s", logs)
	}
}
