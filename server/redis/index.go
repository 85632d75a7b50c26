package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/server"
)

var _ server.Index = (*Store)(nil)

// userKey is the Redis key of user's entries: one hash, field = entry ID,
// value = the entry's expiry (as a session value's header) and blob. One
// key per user keeps every index operation on one Cluster slot; the braces
// make the user key its hash tag.
func (s *Store) userKey(user string) string { return s.prefix + "u:{" + user + "}" }

// The scripts of the index. Each touches one key. Times are the caller's,
// in Unix milliseconds, so that expiry is judged by the same clock as the
// sessions'.
const (
	// bindSrc: KEYS[1] the hash, ARGV[1] the ID, ARGV[2] the value,
	// ARGV[3] its expiry, ARGV[4] now. It drops expired entries and keeps
	// the hash alive as long as its longest-lived entry.
	bindSrc = `
local h, now = KEYS[1], tonumber(ARGV[4])
local all = redis.call('HGETALL', h)
for i = 1, #all, 2 do
  if tonumber(string.sub(all[i+1], 1, 16)) <= now then redis.call('HDEL', h, all[i]) end
end
redis.call('HSET', h, ARGV[1], ARGV[2])
local exp, t = tonumber(ARGV[3]), redis.call('PEXPIRETIME', h)
if t < 0 or t < exp then redis.call('PEXPIREAT', h, exp) end
return 1`
	// touchSrc: as bindSrc, but writes only over a live entry and returns
	// 0 otherwise.
	touchSrc = `
local h, id, now = KEYS[1], ARGV[1], tonumber(ARGV[4])
local v = redis.call('HGET', h, id)
if not v or tonumber(string.sub(v, 1, 16)) <= now then return 0 end
redis.call('HSET', h, id, ARGV[2])
local exp, t = tonumber(ARGV[3]), redis.call('PEXPIRETIME', h)
if t < 0 or t < exp then redis.call('PEXPIREAT', h, exp) end
return 1`
)

var (
	bindScript  = goredis.NewScript(bindSrc)
	touchScript = goredis.NewScript(touchSrc)
	// entriesScript: KEYS[1] the hash, ARGV[1] now, ARGV[2] the longest
	// value to send. It returns the live entries as ID, value pairs, with
	// an entry over the limit sent as an empty value.
	entriesScript = goredis.NewScript(`
local now, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local all, out = redis.call('HGETALL', KEYS[1]), {}
for i = 1, #all, 2 do
  local v = all[i+1]
  if tonumber(string.sub(v, 1, 16)) > now then
    out[#out+1] = all[i]
    if #v > limit then out[#out+1] = '' else out[#out+1] = v end
  end
end
return out`)
)

// checkEntry validates an index call's context, user key and IDs for op.
func checkEntry(ctx context.Context, op, user string, ids ...string) error {
	err := server.ValidateEntry(user, ids...)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("session store redis: %s: %w", op, err)
	}
	return nil
}

// write runs bindScript or touchScript (whose source is src) as
// goredis.Script.Run does, EVALSHA and then EVAL if the server does not
// have the script, through writeCmd: with WaitReplicas, each is followed
// by its WAIT, as the Store's writes are.
func (s *Store) write(ctx context.Context, op string, script *goredis.Script, src, user, id string, blob []byte, expires time.Time) (bool, error) {
	if err := checkEntry(ctx, op, user, id); err != nil {
		return false, err
	}
	if len(blob) > s.maxLen {
		return false, fmt.Errorf("session store redis: %s: %w: %d bytes, over MaxLength %d", op, server.ErrTooLarge, len(blob), s.maxLen)
	}
	v, exp := encode(blob, expires)
	key := s.userKey(user)
	cmd, err := s.writeCmd(ctx, op, key, goredis.NewCmd(ctx, "EVALSHA", script.Hash(), 1, key, id, v, exp, nowMs()))
	if goredis.HasErrorPrefix(err, "NOSCRIPT") {
		cmd, err = s.writeCmd(ctx, op, key, goredis.NewCmd(ctx, "EVAL", src, 1, key, id, v, exp, nowMs()))
	}
	if err != nil && !errors.Is(err, ErrNotReplicated) {
		return false, err
	}
	n, cerr := cmd.Int()
	switch {
	case cerr != nil:
		return false, wrap(ctx, op, cerr)
	case n == 0:
		return false, nil // nothing written: nothing to wait for
	}
	return true, err // written, and replicated unless err says otherwise
}

// Bind stores blob as user's entry id until expires, replacing the entry if
// there is one, in one script call.
func (s *Store) Bind(ctx context.Context, user, id string, blob []byte, expires time.Time) error {
	_, err := s.write(ctx, "bind", bindScript, bindSrc, user, id, blob, expires)
	return err
}

// Touch replaces user's entry id if it exists and has not expired, in one
// script call; otherwise it returns server.ErrNotFound.
func (s *Store) Touch(ctx context.Context, user, id string, blob []byte, expires time.Time) error {
	ok, err := s.write(ctx, "touch", touchScript, touchSrc, user, id, blob, expires)
	if err == nil && !ok {
		return server.ErrNotFound
	}
	return err
}

// Entries returns user's unexpired entries in one script call. An entry
// over MaxLength is not sent; it makes the call fail with an error
// wrapping server.ErrTooLarge.
func (s *Store) Entries(ctx context.Context, user string) ([]server.Entry, error) {
	if err := checkEntry(ctx, "entries", user); err != nil {
		return nil, err
	}
	res, err := entriesScript.Run(ctx, s.client, []string{s.userKey(user)}, nowMs(), headerLen+s.maxLen).StringSlice()
	if err != nil {
		s.failed(err)
		return nil, wrap(ctx, "entries", err)
	}
	out := make([]server.Entry, 0, len(res)/2)
	for i := 0; i+1 < len(res); i += 2 {
		if res[i+1] == "" {
			return nil, fmt.Errorf("session store redis: entries: %w: a stored entry is longer than MaxLength %d", server.ErrTooLarge, s.maxLen)
		}
		exp, blob, err := decode([]byte(res[i+1]))
		if err != nil {
			return nil, fmt.Errorf("session store redis: entries: %w", err)
		}
		out = append(out, server.Entry{ID: res[i], Blob: blob, Expires: exp})
	}
	return out, nil
}

// Unbind removes user's entries with the given IDs, in one command
// (with WaitReplicas, and its WAIT).
func (s *Store) Unbind(ctx context.Context, user string, ids ...string) error {
	if err := checkEntry(ctx, "unbind", user, ids...); err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	key := s.userKey(user)
	args := make([]any, 0, 2+len(ids))
	args = append(args, "HDEL", key)
	for _, id := range ids {
		args = append(args, id)
	}
	if _, err := s.writeCmd(ctx, "unbind", key, goredis.NewCmd(ctx, args...)); err != nil && !errors.Is(err, goredis.Nil) {
		return err
	}
	return nil
}
