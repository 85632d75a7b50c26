#!/usr/bin/env bash
# The full test run: formatting, vet, every test with the race detector
# (against a private MariaDB, a private PostgreSQL, a private Redis and a
# private Redis Cluster, see scripts/mariadb.sh, scripts/postgres.sh,
# scripts/redis.sh and scripts/redis-cluster.sh), vet and the race-detector
# tests of each framework adapter's module (contrib/*) and of examples/chi,
# the browser tests in a headless Chromium (installed when missing, see
# scripts/chromium.sh), and bounded fuzzing. CI runs exactly this (through
# `make test`). The Django tests run twice: with Debian's Django 3.2 and
# with 4.2 from bookworm-backports (see scripts/django.sh;
# SESSION_TEST_DJANGO42=0 skips the second run). With
# SESSION_TEST_MYSQL_DSN, SESSION_TEST_POSTGRES_DSN, SESSION_TEST_REDIS_URL
# or SESSION_TEST_REDIS_CLUSTER_URL set, the MySQL, PostgreSQL, Redis or
# Redis Cluster tests use that server instead and none is started (the
# cluster's fault tests, which start clusters of their own, then skip); with
# SESSION_TEST_CHROMIUM set, the browser tests use that browser.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== MariaDB, PostgreSQL, Redis and a Redis Cluster"
source scripts/mariadb.sh
source scripts/postgres.sh
source scripts/redis.sh
source scripts/redis-cluster.sh
trap 'redis_cluster_stop; redis_stop; postgres_stop; mariadb_stop' EXIT
mariadb_start
postgres_start
redis_start
redis_cluster_start
# The SQLite store's outage test makes the database's files immutable
# (chattr +i), which takes root: as root, it must run, not skip.
if [ "$(id -u)" = 0 ]; then
	export SESSION_TEST_REQUIRE_IMMUTABLE=1
fi

echo "== Django (python3-django and mysqlclient, for the tests against Django's own code; its migrations on the test database)"
source scripts/django.sh
django_setup

echo "== go test -race"
go test -race -count=1 ./...

if [ "${SESSION_TEST_DJANGO42:-1}" != 0 ]; then
	echo "== the Django tests again with Django 4.2 (bookworm-backports, unpacked privately; SESSION_TEST_DJANGO42=0 skips this)"
	django42_setup
	go test -race -count=1 ./django
	go test -race -count=1 -run 'Django' . ./server/mysql ./sessionenv
	django_unset42
fi

echo "== allocation counts (without the race detector, which makes sync.Pool drop items)"
go test -count=1 -run 'Allocations' ./codec ./cookie

echo "== framework adapters and the chi example (modules of their own: vet, go test -race)"
for mod in contrib/gin contrib/echo contrib/echov5 examples/chi; do
	echo "-- $mod"
	(cd "$mod" && go vet ./... && go test -race -count=1 ./...)
done

echo "== bench module (its tests, on the same servers; the benchmarks run with make bench)"
(cd bench && go vet ./... && go test -count=1 ./...)
redis_cluster_stop
redis_stop
postgres_stop
mariadb_stop

echo "== browser tests (headless Chromium through the demo and across the cookie budget; examples/demo/browsertest)"
source scripts/chromium.sh
chromium_setup
(cd examples/demo/browsertest && go vet ./... && go test -count=1 -timeout 5m ./...)

echo "== fuzz (bounded)"
# Budgets in executions, not seconds: with a -fuzztime in seconds, Go
# 1.26's coordinator can report "context deadline exceeded" as a failure
# when the time runs out while a worker is busy (go.dev/issue/75804, fixed
# in Go 1.27), which a loaded machine makes likely. These take about 20 s
# each here. FUZZTIME, if set, is used for all three.
go test ./codec -run '^$' -fuzz '^FuzzDecode$' -fuzztime "${FUZZTIME:-400000x}"
go test ./codec -run '^$' -fuzz '^FuzzParseHeader$' -fuzztime "${FUZZTIME:-400000x}"
go test ./cookie -run '^$' -fuzz '^FuzzValues$' -fuzztime "${FUZZTIME:-300000x}"
