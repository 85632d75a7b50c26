# The project's test command. It installs and starts what the tests need
# (MariaDB from Debian's packages) and runs every test with the race detector.
.PHONY: test test-quick bench fuzz

test:
	./scripts/test.sh

# Unit tests only, no servers: what a laptop without MariaDB can run.
test-quick:
	go test -race ./...

bench:
	cd bench && go test -run '^$$' -bench . -benchmem -count 5
