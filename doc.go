// Package session provides HTTP sessions for net/http with Django's
// semantics: a lazy Session API, a middleware that saves only what changed,
// and three engines chosen in configuration.
//
//   - EngineCookie (the default) keeps the whole session in one signed (by
//     default encrypted) cookie: nothing to run on the server.
//   - EngineServer keeps it in a server.Store (MySQL/MariaDB, files, memory);
//     the cookie carries a 64-character reference (a random key and its
//     MAC), and a session can be revoked.
//   - EngineAuto keeps it in the cookie while it fits and moves it to the
//     store when it does not.
//
// Whatever the engine, serializer, compression or key in use, the Manager
// reads every session cookie it can verify and rewrites old ones in the
// current format, so a configuration change logs nobody out.
//
// Typical use:
//
//	m, err := session.New(session.Config{SecretKey: key})
//	...
//	http.ListenAndServe(addr, m.Handler(mux))
//
// and in a handler:
//
//	s := session.FromRequest(r)
//	s.Set("user_id", 42)
//	id, err := session.Get[int64](s, "user_id")
//
// The packages below hold the parts: serializer (msgpack, JSON, gob), codec
// (the authenticated envelope), cookie (the session cookie), server (the
// store contract) and one package per store.
package session
