package django

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
)

// The keys django.contrib.auth keeps in a logged-in session.
const (
	// AuthUserIDKey holds the user's primary key, as a string.
	AuthUserIDKey = "_auth_user_id"
	// AuthUserBackendKey holds the dotted path of the backend that
	// authenticated the user.
	AuthUserBackendKey = "_auth_user_backend"
	// AuthUserHashKey holds SessionAuthHash of the user's password hash.
	AuthUserHashKey = "_auth_user_hash"
	// ModelBackend is Django's default authentication backend.
	ModelBackend = "django.contrib.auth.backends.ModelBackend"
)

const authHashSalt = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash"

// SessionAuthHash returns what Django's get_session_auth_hash returns for a
// user whose password field (the stored hash string, such as
// "pbkdf2_sha256$260000$salt$hash") is passwordHash: 64 hex digits of
// HMAC-SHA256 keyed with SHA-256(salt + secret).
func SessionAuthHash(secret []byte, passwordHash string) string {
	m := hmac.New(sha256.New, derive(sha256.New, authHashSalt, secret))
	io.WriteString(m, passwordHash)
	return hex.EncodeToString(m.Sum(nil))
}

// User is who a Django session says is logged in.
type User struct {
	ID      string // _auth_user_id
	Backend string // _auth_user_backend
	Hash    string // _auth_user_hash
}

// UserOf returns the user a session's values say is logged in, and false
// when nobody is.
func UserOf(values map[string]any) (User, bool) {
	id, ok := values[AuthUserIDKey].(string)
	if !ok || id == "" {
		return User{}, false
	}
	backend, _ := values[AuthUserBackendKey].(string)
	hash, _ := values[AuthUserHashKey].(string)
	return User{ID: id, Backend: backend, Hash: hash}, true
}

// VerifyUser checks, as Django's get_user does, that the session's hash
// matches the user's current password hash under the secret or one of the
// fallbacks (newest first). It returns the index of the key that matched
// (0: the secret); a match on a fallback is where Django cycles the key and
// writes the current hash (use LoginValues). It returns -1 when nothing
// matches: Django then flushes the session and the user is anonymous.
func VerifyUser(u User, passwordHash string, secret []byte, fallbacks ...[]byte) int {
	for i, k := range append([][]byte{secret}, fallbacks...) {
		if subtle.ConstantTimeCompare([]byte(u.Hash), []byte(SessionAuthHash(k, passwordHash))) == 1 {
			return i
		}
	}
	return -1
}

// LoginValues returns the values django.contrib.auth.login adds to a
// session for the user with primary key id (as Django writes it: a string)
// and password hash passwordHash, authenticated by backend (ModelBackend
// when empty).
func LoginValues(secret []byte, id any, passwordHash, backend string) map[string]any {
	if backend == "" {
		backend = ModelBackend
	}
	return map[string]any{
		AuthUserIDKey:      fmt.Sprint(id),
		AuthUserBackendKey: backend,
		AuthUserHashKey:    SessionAuthHash(secret, passwordHash),
	}
}

// Logout removes the keys login added. Django's logout flushes the whole
// session; call Session.Flush for that.
func Logout(values map[string]any) {
	delete(values, AuthUserIDKey)
	delete(values, AuthUserBackendKey)
	delete(values, AuthUserHashKey)
}
