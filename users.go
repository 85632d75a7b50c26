package session

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/sessionkit/session/codec"
	"github.com/sessionkit/session/server"
)

// Reserved keys of a session bound to a user (Session.Login). Like
// _session_expiry, they are ordinary values that every serializer and
// engine carries.
const (
	userKey  = "_session_user"  // the user ID, a string
	authKey  = "_session_auth"  // when the user authenticated, Unix seconds
	seenKey  = "_session_seen"  // when the index last saw the session, Unix seconds
	untilKey = "_session_until" // when the session's index entry expires, Unix seconds
)

// Errors of user sessions.
var (
	// ErrNoIndex reports a user-session operation (listing, revocation,
	// RevokeAll) on a Manager that keeps no user index: set
	// Config.Registry, or use a Store that implements server.Index.
	ErrNoIndex = errors.New("session: no user index: set Config.Registry, or use a Store that implements server.Index")
	// ErrTooManySessions is returned by Session.Login when the user
	// already has Config.MaxUserSessions sessions and
	// Config.EndOldestSession is off.
	ErrTooManySessions = errors.New("session: the user has as many sessions as Config.MaxUserSessions allows")
)

// DefaultRevalidateInterval is how often, at most, a session bound to a
// user is checked against the user index when Config.RevalidateInterval
// is zero.
const DefaultRevalidateInterval = time.Minute

// UserSession describes one of a user's sessions, as the user index knows
// it: for a "your sessions" page or an admin tool.
type UserSession struct {
	// ID is the session's ID, as Session.ID gives it.
	ID string
	// Created is when the session was created; AuthenticatedAt when the
	// user last logged in or re-authenticated in it.
	Created, AuthenticatedAt time.Time
	// LastSeen is when the session was last used, to within
	// Config.RevalidateInterval.
	LastSeen time.Time
	// Expires is when the session's entry in the index expires: never
	// before the session itself, and two RevalidateIntervals (rounded up
	// to the second) after the expiry the session had when its entry was
	// last written, so that a session that has just expired is listed
	// for up to that long.
	Expires time.Time
	// UserAgent is the User-Agent of the session's last checked request
	// (at most 256 bytes), and ClientAddr its client address, recorded
	// only with Config.RecordClientAddr.
	UserAgent, ClientAddr string
	// Current is set for the session of the request whose context was
	// given to Manager.UserSessions.
	Current bool
}

// users is the Manager's user index and its policy; nil when the Manager
// has none.
type users struct {
	ix       server.Index
	interval time.Duration
	// The global not-before (RevokeAll), as last read from the index:
	// Unix nanoseconds of the instant and of the read. refresh, a
	// semaphore of one, lets one request at a time read it again.
	notBefore, checked atomic.Int64
	refresh            chan struct{}
}

// indexUserKey is the index key of user: a SHA-256, so that any user ID
// string is a valid key and the index stores no user ID in clear.
func indexUserKey(user string) string {
	sum := sha256.Sum256([]byte("sessionkit user\x00" + user))
	return hex.EncodeToString(sum[:])
}

// indexID is the index entry ID of a session ID.
func indexID(id codec.ID) string { return hex.EncodeToString(id[:]) }

// The global not-before lives in the index as the one entry of a user key
// that no user ID hashes to (64 hex digits is what indexUserKey makes).
const (
	globalUser = "sessionkitglobal"
	globalID   = "notbefore0000000"
)

// intValue reads an integer value whatever serializer brought it.
func intValue(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case uint64:
		return int64(n), n <= 1<<63-1
	case float64:
		return int64(n), n == float64(int64(n))
	}
	return 0, false
}

// unixValue reads a time kept in seconds under key; zero if absent.
func (s *Session) unixValue(key string) time.Time {
	if n, ok := intValue(s.values[key]); ok && n > 0 {
		return time.Unix(n, 0)
	}
	return time.Time{}
}

// boundUser returns the user the session is bound to, if any.
func (s *Session) boundUser() (string, bool) {
	u, ok := s.values[userKey].(string)
	return u, ok && u != ""
}

// UserID returns the user the session was bound to by Login, or "".
func (s *Session) UserID() string {
	s.mu.Lock()
	defer s.unlock()
	s.access()
	u, _ := s.boundUser()
	return u
}

// AuthenticatedAt returns when the user logged in (Login) or last
// re-authenticated (Reauthenticated) in this session; zero if the session
// is bound to no user.
func (s *Session) AuthenticatedAt() time.Time {
	s.mu.Lock()
	defer s.unlock()
	s.access()
	if _, ok := s.boundUser(); !ok {
		return time.Time{}
	}
	return s.unixValue(authKey)
}

// AuthenticatedWithin reports whether the session is bound to a user who
// authenticated less than d ago: ask for the password again before a
// sensitive change (an e-mail address, a password, a payment) unless it
// is true.
func (s *Session) AuthenticatedWithin(d time.Duration) bool {
	at := s.AuthenticatedAt()
	return !at.IsZero() && s.m.cfg.Now().Sub(at) < d
}

// Reauthenticated records that the user of the session has just proved
// who they are again (entered the password, passed MFA), for
// AuthenticatedWithin. It does nothing in a session bound to no user.
func (s *Session) Reauthenticated() {
	s.mu.Lock()
	defer s.unlock()
	s.access()
	if _, ok := s.boundUser(); !ok {
		return
	}
	s.put(authKey, s.m.cfg.Now().Unix())
	s.modify(authKey)
	s.reauthenticated = true
}

// Login binds the session to user, as Django's auth.login does: the
// session gets a new identity (a new ID and, on a server store, a new key,
// as CycleKey gives), keeps its data, and records when the user
// authenticated. With a user index (Config.Registry, or a Store that
// implements server.Index) the session is recorded under the user when the
// response saves it, with its device (the User-Agent and, with
// Config.RecordClientAddr, the client address), and can then be listed
// and revoked.
//
// With Config.MaxUserSessions, a user who has that many sessions already
// is refused with ErrTooManySessions, or, with Config.EndOldestSession,
// their oldest session is ended to make room. A store failure is returned
// and also fails the request, as Flush's does.
func (s *Session) Login(ctx context.Context, user string) error {
	if user == "" {
		return errors.New("session: Login with an empty user ID")
	}
	s.mu.Lock()
	defer s.unlock()
	s.access()
	if s.err != nil {
		return s.err
	}
	m := s.m
	if u := m.users; u != nil && m.cfg.MaxUserSessions > 0 {
		if err := m.makeRoom(ctx, user, s.id, s.listedPrior()); err != nil {
			if errors.Is(err, ErrTooManySessions) {
				return err
			}
			return s.fail(err)
		}
	}
	s.cycle(true) // a new identity; the save retires the old one
	now := m.cfg.Now().Unix()
	s.put(userKey, user)
	s.put(authKey, now)
	s.put(seenKey, now)
	s.modify(userKey)
	return nil
}

// Logout ends the session and, with a user index, removes it from its
// user's sessions at once, so that a copy of its cookie is refused
// everywhere within Config.RevalidateInterval (at once on the server and
// auto engines, whose store copy is deleted). It is Flush, which does the
// same, under the name that pairs with Login.
func (s *Session) Logout(ctx context.Context) error { return s.Flush(ctx) }

// unbind removes the session's entry from its user's sessions in the
// index, if it has one, so that a save binds it anew, and returns the
// user and the entry it removed ("" when there was none). s.mu must be
// held.
func (s *Session) unbind(ctx context.Context) (user, entry string, err error) {
	u := s.m.users
	user, ok := s.boundUser()
	if u == nil || !ok || s.id.IsZero() {
		return "", "", nil
	}
	if _, bound := s.values[untilKey]; !bound {
		return "", "", nil // logged in by this request: not in the index yet
	}
	if err := u.unbind(ctx, user, s.id); err != nil {
		return "", "", err
	}
	delete(s.values, untilKey)
	return user, indexID(s.id), nil
}

// listedPrior returns the ID of the identity that a CycleKey or Login of
// this request replaced, while the index still lists it as this session
// (until the response saves the new one); zero otherwise. s.mu must be
// held.
func (s *Session) listedPrior() codec.ID {
	if p := s.prior; p != nil && p.bound {
		return p.id
	}
	return codec.ID{}
}

// unbind removes the entry of the session id from user's sessions.
func (u *users) unbind(ctx context.Context, user string, id codec.ID) error {
	if err := u.ix.Unbind(ctx, indexUserKey(user), indexID(id)); err != nil {
		return fmt.Errorf("%w: removing the session from its user's sessions: %w", ErrStore, err)
	}
	return nil
}

// record is a session's entry in the index, as its blob holds it.
type record struct {
	storeKey           string // the store key, for a session kept in the Store
	created, auth      time.Time
	seen               time.Time
	userAgent, address string
	// prior is the entry ID the session had before CycleKey gave it this
	// one, while the old entry may still be listed: a revocation of the
	// old one that raced with the change ends this one too.
	prior string
}

// Values of a record's blob.
const (
	recStoreKey  = "k"
	recAuth      = "a"
	recSeen      = "s"
	recUserAgent = "ua"
	recAddress   = "ip"
	recPrior     = "p"
)

// recordPurpose binds a record's MAC to its user and entry.
func recordPurpose(user, id string) string { return "index:" + user + ":" + id }

// encodeRecord seals rec as the blob of entry id of user.
func (m *Manager) encodeRecord(user, id string, sid codec.ID, rec record, expires time.Time) (string, error) {
	values := map[string]any{
		recAuth: rec.auth.Unix(),
		recSeen: rec.seen.Unix(),
	}
	if rec.storeKey != "" {
		values[recStoreKey] = rec.storeKey
	}
	if rec.userAgent != "" {
		values[recUserAgent] = rec.userAgent
	}
	if rec.address != "" {
		values[recAddress] = rec.address
	}
	if rec.prior != "" {
		values[recPrior] = rec.prior
	}
	return m.codec.Encode(recordPurpose(user, id), codec.Payload{Kind: codec.KindData, Values: values, Created: rec.created, Expires: expires, ID: sid})
}

// decodeRecord opens the blob of entry id of user.
func (m *Manager) decodeRecord(user, id string, blob []byte) (record, codec.ID, error) {
	d, err := m.codec.Decode(recordPurpose(user, id), string(blob))
	if err != nil {
		return record{}, codec.ID{}, err
	}
	str := func(k string) string { v, _ := d.Values[k].(string); return v }
	unix := func(k string) time.Time {
		if n, ok := intValue(d.Values[k]); ok && n > 0 {
			return time.Unix(n, 0)
		}
		return time.Time{}
	}
	return record{
		storeKey:  str(recStoreKey),
		created:   d.Created,
		auth:      unix(recAuth),
		seen:      unix(recSeen),
		userAgent: str(recUserAgent),
		address:   str(recAddress),
		prior:     str(recPrior),
	}, d.ID, nil
}

// maxUserAgent caps the User-Agent a record keeps.
const maxUserAgent = 256

// device returns what the record of a session keeps of the request's
// device: the User-Agent, and the client address if configured.
func (m *Manager) device(r *http.Request) (agent, addr string) {
	if r == nil {
		return "", ""
	}
	agent = strings.ToValidUTF8(r.UserAgent(), "\uFFFD")
	if len(agent) > maxUserAgent {
		agent = agent[:maxUserAgent]
		for !utf8.ValidString(agent) {
			agent = agent[:len(agent)-1]
		}
	}
	if m.cfg.RecordClientAddr {
		addr = r.RemoteAddr
		if host, _, err := net.SplitHostPort(addr); err == nil {
			addr = host
		}
	}
	return agent, addr
}

// Index operations that a save makes.
const (
	indexNone = iota
	indexBind
	indexTouch
)

// indexOp says which index operation saving s, to expire at expires,
// calls for, and records in its values what that operation writes: a
// session just logged in is bound; a session whose entry would expire
// before it, or that was just reauthenticated, is touched, to move the
// entry's expiry or record the new authentication time.
func (m *Manager) indexOp(s *Session, now, expires time.Time) int {
	if m.users == nil {
		return indexNone
	}
	if _, ok := s.boundUser(); !ok {
		return indexNone
	}
	op := indexTouch
	if _, ok := s.values[untilKey]; !ok {
		op = indexBind
	} else if !expires.After(s.unixValue(untilKey)) && !s.reauthenticated {
		return indexNone
	}
	s.put(untilKey, m.entryUntil(expires))
	s.put(seenKey, now.Unix())
	return op
}

// entryUntil returns when the index entry of a session that expires at
// expires is to expire, in Unix seconds: two intervals later, rounded up.
// The slack is what keeps a save from touching the entry in a request
// whose load did not check it: a session checked at T is not checked
// again before T+interval, and a save then moves its expiry by less than
// an interval, so the entry outlasts it. A save touches the entry only in
// a request that took longer than an interval, which a revocation it
// finds gone then interrupts.
func (m *Manager) entryUntil(expires time.Time) int64 {
	return expires.Add(2*m.users.interval + time.Second - 1).Unix()
}

// writeIndex binds or touches the index entry of s, as indexOp decided. A
// Touch that finds no entry means the session was revoked meanwhile:
// ErrInterrupted, so that nothing brings it back.
func (m *Manager) writeIndex(s *Session, op int, now time.Time) error {
	user, _ := s.boundUser()
	uk, id := indexUserKey(user), indexID(s.sessionID())
	rec := record{created: s.created, auth: s.unixValue(authKey), seen: now}
	if s.key != "" && !s.djangoKey {
		// A session of Django's table has no store key here: a
		// revocation reaches it when it is next checked, as a cookie
		// session.
		rec.storeKey = m.storeKey(s)
	}
	rec.userAgent, rec.address = m.device(s.req)
	if p := s.prior; op == indexBind && p != nil && p.bound && !p.login {
		rec.prior = indexID(p.id)
	}
	until := s.unixValue(untilKey)
	blob, err := m.encodeRecord(uk, id, s.id, rec, until)
	if err != nil {
		return err
	}
	if op == indexBind {
		err = m.users.ix.Bind(s.ctx, uk, id, blobBytes(blob), until)
	} else {
		err = m.users.ix.Touch(s.ctx, uk, id, blobBytes(blob), until)
	}
	switch {
	case errors.Is(err, server.ErrNotFound):
		return ErrInterrupted
	case err != nil:
		return fmt.Errorf("%w: recording the session in its user's sessions: %w", ErrStore, err)
	}
	return nil
}

// admits reports whether the Manager vets the sessions it reads: against a
// not-before, or against the user index.
func (m *Manager) admits() bool { return m.users != nil || !m.cfg.NotBefore.IsZero() }

// admit vets the session just read into s: one created (or, bound to a
// user, authenticated) before the not-before is refused; one bound to a
// user is checked against the index, at most once per RevalidateInterval,
// and refused if the index no longer has it. A refused session leaves s
// empty, as an expired one does; a failure to reach the index is the
// request's store error. s.mu is held.
func (m *Manager) admit(s *Session) {
	if len(s.values) == 0 {
		return
	}
	now := m.cfg.Now()
	user, bound := s.boundUser()
	issued := s.created
	if bound {
		if at := s.unixValue(authKey); !at.IsZero() {
			issued = at
		}
	}
	nb, err := m.notBefore(s.ctx, now)
	if err != nil {
		m.refuse(s)
		s.err = err
		return
	}
	// A session that Django made records no creation time; one that Go
	// shares with Django, and did not log in itself, is Django's to end.
	djangoMade := issued.IsZero() && s.fromDjango && m.django != nil && m.django.share
	if !nb.IsZero() && issued.Before(nb) && !djangoMade {
		m.sec.Info("session: refused a session from before the not-before", "id", base64.RawURLEncoding.EncodeToString(s.id[:]), "issued", issued, "not_before", nb)
		m.refuse(s)
		return
	}
	if !bound || m.users == nil {
		return
	}
	if _, ok := s.values[untilKey]; !ok {
		s.rewrite = true // logged in when no index was in effect: bind it now
		return
	}
	if m.cfg.Engine == EngineAuto && s.key == "" {
		s.rewrite = true // into the store, where a revocation deletes it at once
	}
	if now.Sub(s.unixValue(seenKey)) < m.users.interval {
		return
	}
	until := m.entryUntil(s.expiryDate(now))
	if old := s.unixValue(untilKey).Unix(); old > until {
		until = old
	}
	s.put(untilKey, until)
	s.put(seenKey, now.Unix())
	err = m.writeIndex(s, indexTouch, now)
	switch {
	case err == nil:
		s.rewrite = true // carry the new check time
	case errors.Is(err, ErrInterrupted):
		m.sec.Info("session: refused a revoked session", "id", base64.RawURLEncoding.EncodeToString(s.id[:]), "user_key", indexUserKey(user))
		m.refuse(s)
	default:
		m.refuse(s)
		s.err = err
	}
}

// refuse empties s: the request goes on with a new session, and the
// client's cookie is deleted.
func (m *Manager) refuse(s *Session) {
	s.values = make(map[string]any)
	s.key, s.djangoKey, s.rewrite, s.pending = "", false, false, nil
	s.created, s.id = time.Time{}, codec.ID{}
}

// notBefore returns the instant before which sessions are refused: the
// later of Config.NotBefore and the global not-before that RevokeAll
// sets, read from the index at most once per RevalidateInterval.
func (m *Manager) notBefore(ctx context.Context, now time.Time) (time.Time, error) {
	nb := m.cfg.NotBefore
	u := m.users
	if u == nil {
		return nb, nil
	}
	if age := now.UnixNano() - u.checked.Load(); age >= int64(u.interval) {
		// Waiting for another request's read and reading share one
		// interval: an index that hangs fails this request after it,
		// whatever its context.
		deadline := time.Now().Add(u.interval)
		held := false
		select {
		case u.refresh <- struct{}{}:
			held = true
		default:
			// Another request is reading it. The value at hand serves
			// meanwhile while it is less than two intervals old; an older
			// one is not used while that read lasts (it may hang on an
			// index that does not answer): wait for it.
			if age >= 2*int64(u.interval) {
				wait := time.NewTimer(time.Until(deadline))
				defer wait.Stop()
				select {
				case u.refresh <- struct{}{}:
					held = true
				case <-ctx.Done():
					return nb, fmt.Errorf("%w: reading the global not-before: %w", ErrStore, ctx.Err())
				case <-wait.C:
					return nb, fmt.Errorf("%w: reading the global not-before: another read has taken more than RevalidateInterval", ErrStore)
				}
			}
		}
		if held {
			var err error
			if now.UnixNano()-u.checked.Load() >= int64(u.interval) { // not read meanwhile
				rctx, cancel := context.WithDeadline(ctx, deadline)
				err = m.readNotBefore(rctx, now)
				cancel()
			}
			<-u.refresh
			if err != nil {
				return nb, err
			}
		}
	}
	if g := u.notBefore.Load(); g != 0 && time.Unix(0, g).After(nb) {
		nb = time.Unix(0, g)
	}
	return nb, nil
}

// readNotBefore reads the global not-before from the index.
func (m *Manager) readNotBefore(ctx context.Context, now time.Time) error {
	u := m.users
	es, err := u.ix.Entries(ctx, globalUser)
	if err != nil {
		return fmt.Errorf("%w: reading the global not-before: %w", ErrStore, err)
	}
	for _, e := range es {
		if e.ID != globalID {
			continue
		}
		rec, _, err := m.decodeRecord(globalUser, globalID, e.Blob)
		if err != nil {
			m.sec.Warn("session: the global not-before in the index does not verify; ignored", "err", err)
			continue
		}
		if n := rec.created.UnixNano(); n > u.notBefore.Load() {
			u.notBefore.Store(n)
		}
	}
	u.checked.Store(now.UnixNano())
	return nil
}

// RevokeAll ends every session of every user and every anonymous session
// made before now, on every engine: the Manager that calls it refuses them
// at once, every other Manager sharing the index within
// Config.RevalidateInterval. For a deployment that cannot wait for that,
// or has no index, Config.NotBefore does the same from configuration, and
// rotating SecretKey without a fallback ends every session at once.
func (m *Manager) RevokeAll(ctx context.Context) error {
	u := m.users
	if u == nil {
		return ErrNoIndex
	}
	now := m.cfg.Now()
	blob, err := m.encodeRecord(globalUser, globalID, codec.ID{}, record{created: now, auth: now, seen: now}, now.AddDate(100, 0, 0))
	if err != nil {
		return err
	}
	if err := u.ix.Bind(ctx, globalUser, globalID, blobBytes(blob), now.AddDate(100, 0, 0)); err != nil {
		return fmt.Errorf("%w: writing the global not-before: %w", ErrStore, err)
	}
	for {
		old := u.notBefore.Load()
		if now.UnixNano() <= old || u.notBefore.CompareAndSwap(old, now.UnixNano()) {
			return nil
		}
	}
}

// userEntry is one of a user's sessions as the index lists it.
type userEntry struct {
	id  string // the index entry ID
	sid codec.ID
	rec record
	exp time.Time
}

// userEntries lists the sessions of user (index key uk), dropping entries
// that do not verify.
func (m *Manager) userEntries(ctx context.Context, uk string) ([]userEntry, error) {
	es, err := m.users.ix.Entries(ctx, uk)
	if err != nil {
		return nil, fmt.Errorf("%w: listing a user's sessions: %w", ErrStore, err)
	}
	out := make([]userEntry, 0, len(es))
	for _, e := range es {
		rec, sid, err := m.decodeRecord(uk, e.ID, e.Blob)
		if err != nil {
			m.sec.Warn("session: an entry of the user index does not verify; ignored", "err", err)
			continue
		}
		out = append(out, userEntry{id: e.ID, sid: sid, rec: rec, exp: e.Expires})
	}
	return out, nil
}

// UserSessions lists user's sessions, most recently seen first, in one
// read of the index. When ctx is a request's context (or derives from
// one), the request's own session is marked Current (after a CycleKey or
// Login that the response has not saved yet, the entry of its identity
// before).
func (m *Manager) UserSessions(ctx context.Context, user string) ([]UserSession, error) {
	if m.users == nil {
		return nil, ErrNoIndex
	}
	es, err := m.userEntries(ctx, indexUserKey(user))
	if err != nil {
		return nil, err
	}
	var current, prior codec.ID
	if s, ok := FromContext(ctx); ok {
		s.mu.Lock()
		s.load()
		current, prior = s.id, s.listedPrior()
		s.unlock()
	}
	out := make([]UserSession, 0, len(es))
	for _, e := range es {
		out = append(out, UserSession{
			ID:              base64.RawURLEncoding.EncodeToString(e.sid[:]),
			Created:         e.rec.created,
			AuthenticatedAt: e.rec.auth,
			LastSeen:        e.rec.seen,
			Expires:         e.exp,
			UserAgent:       e.rec.userAgent,
			ClientAddr:      e.rec.address,
			Current:         !current.IsZero() && (e.sid == current || e.sid == prior),
		})
	}
	slices.SortFunc(out, func(a, b UserSession) int {
		return cmp.Or(b.LastSeen.Compare(a.LastSeen), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// RevokeSession ends the session of user whose ID is id (as Session.ID and
// UserSessions give it). A session kept in the Store is deleted from it
// at once; a cookie session is refused within Config.RevalidateInterval. A
// session the index does not list is an error wrapping
// server.ErrNotFound.
func (m *Manager) RevokeSession(ctx context.Context, user, id string) error {
	if m.users == nil {
		return ErrNoIndex
	}
	raw, err := base64.RawURLEncoding.DecodeString(id)
	var sid codec.ID
	if err != nil || len(raw) != len(sid) {
		return fmt.Errorf("session: %q is not a session ID", id)
	}
	copy(sid[:], raw)
	uk := indexUserKey(user)
	es, err := m.userEntries(ctx, uk)
	if err != nil {
		return err
	}
	for _, e := range es {
		if e.id == indexID(sid) {
			return m.revoke(ctx, uk, []userEntry{e}, nil, "")
		}
	}
	return fmt.Errorf("session: the user has no session %s: %w", id, server.ErrNotFound)
}

// RevokeUserSessions ends every session of user except the one whose ID
// is keep ("" keeps none): at a password or MFA change (keeping the
// current session, FromRequest(r).ID()), or when the account is disabled.
// Sessions kept in the Store are deleted from it at once; cookie sessions
// are refused within Config.RevalidateInterval. Called in the request of
// the kept session after its CycleKey or Login, give it the request's
// context (r.Context()): it carries the session's old identity, still
// listed until the response saves the new one, which is kept too; with
// another context the old identity is ended, and the key change's save
// fails with ErrInterrupted. Sessions that change their key while it runs
// are followed to their new keys; should they keep doing so, it returns an
// error after a few rounds, and calling it again ends them.
func (m *Manager) RevokeUserSessions(ctx context.Context, user, keep string) error {
	if m.users == nil {
		return ErrNoIndex
	}
	uk := indexUserKey(user)
	es, err := m.userEntries(ctx, uk)
	if err != nil {
		return err
	}
	keepID, keepPrior := "", ""
	if raw, err := base64.RawURLEncoding.DecodeString(keep); keep != "" && err == nil && len(raw) == len(codec.ID{}) {
		keepID = indexID(codec.ID(raw))
		// Called by the request whose session is kept, after a CycleKey
		// not saved yet: its old identity is still listed, and is that
		// session too.
		if s, ok := FromContext(ctx); ok {
			s.mu.Lock()
			if p := s.listedPrior(); !p.IsZero() && s.id == codec.ID(raw) {
				keepPrior = indexID(p)
			}
			s.unlock()
		}
	}
	es = slices.DeleteFunc(es, func(e userEntry) bool { return e.id == keepID || e.id == keepPrior })
	return m.revoke(ctx, uk, es, nil, keepID)
}

// revoke deletes the stored sessions of es, then removes es from the
// index: a failure leaves the entries listed, to be revoked again. Then it
// lists the user's sessions again and revokes, in the same way, those that
// a CycleKey racing with it moved from an entry it ended (one of es, or
// of ended: entries that a logout has just removed) to a new one, whose
// record names the ended entry as prior; it never revokes keep (an entry
// ID). A key change checks that its old identity is still there only after
// it has listed the new one, so either it finds the old one gone and undoes
// itself, or this second listing sees the new one. Sessions that still
// move after maxSuccessorRounds rounds are an error, never a silent
// success.
func (m *Manager) revoke(ctx context.Context, uk string, es []userEntry, ended []string, keep string) error {
	revoked := make(map[string]bool, len(es)+len(ended))
	for _, id := range ended {
		revoked[id] = true
	}
	for round := 0; ; round++ {
		if len(es) > 0 {
			ids := make([]string, 0, len(es))
			for _, e := range es {
				if e.rec.storeKey != "" && m.store != nil {
					if err := m.store.Delete(ctx, e.rec.storeKey); err != nil {
						return fmt.Errorf("%w: deleting a revoked session: %w", ErrStore, err)
					}
				}
				ids = append(ids, e.id)
				revoked[e.id] = true
			}
			if err := m.users.ix.Unbind(ctx, uk, ids...); err != nil {
				return fmt.Errorf("%w: removing revoked sessions from the index: %w", ErrStore, err)
			}
		}
		if len(revoked) == 0 {
			return nil
		}
		all, err := m.userEntries(ctx, uk)
		if err != nil {
			return err
		}
		es = slices.DeleteFunc(all, func(e userEntry) bool {
			return revoked[e.id] || !revoked[e.rec.prior] || e.id == keep
		})
		if len(es) == 0 {
			return nil
		}
		if round == maxSuccessorRounds {
			return errKeptMoving
		}
	}
}

// errKeptMoving is revoke's error when sessions it ended still moved to
// new keys after maxSuccessorRounds rounds: some of them may be live.
var errKeptMoving = fmt.Errorf("session: sessions being revoked kept changing keys after %d rounds; some may still be live: revoke again", maxSuccessorRounds+1)

// endSuccessors ends the sessions that a CycleKey racing a logout moved
// from the entry id of user, which the logout has removed.
func (m *Manager) endSuccessors(ctx context.Context, user, id string) error {
	return m.revoke(ctx, indexUserKey(user), nil, []string{id}, "")
}

// maxSuccessorRounds bounds how many times revoke follows sessions that
// changed their key while it ran.
const maxSuccessorRounds = 4

// makeRoom applies Config.MaxUserSessions to a login of user by the
// session current (whose old identity prior, if not zero, is that session
// too): at the limit, it refuses with ErrTooManySessions or,
// with Config.EndOldestSession, revokes the sessions that logged in
// longest ago.
func (m *Manager) makeRoom(ctx context.Context, user string, current, prior codec.ID) error {
	uk := indexUserKey(user)
	es, err := m.userEntries(ctx, uk)
	if err != nil {
		return err
	}
	es = slices.DeleteFunc(es, func(e userEntry) bool { return e.sid == current || (!prior.IsZero() && e.sid == prior) })
	over := len(es) - m.cfg.MaxUserSessions + 1
	if over <= 0 {
		return nil
	}
	if !m.cfg.EndOldestSession {
		return ErrTooManySessions
	}
	slices.SortFunc(es, func(a, b userEntry) int { return a.rec.auth.Compare(b.rec.auth) })
	return m.revoke(ctx, uk, es[:over], nil, "")
}

// setUsers sets up the user index from m.cfg.
func (m *Manager) setUsers() error {
	ix := m.cfg.Registry
	if ix == nil {
		ix, _ = m.store.(server.Index)
	}
	if m.cfg.RevalidateInterval < 0 {
		return configErr("RevalidateInterval must be positive")
	}
	if m.cfg.MaxUserSessions < 0 {
		return configErr("MaxUserSessions must not be negative")
	}
	if ix == nil {
		if m.cfg.MaxUserSessions > 0 {
			return configErr("MaxUserSessions needs a user index: set Registry, or use a Store that implements server.Index")
		}
		return nil
	}
	m.users = &users{ix: ix, interval: m.cfg.RevalidateInterval, refresh: make(chan struct{}, 1)}
	return nil
}
