// Package bench measures this module side by side with the Go session
// libraries people use today: gorilla/sessions' CookieStore (gob and
// gorilla/securecookie), alexedwards/scs (gob, with its memstore,
// mysqlstore, pgxstore, sqlite3store and goredisstore) and, through gin,
// gin-contrib/sessions.
//
// It is a separate module so that the library itself never depends on those
// peers or on a web framework. Everything lives in test files:
//
//	go test -run '^$' -bench . -benchmem -count 5   # speed, allocations, bytes
//	go test -run TestSizes -v                       # the encoded sizes table
//
// The codec benchmarks (Encode, Decode), the middleware round trip
// (RoundTrip) and the same round trip through gin and Echo with the
// adapters in contrib/ and with gin-contrib/sessions (Frameworks) need
// nothing else, and neither does SQLite (a file in a temporary directory;
// scs' sqlite3store needs cgo, for mattn/go-sqlite3, and the SQLite
// benchmarks are built only with cgo). The other store benchmarks (MySQL,
// Postgres, Redis, Cached) need servers, named by SESSION_TEST_MYSQL_DSN,
// SESSION_TEST_POSTGRES_DSN and SESSION_TEST_REDIS_URL, and skip without
// them; scripts/mariadb.sh, scripts/postgres.sh and scripts/redis.sh start
// private ones:
//
//	bash scripts/mariadb.sh run bash scripts/redis.sh run \
//	    bash -c 'cd bench && go test -run "^$" -bench "MySQL|Redis|Cached" -benchtime 2000x'
//	bash scripts/postgres.sh run \
//	    bash -c 'cd bench && go test -run "^$" -bench "Postgres|SQLite" -benchtime 2000x'
//
// BENCHMARKS.md at the repository root records the figures.
package bench
