#!/usr/bin/env bash
# A private Redis server for the tests: its own temporary directory, no
# persistence (no RDB snapshots, no append-only file), listening on
# 127.0.0.1 only with a random password, started and stopped by PID (no
# systemd, no service manager, nothing shared with a distribution instance).
#
# Sourced:
#
#	source scripts/redis.sh
#	redis_start              # install if needed, start, wait for PING
#	trap redis_stop EXIT     # stop the server and remove its files
#
# redis_start exports:
#
#	SESSION_TEST_REDIS_URL      redis://:PASSWORD@127.0.0.1:PORT/0
#	SESSION_TEST_REQUIRE_REDIS  1 (the Redis tests fail instead of skipping)
#	REDIS_PID                   PID of the redis-server process
#	REDIS_PORT                  TCP port (default 6380, or the next free one)
#	REDIS_RUNDIR                temporary directory holding everything below
#	                            (also the server's working directory)
#	REDIS_CONF                  configuration file the server runs with
#	REDIS_PIDFILE               PID file written by the server
#	REDIS_LOG                   server log
#	REDIS_START_CMD             one-line command that starts the server again
#	                            (same directory and port) and waits until it answers
#	REDIS_STOP_CMD              one-line command that stops it by PID
#
# redis_stop_server and redis_start_server stop and restart the server while
# keeping its directory and port; a test that takes the server down runs
# "bash -c "$REDIS_STOP_CMD"" and "bash -c "$REDIS_START_CMD"". The server
# keeps nothing on disk, so a restarted server is empty.
#
# If SESSION_TEST_REDIS_URL is already set, redis_start uses that server and
# starts nothing, and redis_stop does nothing.
#
# Run directly:
#
#	scripts/redis.sh install                   # install the packages if redis-server is missing
#	scripts/redis.sh run CMD [ARGS...]         # start, run CMD with the variables above, stop
#	scripts/redis.sh start-server|stop-server  # what REDIS_START_CMD/REDIS_STOP_CMD run
#	scripts/redis.sh start-private             # start one more server, print its variables
#	                                           # (NAME=value lines) and leave it running
#	REDIS_RUNDIR=DIR scripts/redis.sh remove   # stop the server of DIR and remove DIR
#
# start-private ignores SESSION_TEST_REDIS_URL and REDIS_PORT (it takes the
# first free port from 6380 on): a test that takes a server
# down starts its own with it, so that the tests sharing the first server go
# on undisturbed.
#
# Environment: REDIS_PORT (fixed port: fail if it is taken).

_redis_script=$(readlink -f "${BASH_SOURCE[0]}")

_redis_log() { echo "redis: $*" >&2; }

_redis_now() { date +%s.%N; }

_redis_elapsed() { awk -v a="$1" -v b="$(_redis_now)" 'BEGIN { printf "%.1f", b - a }'; }

# _redis_bin NAME: the path of a Redis program.
_redis_bin() {
	local p
	if p=$(command -v "$1" 2>/dev/null); then
		echo "$p"
		return 0
	fi
	for p in /usr/bin/"$1" /usr/sbin/"$1" /usr/local/bin/"$1" /usr/local/sbin/"$1"; do
		if [ -x "$p" ]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# redis_install: install Debian's redis-server package (which brings
# redis-cli) when redis-server or redis-cli is missing.
redis_install() {
	if _redis_bin redis-server >/dev/null && _redis_bin redis-cli >/dev/null; then
		return 0
	fi
	if ! command -v apt-get >/dev/null; then
		_redis_log "redis-server is not installed and apt-get is not available; install Redis or set SESSION_TEST_REDIS_URL"
		return 1
	fi
	local sudo=
	if [ "$(id -u)" != 0 ]; then
		if command -v sudo >/dev/null; then
			sudo="sudo"
		else
			_redis_log "redis-server is not installed and installing it needs root"
			return 1
		fi
	fi
	local t0
	t0=$(_redis_now)
	_redis_log "installing redis-server from the distribution's packages"
	$sudo apt-get update -qq || { _redis_log "apt-get update failed"; return 1; }
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		redis-server redis-tools >/dev/null ||
		{ _redis_log "apt-get install redis-server redis-tools failed"; return 1; }
	_redis_bin redis-server >/dev/null || { _redis_log "redis-server still missing after install"; return 1; }
	_redis_log "installed in $(_redis_elapsed "$t0") s"
}

# _redis_port_busy PORT: true if something accepts connections on 127.0.0.1:PORT.
_redis_port_busy() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# _redis_running PID: true if PID is a live process (a zombie, which a
# parent that never waits can leave behind, does not count).
_redis_running() {
	kill -0 "$1" 2>/dev/null || return 1
	local state
	state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "$state" != Z ]
}

# _redis_ours PID: true if PID is a running redis-server working in our
# directory. Redis rewrites its command line (the process title), so the
# working directory, which the configuration sets to REDIS_RUNDIR,
# identifies it.
_redis_ours() {
	_redis_running "$1" || return 1
	[ "$(readlink "/proc/$1/cwd" 2>/dev/null)" = "$(readlink -f "$REDIS_RUNDIR")" ]
}

# _redis_alive: true if the PID in REDIS_PIDFILE is our running server.
_redis_alive() {
	local pid
	[ -s "$REDIS_PIDFILE" ] || return 1
	pid=$(cat "$REDIS_PIDFILE" 2>/dev/null) || return 1
	[ -n "$pid" ] && _redis_ours "$pid" || return 1
	REDIS_PID=$pid
}

# _redis_ping: true if the server answers PING.
_redis_ping() {
	local out
	out=$(REDISCLI_AUTH=$(cat "$REDIS_RUNDIR/password") "$(_redis_bin redis-cli)" \
		-h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) || return 1
	[ "$out" = PONG ]
}

# redis_start_server: start redis-server with the configuration in
# REDIS_RUNDIR and wait until it answers. Needs REDIS_RUNDIR (with redis.conf
# and password in it), REDIS_CONF, REDIS_PIDFILE, REDIS_LOG and REDIS_PORT.
# Sets REDIS_PID.
redis_start_server() {
	: "${REDIS_RUNDIR:?}" "${REDIS_CONF:?}" "${REDIS_PIDFILE:?}" "${REDIS_LOG:?}" "${REDIS_PORT:?}"
	if _redis_alive; then
		_redis_log "already running (pid $REDIS_PID)"
		return 0
	fi
	rm -f "$REDIS_PIDFILE"
	local server
	server=$(_redis_bin redis-server) || { _redis_log "redis-server not found"; return 1; }
	# Standard streams go to the log: the server outlives a "bash -c" caller
	# and never holds that caller's pipes open.
	(cd "$REDIS_RUNDIR" && exec "$server" "$REDIS_CONF" </dev/null >>"$REDIS_LOG" 2>&1) &
	local pid=$! i
	for i in $(seq 1 300); do # up to 30 s
		if ! kill -0 "$pid" 2>/dev/null; then
			_redis_log "redis-server exited during startup; last lines of $REDIS_LOG:"
			tail -n 20 "$REDIS_LOG" >&2
			return 1
		fi
		if _redis_ping; then
			REDIS_PID=$pid
			export REDIS_PID
			return 0
		fi
		sleep 0.05
	done
	_redis_log "redis-server (pid $pid) did not answer within 30 s; stopping it; last lines of $REDIS_LOG:"
	tail -n 20 "$REDIS_LOG" >&2
	kill "$pid" 2>/dev/null
	return 1
}

# redis_stop_server: stop the server by PID and wait for it to exit
# (SIGKILL after 30 s). The directory stays.
redis_stop_server() {
	local pid= i
	if _redis_alive; then
		pid=$REDIS_PID
	elif [ -n "${REDIS_PID:-}" ] && [ -n "${REDIS_RUNDIR:-}" ] && _redis_ours "$REDIS_PID"; then
		pid=$REDIS_PID
	fi
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null || return 0
	for i in $(seq 1 300); do
		_redis_running "$pid" || return 0
		sleep 0.1
	done
	_redis_log "redis-server (pid $pid) still running after 30 s; sending SIGKILL"
	kill -KILL "$pid" 2>/dev/null
	return 0
}

# _redis_random: 32 hex characters from /dev/urandom.
_redis_random() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }

# redis_start: see the top of this file. On failure it stops what it
# started and removes its files.
redis_start() {
	if [ -n "${SESSION_TEST_REDIS_URL:-}" ]; then
		_redis_log "SESSION_TEST_REDIS_URL is set: using that server, starting none"
		REDIS_EXTERNAL=1
		export SESSION_TEST_REQUIRE_REDIS=1
		return 0
	fi
	REDIS_EXTERNAL=
	if ! _redis_start; then
		redis_stop
		return 1
	fi
}

# _redis_write_conf: write the configuration for REDIS_PORT.
_redis_write_conf() {
	local pass
	pass=$(cat "$REDIS_RUNDIR/password")
	cat >"$REDIS_CONF" <<CONF
bind 127.0.0.1
port $REDIS_PORT
protected-mode yes
requirepass $pass
daemonize no
save ""
appendonly no
dir $REDIS_RUNDIR
pidfile $REDIS_PIDFILE
logfile ""
CONF
}

_redis_start() {
	local t0 t1
	t0=$(_redis_now)
	redis_install || return 1
	t1=$(_redis_now)

	REDIS_RUNDIR=$(mktemp -d "${TMPDIR:-/tmp}/sessionkit-redis.XXXXXX") || return 1
	REDIS_RUNDIR=$(readlink -f "$REDIS_RUNDIR")
	REDIS_CONF=$REDIS_RUNDIR/redis.conf
	REDIS_PIDFILE=$REDIS_RUNDIR/redis.pid
	REDIS_LOG=$REDIS_RUNDIR/redis.log
	export REDIS_RUNDIR REDIS_CONF REDIS_PIDFILE REDIS_LOG
	(umask 077 && _redis_random >"$REDIS_RUNDIR/password") || return 1

	# A fixed REDIS_PORT must be free; otherwise take the first free port
	# from 6380 on. A distribution instance (6379) is left alone.
	local fixed=${REDIS_PORT:-} port tries
	if [ -n "$fixed" ]; then
		if _redis_port_busy "$fixed"; then
			_redis_log "port $fixed (REDIS_PORT) is already in use"
			return 1
		fi
		REDIS_PORT=$fixed
		export REDIS_PORT
		_redis_write_conf || return 1
		redis_start_server || return 1
	else
		port=6380
		for tries in $(seq 1 20); do
			while _redis_port_busy "$port"; do port=$((port + 1)); done
			REDIS_PORT=$port
			export REDIS_PORT
			_redis_write_conf || return 1
			if redis_start_server; then
				break
			fi
			# Lost a race for the port to another process: try the next one.
			if grep -q "Address already in use" "$REDIS_LOG" 2>/dev/null; then
				port=$((port + 1))
				continue
			fi
			return 1
		done
		_redis_alive || { _redis_log "no free port found"; return 1; }
	fi

	local q
	q=$(printf '%q' "$_redis_script")
	REDIS_START_CMD="REDIS_RUNDIR=$(printf '%q' "$REDIS_RUNDIR") REDIS_PORT=$REDIS_PORT bash $q start-server"
	REDIS_STOP_CMD="REDIS_RUNDIR=$(printf '%q' "$REDIS_RUNDIR") bash $q stop-server"
	SESSION_TEST_REDIS_URL="redis://:$(cat "$REDIS_RUNDIR/password")@127.0.0.1:$REDIS_PORT/0"
	SESSION_TEST_REQUIRE_REDIS=1
	export REDIS_START_CMD REDIS_STOP_CMD SESSION_TEST_REDIS_URL SESSION_TEST_REQUIRE_REDIS
	_redis_log "$("$(_redis_bin redis-server)" --version | awk '{print $3}' | sed 's/^v=//') up on 127.0.0.1:$REDIS_PORT (pid $REDIS_PID, dir $REDIS_RUNDIR); install $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s, start $(_redis_elapsed "$t1") s"
}

# redis_stop: stop the server started by redis_start and remove its files.
redis_stop() {
	if [ -n "${REDIS_EXTERNAL:-}" ] || [ -z "${REDIS_RUNDIR:-}" ]; then
		return 0
	fi
	redis_stop_server
	case "$REDIS_RUNDIR" in
	*/sessionkit-redis.*) rm -rf "$REDIS_RUNDIR" ;;
	esac
	REDIS_RUNDIR=
	return 0
}

# Paths derived from REDIS_RUNDIR, for start-server and stop-server.
_redis_paths_from_rundir() {
	: "${REDIS_RUNDIR:?REDIS_RUNDIR is not set}"
	REDIS_CONF=$REDIS_RUNDIR/redis.conf
	REDIS_PIDFILE=$REDIS_RUNDIR/redis.pid
	REDIS_LOG=$REDIS_RUNDIR/redis.log
	if [ -z "${REDIS_PORT:-}" ]; then
		REDIS_PORT=$(awk '$1 == "port" { print $2 }' "$REDIS_CONF" 2>/dev/null)
	fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	case "${1:-}" in
	install)
		redis_install
		;;
	start-server)
		_redis_paths_from_rundir
		redis_start_server
		;;
	stop-server)
		_redis_paths_from_rundir
		redis_stop_server
		;;
	start-private)
		# A new server: nothing of the one this environment may describe.
		unset SESSION_TEST_REDIS_URL REDIS_PORT REDIS_PID REDIS_RUNDIR REDIS_CONF REDIS_PIDFILE REDIS_LOG REDIS_EXTERNAL
		redis_start >&2
		for v in SESSION_TEST_REDIS_URL REDIS_PID REDIS_PORT REDIS_RUNDIR REDIS_START_CMD REDIS_STOP_CMD; do
			printf '%s=%s\n' "$v" "${!v}"
		done
		;;
	remove)
		_redis_paths_from_rundir
		redis_stop
		;;
	run)
		shift
		[ $# -gt 0 ] || { echo "usage: $0 run CMD [ARGS...]" >&2; exit 2; }
		trap redis_stop EXIT
		redis_start
		"$@"
		;;
	*)
		echo "usage: $0 install | run CMD [ARGS...] | start-server | stop-server | start-private | remove (or source it)" >&2
		exit 2
		;;
	esac
fi
