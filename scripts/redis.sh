#!/usr/bin/env bash
# A private Redis server for the tests: its own temporary directory, no
# persistence (no RDB snapshots, no append-only file), listening on
# 127.0.0.1 and on a Unix socket in its directory, with a random password,
# started and stopped by PID (no systemd, no service manager, nothing
# shared with a distribution instance).
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
#	SESSION_TEST_REDIS_SOCKET_URL  the same, over the Unix socket:
#	                            unix://:PASSWORD@REDIS_RUNDIR/redis.sock?db=0
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
# keeps nothing on disk, so a restarted server is empty; with REDIS_PERSIST=1
# at start (or start-private) it keeps an append-only file, written on every
# command, and a restarted server comes back with its data, as Debian's
# stock Redis does.
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
# shellcheck source=lib.sh
source "$(dirname "$_redis_script")/lib.sh"

_redis_log() { _lib_log redis "$@"; }

# redis_install: install Debian's redis-server package (which brings
# redis-cli) when redis-server or redis-cli is missing.
redis_install() {
	_lib_install redis Redis SESSION_TEST_REDIS_URL "redis-server redis-cli" "redis-server redis-tools"
}

# _redis_ours PID: true if PID is a running redis-server working in our
# directory. Redis rewrites its command line (the process title), so the
# working directory, which the configuration sets to REDIS_RUNDIR,
# identifies it.
_redis_ours() {
	[ -n "${REDIS_RUNDIR:-}" ] && _lib_running "$1" || return 1
	[ "$(readlink "/proc/$1/cwd" 2>/dev/null)" = "$(readlink -f "$REDIS_RUNDIR")" ]
}

# _redis_ping: true if the server answers PING.
_redis_ping() {
	local out
	out=$(REDISCLI_AUTH=$(cat "$REDIS_RUNDIR/password") "$(_lib_bin redis-cli)" \
		-h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) || return 1
	[ "$out" = PONG ]
}

# redis_start_server: start redis-server with the configuration in
# REDIS_RUNDIR and wait until it answers. Needs REDIS_RUNDIR (with redis.conf
# and password in it), REDIS_CONF, REDIS_PIDFILE, REDIS_LOG and REDIS_PORT.
# Sets REDIS_PID.
redis_start_server() {
	: "${REDIS_RUNDIR:?}" "${REDIS_CONF:?}" "${REDIS_PIDFILE:?}" "${REDIS_LOG:?}" "${REDIS_PORT:?}"
	_lib_start_server redis redis-server 0.05
}

# _redis_spawn: start redis-server in the background, in REDIS_RUNDIR.
_redis_spawn() {
	rm -f "$REDIS_PIDFILE"
	local server
	server=$(_lib_bin redis-server) || { _redis_log "redis-server not found"; return 1; }
	# Standard streams go to the log: the server outlives a "bash -c" caller
	# and never holds that caller's pipes open.
	(cd "$REDIS_RUNDIR" && exec "$server" "$REDIS_CONF" </dev/null >>"$REDIS_LOG" 2>&1) &
}

# redis_stop_server: stop the server by PID and wait for it to exit
# (SIGKILL after 30 s). The directory stays.
redis_stop_server() { _lib_stop_server redis redis-server 30; }

# redis_start: see the top of this file. On failure it stops what it
# started and removes its files.
redis_start() { _lib_start redis SESSION_TEST_REDIS_URL SESSION_TEST_REQUIRE_REDIS; }

# _redis_launch: write the configuration for REDIS_PORT and start the
# server with it.
_redis_launch() {
	local pass
	pass=$(cat "$REDIS_RUNDIR/password") || return 1
	cat >"$REDIS_CONF" <<CONF || return 1
bind 127.0.0.1
port $REDIS_PORT
unixsocket $REDIS_RUNDIR/redis.sock
unixsocketperm 700
protected-mode yes
requirepass $pass
daemonize no
save ""
appendonly $([ "${REDIS_PERSIST:-}" = 1 ] && echo yes || echo no)
appendfsync always
dir $REDIS_RUNDIR
pidfile $REDIS_PIDFILE
logfile ""
CONF
	redis_start_server
}

_redis_start() {
	local t0 t1
	t0=$(_lib_now)
	redis_install || return 1
	t1=$(_lib_now)

	REDIS_RUNDIR=$(mktemp -d "${TMPDIR:-/tmp}/sessionkit-redis.XXXXXX") || return 1
	REDIS_RUNDIR=$(readlink -f "$REDIS_RUNDIR")
	REDIS_CONF=$REDIS_RUNDIR/redis.conf
	REDIS_PIDFILE=$REDIS_RUNDIR/redis.pid
	REDIS_LOG=$REDIS_RUNDIR/redis.log
	export REDIS_RUNDIR REDIS_CONF REDIS_PIDFILE REDIS_LOG
	(umask 077 && _lib_random 16 >"$REDIS_RUNDIR/password") || return 1

	# A fixed REDIS_PORT must be free; otherwise take the first free port
	# from 6380 on. A distribution instance (6379) is left alone.
	_lib_listen redis 6380 _redis_launch "Address already in use" || return 1

	_lib_commands redis "$_redis_script"
	SESSION_TEST_REDIS_URL="redis://:$(cat "$REDIS_RUNDIR/password")@127.0.0.1:$REDIS_PORT/0"
	SESSION_TEST_REDIS_SOCKET_URL="unix://:$(cat "$REDIS_RUNDIR/password")@$REDIS_RUNDIR/redis.sock?db=0"
	SESSION_TEST_REQUIRE_REDIS=1
	export SESSION_TEST_REDIS_URL SESSION_TEST_REDIS_SOCKET_URL SESSION_TEST_REQUIRE_REDIS
	_redis_log "$("$(_lib_bin redis-server)" --version | awk '{print $3}' | sed 's/^v=//') up on 127.0.0.1:$REDIS_PORT (pid $REDIS_PID, dir $REDIS_RUNDIR); install $(_lib_elapsed "$t0" "$t1") s, start $(_lib_elapsed "$t1") s"
}

# redis_stop: stop the server started by redis_start and remove its files.
redis_stop() { _lib_stop redis; }

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
	_lib_main redis SESSION_TEST_REDIS_URL "$@"
fi
