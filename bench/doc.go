// Package bench measures the session codec side by side with the Go session
// libraries people use today: gorilla/sessions' CookieStore (gob and
// gorilla/securecookie) and alexedwards/scs (gob).
//
// It is a separate module so that the library itself never depends on those
// peers. Everything lives in test files:
//
//	go test -run '^$' -bench . -benchmem -count 5   # speed, allocations, bytes
//	go test -run TestSizes -v                       # the encoded sizes table
//
// BENCHMARKS.md at the repository root records the figures.
package bench
