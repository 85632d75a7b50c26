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

_mariadb_log() { echo "mariadb: $*" >&2; }

_mariadb_now() { date +%s.%N; }

_mariadb_elapsed() { awk -v a="$1" -v b="$(_mariadb_now)" 'BEGIN { printf "%.1f", b - a }'; }

# _mariadb_bin NAME: the path of a MariaDB program (the server lives in /usr/sbin,
# which is not always on PATH).
_mariadb_bin() {
	local p
	if p=$(command -v "$1" 2>/dev/null); then
		echo "$p"
		return 0
	fi
	for p in /usr/sbin/"$1" /usr/bin/"$1" /usr/local/sbin/"$1" /usr/local/bin/"$1"; do
		if [ -x "$p" ]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# mariadb_install: install Debian's MariaDB packages when mariadbd is missing.
mariadb_install() {
	if _mariadb_bin mariadbd >/dev/null && _mariadb_bin mariadb-install-db >/dev/null &&
		_mariadb_bin mariadb-admin >/dev/null && _mariadb_bin mariadb >/dev/null; then
		return 0
	fi
	if ! command -v apt-get >/dev/null; then
		_mariadb_log "mariadbd is not installed and apt-get is not available; install MariaDB or set SESSION_TEST_MYSQL_DSN"
		return 1
	fi
	local sudo=
	if [ "$(id -u)" != 0 ]; then
		if command -v sudo >/dev/null; then
			sudo="sudo"
		else
			_mariadb_log "mariadbd is not installed and installing it needs root"
			return 1
		fi
	fi
	local t0
	t0=$(_mariadb_now)
	_mariadb_log "installing mariadb-server and mariadb-client from the distribution's packages"
	$sudo apt-get update -qq || { _mariadb_log "apt-get update failed"; return 1; }
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		mariadb-server mariadb-client >/dev/null ||
		{ _mariadb_log "apt-get install mariadb-server mariadb-client failed"; return 1; }
	_mariadb_bin mariadbd >/dev/null || { _mariadb_log "mariadbd still missing after install"; return 1; }
	_mariadb_log "installed in $(_mariadb_elapsed "$t0") s"
}

# _mariadb_port_busy PORT: true if something accepts connections on 127.0.0.1:PORT.
_mariadb_port_busy() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# _mariadb_alive: true if the PID in MARIADB_PIDFILE is a running mariadbd
# that uses our data directory.
# _mariadb_running PID: true if PID is a live process (a zombie, which a
# parent that never waits can leave behind, does not count).
_mariadb_running() {
	kill -0 "$1" 2>/dev/null || return 1
	local state
	state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "$state" != Z ]
}

_mariadb_alive() {
	local pid
	[ -s "$MARIADB_PIDFILE" ] || return 1
	pid=$(cat "$MARIADB_PIDFILE" 2>/dev/null) || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "--datadir=$MARIADB_DATADIR" || return 1
	MARIADB_PID=$pid
}

# _mariadb_ping: true if the server answers on its socket.
_mariadb_ping() {
	"$(_mariadb_bin mariadb-admin)" --no-defaults --socket="$MARIADB_SOCKET" -uroot \
		--connect-timeout=2 ping >/dev/null 2>&1
}

# mariadb_start_server: start mariadbd on the existing data directory and port
# and wait until it answers. Needs MARIADB_RUNDIR, MARIADB_DATADIR, MARIADB_SOCKET,
# MARIADB_PIDFILE, MARIADB_LOG and MARIADB_PORT. Sets MARIADB_PID.
mariadb_start_server() {
	: "${MARIADB_DATADIR:?}" "${MARIADB_SOCKET:?}" "${MARIADB_PIDFILE:?}" "${MARIADB_LOG:?}" "${MARIADB_PORT:?}"
	if _mariadb_alive; then
		_mariadb_log "already running (pid $MARIADB_PID)"
		return 0
	fi
	rm -f "$MARIADB_PIDFILE" "$MARIADB_SOCKET" "$MARIADB_SOCKET.lock"
	local mariadbd user_opt=()
	mariadbd=$(_mariadb_bin mariadbd) || { _mariadb_log "mariadbd not found"; return 1; }
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
	local pid=$! i
	for i in $(seq 1 300); do # up to 30 s
		if ! kill -0 "$pid" 2>/dev/null; then
			_mariadb_log "mariadbd exited during startup; last lines of $MARIADB_LOG:"
			tail -n 20 "$MARIADB_LOG" >&2
			return 1
		fi
		if _mariadb_ping; then
			MARIADB_PID=$pid
			export MARIADB_PID
			return 0
		fi
		sleep 0.1
	done
	_mariadb_log "mariadbd (pid $pid) did not answer within 30 s; stopping it; last lines of $MARIADB_LOG:"
	tail -n 20 "$MARIADB_LOG" >&2
	kill "$pid" 2>/dev/null
	return 1
}

# mariadb_stop_server: stop the server by PID, wait for a clean shutdown
# (SIGKILL after 60 s), keep the data directory.
mariadb_stop_server() {
	local pid= i
	if _mariadb_alive; then
		pid=$MARIADB_PID
	elif [ -n "${MARIADB_PID:-}" ] && kill -0 "$MARIADB_PID" 2>/dev/null &&
		tr '\0' ' ' <"/proc/$MARIADB_PID/cmdline" 2>/dev/null | grep -qF -- "--datadir=${MARIADB_DATADIR:-/nonexistent}"; then
		pid=$MARIADB_PID
	fi
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null || return 0
	for i in $(seq 1 600); do
		_mariadb_running "$pid" || return 0
		sleep 0.1
	done
	_mariadb_log "mariadbd (pid $pid) still running after 60 s; sending SIGKILL"
	kill -KILL "$pid" 2>/dev/null
	return 0
}

# _mariadb_random: 16 hex characters from /dev/urandom.
_mariadb_random() { od -An -N8 -tx1 /dev/urandom | tr -d ' \n'; }

# mariadb_start: see the top of this file. On failure it stops what it
# started and removes its files.
mariadb_start() {
	if [ -n "${SESSION_TEST_MYSQL_DSN:-}" ]; then
		_mariadb_log "SESSION_TEST_MYSQL_DSN is set: using that server, starting none"
		MARIADB_EXTERNAL=1
		export SESSION_TEST_REQUIRE_MYSQL=1
		return 0
	fi
	MARIADB_EXTERNAL=
	if ! _mariadb_start; then
		mariadb_stop
		return 1
	fi
}

_mariadb_start() {
	local t0 t1
	t0=$(_mariadb_now)
	mariadb_install || return 1
	t1=$(_mariadb_now)

	local db=${MARIADB_DATABASE:-sessions_test} user=${MARIADB_USER:-sess} pass
	pass=$(_mariadb_random)
	MARIADB_RUNDIR=$(mktemp -d "${TMPDIR:-/tmp}/sessionkit-mariadb.XXXXXX") || return 1
	MARIADB_DATADIR=$MARIADB_RUNDIR/data
	MARIADB_SOCKET=$MARIADB_RUNDIR/mysqld.sock
	MARIADB_PIDFILE=$MARIADB_RUNDIR/mysqld.pid
	MARIADB_LOG=$MARIADB_RUNDIR/error.log
	export MARIADB_RUNDIR MARIADB_DATADIR MARIADB_SOCKET MARIADB_PIDFILE MARIADB_LOG

	local user_opt=()
	[ "$(id -u)" = 0 ] && user_opt=(--user=root)
	if ! "$(_mariadb_bin mariadb-install-db)" --no-defaults "${user_opt[@]}" --datadir="$MARIADB_DATADIR" \
		--auth-root-authentication-method=socket --auth-root-socket-user="$(id -un)" \
		--skip-test-db >"$MARIADB_RUNDIR/install-db.log" 2>&1; then
		_mariadb_log "mariadb-install-db failed:"
		tail -n 20 "$MARIADB_RUNDIR/install-db.log" >&2
		return 1
	fi

	# A fixed MARIADB_PORT must be free; otherwise take the first free port
	# from 3307 on. A distribution instance (3306) is left alone.
	local fixed=${MARIADB_PORT:-} port tries
	if [ -n "$fixed" ]; then
		if _mariadb_port_busy "$fixed"; then
			_mariadb_log "port $fixed (MARIADB_PORT) is already in use"
			return 1
		fi
		MARIADB_PORT=$fixed
		export MARIADB_PORT
		mariadb_start_server || return 1
	else
		port=3307
		for tries in $(seq 1 20); do
			while _mariadb_port_busy "$port"; do port=$((port + 1)); done
			MARIADB_PORT=$port
			export MARIADB_PORT
			if mariadb_start_server; then
				break
			fi
			# Lost a race for the port to another process: try the next one.
			if grep -q "Bind on TCP/IP port\|Address already in use" "$MARIADB_LOG" 2>/dev/null; then
				port=$((port + 1))
				continue
			fi
			return 1
		done
		_mariadb_alive || { _mariadb_log "no free port found"; return 1; }
	fi

	if ! "$(_mariadb_bin mariadb)" --no-defaults --socket="$MARIADB_SOCKET" -uroot <<SQL; then
CREATE DATABASE IF NOT EXISTS \`$db\`;
CREATE USER '$user'@'127.0.0.1' IDENTIFIED BY '$pass';
CREATE USER '$user'@'localhost' IDENTIFIED BY '$pass';
GRANT ALL PRIVILEGES ON \`$db\`.* TO '$user'@'127.0.0.1';
GRANT ALL PRIVILEGES ON \`$db\`.* TO '$user'@'localhost';
SQL
		_mariadb_log "creating the database and user failed"
		return 1
	fi

	local q
	q=$(printf '%q' "$_mariadb_script")
	MARIADB_START_CMD="MARIADB_RUNDIR=$(printf '%q' "$MARIADB_RUNDIR") MARIADB_PORT=$MARIADB_PORT bash $q start-server"
	MARIADB_STOP_CMD="MARIADB_RUNDIR=$(printf '%q' "$MARIADB_RUNDIR") bash $q stop-server"
	SESSION_TEST_MYSQL_DSN="$user:$pass@tcp(127.0.0.1:$MARIADB_PORT)/$db?parseTime=true&loc=UTC&clientFoundRows=true"
	SESSION_TEST_REQUIRE_MYSQL=1
	export MARIADB_START_CMD MARIADB_STOP_CMD SESSION_TEST_MYSQL_DSN SESSION_TEST_REQUIRE_MYSQL
	_mariadb_log "$("$(_mariadb_bin mariadbd)" --version | awk '{print $3}') up on 127.0.0.1:$MARIADB_PORT (pid $MARIADB_PID, dir $MARIADB_RUNDIR); install $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s, init+start $(_mariadb_elapsed "$t1") s"
}

# mariadb_stop: stop the server started by mariadb_start and remove its files.
mariadb_stop() {
	if [ -n "${MARIADB_EXTERNAL:-}" ] || [ -z "${MARIADB_RUNDIR:-}" ]; then
		return 0
	fi
	mariadb_stop_server
	case "$MARIADB_RUNDIR" in
	*/sessionkit-mariadb.*) rm -rf "$MARIADB_RUNDIR" ;;
	esac
	MARIADB_RUNDIR=
	return 0
}

# Paths derived from MARIADB_RUNDIR, for start-server and stop-server.
_mariadb_paths_from_rundir() {
	: "${MARIADB_RUNDIR:?MARIADB_RUNDIR is not set}"
	MARIADB_DATADIR=$MARIADB_RUNDIR/data
	MARIADB_SOCKET=$MARIADB_RUNDIR/mysqld.sock
	MARIADB_PIDFILE=$MARIADB_RUNDIR/mysqld.pid
	MARIADB_LOG=$MARIADB_RUNDIR/error.log
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	case "${1:-}" in
	install)
		mariadb_install
		;;
	start-server)
		_mariadb_paths_from_rundir
		mariadb_start_server
		;;
	stop-server)
		_mariadb_paths_from_rundir
		mariadb_stop_server
		;;
	start-private)
		unset SESSION_TEST_MYSQL_DSN MARIADB_PORT MARIADB_PID MARIADB_RUNDIR MARIADB_EXTERNAL
		mariadb_start >&2
		for v in SESSION_TEST_MYSQL_DSN MARIADB_PID MARIADB_PORT MARIADB_RUNDIR MARIADB_START_CMD MARIADB_STOP_CMD; do
			printf '%s=%s\n' "$v" "${!v}"
		done
		;;
	remove)
		_mariadb_paths_from_rundir
		mariadb_stop
		;;
	run)
		shift
		[ $# -gt 0 ] || { echo "usage: $0 run CMD [ARGS...]" >&2; exit 2; }
		trap mariadb_stop EXIT
		mariadb_start
		"$@"
		;;
	*)
		echo "usage: $0 install | run CMD [ARGS...] | start-server | stop-server | start-private | remove (or source it)" >&2
		exit 2
		;;
	esac
fi
