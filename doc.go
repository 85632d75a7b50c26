// Package session provides HTTP sessions for net/http with Django's
// semantics: a lazy Session API, a middleware that saves only what changed,
// and three engines chosen in configuration.
//
//   - EngineCookie (the default) keeps the whole session in one signed (by
//     default encrypted) cookie: nothing to run on the server.
//   - EngineServer keeps it in a server.Store (MySQL/MariaDB, PostgreSQL,
//     SQLite, Redis, files, memory); the cookie carries a 64-character
//     reference (a random key and its MAC), and a session can be revoked.
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
// # Tokens instead of cookies
//
// For API and mobile clients, Config.TokenHeader lets the session travel
// in a request header (Authorization: Bearer, or a header of its own) and
// come back, when it changes, in a response header. A token is the value
// the cookie would hold, so every engine, key rotation and format works
// the same. A request that carries the token header is answered with a
// token and never a cookie; any other request uses the cookie, unless
// Config.TokenOnly turns cookies off.
//
// # Framework integrations
//
// Handler is two calls around a net/http handler, which a framework whose
// handlers write through a writer of their own (gin, Echo) makes itself:
//
//	r, _ := m.Load(req) // before the handler: its request carries the session
//	...
//	// just before the status line goes out, with the status it carries:
//	if err := m.Commit(w, r, status); err != nil {
//		// w holds the error response: send nothing more of the handler's
//	}
//
// Every rule is in Commit (what to save, which headers, the error
// response); an integration decides only when. It calls Commit on
// whatever sends the header first (a write, a flush, a hijack, a status
// sent alone) and once more when the handler returns without having
// written; Commit commits once, so the second call costs nothing. When
// the framework renders an error that the handler returned after the
// middleware has returned (Echo's HTTPErrorHandler), the commit is left
// to that rendering, so that Commit sees its status and a 500 saves
// nothing. The adapters in contrib/ (gin, Echo v4 and v5), each a module
// of its own, are built this way; chi and http.ServeMux take Handler as
// it is.
//
// The packages below hold the parts: serializer (msgpack, JSON, gob), codec
// (the authenticated envelope), cookie (the session cookie), server (the
// store contract) and one package per store.
package session
