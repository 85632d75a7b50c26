// Package cookie carries encoded sessions in HTTP cookies: it finds the
// session cookie in a request exactly as net/http's Request.CookiesNamed
// would, without parsing the other cookies, decodes and verifies it with a
// codec.Codec bound to the cookie's name, and builds the Set-Cookie header
// for a new value.
//
// It builds no cookie that browsers drop. New refuses a budget (MaxSize)
// over the 4096 bytes of name and value that browsers keep, a Path or
// Domain over the 1024 bytes they accept in an attribute, a __Secure- or
// __Host- name without what its prefix requires, and Partitioned or
// SameSite=None without Secure; Header refuses a value that would take
// the header over the budget with a *SizeError, which errors.Is matches
// to ErrTooLarge.
//
// The same Jar carries both kinds of encoded values: a whole session
// (the cookie engine) and a signed reference to a server-store key (the
// server engine). Package cookie knows nothing of stores.
package cookie

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sessionkit/session/codec"
)

// DefaultMaxSize is the default budget of a Set-Cookie header's value
// (name, value and attributes), and the largest that New accepts: a
// browser drops a cookie whose name and value together exceed 4096 bytes
// (RFC 6265bis; Chromium and Firefox enforce it), and a header within
// 4096 bytes keeps them under that.
const DefaultMaxSize = 4096

// maxAttribute is the longest attribute value that browsers take (RFC
// 6265bis): they ignore a longer Path or Domain, which would give the
// cookie another scope than the one configured.
const maxAttribute = 1024

// ErrTooLarge is matched by errors.Is for every *SizeError.
var ErrTooLarge = errors.New("cookie: session too large for a cookie")

// SizeError reports a session whose cookie would exceed the budget.
type SizeError struct {
	Name  string // cookie name
	Size  int    // bytes the Set-Cookie value would take
	Limit int    // the budget
}

// Error describes the size, the budget and what to do.
func (e *SizeError) Error() string {
	return fmt.Sprintf("cookie: session cookie %q would be %d bytes, over the %d-byte budget (store less in the session, or use a server store)", e.Name, e.Size, e.Limit)
}

// Is reports whether target is ErrTooLarge.
func (e *SizeError) Is(target error) bool { return target == ErrTooLarge }

// Options are the cookie's attributes. The zero value of each field is
// Django's default, except where noted.
type Options struct {
	// Name is the cookie name; empty means "sessionid". A name that
	// starts with "__Secure-" requires Secure, and one that starts with
	// "__Host-" requires Secure, Path "/" and no Domain, as browsers
	// do (matching the prefixes without regard to case).
	Name string
	// Domain, if set, makes the cookie visible to subdomains. At most
	// 1024 bytes.
	Domain string
	// Path; empty means "/". At most 1024 bytes.
	Path string
	// Secure sends the cookie over HTTPS only.
	Secure bool
	// ScriptAccess drops HttpOnly, letting scripts read the cookie. Off by
	// default: the cookie is HttpOnly.
	ScriptAccess bool
	// SameSite; zero means Lax, http.SameSiteDefaultMode omits the
	// attribute.
	SameSite http.SameSite
	// Partitioned sets the CHIPS Partitioned attribute (requires Secure).
	Partitioned bool
	// MaxSize is the budget for the whole Set-Cookie value, name and
	// attributes included; zero means DefaultMaxSize, which is also the
	// most that New accepts.
	MaxSize int
}

// Jar reads and writes one session cookie. It is safe for concurrent use.
type Jar struct {
	codec *codec.Codec
	opts  Options
	// suffix is the constant part of the Set-Cookie attributes.
	suffix string
}

// New returns a Jar that encodes with c. It refuses options that would
// make a cookie that browsers drop or scope differently: a MaxSize over
// DefaultMaxSize, a Path or Domain over 1024 bytes, a name prefix whose
// requirements are not met, Partitioned or SameSite=None without Secure.
func New(c *codec.Codec, opts Options) (*Jar, error) {
	if c == nil {
		return nil, errors.New("cookie: nil codec")
	}
	if opts.Name == "" {
		opts.Name = "sessionid"
	}
	if opts.Path == "" {
		opts.Path = "/"
	}
	if opts.SameSite == 0 {
		opts.SameSite = http.SameSiteLaxMode
	}
	if opts.MaxSize == 0 {
		opts.MaxSize = DefaultMaxSize
	}
	if opts.MaxSize < 0 {
		return nil, errors.New("cookie: negative MaxSize")
	}
	if opts.MaxSize > DefaultMaxSize {
		return nil, fmt.Errorf("cookie: MaxSize %d is over %d: browsers drop a cookie whose name and value exceed %[2]d bytes, and MaxSize budgets the whole Set-Cookie value (set it to at most %[2]d, or 0 for %[2]d)", opts.MaxSize, DefaultMaxSize)
	}
	if !validName(opts.Name) {
		return nil, fmt.Errorf("cookie: invalid cookie name %q", opts.Name)
	}
	if !validAttribute(opts.Path, false) || !validAttribute(opts.Domain, true) {
		return nil, errors.New("cookie: Path and Domain must not contain ';' or control characters, nor Domain a space")
	}
	if len(opts.Path) > maxAttribute {
		return nil, fmt.Errorf("cookie: Path is %d bytes, over the %d that browsers accept in a cookie attribute (they would ignore it and scope the cookie to the request's path)", len(opts.Path), maxAttribute)
	}
	if len(opts.Domain) > maxAttribute {
		return nil, fmt.Errorf("cookie: Domain is %d bytes, over the %d that browsers accept in a cookie attribute (they would ignore it and keep the cookie to one host)", len(opts.Domain), maxAttribute)
	}
	if err := checkPrefix(opts); err != nil {
		return nil, err
	}
	if opts.Partitioned && !opts.Secure {
		return nil, errors.New("cookie: Partitioned cookies must be Secure")
	}
	if opts.SameSite == http.SameSiteNoneMode && !opts.Secure {
		return nil, errors.New("cookie: SameSite=None cookies must be Secure")
	}
	j := &Jar{codec: c, opts: opts}
	var b strings.Builder
	b.WriteString("; Path=" + opts.Path)
	if opts.Domain != "" {
		b.WriteString("; Domain=" + opts.Domain)
	}
	if opts.Secure {
		b.WriteString("; Secure")
	}
	if !opts.ScriptAccess {
		b.WriteString("; HttpOnly")
	}
	switch opts.SameSite {
	case http.SameSiteLaxMode:
		b.WriteString("; SameSite=Lax")
	case http.SameSiteStrictMode:
		b.WriteString("; SameSite=Strict")
	case http.SameSiteNoneMode:
		b.WriteString("; SameSite=None")
	}
	if opts.Partitioned {
		b.WriteString("; Partitioned")
	}
	j.suffix = b.String()
	return j, nil
}

// checkPrefix enforces what browsers require of a cookie whose name starts
// with __Secure- or __Host- (RFC 6265bis, section 4.1.3): they match the
// prefixes without regard to case, and drop a cookie that lacks what its
// prefix requires.
func checkPrefix(opts Options) error {
	switch {
	case hasPrefixFold(opts.Name, "__Host-"):
		var fix []string
		if !opts.Secure {
			fix = append(fix, "set Secure")
		}
		if opts.Path != "/" {
			fix = append(fix, `set Path to "/" or leave it empty`)
		}
		if opts.Domain != "" {
			fix = append(fix, "leave Domain empty")
		}
		if len(fix) > 0 {
			return fmt.Errorf("cookie: browsers drop a cookie named %q unless it is Secure, with Path=/ and no Domain (the __Host- prefix): %s", opts.Name, strings.Join(fix, ", "))
		}
	case hasPrefixFold(opts.Name, "__Secure-"):
		if !opts.Secure {
			return fmt.Errorf("cookie: browsers drop a cookie named %q unless it is Secure (the __Secure- prefix): set Secure", opts.Name)
		}
	}
	return nil
}

// validAttribute reports whether v holds no ';' and no control character
// (a byte below 0x20, or DEL), which would end the attribute or make
// browsers drop the cookie; nor a space if noSpace.
func validAttribute(v string, noSpace bool) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == 0x7f || c == ';' || noSpace && c == ' ' {
			return false
		}
	}
	return true
}

// hasPrefixFold reports whether s starts with prefix, ignoring ASCII case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func validName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

// Name returns the cookie name.
func (j *Jar) Name() string { return j.opts.Name }

// Options returns the cookie's attributes, with defaults filled in.
func (j *Jar) Options() Options { return j.opts }

// Codec returns the codec the Jar encodes with.
func (j *Jar) Codec() *codec.Codec { return j.codec }

// Decode verifies and decodes a cookie value. A value longer than the
// cookie budget is refused before any cryptography, with codec.ErrTooLarge.
func (j *Jar) Decode(value string) (codec.Decoded, error) {
	if len(value) > j.opts.MaxSize {
		return codec.Decoded{}, fmt.Errorf("%w: cookie value is %d bytes, over the %d-byte budget", codec.ErrTooLarge, len(value), j.opts.MaxSize)
	}
	return j.codec.Decode(j.opts.Name, value)
}

// Encode encodes p for this cookie.
func (j *Jar) Encode(p codec.Payload) (string, error) {
	return j.codec.Encode(j.opts.Name, p)
}

// Header returns the Set-Cookie header value for value. maxAge is the
// cookie's lifetime: positive for a persistent cookie (Max-Age, in whole
// seconds; every current browser honours it, so the header carries no
// Expires date, 39 bytes that a session cookie can use), zero for a
// browser-session cookie. It returns a
// *SizeError if the header would exceed the budget, MaxSize. As the budget
// is at most 4096 bytes and counts the attributes too, a header that
// Header returns never has a name and value over the 4096 bytes that
// browsers keep.
func (j *Jar) Header(value string, maxAge time.Duration) (string, error) {
	var b strings.Builder
	b.Grow(len(j.opts.Name) + 1 + len(value) + len(j.suffix) + 64)
	b.WriteString(j.opts.Name)
	b.WriteByte('=')
	b.WriteString(value)
	if maxAge > 0 {
		var scratch [32]byte
		b.Write(strconv.AppendInt(append(scratch[:0], "; Max-Age="...), int64(maxAge/time.Second), 10))
	}
	b.WriteString(j.suffix)
	if b.Len() > j.opts.MaxSize {
		return "", &SizeError{Name: j.opts.Name, Size: b.Len(), Limit: j.opts.MaxSize}
	}
	return b.String(), nil
}

// DeleteHeader returns the Set-Cookie header value that removes the
// cookie: the same Name, Path, Domain and SameSite, an empty value, an
// Expires in 1970 and Max-Age=0.
func (j *Jar) DeleteHeader() string {
	var b strings.Builder
	b.WriteString(j.opts.Name)
	b.WriteString(`=""; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0`)
	b.WriteString(j.suffix)
	return b.String()
}
