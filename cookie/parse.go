package cookie

import (
	"iter"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
)

// Values returns the values of the session cookie in r, in order: exactly
// the values of r.CookiesNamed(j.Name()), found without parsing the other
// cookies and, in a range loop, without allocating.
//
// As net/http does, it reads every Cookie header of r and splits each at
// ";". A part is a session cookie if its name, the part up to its first
// "=" trimmed of spaces, tabs, CRs and LFs, is the cookie name: so
// "sessionid =v" counts, and "sessionid" without "=" has an empty value.
// The value is the rest of the part, trimmed of those on the right only;
// surrounding double quotes are removed, and a value left with a byte
// other than printable ASCII, or with '"', ';' or '\', is skipped. If the
// Cookie headers hold more parts than net/http's httpcookiemaxnum GODEBUG
// setting allows (3000 by default), there are none at all. The setting is
// read from $GODEBUG and the binary's default GODEBUG when first needed; a
// later change through os.Setenv, which net/http would follow, is not.
//
// A browser sends several cookies of the same name when they were set
// for different paths or domains, most specific path first: a caller can
// try each in turn.
func (j *Jar) Values(r *http.Request) iter.Seq[string] {
	return func(yield func(string) bool) {
		lines := r.Header["Cookie"]
		if !withinCookieLimit(lines) {
			return
		}
		for _, line := range lines {
			for from := 0; from < len(line); {
				v, next, ok := nextValue(line, j.opts.Name, from)
				if !ok {
					break
				}
				if !yield(v) {
					return
				}
				from = next
			}
		}
	}
}

// Value returns the first of Values(r), and whether there is one: the
// value of r.Cookie(j.Name()).
func (j *Jar) Value(r *http.Request) (string, bool) {
	for v := range j.Values(r) {
		return v, true
	}
	return "", false
}

// nextValue returns the value of the first valid cookie named name in
// line[from:], and the index where the search for the next one resumes.
// The cookies of a line are its ";"-separated parts; as net/http reads
// one, its name is the part up to its first "=" (the whole part if it has
// none) trimmed of ASCII spaces (space, tab, CR, LF), its value is the
// rest of the part trimmed of them on the right only, a value in double
// quotes is unquoted, and a value with a byte that valueBytes refuses is
// not a cookie. name is a token, so it holds no space, ";", "=" or '"'.
func nextValue(line, name string, from int) (value string, next int, ok bool) {
	for from < len(line) {
		i := strings.Index(line[from:], name)
		if i < 0 {
			return "", len(line), false
		}
		start := from + i
		end := start + len(name)
		partEnd := strings.IndexByte(line[end:], ';')
		if partEnd < 0 {
			partEnd = len(line)
		} else {
			partEnd += end
		}
		// No other occurrence of name in this part can start it: the
		// first byte of this one is not a space.
		from = partEnd + 1
		if !partStart(line, start) {
			continue
		}
		for end < partEnd && isSpace(line[end]) {
			end++
		}
		if end == partEnd {
			return "", from, true // a cookie without "=" has an empty value
		}
		if line[end] != '=' {
			continue // a longer name, or a name with a space inside
		}
		raw := line[end+1 : partEnd]
		for len(raw) > 0 && isSpace(raw[len(raw)-1]) {
			raw = raw[:len(raw)-1]
		}
		if v, ok := cookieValue(raw); ok {
			return v, from, true
		}
	}
	return "", len(line), false
}

// partStart reports whether only ASCII spaces stand between the start of
// line or its previous ";" and line[i].
func partStart(line string, i int) bool {
	for i--; i >= 0; i-- {
		switch c := line[i]; {
		case c == ';':
			return true
		case !isSpace(c):
			return false
		}
	}
	return true
}

// isSpace is textproto.TrimString's notion of ASCII space.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// cookieValue is net/http's parseCookieValue with double quotes allowed:
// raw without its surrounding double quotes, if it has them, and whether
// every remaining byte may be in a cookie value.
func cookieValue(raw string) (string, bool) {
	if len(raw) > 1 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		raw = raw[1 : len(raw)-1]
	}
	for i := 0; i < len(raw); i++ {
		if !valueBytes[raw[i]] {
			return "", false
		}
	}
	return raw, true
}

// valueBytes holds net/http's validCookieValueByte for every byte, which a
// table lookup answers faster than its comparisons do: printable ASCII
// but '"', ';' and '\'.
var valueBytes = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != ';' && c != '\\'
	}
	return t
}()

// withinCookieLimit reports whether net/http would parse the cookies of
// these Cookie header lines at all: it counts every ";"-separated part of
// every line, and refuses the lot when there are more than
// httpcookiemaxnum.
func withinCookieLimit(lines []string) bool {
	if len(lines) == 0 {
		return false
	}
	limit := cookieMaxNum()
	if limit == 0 {
		return true
	}
	// A line of n bytes has at most n+1 parts: most headers are shorter
	// than the limit and need no counting.
	n := 0
	for _, line := range lines {
		n += len(line) + 1
	}
	if n <= limit {
		return true
	}
	n = 0
	for _, line := range lines {
		n += strings.Count(line, ";") + 1
	}
	return n <= limit
}

// defaultCookieMaxNum is net/http's limit on the number of cookies it
// parses from a request when httpcookiemaxnum is not set.
const defaultCookieMaxNum = 3000

// cachedCookieMaxNum holds cookieMaxNum's result once it is known.
var cachedCookieMaxNum atomic.Pointer[int]

// cookieMaxNum returns net/http's limit on the number of cookies in a
// request, 0 for none, as net/http reads it from the httpcookiemaxnum
// setting of $GODEBUG or else of the binary's default GODEBUG (which the
// main module's go version and godebug directives set): an empty or
// non-numeric setting means 3000. It reads them once: a later change of
// $GODEBUG through os.Setenv, which net/http follows, is not followed
// here, to keep the environment's lock off every request.
func cookieMaxNum() int {
	if n := cachedCookieMaxNum.Load(); n != nil {
		return *n
	}
	n := parseCookieMaxNum(os.Getenv("GODEBUG"), defaultGODEBUG())
	cachedCookieMaxNum.Store(&n)
	return n
}

// parseCookieMaxNum returns the limit that net/http takes from the
// httpcookiemaxnum setting of the GODEBUG environment variable env and of
// the binary's default GODEBUG def.
func parseCookieMaxNum(env, def string) int {
	text, ok := godebugValue(env, "httpcookiemaxnum")
	if !ok {
		text, _ = godebugValue(def, "httpcookiemaxnum")
	}
	if text == "" {
		return defaultCookieMaxNum
	}
	n, err := strconv.Atoi(text)
	if err != nil {
		return defaultCookieMaxNum
	}
	return n // a negative limit refuses every request's cookies
}

// defaultGODEBUG returns the binary's default GODEBUG, as the build
// recorded it.
func defaultGODEBUG() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "DefaultGODEBUG" {
				return s.Value
			}
		}
	}
	return ""
}

// godebugValue returns the value of the setting key in a GODEBUG string
// (k=v,k2=v2,...) as package internal/godebug reads it: the last setting
// of key wins, and a "#pattern" suffix (for bisecting) is dropped.
func godebugValue(s, key string) (string, bool) {
	for s != "" {
		var kv string
		if i := strings.LastIndexByte(s, ','); i >= 0 {
			s, kv = s[:i], s[i+1:]
		} else {
			s, kv = "", s
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k != key {
			continue
		}
		v, _, _ = strings.Cut(v, "#")
		return v, true
	}
	return "", false
}
