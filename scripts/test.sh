#!/usr/bin/env bash
# The full test run: formatting, vet, every test with the race detector
# (against a private MariaDB, see scripts/mariadb.sh), and bounded fuzzing.
# CI runs exactly this (through `make test`). With SESSION_TEST_MYSQL_DSN set,
# the MySQL tests use that server instead and none is started.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== MariaDB"
source scripts/mariadb.sh
trap mariadb_stop EXIT
mariadb_start

echo "== go test -race"
go test -race -count=1 ./...
mariadb_stop

echo "== fuzz (bounded)"
FUZZTIME=${FUZZTIME:-20s}
go test ./codec -run '^$' -fuzz '^FuzzDecode$' -fuzztime "$FUZZTIME"
go test ./codec -run '^$' -fuzz '^FuzzParseHeader$' -fuzztime "$FUZZTIME"
