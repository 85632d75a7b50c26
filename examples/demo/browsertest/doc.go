// Package browsertest drives a real headless Chromium through the demo
// site and through a small session server, and checks from the browser's
// side, with the DevTools protocol's network events, that every session
// cookie the server sets is stored by the browser and sent back on the
// next request, up to and across the cookie budget. It also logs two
// browsers, each with a profile of its own, in as one user, and checks that
// a session revoked from the other browser's "Your sessions" page is
// logged out: at once on the server and auto engines, within the
// revalidate interval on the cookie engine.
//
// It is a module of its own, so that the main module never depends on
// chromedp. The tests need Chromium: they find it through
// SESSION_TEST_CHROMIUM (see internal/testenv) and skip without it, or
// fail under SESSION_TEST_REQUIRE_CHROMIUM=1, as make test sets:
//
//	scripts/chromium.sh run sh -c 'cd examples/demo/browsertest && go test ./...'
//
// The package has no code outside its tests.
package browsertest
