// Package django reads and writes Django's session formats, so that a Go
// service shares sessions with a running Django application, or takes them
// over without logging anyone out.
//
// Signer is django.core.signing's dumps and loads for one salt: JSON as
// Python's json.dumps writes it (ASCII only, lowercase \uXXXX escapes and
// surrogate pairs, NaN and Infinity, Python's float repr, integers of any
// size as *big.Int), read as Django reads it (the bytes as latin-1),
// zlib-compressed only when that is shorter by more than a byte,
// base64url, a base62 timestamp and an HMAC-SHA256 signature under
// SHA-256(salt + "signer" + SECRET_KEY), with SECRET_KEY_FALLBACKS on
// read, max_age with Django's "older than" rule, and the formats Django
// 3.2 still reads (SHA-1 signatures, the pre-3.1 session format).
//
// The salts are SaltSignedCookies for the signed_cookies backend and
// SaltSessionStore for db, file and cached_db. SessionAuthHash,
// VerifyUser and LoginValues are django.contrib.auth's session keys.
//
// Store is the table of Django's db backend, django_session: session_data
// (Dumps under SaltSessionStore) under raw session keys, which NewKey
// makes as Django does and ValidateKey checks before any use. Package
// server/mysql implements it for MySQL and MariaDB (mysql.DjangoStore);
// package django itself links no database driver.
//
// Django's format is signed, not encrypted: the client can read a
// signed_cookies session.
//
// Package django knows nothing of HTTP or of package session; the root
// package's Config.Django puts it behind a Manager.
package django
