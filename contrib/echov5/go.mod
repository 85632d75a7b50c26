module github.com/sessionkit/session/contrib/echov5

go 1.25.0

require github.com/sessionkit/session v0.0.0

require (
	github.com/gorilla/securecookie v1.1.2 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/labstack/echo/v5 v5.4.6
	github.com/philhofer/fwd v1.2.0 // indirect
	github.com/tinylib/msgp v1.6.5 // indirect
	golang.org/x/time v0.15.0 // indirect
)

replace github.com/sessionkit/session => ../..
