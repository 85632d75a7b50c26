#!/usr/bin/env bash
# A private PostgreSQL server for the tests: its own temporary data directory
# (initdb), listening on 127.0.0.1 and on a Unix socket in its directory,
# with a random password for its user, started and stopped by PID (no
# systemd, no pg_ctlcluster, nothing shared with a distribution cluster).
#
# PostgreSQL refuses to run as root. Run as root, the script runs initdb and
# the server as the system user POSTGRES_OS_USER (default postgres, which
# Debian's package creates; nobody if there is no postgres user), through
# setpriv, which execs the server in place: the PID it reports is the
# server's. Run as another user, it runs them as that user.
#
# Sourced:
#
#	source scripts/postgres.sh
#	postgres_start            # install if needed, initdb, start, create db+user
#	trap postgres_stop EXIT   # stop the server and remove its files
#
# postgres_start exports:
#
#	SESSION_TEST_POSTGRES_DSN         postgres://sess:PASS@127.0.0.1:PORT/sessions_test?sslmode=disable
#	SESSION_TEST_POSTGRES_SOCKET_DSN  the same over the Unix socket:
#	                                  postgres://sess:PASS@/sessions_test?host=POSTGRES_RUNDIR&port=PORT&sslmode=disable
#	SESSION_TEST_REQUIRE_POSTGRES     1 (the PostgreSQL tests fail instead of skipping)
#	POSTGRES_PID                      PID of the postgres server process (the postmaster)
#	POSTGRES_PORT                     TCP port (default 5433, or the next free one)
#	POSTGRES_RUNDIR                   temporary directory holding everything below
#	                                  (also the directory of the Unix socket)
#	POSTGRES_DATADIR                  data directory
#	POSTGRES_PIDFILE                  PID file written by this script
#	POSTGRES_LOG                      server log
#	POSTGRES_START_CMD                one-line command that starts the server again
#	                                  (same data directory and port) and waits until it answers
#	POSTGRES_STOP_CMD                 one-line command that stops it by PID (fast
#	                                  shutdown: open sessions are ended) and keeps the data
#
# postgres_stop_server and postgres_start_server stop and restart the server
# while keeping its data directory and port; a test that takes the server
# down runs "bash -c "$POSTGRES_STOP_CMD"" and "bash -c "$POSTGRES_START_CMD"".
# The data survives a restart: every commit is flushed, as PostgreSQL does
# by default.
#
# If SESSION_TEST_POSTGRES_DSN is already set, postgres_start uses that
# server and starts nothing, and postgres_stop does nothing.
#
# Run directly:
#
#	scripts/postgres.sh install                  # install the packages if the server is missing
#	scripts/postgres.sh run CMD [ARGS...]        # start, run CMD with the variables above, stop
#	scripts/postgres.sh start-server|stop-server # what POSTGRES_START_CMD/POSTGRES_STOP_CMD run
#	scripts/postgres.sh start-private            # start one more server, print its variables
#	POSTGRES_RUNDIR=DIR scripts/postgres.sh remove  # stop the server of DIR and remove DIR
#
# start-private ignores SESSION_TEST_POSTGRES_DSN and POSTGRES_PORT: it takes
# the next free port, so that a fault test can stop its own server without
# disturbing the tests that share the main one.
#
# Environment: POSTGRES_PORT (fixed port: fail if it is taken),
# POSTGRES_DATABASE (default sessions_test), POSTGRES_USER (default sess),
# POSTGRES_OS_USER (see above). The run directory is made under TMPDIR
# (default /tmp), which the server's user must be able to traverse.

_postgres_script=$(readlink -f "${BASH_SOURCE[0]}")
# shellcheck source=lib.sh
source "$(dirname "$_postgres_script")/lib.sh"

_postgres_log() { _lib_log postgres "$@"; }

# _postgres_bindir: the directory of the server's programs (initdb,
# postgres, pg_isready, psql): Debian keeps them in
# /usr/lib/postgresql/VERSION/bin, off PATH; the newest version wins.
# Elsewhere, the directory of an initdb on PATH.
_postgres_bindir() {
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4,4 -V -r); do
		if [ -x "$d/initdb" ] && [ -x "$d/postgres" ] && [ -x "$d/pg_isready" ] && [ -x "$d/psql" ]; then
			echo "$d"
			return 0
		fi
	done
	local p
	if p=$(command -v initdb 2>/dev/null); then
		p=$(dirname "$(readlink -f "$p")")
		if [ -x "$p/postgres" ] && [ -x "$p/pg_isready" ] && [ -x "$p/psql" ]; then
			echo "$p"
			return 0
		fi
	fi
	return 1
}

# postgres_install: install Debian's postgresql package when the server's
# programs are missing. (lib.sh's installer looks for programs on PATH,
# where Debian does not put initdb and postgres.)
postgres_install() {
	_postgres_bindir >/dev/null && return 0
	if ! command -v apt-get >/dev/null; then
		_postgres_log "the PostgreSQL server is not installed and apt-get is not available; install PostgreSQL or set SESSION_TEST_POSTGRES_DSN"
		return 1
	fi
	local sudo=
	if [ "$(id -u)" != 0 ]; then
		if command -v sudo >/dev/null; then
			sudo="sudo"
		else
			_postgres_log "the PostgreSQL server is not installed and installing it needs root"
			return 1
		fi
	fi
	local t0
	t0=$(_lib_now)
	_postgres_log "installing postgresql from the distribution's packages"
	$sudo apt-get update -qq || { _postgres_log "apt-get update failed"; return 1; }
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		postgresql >/dev/null || { _postgres_log "apt-get install postgresql failed"; return 1; }
	_postgres_bindir >/dev/null || { _postgres_log "initdb and postgres still missing after install"; return 1; }
	_postgres_log "installed in $(_lib_elapsed "$t0") s"
}

# _postgres_os_user: the system user the server runs as when we are root.
_postgres_os_user() {
	if [ -n "${POSTGRES_OS_USER:-}" ]; then
		echo "$POSTGRES_OS_USER"
	elif id postgres >/dev/null 2>&1; then
		echo postgres
	else
		echo nobody
	fi
}

# _postgres_as: sets the array _postgres_as_cmd to the prefix that runs a
# program as the server's user: setpriv when we are root, nothing otherwise.
_postgres_as() {
	_postgres_as_cmd=()
	if [ "$(id -u)" = 0 ]; then
		local u
		u=$(_postgres_os_user)
		_postgres_as_cmd=(setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups --)
	fi
}

# _postgres_ours PID: true if PID is a running postgres server on our data
# directory. The server works in its data directory, which identifies it.
_postgres_ours() {
	[ -n "${POSTGRES_DATADIR:-}" ] && _lib_running "$1" || return 1
	[ "$(readlink "/proc/$1/cwd" 2>/dev/null)" = "$(readlink -f "$POSTGRES_DATADIR")" ]
}

# _postgres_ping: true if the server accepts connections on its socket.
_postgres_ping() {
	"$(_postgres_bindir)/pg_isready" -q -h "$POSTGRES_RUNDIR" -p "$POSTGRES_PORT" -U postgres -d postgres -t 2 >/dev/null 2>&1
}

# postgres_start_server: start the server on the existing data directory
# and port and wait until it answers. Needs POSTGRES_RUNDIR,
# POSTGRES_DATADIR, POSTGRES_PIDFILE, POSTGRES_LOG and POSTGRES_PORT. Sets
# POSTGRES_PID.
postgres_start_server() {
	: "${POSTGRES_RUNDIR:?}" "${POSTGRES_DATADIR:?}" "${POSTGRES_PIDFILE:?}" "${POSTGRES_LOG:?}" "${POSTGRES_PORT:?}"
	_lib_start_server postgres postgres 0.1
}

# _postgres_spawn: start the server in the background and write its PID.
_postgres_spawn() {
	rm -f "$POSTGRES_PIDFILE"
	local bindir
	bindir=$(_postgres_bindir) || { _postgres_log "postgres not found"; return 1; }
	_postgres_as
	# Standard streams go to the log (opened here, by the caller): the
	# server outlives a "bash -c" caller and never holds its pipes open.
	(cd / && exec "${_postgres_as_cmd[@]}" "$bindir/postgres" -D "$POSTGRES_DATADIR" \
		-p "$POSTGRES_PORT" -c listen_addresses=127.0.0.1 \
		-c unix_socket_directories="$POSTGRES_RUNDIR" -c max_connections=200 \
		-c logging_collector=off -c log_min_messages=warning \
		</dev/null >>"$POSTGRES_LOG" 2>&1) &
	echo "$!" >"$POSTGRES_PIDFILE"
}

# postgres_stop_server: stop the server by PID with a fast shutdown
# (SIGINT: open sessions are ended, as a crash or a restart would end
# them; SIGTERM would wait for every client to disconnect), wait for it to
# exit (SIGQUIT, an immediate shutdown, after 30 s; SIGKILL after 10 more),
# keep the data directory.
postgres_stop_server() {
	local pid= i
	if _lib_alive postgres; then
		pid=$POSTGRES_PID
	elif [ -n "${POSTGRES_PID:-}" ] && _postgres_ours "$POSTGRES_PID"; then
		pid=$POSTGRES_PID
	fi
	[ -n "$pid" ] || return 0
	kill -INT "$pid" 2>/dev/null || return 0
	for i in $(seq 1 300); do
		_lib_running "$pid" || return 0
		sleep 0.1
	done
	_postgres_log "postgres (pid $pid) still running after 30 s; sending SIGQUIT"
	kill -QUIT "$pid" 2>/dev/null
	for i in $(seq 1 100); do
		_lib_running "$pid" || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	return 0
}

# postgres_start: see the top of this file. On failure it stops what it
# started and removes its files.
postgres_start() { _lib_start postgres SESSION_TEST_POSTGRES_DSN SESSION_TEST_REQUIRE_POSTGRES; }

_postgres_start() {
	local t0 t1
	t0=$(_lib_now)
	postgres_install || return 1
	t1=$(_lib_now)
	local bindir
	bindir=$(_postgres_bindir) || return 1

	local db=${POSTGRES_DATABASE:-sessions_test} user=${POSTGRES_USER:-sess} pass
	pass=$(_lib_random 12)
	POSTGRES_RUNDIR=$(mktemp -d "${TMPDIR:-/tmp}/sessionkit-postgres.XXXXXX") || return 1
	POSTGRES_RUNDIR=$(readlink -f "$POSTGRES_RUNDIR")
	export POSTGRES_RUNDIR
	_postgres_paths_from_rundir
	export POSTGRES_DATADIR POSTGRES_PIDFILE POSTGRES_LOG
	_postgres_as
	if [ "$(id -u)" = 0 ]; then
		chown "$(_postgres_os_user):" "$POSTGRES_RUNDIR" || return 1
	fi
	: >"$POSTGRES_LOG"

	# --no-sync: a test server's initdb need not wait for the disk (the
	# server itself flushes every commit, as by default).
	if ! (cd / && "${_postgres_as_cmd[@]}" "$bindir/initdb" -D "$POSTGRES_DATADIR" -U postgres \
		--auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C --no-sync \
		>"$POSTGRES_RUNDIR/initdb.log" 2>&1); then
		_postgres_log "initdb failed:"
		tail -n 20 "$POSTGRES_RUNDIR/initdb.log" >&2
		return 1
	fi

	# A fixed POSTGRES_PORT must be free; otherwise take the first free port
	# from 5433 on. A distribution cluster (5432) is left alone.
	_lib_listen postgres 5433 postgres_start_server "could not bind\|Address already in use" || return 1
	echo "$POSTGRES_PORT" >"$POSTGRES_RUNDIR/port"

	# The superuser connects over the socket (trust: only the server's user
	# and root can reach the directory); the test user with its password.
	if ! "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$POSTGRES_RUNDIR" -p "$POSTGRES_PORT" -U postgres -d postgres \
		>/dev/null <<SQL; then
CREATE ROLE "$user" LOGIN PASSWORD '$pass';
CREATE DATABASE "$db" OWNER "$user";
SQL
		_postgres_log "creating the database and user failed"
		return 1
	fi

	_lib_commands postgres "$_postgres_script"
	SESSION_TEST_POSTGRES_DSN="postgres://$user:$pass@127.0.0.1:$POSTGRES_PORT/$db?sslmode=disable"
	SESSION_TEST_POSTGRES_SOCKET_DSN="postgres://$user:$pass@/$db?host=$POSTGRES_RUNDIR&port=$POSTGRES_PORT&sslmode=disable"
	SESSION_TEST_REQUIRE_POSTGRES=1
	export SESSION_TEST_POSTGRES_DSN SESSION_TEST_POSTGRES_SOCKET_DSN SESSION_TEST_REQUIRE_POSTGRES
	_postgres_log "$("$bindir/postgres" --version | awk '{print $3}') up on 127.0.0.1:$POSTGRES_PORT (pid $POSTGRES_PID, dir $POSTGRES_RUNDIR); install $(_lib_elapsed "$t0" "$t1") s, initdb+start $(_lib_elapsed "$t1") s"
}

# postgres_stop: stop the server started by postgres_start and remove its
# files.
postgres_stop() { _lib_stop postgres; }

# Paths derived from POSTGRES_RUNDIR, for start-server and stop-server.
_postgres_paths_from_rundir() {
	: "${POSTGRES_RUNDIR:?POSTGRES_RUNDIR is not set}"
	POSTGRES_DATADIR=$POSTGRES_RUNDIR/data
	POSTGRES_PIDFILE=$POSTGRES_RUNDIR/postgres.pid
	POSTGRES_LOG=$POSTGRES_RUNDIR/postgres.log
	if [ -z "${POSTGRES_PORT:-}" ] && [ -s "$POSTGRES_RUNDIR/port" ]; then
		POSTGRES_PORT=$(cat "$POSTGRES_RUNDIR/port")
	fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	_lib_main postgres SESSION_TEST_POSTGRES_DSN "$@"
fi
