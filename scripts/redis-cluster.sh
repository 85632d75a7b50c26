#!/usr/bin/env bash
# A private Redis Cluster for the tests: six redis-server processes (three
# masters with one replica each, made by `redis-cli --cluster create
# --cluster-replicas 1`), in one temporary directory, listening on free
# ports of 127.0.0.1 (each with its cluster bus on PORT+10000), with one
# random password (requirepass, and masterauth for the replicas), started
# and stopped by PID (no systemd, no service manager, nothing shared with a
# distribution instance or with scripts/redis.sh's server).
#
# The nodes declare each other failed after cluster-node-timeout (1000 ms),
# so a replica takes over from a master killed with SIGKILL within about
# two seconds. They keep nothing on disk but the cluster's own nodes.conf:
# see "Persistence" below.
#
# Sourced:
#
#	source scripts/redis-cluster.sh
#	redis_cluster_start          # install if needed, start, create, wait for cluster_state:ok
#	trap redis_cluster_stop EXIT # stop every node and remove the files
#
# redis_cluster_start exports:
#
#	SESSION_TEST_REDIS_CLUSTER_URL       redis://:PASSWORD@127.0.0.1:PORT1?addr=127.0.0.1:PORT2&addr=...
#	                                     (every node, in goredis.ParseClusterURL's form)
#	SESSION_TEST_REDIS_CLUSTER_ADDRS     127.0.0.1:PORT1,127.0.0.1:PORT2,... (every node)
#	SESSION_TEST_REDIS_CLUSTER_PASSWORD  the password
#	SESSION_TEST_REQUIRE_REDIS_CLUSTER   1 (the cluster tests fail instead of skipping)
#	REDIS_CLUSTER_RUNDIR                 temporary directory holding everything: a
#	                                     directory node-PORT per node (its redis.conf,
#	                                     redis.pid, redis.log, nodes.conf), the
#	                                     password, and ports (one port a line)
#	REDIS_CLUSTER_PORTS                  the nodes' ports, space-separated
#	REDIS_CLUSTER_PIDS                   their PIDs at start, space-separated (each
#	                                     node's current PID is in node-PORT/redis.pid)
#	REDIS_CLUSTER_START_CMD              one-line command that starts every stopped node
#	                                     again and waits for cluster_state:ok
#	REDIS_CLUSTER_STOP_CMD               one-line command that stops every node by PID
#	REDIS_CLUSTER_KILL_MASTER_CMD        one-line command that kills, with SIGKILL, the
#	                                     master serving a slot (argument: the slot,
#	                                     default 0) and prints its port and the time
#	                                     of the kill in Unix nanoseconds ("7380 1767...")
#	REDIS_CLUSTER_WAIT_REPLACED_CMD      one-line command that waits, up to 60 s, until
#	                                     a node (argument: its port) no longer serves
#	                                     slots: until its replica has taken over
#	REDIS_CLUSTER_START_NODE_CMD         one-line command that starts one node again
#	                                     (argument: its port) and waits until it is
#	                                     back in the cluster (a killed master that was
#	                                     replaced comes back as a replica and syncs)
#
# A fault test starts a cluster of its own with start-private, so that the
# tests sharing the first one go on undisturbed, kills a master with
# "bash -c "$REDIS_CLUSTER_KILL_MASTER_CMD 0"" and may bring it back with
# "bash -c "$REDIS_CLUSTER_START_NODE_CMD PORT"".
#
# Persistence: the nodes write no RDB snapshot and, unless
# REDIS_CLUSTER_PERSIST=1 at start, no append-only file. That does not
# matter to a master that is killed and replaced by its replica: when it
# comes back, it learns that its slots have a newer owner, becomes that
# node's replica and copies its data, whatever it had on disk. It matters
# to a master that restarts before its replica has taken over (under
# cluster-node-timeout): without an append-only file it comes back empty,
# still the master of its slots, and its replica then copies the empty data
# set. With REDIS_CLUSTER_PERSIST=1 each node keeps an append-only file,
# written on every command (appendfsync always), as a production cluster
# whose masters may restart quickly should.
#
# If SESSION_TEST_REDIS_CLUSTER_URL is already set, redis_cluster_start uses
# that cluster and starts nothing, and redis_cluster_stop does nothing.
#
# Run directly:
#
#	scripts/redis-cluster.sh install                 # install the packages if redis-server is missing
#	scripts/redis-cluster.sh run CMD [ARGS...]       # start, run CMD with the variables above, stop
#	scripts/redis-cluster.sh start-private           # start one more cluster, print its variables
#	                                                 # (NAME=value lines) and leave it running
#	REDIS_CLUSTER_RUNDIR=DIR scripts/redis-cluster.sh remove            # stop the nodes of DIR, remove DIR
#	REDIS_CLUSTER_RUNDIR=DIR scripts/redis-cluster.sh start-server|stop-server
#	REDIS_CLUSTER_RUNDIR=DIR scripts/redis-cluster.sh kill-master [SLOT]
#	REDIS_CLUSTER_RUNDIR=DIR scripts/redis-cluster.sh start-node PORT
#	REDIS_CLUSTER_RUNDIR=DIR scripts/redis-cluster.sh wait-replaced PORT
#	REDIS_CLUSTER_RUNDIR=DIR scripts/redis-cluster.sh wait-ok          # wait for cluster_state:ok on every live node
#
# Environment: REDIS_CLUSTER_PERSIST (1: append-only files, see above),
# REDIS_CLUSTER_NODE_TIMEOUT (cluster-node-timeout in ms, default 1000).

_redis_cluster_script=$(readlink -f "${BASH_SOURCE[0]}")
# shellcheck source=lib.sh
source "$(dirname "$_redis_cluster_script")/lib.sh"

_redis_cluster_log() { _lib_log redis_cluster "$@"; }

# redis_cluster_install: install Debian's redis-server package (which brings
# redis-cli) when redis-server or redis-cli is missing.
redis_cluster_install() {
	_lib_install redis_cluster Redis SESSION_TEST_REDIS_CLUSTER_URL "redis-server redis-cli" "redis-server redis-tools"
}

# _redis_cluster_cli PORT ARGS...: redis-cli on the node at PORT, with the
# password.
_redis_cluster_cli() {
	local port=$1
	shift
	REDISCLI_AUTH=$(cat "$REDIS_CLUSTER_RUNDIR/password") "$(_lib_bin redis-cli)" \
		-h 127.0.0.1 -p "$port" "$@" 2>/dev/null
}

# _redis_cluster_node PORT: point REDIS_CLUSTER_PORT, _NODEDIR, _CONF,
# _PIDFILE and _LOG at the node on PORT, for the functions of lib.sh, which
# handle one server at a time.
_redis_cluster_node() {
	REDIS_CLUSTER_PORT=$1
	REDIS_CLUSTER_NODEDIR=$REDIS_CLUSTER_RUNDIR/node-$1
	REDIS_CLUSTER_CONF=$REDIS_CLUSTER_NODEDIR/redis.conf
	REDIS_CLUSTER_PIDFILE=$REDIS_CLUSTER_NODEDIR/redis.pid
	REDIS_CLUSTER_LOG=$REDIS_CLUSTER_NODEDIR/redis.log
}

# _redis_cluster_ports: the nodes' ports, one a line.
_redis_cluster_ports() { cat "$REDIS_CLUSTER_RUNDIR/ports" 2>/dev/null; }

# _redis_cluster_ours PID: true if PID is a running redis-server working in
# the current node's directory (Redis rewrites its command line; the
# configuration sets its working directory).
_redis_cluster_ours() {
	[ -n "${REDIS_CLUSTER_NODEDIR:-}" ] && _lib_running "$1" || return 1
	[ "$(readlink "/proc/$1/cwd" 2>/dev/null)" = "$(readlink -f "$REDIS_CLUSTER_NODEDIR")" ]
}

# _redis_cluster_ping: true if the current node answers PING.
_redis_cluster_ping() {
	[ "$(_redis_cluster_cli "$REDIS_CLUSTER_PORT" ping)" = PONG ]
}

# _redis_cluster_spawn: start the current node in the background.
_redis_cluster_spawn() {
	rm -f "$REDIS_CLUSTER_PIDFILE"
	local server
	server=$(_lib_bin redis-server) || { _redis_cluster_log "redis-server not found"; return 1; }
	# Standard streams go to the log: the server outlives a "bash -c" caller
	# and never holds that caller's pipes open.
	(cd "$REDIS_CLUSTER_NODEDIR" && exec "$server" "$REDIS_CLUSTER_CONF" </dev/null >>"$REDIS_CLUSTER_LOG" 2>&1) &
}

# _redis_cluster_start_node PORT: start the node on PORT with its existing
# configuration (unless it is running) and wait until it answers PING.
_redis_cluster_start_node() {
	_redis_cluster_node "$1"
	_lib_start_server redis_cluster redis-server 0.05
}

# _redis_cluster_stop_node PORT: stop the node on PORT by PID (SIGKILL after
# 30 s).
_redis_cluster_stop_node() {
	_redis_cluster_node "$1"
	unset REDIS_CLUSTER_PID
	_lib_stop_server redis_cluster redis-server 30
}

# _redis_cluster_launch: write the configuration of a new node on
# REDIS_CLUSTER_PORT and start it (for _lib_listen, which picks the port).
_redis_cluster_launch() {
	local pass bus=$((REDIS_CLUSTER_PORT + 10000))
	if _lib_port_busy "$bus"; then
		# Its cluster bus port is taken: let _lib_listen try the next.
		_redis_cluster_node "$REDIS_CLUSTER_PORT"
		mkdir -p "$REDIS_CLUSTER_NODEDIR" && echo "bus port $bus: Address already in use" >"$REDIS_CLUSTER_LOG"
		return 1
	fi
	_redis_cluster_node "$REDIS_CLUSTER_PORT"
	mkdir -p "$REDIS_CLUSTER_NODEDIR" || return 1
	pass=$(cat "$REDIS_CLUSTER_RUNDIR/password") || return 1
	cat >"$REDIS_CLUSTER_CONF" <<CONF || return 1
bind 127.0.0.1
port $REDIS_CLUSTER_PORT
cluster-port $bus
protected-mode yes
requirepass $pass
masterauth $pass
daemonize no
save ""
appendonly $([ "${REDIS_CLUSTER_PERSIST:-}" = 1 ] && echo yes || echo no)
appendfsync always
dir $REDIS_CLUSTER_NODEDIR
pidfile $REDIS_CLUSTER_PIDFILE
logfile ""
cluster-enabled yes
cluster-config-file nodes.conf
repl-diskless-sync-delay 0
cluster-node-timeout ${REDIS_CLUSTER_NODE_TIMEOUT:-1000}
CONF
	_lib_start_server redis_cluster redis-server 0.05
}

# _redis_cluster_field PORT "SECTION" FIELD: the value of FIELD in the
# node's answer to SECTION ("cluster info" or "info replication").
_redis_cluster_field() {
	local port=$1 section=$2 field=$3
	# shellcheck disable=SC2086 # SECTION is a command of two words
	_redis_cluster_cli "$port" $section | tr -d '\r' | awk -F: -v f="$field" '$1 == f { print $2 }'
}

# _redis_cluster_node_ok PORT: true if the node on PORT reports
# cluster_state:ok and, if it is a replica, is in sync with its master.
_redis_cluster_node_ok() {
	local port=$1
	[ "$(_redis_cluster_field "$port" "cluster info" cluster_state)" = ok ] || return 1
	[ "$(_redis_cluster_field "$port" "cluster info" cluster_slots_ok)" = 16384 ] || return 1
	if [ "$(_redis_cluster_field "$port" "info replication" role)" = slave ]; then
		[ "$(_redis_cluster_field "$port" "info replication" master_link_status)" = up ] || return 1
		[ "$(_redis_cluster_field "$port" "info replication" master_sync_in_progress)" = 0 ] || return 1
	fi
}

# redis_cluster_wait_ok [SECONDS]: wait, up to SECONDS (default 30), until
# every running node reports cluster_state:ok with all 16384 slots served,
# and every replica is in sync with its master.
redis_cluster_wait_ok() {
	local secs=${1:-30} end port all
	end=$((SECONDS + secs))
	while [ "$SECONDS" -lt "$end" ]; do
		all=1
		for port in $(_redis_cluster_ports); do
			_redis_cluster_node "$port"
			_lib_alive redis_cluster || continue
			_redis_cluster_node_ok "$port" || { all=; break; }
		done
		[ -n "$all" ] && return 0
		sleep 0.1
	done
	_redis_cluster_log "the cluster did not report cluster_state:ok on every node within $secs s:"
	for port in $(_redis_cluster_ports); do
		echo "-- 127.0.0.1:$port" >&2
		_redis_cluster_cli "$port" cluster info | grep -E 'cluster_state|cluster_slots_ok' >&2
		_redis_cluster_cli "$port" info replication | grep -E '^(role|master_link_status)' >&2
	done
	return 1
}

# redis_cluster_start_server: start every node of REDIS_CLUSTER_RUNDIR that
# is not running (with its configuration and nodes.conf) and wait for
# cluster_state:ok.
redis_cluster_start_server() {
	: "${REDIS_CLUSTER_RUNDIR:?}"
	local port
	for port in $(_redis_cluster_ports); do
		_redis_cluster_start_node "$port" || return 1
	done
	redis_cluster_wait_ok
}

# redis_cluster_stop_server: stop every node by PID and wait for each to
# exit. The directory stays.
redis_cluster_stop_server() {
	[ -n "${REDIS_CLUSTER_RUNDIR:-}" ] || return 0
	local port
	for port in $(_redis_cluster_ports); do
		_redis_cluster_stop_node "$port"
	done
}

# redis_cluster_master_of SLOT: the port of the master that serves SLOT, as
# the first running node that answers tells.
redis_cluster_master_of() {
	local slot=$1 port out
	for port in $(_redis_cluster_ports); do
		out=$(_redis_cluster_cli "$port" cluster nodes) || continue
		[ -n "$out" ] || continue
		# <id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <link> <slot>...
		out=$(printf '%s\n' "$out" | awk -v s="$slot" '
			$3 ~ /master/ && $3 !~ /fail/ {
				for (i = 9; i <= NF; i++) {
					if ($i ~ /^\[/) continue
					n = split($i, r, "-"); lo = r[1]; hi = (n == 2 ? r[2] : r[1])
					if (s >= lo + 0 && s <= hi + 0) { split($2, a, "[:@]"); print a[2]; exit }
				}
			}')
		if [ -n "$out" ]; then
			echo "$out"
			return 0
		fi
	done
	_redis_cluster_log "no running node knows a master for slot $slot"
	return 1
}

# redis_cluster_kill_master [SLOT]: kill the master serving SLOT (default
# 0) with SIGKILL, wait until it is gone, and print its port and the time
# of the kill (Unix nanoseconds), separated by a space.
redis_cluster_kill_master() {
	local slot=${1:-0} port pid at
	port=$(redis_cluster_master_of "$slot") || return 1
	_redis_cluster_node "$port"
	_lib_alive redis_cluster || { _redis_cluster_log "the master of slot $slot (port $port) is not one of ours"; return 1; }
	pid=$REDIS_CLUSTER_PID
	at=$(date +%s%N)
	kill -KILL "$pid"
	while _lib_running "$pid"; do sleep 0.01; done
	_redis_cluster_log "killed the master of slot $slot: 127.0.0.1:$port (pid $pid)"
	echo "$port $at"
}

# _redis_cluster_serves PORT: true if a running node other than PORT's
# lists PORT as a master that serves slots.
_redis_cluster_serves() {
	local other out
	for other in $(_redis_cluster_ports); do
		[ "$other" != "$1" ] || continue
		out=$(_redis_cluster_cli "$other" cluster nodes) || continue
		[ -n "$out" ] || continue
		printf '%s\n' "$out" | awk -v p="$1" '
			{ split($2, a, "[:@]") }
			a[2] == p && $3 ~ /master/ && NF >= 9 { found = 1 }
			END { exit !found }'
		return
	done
	return 1
}

# redis_cluster_start_node PORT: start the node on PORT again and wait
# until the cluster is whole (see redis_cluster_wait_ok). A master that was
# killed is started only once another node serves its slots (its replica
# has taken over, within 60 s): started before, it would come back as the
# master of its slots, with what it kept on disk, and nothing without
# REDIS_CLUSTER_PERSIST=1 (see "Persistence" above).
redis_cluster_start_node() {
	: "${1:?usage: start-node PORT}"
	grep -qx "$1" "$REDIS_CLUSTER_RUNDIR/ports" || { _redis_cluster_log "no node on port $1"; return 1; }
	_redis_cluster_node "$1"
	if ! _lib_alive redis_cluster; then
		redis_cluster_wait_replaced "$1" || return 1
	fi
	_redis_cluster_start_node "$1" || return 1
	redis_cluster_wait_ok
}

# redis_cluster_wait_replaced PORT: wait, up to 60 s, until no running node
# lists PORT as a master that serves slots (after a kill: until its replica
# has taken over).
redis_cluster_wait_replaced() {
	# A promotion takes two or three seconds with cluster-node-timeout
	# 1000; an election that fails is tried again seconds later.
	local end=$((SECONDS + 60))
	while _redis_cluster_serves "$1"; do
		if [ "$SECONDS" -ge "$end" ]; then
			_redis_cluster_log "127.0.0.1:$1 still serves its slots after 60 s: no replica took over"
			return 1
		fi
		sleep 0.05
	done
}

# redis_cluster_start: see the top of this file. On failure it stops what
# it started and removes its files.
redis_cluster_start() {
	_lib_start redis_cluster SESSION_TEST_REDIS_CLUSTER_URL SESSION_TEST_REQUIRE_REDIS_CLUSTER
}

_redis_cluster_start() {
	local t0 t1 t2 i port pass addrs=() pids=()
	t0=$(_lib_now)
	redis_cluster_install || return 1
	t1=$(_lib_now)

	REDIS_CLUSTER_RUNDIR=$(mktemp -d "${TMPDIR:-/tmp}/sessionkit-redis_cluster.XXXXXX") || return 1
	REDIS_CLUSTER_RUNDIR=$(readlink -f "$REDIS_CLUSTER_RUNDIR")
	export REDIS_CLUSTER_RUNDIR
	(umask 077 && _lib_random 16 >"$REDIS_CLUSTER_RUNDIR/password") || return 1
	pass=$(cat "$REDIS_CLUSTER_RUNDIR/password")
	: >"$REDIS_CLUSTER_RUNDIR/ports"

	# Six nodes on the first free ports from 7380 on (each with PORT+10000
	# free for its cluster bus): away from 6379 (a distribution instance),
	# 6380 (scripts/redis.sh) and 7000 (the usual cluster tutorial ports).
	port=7380
	for i in 1 2 3 4 5 6; do
		unset REDIS_CLUSTER_PORT
		_lib_listen redis_cluster "$port" _redis_cluster_launch "Address already in use" || return 1
		echo "$REDIS_CLUSTER_PORT" >>"$REDIS_CLUSTER_RUNDIR/ports"
		addrs+=("127.0.0.1:$REDIS_CLUSTER_PORT")
		pids+=("$REDIS_CLUSTER_PID")
		port=$((REDIS_CLUSTER_PORT + 1))
	done
	unset REDIS_CLUSTER_PORT REDIS_CLUSTER_PID REDIS_CLUSTER_NODEDIR REDIS_CLUSTER_CONF REDIS_CLUSTER_PIDFILE REDIS_CLUSTER_LOG
	t2=$(_lib_now)

	if ! REDISCLI_AUTH=$pass "$(_lib_bin redis-cli)" --cluster create "${addrs[@]}" \
		--cluster-replicas 1 --cluster-yes >"$REDIS_CLUSTER_RUNDIR/create.log" 2>&1; then
		_redis_cluster_log "redis-cli --cluster create failed:"
		tail -n 20 "$REDIS_CLUSTER_RUNDIR/create.log" >&2
		return 1
	fi
	redis_cluster_wait_ok || return 1

	REDIS_CLUSTER_PORTS=$(_redis_cluster_ports | tr '\n' ' ' | sed 's/ $//')
	REDIS_CLUSTER_PIDS=${pids[*]}
	local script rundir
	script=$(printf '%q' "$_redis_cluster_script")
	rundir=$(printf '%q' "$REDIS_CLUSTER_RUNDIR")
	REDIS_CLUSTER_START_CMD="REDIS_CLUSTER_RUNDIR=$rundir bash $script start-server"
	REDIS_CLUSTER_STOP_CMD="REDIS_CLUSTER_RUNDIR=$rundir bash $script stop-server"
	REDIS_CLUSTER_KILL_MASTER_CMD="REDIS_CLUSTER_RUNDIR=$rundir bash $script kill-master"
	REDIS_CLUSTER_START_NODE_CMD="REDIS_CLUSTER_RUNDIR=$rundir bash $script start-node"
	REDIS_CLUSTER_WAIT_REPLACED_CMD="REDIS_CLUSTER_RUNDIR=$rundir bash $script wait-replaced"
	export REDIS_CLUSTER_PORTS REDIS_CLUSTER_PIDS REDIS_CLUSTER_START_CMD REDIS_CLUSTER_STOP_CMD \
		REDIS_CLUSTER_KILL_MASTER_CMD REDIS_CLUSTER_START_NODE_CMD REDIS_CLUSTER_WAIT_REPLACED_CMD

	SESSION_TEST_REDIS_CLUSTER_ADDRS=$(IFS=,; echo "${addrs[*]}")
	SESSION_TEST_REDIS_CLUSTER_URL="redis://:$pass@${addrs[0]}?$(printf 'addr=%s&' "${addrs[@]:1}" | sed 's/&$//')"
	SESSION_TEST_REDIS_CLUSTER_PASSWORD=$pass
	SESSION_TEST_REQUIRE_REDIS_CLUSTER=1
	export SESSION_TEST_REDIS_CLUSTER_URL SESSION_TEST_REDIS_CLUSTER_ADDRS \
		SESSION_TEST_REDIS_CLUSTER_PASSWORD SESSION_TEST_REQUIRE_REDIS_CLUSTER
	_redis_cluster_log "$("$(_lib_bin redis-server)" --version | awk '{print $3}' | sed 's/^v=//') cluster up on 127.0.0.1 ports $REDIS_CLUSTER_PORTS (dir $REDIS_CLUSTER_RUNDIR); install $(_lib_elapsed "$t0" "$t1") s, start $(_lib_elapsed "$t1" "$t2") s, create and sync $(_lib_elapsed "$t2") s"
}

# redis_cluster_stop: stop the nodes started by redis_cluster_start and
# remove their files.
redis_cluster_stop() { _lib_stop redis_cluster; }

# Nothing but the directory is needed to find the nodes: for start-server
# and stop-server, which _lib_main calls.
_redis_cluster_paths_from_rundir() {
	: "${REDIS_CLUSTER_RUNDIR:?REDIS_CLUSTER_RUNDIR is not set}"
	[ -s "$REDIS_CLUSTER_RUNDIR/ports" ] || { _redis_cluster_log "$REDIS_CLUSTER_RUNDIR holds no cluster"; return 1; }
}

# _redis_cluster_main [SUBCOMMAND ARGS...]: the script run directly.
_redis_cluster_main() {
	set -euo pipefail
	case "${1:-}" in
	start-private)
		# A new cluster: nothing of the one this environment may describe.
		unset SESSION_TEST_REDIS_CLUSTER_URL REDIS_CLUSTER_RUNDIR REDIS_CLUSTER_EXTERNAL
		redis_cluster_start >&2
		local v
		for v in SESSION_TEST_REDIS_CLUSTER_URL SESSION_TEST_REDIS_CLUSTER_ADDRS SESSION_TEST_REDIS_CLUSTER_PASSWORD \
			REDIS_CLUSTER_RUNDIR REDIS_CLUSTER_PORTS REDIS_CLUSTER_PIDS REDIS_CLUSTER_START_CMD REDIS_CLUSTER_STOP_CMD \
			REDIS_CLUSTER_KILL_MASTER_CMD REDIS_CLUSTER_START_NODE_CMD REDIS_CLUSTER_WAIT_REPLACED_CMD; do
			printf '%s=%s\n' "$v" "${!v}"
		done
		;;
	kill-master)
		_redis_cluster_paths_from_rundir
		redis_cluster_kill_master "${2:-0}"
		;;
	start-node)
		_redis_cluster_paths_from_rundir
		redis_cluster_start_node "${2:-}"
		;;
	wait-ok)
		_redis_cluster_paths_from_rundir
		redis_cluster_wait_ok
		;;
	wait-replaced)
		_redis_cluster_paths_from_rundir
		redis_cluster_wait_replaced "${2:?usage: wait-replaced PORT}"
		;;
	install | run | start-server | stop-server | remove)
		_lib_main redis_cluster SESSION_TEST_REDIS_CLUSTER_URL "$@"
		;;
	*)
		echo "usage: $0 install | run CMD [ARGS...] | start-private | start-server | stop-server | remove | kill-master [SLOT] | start-node PORT | wait-replaced PORT | wait-ok (or source it)" >&2
		exit 2
		;;
	esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	_redis_cluster_main "$@"
fi
