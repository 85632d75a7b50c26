module github.com/sessionkit/session/examples/chi

go 1.25.0

require github.com/sessionkit/session v0.0.0

require (
	github.com/go-chi/chi/v5 v5.5.0
	github.com/gorilla/securecookie v1.1.2 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/philhofer/fwd v1.2.0 // indirect
	github.com/tinylib/msgp v1.6.5 // indirect
)

replace github.com/sessionkit/session => ../..
