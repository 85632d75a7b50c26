package session

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/internal/value"
)

// Reserved keys that the Session itself keeps among the values, as Django
// does. They are ordinary values: every serializer and engine carries them.
const (
	expiryKey     = "_session_expiry"
	flashKey      = "_flashes"
	testCookieKey = "testcookie"
	testCookieVal = "worked"
)

// Session is one client's session, as seen by one request. It follows
// Django's SessionBase: nothing is decoded or loaded until the first access;
// reads mark it accessed, writes mark it modified; the middleware saves it
// when the response starts.
//
// A Session is safe for concurrent use by the goroutines that serve its
// request. It must not be kept after the request ends.
type Session struct {
	mu  sync.Mutex
	m   *Manager
	ctx context.Context
	req *http.Request

	// What the request carried: the session cookie's value or, on the
	// token transport (token), the token.
	cookieValue string
	hadCookie   bool
	token       bool

	resolved bool  // the cookie has been decoded
	loaded   bool  // the values are known
	admitted bool  // the values have been vetted (Manager.admit)
	err      error // a store failure this request met: load or delete
	values   map[string]any

	// key is the server-store session key; empty when the session is not
	// stored on the server.
	key string
	// djangoKey says that key is a raw key of Django's django_session
	// table (DjangoConfig.Store), not of Config.Store.
	djangoKey bool
	// fromDjango says that the session was read in Django's format, which
	// records no creation time.
	fromDjango bool
	// ref is the compact reference the request carried, still good for
	// the key refFor: a save that keeps the key sends it again as it is.
	ref, refFor string
	// rk is the store key of the session key rkFor.
	rk, rkFor string
	// moved is set when the session was read from the store entry that a
	// move into the cookie left behind (see movedGrace).
	moved bool
	// id is the session's ID; zero until the session has one.
	id codec.ID
	// created is when the session was first created.
	created time.Time
	// expires is the expiry the session was read with (zero for a new
	// session).
	expires time.Time
	// rewrite asks the middleware to save even an unmodified session: it
	// was read in an old format, with an old key, or from another engine.
	rewrite bool
	// reauthenticated asks the save to write the session's index entry,
	// which records the new authentication time (Reauthenticated).
	reauthenticated bool
	// prior is the identity the session had before CycleKey or Login gave
	// it a new one in this request; the save retires it once the new one
	// is stored (Manager.retirePrior).
	prior *priorIdentity

	accessed  bool
	modified  bool
	committed bool
	commitErr error    // what the commit returned
	late      []string // keys changed after commit, not yet reported

	// pending are the keys whose values, set in this request, may not be
	// in the form the serializer reads them back in. A value is brought
	// to that form (value.Normalize) when it is first read back, so that
	// it reads the same in this request as in later ones; until then the
	// serializer encodes it as it was set. pendingBuf holds the first
	// few, so that noting them allocates nothing.
	pending    []string
	pendingBuf [2]string
}

// reset forgets what resolving a cookie set, to try another one.
func (s *Session) reset() {
	s.values, s.loaded, s.key, s.ref, s.refFor, s.djangoKey, s.fromDjango = nil, false, "", "", "", false, false
	s.created, s.expires, s.rewrite, s.id, s.moved = time.Time{}, time.Time{}, false, codec.ID{}, false
}

// resolve decodes the cookie, once: a data cookie gives the values, a
// reference cookie gives the key (loaded later, if at all). s.mu must be
// held.
func (s *Session) resolve() {
	if s.resolved {
		return
	}
	s.resolved = true
	if s.hadCookie {
		s.m.resolve(s)
	}
}

// load makes sure the values are loaded; s.mu must be held.
func (s *Session) load() {
	s.resolve()
	if !s.loaded {
		s.loaded = true
		if s.key != "" {
			s.m.loadStored(s)
			if s.key == "" && s.err == nil {
				// Gone: another cookie of the request may be the session.
				s.m.fallback(s, s.cookieValue)
				s.loaded = true
			}
		}
		if s.values == nil {
			s.values = make(map[string]any)
		}
	}
	if !s.admitted {
		s.admitted = true
		if len(s.values) > 0 && s.err == nil && s.m.admits() {
			s.m.admit(s)
		}
	}
}

// access marks the session accessed and loads it.
func (s *Session) access() {
	s.accessed = true
	s.load()
}

// modify marks the session modified, noting a change made after the
// response has started; unlock reports it.
func (s *Session) modify(key string) {
	s.modified = true
	if s.committed {
		s.late = append(s.late, key)
	}
}

// unlock releases s.mu, then reports late changes, so that the hooks may
// use the session.
func (s *Session) unlock() {
	late := s.late
	s.late = nil
	s.mu.Unlock()
	for _, key := range late {
		s.m.lateChange(s, key)
	}
}

// Err returns the store failure that this request's session met, if any:
// loading it, or deleting it in Flush, from a server store that could not
// be reached, for example. When it is not nil the middleware
// answers with its error response and saves nothing; after a failed load
// the session is empty. A tampered, expired or unreadable cookie is not an error: it
// gives an empty session, as a missing cookie does.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.unlock()
	s.load()
	return s.err
}

// Get returns the value stored under key, or nil. A value comes back in
// the form the configured serializer reads it back in (package
// serializer's table: an int as int64 with MessagePack and JSON, a struct
// as map[string]any, ...), in the request that set it as in later ones.
// session.Get[T] converts it back to the type it was.
func (s *Session) Get(key string) any {
	v, _ := s.Lookup(key)
	return v
}

// Lookup returns the value stored under key, as Get does, and whether it
// is present.
func (s *Session) Lookup(key string) (any, bool) {
	s.mu.Lock()
	defer s.unlock()
	s.access()
	return s.lookup(key)
}

// lookup returns the value under key in its read-back form; s.mu must be
// held and the session loaded.
func (s *Session) lookup(key string) (any, bool) {
	v, ok := s.values[key]
	if ok && len(s.pending) > 0 {
		v = s.settle(key, v)
	}
	return v, ok
}

// put stores v under key for the handler; s.mu must be held and the
// session loaded.
func (s *Session) put(key string, v any) {
	s.values[key] = v
	switch v.(type) {
	case string, int64, bool, float64, nil:
		return // read back as they are by every serializer
	}
	if !value.Canonical(s.m.profile, v) && !slices.Contains(s.pending, key) {
		if s.pending == nil {
			s.pending = s.pendingBuf[:0]
		}
		s.pending = append(s.pending, key)
	}
}

// settle returns the value v under key in its read-back form, storing
// that form in its place. A value the serializer cannot encode stays as it
// is: saving the session reports it.
func (s *Session) settle(key string, v any) any {
	i := slices.Index(s.pending, key)
	if i < 0 {
		return v
	}
	s.pending = slices.Delete(s.pending, i, i+1)
	n, changed, err := value.Normalize(s.m.profile, v)
	if err != nil || !changed {
		return v
	}
	s.values[key] = n
	return n
}

// settleAll brings every pending value to its read-back form.
func (s *Session) settleAll() {
	for len(s.pending) > 0 {
		k := s.pending[len(s.pending)-1]
		if v, ok := s.values[k]; ok {
			s.settle(k, v)
		} else {
			s.pending = s.pending[:len(s.pending)-1]
		}
	}
}

// Has reports whether key is present.
func (s *Session) Has(key string) bool {
	_, ok := s.Lookup(key)
	return ok
}

// Set stores v under key. v must be inside the value contract of package
// serializer (structs, typed maps and slices included, with no
// registration); otherwise saving the session fails with a
// *serializer.UnsupportedError that names key and where in v, and the
// response is the error response. Use SetE to learn it at once.
//
// Get gives v back in the form the serializer reads it back in (an int as
// an int64 with MessagePack and JSON, a struct as a map[string]any), in
// this request as in later ones; session.Get[T] gives it back as its own
// type. The session may keep v itself until it is read back or saved:
// Set a slice, map or pointer again after changing what it holds.
func (s *Session) Set(key string, v any) {
	s.mu.Lock()
	defer s.unlock()
	s.access()
	s.put(key, v)
	s.modify(key)
}

// SetE is Set for a value that may be outside the value contract: it
// checks v against the configured serializer first and, if v cannot be
// stored, returns the *serializer.UnsupportedError that saving would meet
// (naming key and where in v: "field Items[3].Price"), leaving the session
// unchanged.
//
// The error is returned here rather than kept for Err because it belongs
// to this call: Err reports the store failures that fail the whole
// request, and Get[T] returns them for every key, while a value that
// cannot be stored is one key's, and the handler can still store
// something else. Set does without the check, which costs a walk through
// structs and containers; the save then reports the key.
func (s *Session) SetE(key string, v any) error {
	if err := s.m.check(key, v); err != nil {
		return err
	}
	s.Set(key, v)
	return nil
}

// Delete removes key and reports whether it was present. Like Django's
// del, it marks the session modified only when it removes something.
func (s *Session) Delete(key string) bool {
	_, ok := s.Pop(key)
	return ok
}

// Pop removes key and returns its value and whether it was present. The
// session is marked modified only when key was present.
func (s *Session) Pop(key string) (any, bool) {
	s.mu.Lock()
	defer s.unlock()
	s.access()
	v, ok := s.lookup(key)
	if ok {
		delete(s.values, key)
		s.modify(key)
	}
	return v, ok
}

// PopDefault removes key and returns its value, or def if it is absent.
func (s *Session) PopDefault(key string, def any) any {
	if v, ok := s.Pop(key); ok {
		return v
	}
	return def
}

// SetDefault returns the value under key, storing v there first if key is
// absent (and only then marking the session modified).
func (s *Session) SetDefault(key string, v any) any {
	s.mu.Lock()
	defer s.unlock()
	s.access()
	if cur, ok := s.lookup(key); ok {
		return cur
	}
	s.put(key, v)
	s.modify(key)
	v, _ = s.lookup(key)
	return v
}

// Update stores every entry of values. It marks the session modified even
// when values is empty, as Django does.
func (s *Session) Update(values map[string]any) {
	s.mu.Lock()
	defer s.unlock()
	s.access()
	for k, v := range values {
		s.put(k, v)
	}
	s.modify("")
}

// Keys returns the keys in sorted order.
func (s *Session) Keys() []string {
	s.mu.Lock()
	defer s.unlock()
	s.access()
	return slices.Sorted(maps.Keys(s.values))
}

// Values returns a copy of every key and value, as Get gives them. Nested
// maps and slices are shared with the session; copy them before changing
// them, and Set them back so the change is saved.
func (s *Session) Values() map[string]any {
	s.mu.Lock()
	defer s.unlock()
	s.access()
	s.settleAll()
	return maps.Clone(s.values)
}

// Len returns the number of keys.
func (s *Session) Len() int {
	s.mu.Lock()
	defer s.unlock()
	s.access()
	return len(s.values)
}

// Clear removes every value, without loading the session first. The
// session key is kept: use Flush to end the session.
func (s *Session) Clear() {
	s.mu.Lock()
	defer s.unlock()
	s.clear()
}

func (s *Session) clear() {
	// The values are about to be dropped: decode the cookie for its key,
	// but load nothing from the store.
	s.resolve()
	s.loaded = true
	s.values = make(map[string]any)
	s.pending = nil
	s.accessed = true
	s.modify("")
}

// IsEmpty reports whether the session has neither a server key nor any
// value.
func (s *Session) IsEmpty() bool {
	s.mu.Lock()
	defer s.unlock()
	return s.isEmpty()
}

func (s *Session) isEmpty() bool {
	if !s.resolved {
		// Like Django, a session whose cookie has not been read yet is
		// not empty: the cookie names one.
		return !s.hadCookie
	}
	return s.key == "" && len(s.values) == 0
}

// ID returns the session's identifier: 16 characters, stable for the
// session's life whatever engine keeps it, new after CycleKey, and not a
// secret: unlike the cookie or the store key, it gives no access to the
// session, so it is what logs, user-facing session lists and admin tools
// show. A new session gets its ID when ID is first called or when it is
// first saved; a session that is never saved keeps it only for this
// request.
func (s *Session) ID() string {
	s.mu.Lock()
	defer s.unlock()
	s.load()
	id := s.sessionID()
	return base64.RawURLEncoding.EncodeToString(id[:])
}

// sessionID returns the session's ID, giving it one if it has none.
func (s *Session) sessionID() codec.ID {
	if s.id.IsZero() {
		rand.Read(s.id[:])
	}
	return s.id
}

// adoptID takes the ID a stored or cookie session was read with. A session
// written before sessions had IDs gets one, and is rewritten so that it
// keeps it.
func (s *Session) adoptID(id codec.ID) {
	s.id = id
	if id.IsZero() {
		s.sessionID()
		s.rewrite = true
	}
}

// Key returns the server-store session key, or "" when the session is not
// kept on the server (the cookie engine, or a session not saved yet). For
// a session in Django's django_session table (DjangoConfig.Store) it is
// Django's session key, the cookie's value.
func (s *Session) Key() string {
	s.mu.Lock()
	defer s.unlock()
	s.load() // a key the store does not know is dropped
	return s.key
}

// Accessed reports whether the session has been read or written.
func (s *Session) Accessed() bool {
	s.mu.Lock()
	defer s.unlock()
	return s.accessed
}

// Modified reports whether the session has been changed and so will be
// saved.
func (s *Session) Modified() bool {
	s.mu.Lock()
	defer s.unlock()
	return s.modified
}

// Flush ends the session: it removes every value, deletes the server-side
// copy and forgets the key; a session bound to a user (Login) also leaves
// the user index, as with Logout. A new key appears only if something is
// stored later. Call it at logout.
func (s *Session) Flush(ctx context.Context) error {
	s.mu.Lock()
	defer s.unlock()
	if s.err != nil {
		// An earlier access failed to load the session and dropped its
		// key: the stored copy cannot be deleted.
		return s.err
	}
	var user, entry string // the entry the logout removes
	if s.m.users != nil {
		// A session bound to a user leaves the user's sessions, for which
		// its values are needed.
		s.access()
		if s.err != nil {
			// The load failed: the session's key and entry are not known,
			// so nothing could be ended.
			return s.err
		}
		u, e, err := s.unbind(ctx)
		if err := s.fail(err); err != nil {
			return err
		}
		user, entry = u, e
	}
	if err := s.fail(s.m.endPrior(ctx, s)); err != nil {
		return err
	}
	s.clear() // no load: the key is all Flush needs
	s.created, s.id = time.Time{}, codec.ID{}
	if err := s.fail(s.m.dropStored(ctx, s)); err != nil {
		return err
	}
	if user != "" {
		// A CycleKey in another request may have moved the session to a
		// new identity while this ran: that one ends too.
		return s.fail(s.m.endSuccessors(ctx, user, entry))
	}
	return nil
}

// fail records err, if any, as the request's session failure: the
// middleware then answers with the error response instead of pretending
// the operation worked (a logout whose delete failed, say).
func (s *Session) fail(err error) error {
	if err != nil && s.err == nil {
		s.err = err
	}
	return err
}

// CycleKey gives the session a new identity and keeps its data: when the
// response saves it, the server-side copy moves to a new key and the old
// key stops working; a cookie session is re-sealed; a session bound to a
// user is recorded in the user index under its new ID and leaves it under
// the old one. Call it at login, to defeat session fixation (Login does).
//
// The old identity is retired only once the new one is stored, and only
// if it is still there: if a concurrent logout or a revocation ended the
// session meanwhile, the save is ErrInterrupted and the new identity is
// removed again, so that a key change never brings an ended session back.
// A request that fails leaves the old identity as it was. ctx is not used:
// CycleKey does no I/O.
func (s *Session) CycleKey(ctx context.Context) error {
	s.mu.Lock()
	defer s.unlock()
	s.access()
	if s.err != nil {
		return s.err
	}
	s.cycle(false)
	s.modify("")
	return nil
}

// takeMoved notes, and removes from the values, the mark of an entry that
// a move or a key change left: the session cannot be saved from it.
// s.mu must be held.
func (s *Session) takeMoved() {
	if _, ok := s.values[movedKey]; ok {
		delete(s.values, movedKey)
		s.moved = true
	}
}

// priorIdentity is what a session was stored and listed under before
// CycleKey or Login gave it a new identity.
type priorIdentity struct {
	key       string // its store key, if it was kept on the server
	djangoKey bool   // key is a key of Django's table
	id        codec.ID
	// user is the user whose sessions listed it, if bound is set, and
	// until its entry's expiry (Unix seconds).
	user  string
	bound bool
	until int64
	// login says that a login retires it: a fresh authentication, which a
	// concurrent end of the old session does not interrupt.
	login bool
	// move says that the session only moved (into Django's table): its
	// old copy keeps the data, marked moved, for the requests in flight,
	// and expires after movedGrace.
	move bool
}

// cycle gives s a new identity, recording the one it had (the first, if
// it changes twice in a request) for the save to retire. s.mu must be
// held.
func (s *Session) cycle(login bool) {
	if s.prior == nil {
		user, ok := s.boundUser()
		_, listed := s.values[untilKey]
		p := &priorIdentity{key: s.key, djangoKey: s.djangoKey, id: s.id, user: user, bound: ok && listed && s.m.users != nil && !s.id.IsZero(), until: s.unixValue(untilKey).Unix()}
		if p.key != "" || p.bound {
			s.prior = p
		}
	}
	if login && s.prior != nil {
		s.prior.login = true
	}
	s.key, s.djangoKey = "", false
	delete(s.values, untilKey) // not in the index under the new ID yet: the save binds it
	rand.Read(s.id[:])
}

// SetExpiry makes the session expire after d of inactivity: each save
// pushes the expiry d further. SetExpiry(0) makes it end when the browser
// closes. A negative d expires it at once.
func (s *Session) SetExpiry(d time.Duration) {
	s.mu.Lock()
	defer s.unlock()
	s.access()
	s.put(expiryKey, int64(d/time.Second))
	s.modify(expiryKey)
}

// SetExpiryAt makes the session expire at t, whatever happens until then.
func (s *Session) SetExpiryAt(t time.Time) {
	s.mu.Lock()
	defer s.unlock()
	s.access()
	s.put(expiryKey, t.UTC())
	s.modify(expiryKey)
}

// ResetExpiry returns the session to the configured policy (CookieAge and
// ExpireAtBrowserClose).
func (s *Session) ResetExpiry() {
	s.mu.Lock()
	defer s.unlock()
	s.access()
	if _, ok := s.values[expiryKey]; ok {
		delete(s.values, expiryKey)
		s.modify(expiryKey)
	}
}

// expiry returns the custom expiry: an idle duration, an absolute time, or
// neither.
func (s *Session) expiry() (idle time.Duration, at time.Time, custom bool) {
	v, ok := s.values[expiryKey]
	if !ok || v == nil {
		return 0, time.Time{}, false
	}
	if t, err := convert[time.Time](v); err == nil {
		return 0, t, true
	}
	if n, err := convert[int64](v); err == nil {
		return time.Duration(n) * time.Second, time.Time{}, true
	}
	return 0, time.Time{}, false
}

// ExpiryAge returns how long from now until the session expires, to the
// second.
func (s *Session) ExpiryAge() time.Duration {
	s.mu.Lock()
	defer s.unlock()
	s.access()
	return s.expiryAge(s.m.cfg.Now())
}

func (s *Session) expiryAge(now time.Time) time.Duration {
	idle, at, custom := s.expiry()
	age := s.m.cfg.CookieAge
	switch {
	case !at.IsZero():
		age = at.Sub(now)
	case custom && idle != 0:
		age = idle
	}
	if end := s.lifetimeEnd(now); !end.IsZero() && now.Add(age).After(end) {
		age = end.Sub(now)
	}
	return age.Truncate(time.Second)
}

// lifetimeEnd returns when Config.MaxLifetime ends the session, or the
// zero Time when there is no cap.
func (s *Session) lifetimeEnd(now time.Time) time.Time {
	if s.m.cfg.MaxLifetime <= 0 {
		return time.Time{}
	}
	created := s.created
	if created.IsZero() {
		created = now
	}
	return created.Add(s.m.cfg.MaxLifetime)
}

// ExpiryDate returns when the session expires if it is saved now.
func (s *Session) ExpiryDate() time.Time {
	s.mu.Lock()
	defer s.unlock()
	s.access()
	return s.expiryDate(s.m.cfg.Now())
}

func (s *Session) expiryDate(now time.Time) time.Time {
	_, at, _ := s.expiry()
	if end := s.lifetimeEnd(now); !at.IsZero() && (end.IsZero() || !at.After(end)) {
		return at
	}
	return now.Add(s.expiryAge(now))
}

// ExpireAtBrowserClose reports whether the session cookie ends with the
// browser session.
func (s *Session) ExpireAtBrowserClose() bool {
	s.mu.Lock()
	defer s.unlock()
	s.access()
	return s.expireAtBrowserClose()
}

func (s *Session) expireAtBrowserClose() bool {
	idle, at, custom := s.expiry()
	if !custom {
		return s.m.cfg.ExpireAtBrowserClose
	}
	return at.IsZero() && idle == 0
}

// SetTestCookie stores a marker to check, on the next request, that the
// client keeps cookies.
func (s *Session) SetTestCookie() { s.Set(testCookieKey, testCookieVal) }

// TestCookieWorked reports whether the marker set by SetTestCookie came
// back.
func (s *Session) TestCookieWorked() bool { return s.Get(testCookieKey) == testCookieVal }

// DeleteTestCookie removes the marker set by SetTestCookie.
func (s *Session) DeleteTestCookie() { s.Delete(testCookieKey) }

// AddFlash appends a one-time message, read by the next call to Flashes.
func (s *Session) AddFlash(v any) {
	s.mu.Lock()
	defer s.unlock()
	s.access()
	list, _ := convert[[]any](s.values[flashKey])
	s.put(flashKey, append(slices.Clip(list), v))
	s.modify(flashKey)
}

// Flashes returns the messages added with AddFlash and removes them.
func (s *Session) Flashes() []any {
	s.mu.Lock()
	defer s.unlock()
	s.access()
	v, ok := s.lookup(flashKey)
	if !ok {
		return nil
	}
	delete(s.values, flashKey)
	s.modify(flashKey)
	list, _ := convert[[]any](v)
	return list
}

// Errors of the typed getter.
var (
	// ErrNoValue reports a key that is not in the session.
	ErrNoValue = errors.New("session: no such key")
	// ErrType is matched by errors.Is for every *TypeError.
	ErrType = errors.New("session: value of another type")
)

// TypeError reports a value that cannot be returned as the requested type.
type TypeError struct {
	Key string
	// Path is where in the value the mismatch is, with struct fields
	// under their Go names ("Items[3].Price"); empty when the value
	// itself is not of the requested type.
	Path string
	Want string // the type requested at Path
	Got  string // the type of the stored value at Path
}

// Error names the key, where in the value, and both types.
func (e *TypeError) Error() string {
	if e.Path != "" {
		return fmt.Sprintf("session: key %q: %s holds a %s, not a %s", e.Key, value.Where(e.Path), e.Got, e.Want)
	}
	return fmt.Sprintf("session: key %q holds a %s, not a %s", e.Key, e.Got, e.Want)
}

// Is reports whether target is ErrType.
func (e *TypeError) Is(target error) bool { return target == ErrType }

// Get returns the value under key as a T, whatever serializer stored it:
// an int from MessagePack's or JSON's int64, a time.Time from JSON's
// string, a []byte from JSON's base64, a []string from []any, a struct
// (or a pointer to one, a slice of them, a map[string]T) from the
// map[string]any it is stored as, its fields matched by the names package
// serializer gives them. It returns ErrNoValue when key is absent, a
// *TypeError naming where in the value it cannot be a T (or an integer
// would overflow), and the session's load error, if any. Map entries that
// match no field are ignored, and fields without an entry keep their zero
// value.
func Get[T any](s *Session, key string) (T, error) {
	var zero T
	if err := s.Err(); err != nil {
		return zero, err
	}
	v, ok := s.Lookup(key)
	if !ok {
		return zero, fmt.Errorf("%w: %q", ErrNoValue, key)
	}
	t, err := convert[T](v)
	if err != nil {
		if err.path == "" {
			err.want = reflect.TypeFor[T]().String()
		}
		return zero, &TypeError{Key: key, Path: err.path, Want: err.want, Got: err.got}
	}
	return t, nil
}
