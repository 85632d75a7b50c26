# The project's test command: gofmt, go vet, every test with the race
# detector against a private MariaDB, PostgreSQL, Redis and Redis Cluster
# (installed from Debian's packages when missing, started on free ports,
# stopped by PID),
# vet and the race-detector tests of each framework adapter (contrib/*)
# and of examples/chi, the bench module's tests, the headless-Chromium tests (Chromium installed
# when missing), and a bounded run of the fuzz targets.
.PHONY: test test-quick bench fuzz

test:
	./scripts/test.sh

# Unit tests only, no servers and no browser: what a laptop without
# MariaDB, PostgreSQL, Redis or Chromium can run (their tests, the Redis
# Cluster's among them, skip; the
# browser tests, a module of their own, do not run).
test-quick:
	go test -race ./...

# The benchmarks side by side with gorilla/sessions and scs (BENCHMARKS.md).
# The MySQL, PostgreSQL and Redis ones need SESSION_TEST_MYSQL_DSN,
# SESSION_TEST_POSTGRES_DSN and SESSION_TEST_REDIS_URL, for example through
# scripts/mariadb.sh run (and postgres.sh, redis.sh).
bench:
	cd bench && go test -run '^$$' -bench . -benchmem -count 5

# A longer fuzzing run than the one make test does (a budget in executions,
# 15 to 20 times make test's: see scripts/test.sh for why not in seconds).
FUZZTIME ?= 6000000x
fuzz:
	go test ./codec -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME)
	go test ./codec -run '^$$' -fuzz '^FuzzParseHeader$$' -fuzztime $(FUZZTIME)
	go test ./cookie -run '^$$' -fuzz '^FuzzValues$$' -fuzztime $(FUZZTIME)
