#!/usr/bin/env bash
# A private MariaDB server for the tests: its own temporary data directory,
# listening on 127.0.0.1 only, started and stopped by PID (no systemd, no
# service manager, nothing shared with a distribution instance).
#
# Sourced:
#
#	source scripts/mariadb.sh
#	mariadb_start            # install if needed, initialise, start, create db+user
#	trap mariadb_stop EXIT   # stop the server and remove its files
#
# mariadb_start exports:
#
#	SESSION_TEST_MYSQL_DSN      user:pass@tcp(127.0.0.1:PORT)/sessions_test?parseTime=true&loc=UTC&clientFoundRows=true
#	SESSION_TEST_MYSQL_SOCKET_DSN  the same, over the Unix socket: user:pass@unix(MARIADB_SOCKET)/...
#	SESSION_TEST_REQUIRE_MYSQL  1 (the MySQL tests fail instead of skipping)
#	MARIADB_PID                 PID of the mariadbd process
#	MARIADB_PORT                TCP port (default 3307, or the next free one)
#	MARIADB_RUNDIR              temporary directory holding everything below
#	MARIADB_DATADIR             data directory
#	MARIADB_SOCKET              Unix socket (root, socket authentication)
#	MARIADB_PIDFILE             PID file written by the server
#	MARIADB_LOG                 server error log
#	MARIADB_START_CMD           one-line command that starts the server again
#	                            (same data directory and port) and waits until it answers
#	MARIADB_STOP_CMD            one-line command that stops it by PID and keeps the data
#
# mariadb_stop_server and mariadb_start_server stop and restart the server
# while keeping its data directory and port; a test that takes the server
# down runs "bash -c "$MARIADB_STOP_CMD"" and "bash -c "$MARIADB_START_CMD"".
#
# If SESSION_TEST_MYSQL_DSN is already set, mariadb_start uses that server and
# starts nothing, and mariadb_stop does nothing.
#
# Run directly:
#
#	scripts/mariadb.sh install                 # install the packages if mariadbd is missing
#	scripts/mariadb.sh run CMD [ARGS...]       # start, run CMD with the variables above, stop
#	scripts/mariadb.sh start-server|stop-server   # what MARIADB_START_CMD/MARIADB_STOP_CMD run
#	scripts/mariadb.sh start-private           # start one more server, print its variables
#	MARIADB_RUNDIR=DIR scripts/mariadb.sh remove  # stop the server of DIR and remove DIR
#
# start-private ignores SESSION_TEST_MYSQL_DSN and MARIADB_PORT: it takes the
# next free port, so that a fault test can stop its own server without
# disturbing the tests that share the main one.
#
# Environment: MARIADB_PORT (fixed port: fail if it is taken), MARIADB_DATABASE
# (default sessions_test), MARIADB_USER (default sess).

_mariadb_script=$(readlink -f "${BASH_SOURCE[0]}")
# shellcheck source=lib.sh
source "$(dirname "$_mariadb_script")/lib.sh"

_mariadb_log() { _lib_log mariadb "$@"; }

# mariadb_install: install Debian's MariaDB packages when mariadbd is missing.
mariadb_install() {
	_lib_install mariadb MariaDB SESSION_TEST_MYSQL_DSN \
		"mariadbd mariadb-install-db mariadb-admin mariadb" "mariadb-server mariadb-client"
}

# _mariadb_ours PID: true if PID is a running mariadbd that uses our data
# directory.
_mariadb_ours() {
	_lib_running "$1" || return 1
	tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "--datadir=${MARIADB_DATADIR:-/nonexistent}"
}

# _mariadb_ping: true if the server answers on its socket.
_mariadb_ping() {
	"$(_lib_bin mariadb-admin)" --no-defaults --socket="$MARIADB_SOCKET" -uroot \
		--connect-timeout=2 ping >/dev/null 2>&1
}

# mariadb_start_server: start mariadbd on the existing data directory and port
# and wait until it answers. Needs MARIADB_RUNDIR, MARIADB_DATADIR, MARIADB_SOCKET,
# MARIADB_PIDFILE, MARIADB_LOG and MARIADB_PORT. Sets MARIADB_PID.
mariadb_start_server() {
	: "${MARIADB_DATADIR:?}" "${MARIADB_SOCKET:?}" "${MARIADB_PIDFILE:?}" "${MARIADB_LOG:?}" "${MARIADB_PORT:?}"
	_lib_start_server mariadb mariadbd 0.1
}

# _mariadb_spawn: start mariadbd in the background.
_mariadb_spawn() {
	rm -f "$MARIADB_PIDFILE" "$MARIADB_SOCKET" "$MARIADB_SOCKET.lock"
	local mariadbd user_opt=()
	mariadbd=$(_lib_bin mariadbd) || { _mariadb_log "mariadbd not found"; return 1; }
	[ "$(id -u)" = 0 ] && user_opt=(--user=root)
	# Standard streams go to the log: the server outlives a "bash -c" caller
	# and never holds that caller's pipes open.
	"$mariadbd" --no-defaults "${user_opt[@]}" \
		--datadir="$MARIADB_DATADIR" --socket="$MARIADB_SOCKET" \
		--port="$MARIADB_PORT" --bind-address=127.0.0.1 \
		--pid-file="$MARIADB_PIDFILE" --log-error="$MARIADB_LOG" \
		--skip-name-resolve --innodb-buffer-pool-size=64M \
		--character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
		</dev/null >>"$MARIADB_LOG" 2>&1 &
}

# mariadb_stop_server: stop the server by PID, wait for a clean shutdown
# (SIGKILL after 60 s), keep the data directory.
mariadb_stop_server() { _lib_stop_server mariadb mariadbd 60; }

# mariadb_start: see the top of this file. On failure it stops what it
# started and removes its files.
mariadb_start() { _lib_start mariadb SESSION_TEST_MYSQL_DSN SESSION_TEST_REQUIRE_MYSQL; }

_mariadb_start() {
	local t0 t1
	t0=$(_lib_now)
	mariadb_install || return 1
	t1=$(_lib_now)

	local db=${MARIADB_DATABASE:-sessions_test} user=${MARIADB_USER:-sess} pass
	pass=$(_lib_random 8)
	MARIADB_RUNDIR=$(mktemp -d "${TMPDIR:-/tmp}/sessionkit-mariadb.XXXXXX") || return 1
	export MARIADB_RUNDIR
	_mariadb_paths_from_rundir
	export MARIADB_DATADIR MARIADB_SOCKET MARIADB_PIDFILE MARIADB_LOG

	local user_opt=()
	[ "$(id -u)" = 0 ] && user_opt=(--user=root)
	if ! "$(_lib_bin mariadb-install-db)" --no-defaults "${user_opt[@]}" --datadir="$MARIADB_DATADIR" \
		--auth-root-authentication-method=socket --auth-root-socket-user="$(id -un)" \
		--skip-test-db >"$MARIADB_RUNDIR/install-db.log" 2>&1; then
		_mariadb_log "mariadb-install-db failed:"
		tail -n 20 "$MARIADB_RUNDIR/install-db.log" >&2
		return 1
	fi

	# A fixed MARIADB_PORT must be free; otherwise take the first free port
	# from 3307 on. A distribution instance (3306) is left alone.
	_lib_listen mariadb 3307 mariadb_start_server "Bind on TCP/IP port\|Address already in use" || return 1

	if ! "$(_lib_bin mariadb)" --no-defaults --socket="$MARIADB_SOCKET" -uroot <<SQL; then
CREATE DATABASE IF NOT EXISTS \`$db\`;
CREATE USER '$user'@'127.0.0.1' IDENTIFIED BY '$pass';
CREATE USER '$user'@'localhost' IDENTIFIED BY '$pass';
GRANT ALL PRIVILEGES ON \`$db\`.* TO '$user'@'127.0.0.1';
GRANT ALL PRIVILEGES ON \`$db\`.* TO '$user'@'localhost';
SQL
		_mariadb_log "creating the database and user failed"
		return 1
	fi

	_lib_commands mariadb "$_mariadb_script"
	SESSION_TEST_MYSQL_DSN="$user:$pass@tcp(127.0.0.1:$MARIADB_PORT)/$db?parseTime=true&loc=UTC&clientFoundRows=true"
	SESSION_TEST_MYSQL_SOCKET_DSN="$user:$pass@unix($MARIADB_SOCKET)/$db?parseTime=true&loc=UTC&clientFoundRows=true"
	SESSION_TEST_REQUIRE_MYSQL=1
	export SESSION_TEST_MYSQL_DSN SESSION_TEST_MYSQL_SOCKET_DSN SESSION_TEST_REQUIRE_MYSQL
	_mariadb_log "$("$(_lib_bin mariadbd)" --version | awk '{print $3}') up on 127.0.0.1:$MARIADB_PORT (pid $MARIADB_PID, dir $MARIADB_RUNDIR); install $(_lib_elapsed "$t0" "$t1") s, init+start $(_lib_elapsed "$t1") s"
}

# mariadb_stop: stop the server started by mariadb_start and remove its files.
mariadb_stop() { _lib_stop mariadb; }

# Paths derived from MARIADB_RUNDIR.
_mariadb_paths_from_rundir() {
	: "${MARIADB_RUNDIR:?MARIADB_RUNDIR is not set}"
	MARIADB_DATADIR=$MARIADB_RUNDIR/data
	MARIADB_SOCKET=$MARIADB_RUNDIR/mysqld.sock
	MARIADB_PIDFILE=$MARIADB_RUNDIR/mysqld.pid
	MARIADB_LOG=$MARIADB_RUNDIR/error.log
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	_lib_main mariadb SESSION_TEST_MYSQL_DSN "$@"
fi
