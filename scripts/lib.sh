# What scripts/mariadb.sh, scripts/redis.sh and scripts/redis-cluster.sh
# share: sourced by them, not run on its own.
#
# Each function takes the sourcing script's prefix P ("mariadb", "redis" or
# "redis_cluster") first. P names the script's own functions (P_install,
# P_start_server, P_stop_server, P_start, P_stop, _P_start, _P_spawn,
# _P_ping, _P_ours, _P_paths_from_rundir) and, in upper case, its variables
# (MARIADB_RUNDIR, REDIS_PORT, ...); it also tags the log lines. The
# functions that handle one server (_lib_start_server, _lib_stop_server,
# _lib_listen) handle one node of the cluster at a time, P_PORT, P_PIDFILE
# and P_LOG pointing at that node. Only functions are defined here, so
# sourcing it more than once (test.sh sources every script) is harmless.

# _lib_log P MESSAGE...: MESSAGE on standard error, tagged with P.
_lib_log() {
	local p=$1
	shift
	echo "$p: $*" >&2
}

# _lib_now: the time, in seconds with a fraction.
_lib_now() { date +%s.%N; }

# _lib_elapsed T0 [T1]: the seconds from T0 to T1 (default: now), to a tenth.
_lib_elapsed() {
	local t1=${2:-}
	[ -n "$t1" ] || t1=$(_lib_now)
	awk -v a="$1" -v b="$t1" 'BEGIN { printf "%.1f", b - a }'
}

# _lib_bin NAME: the path of a program, looked for on PATH and then in the
# sbin and bin directories (servers live in /usr/sbin, which is not always
# on PATH).
_lib_bin() {
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

# _lib_random N: 2N hex characters from N bytes of /dev/urandom.
_lib_random() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# _lib_port_busy PORT: true if something accepts connections on 127.0.0.1:PORT.
_lib_port_busy() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# _lib_running PID: true if PID is a live process (a zombie, which a
# parent that never waits can leave behind, does not count).
_lib_running() {
	kill -0 "$1" 2>/dev/null || return 1
	local state
	state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "$state" != Z ]
}

# _lib_apt P PRODUCT URLVAR "PACKAGE...": install Debian's PACKAGEs
# (through sudo when not root). PRODUCT and URLVAR (the variable that names
# a server instead) go into the message when it cannot.
_lib_apt() {
	local p=$1 product=$2 urlvar=$3 packages=$4
	if ! command -v apt-get >/dev/null; then
		_lib_log "$p" "$product is not installed and apt-get is not available; install $product or set $urlvar"
		return 1
	fi
	local sudo=
	if [ "$(id -u)" != 0 ]; then
		if command -v sudo >/dev/null; then
			sudo="sudo"
		else
			_lib_log "$p" "$product is not installed and installing it needs root"
			return 1
		fi
	fi
	local t0
	t0=$(_lib_now)
	_lib_log "$p" "installing $packages from the distribution's packages"
	$sudo apt-get update -qq || { _lib_log "$p" "apt-get update failed"; return 1; }
	# shellcheck disable=SC2086 # one word a package
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		$packages >/dev/null ||
		{ _lib_log "$p" "apt-get install $packages failed"; return 1; }
	_lib_log "$p" "installed in $(_lib_elapsed "$t0") s"
}

# _lib_install P PRODUCT URLVAR "PROGRAM..." "PACKAGE...": install
# Debian's PACKAGEs (through sudo when not root) unless every PROGRAM is
# there already. PRODUCT and URLVAR (the variable that names a server
# instead) go into the message when it cannot.
_lib_install() {
	local p=$1 product=$2 urlvar=$3 programs=$4 packages=$5 prog missing=
	for prog in $programs; do
		_lib_bin "$prog" >/dev/null || missing=1
	done
	[ -n "$missing" ] || return 0
	_lib_apt "$p" "$product" "$urlvar" "$packages" || return 1
	for prog in $programs; do
		_lib_bin "$prog" >/dev/null || { _lib_log "$p" "$prog still missing after install"; return 1; }
	done
}

# _lib_alive P: true if the PID in P_PIDFILE is our running server (as
# _P_ours PID tells); sets P_PID.
_lib_alive() {
	local p=$1 pidfilevar=${1^^}_PIDFILE pid
	[ -s "${!pidfilevar:-}" ] || return 1
	pid=$(cat "${!pidfilevar}" 2>/dev/null) || return 1
	[ -n "$pid" ] && "_${p}_ours" "$pid" || return 1
	printf -v "${1^^}_PID" '%s' "$pid"
}

# _lib_start_server P NAME INTERVAL: P_start_server. Unless our server is
# running already, start it in the background with _P_spawn and wait,
# polling every INTERVAL seconds, up to 30 s until it answers _P_ping; then
# set and export P_PID. If NAME exits first, or does not answer in time (it
# is then stopped), show the end of its log (P_LOG) and fail.
_lib_start_server() {
	local p=$1 P=${1^^} name=$2 interval=$3
	local pidvar=${P}_PID logvar=${P}_LOG pid end
	if _lib_alive "$p"; then
		_lib_log "$p" "already running (pid ${!pidvar})"
		return 0
	fi
	"_${p}_spawn" || return 1
	pid=$!
	end=$((SECONDS + 30))
	while [ "$SECONDS" -lt "$end" ]; do
		if ! _lib_running "$pid"; then
			_lib_log "$p" "$name exited during startup; last lines of ${!logvar}:"
			tail -n 20 "${!logvar}" >&2
			return 1
		fi
		if "_${p}_ping"; then
			printf -v "$pidvar" '%s' "$pid"
			export "$pidvar"
			return 0
		fi
		sleep "$interval"
	done
	_lib_log "$p" "$name (pid $pid) did not answer within 30 s; stopping it; last lines of ${!logvar}:"
	tail -n 20 "${!logvar}" >&2
	kill "$pid" 2>/dev/null
	return 1
}

# _lib_stop_server P NAME SECONDS: P_stop_server. Stop our server (the PID
# in P_PIDFILE, or else P_PID) with SIGTERM and wait for it to exit;
# SIGKILL after SECONDS. Its files stay.
_lib_stop_server() {
	local p=$1 name=$2 secs=$3 pidvar=${1^^}_PID pid=
	if _lib_alive "$p"; then
		pid=${!pidvar}
	elif [ -n "${!pidvar:-}" ] && "_${p}_ours" "${!pidvar}"; then
		pid=${!pidvar}
	fi
	[ -n "$pid" ] || return 0
	_lib_kill "$p" "$name" "$pid" "$secs"
}

# _lib_kill P NAME PID SECONDS: stop PID with SIGTERM and wait for it to
# exit; SIGKILL after SECONDS.
_lib_kill() {
	local p=$1 name=$2 pid=$3 secs=$4 i
	kill "$pid" 2>/dev/null || return 0
	for i in $(seq 1 $((secs * 10))); do
		_lib_running "$pid" || return 0
		sleep 0.1
	done
	_lib_log "$p" "$name (pid $pid) still running after $secs s; sending SIGKILL"
	kill -KILL "$pid" 2>/dev/null
	return 0
}

# _lib_listen P FIRST LAUNCH BIND_ERROR: set and export P_PORT and run
# LAUNCH (which starts the server on P_PORT). A port already in P_PORT must
# be free; otherwise the first free port from FIRST on is taken, and the
# next one tried when the server's log (P_LOG) matches the grep pattern
# BIND_ERROR: another process took the port first.
_lib_listen() {
	local p=$1 P=${1^^} port=$2 launch=$3 bind_error=$4
	local portvar=${P}_PORT logvar=${P}_LOG fixed tries
	fixed=${!portvar:-}
	if [ -n "$fixed" ]; then
		if _lib_port_busy "$fixed"; then
			_lib_log "$p" "port $fixed ($portvar) is already in use"
			return 1
		fi
		export "$portvar=$fixed"
		"$launch"
		return
	fi
	for tries in $(seq 1 20); do
		while _lib_port_busy "$port"; do port=$((port + 1)); done
		export "$portvar=$port"
		if "$launch"; then
			return 0
		fi
		if grep -q "$bind_error" "${!logvar}" 2>/dev/null; then
			port=$((port + 1))
			continue
		fi
		return 1
	done
	_lib_log "$p" "no free port found"
	return 1
}

# _lib_commands P SCRIPT: set and export P_START_CMD and P_STOP_CMD, the
# one-line commands that run SCRIPT start-server and stop-server on
# P_RUNDIR (and P_PORT).
_lib_commands() {
	local P=${1^^} script rundirvar=${1^^}_RUNDIR portvar=${1^^}_PORT rundir
	script=$(printf '%q' "$2")
	rundir=$(printf '%q' "${!rundirvar}")
	printf -v "${P}_START_CMD" '%s' "$rundirvar=$rundir $portvar=${!portvar} bash $script start-server"
	printf -v "${P}_STOP_CMD" '%s' "$rundirvar=$rundir bash $script stop-server"
	export "${P}_START_CMD" "${P}_STOP_CMD"
}

# _lib_start P URLVAR REQUIREVAR: P_start. With URLVAR set, use that server
# (start none, set P_EXTERNAL so that P_stop does nothing, export
# REQUIREVAR=1); otherwise start one with _P_start and, on failure, stop
# what it started and remove its files.
_lib_start() {
	local p=$1 P=${1^^} urlvar=$2 requirevar=$3
	if [ -n "${!urlvar:-}" ]; then
		_lib_log "$p" "$urlvar is set: using that server, starting none"
		printf -v "${P}_EXTERNAL" 1
		export "$requirevar=1"
		return 0
	fi
	printf -v "${P}_EXTERNAL" ''
	if ! "_${p}_start"; then
		"${p}_stop"
		return 1
	fi
}

# _lib_stop P: P_stop. Stop the server that P_start started and remove
# P_RUNDIR; nothing for a server it did not start.
_lib_stop() {
	local p=$1 P=${1^^}
	local rundirvar=${P}_RUNDIR externalvar=${P}_EXTERNAL
	if [ -n "${!externalvar:-}" ] || [ -z "${!rundirvar:-}" ]; then
		return 0
	fi
	"${p}_stop_server"
	case "${!rundirvar}" in
	*/sessionkit-"$p".*) rm -rf "${!rundirvar}" ;;
	esac
	printf -v "$rundirvar" ''
	return 0
}

# _lib_main P URLVAR [SUBCOMMAND ARGS...]: the script run directly, with
# the subcommands its header describes.
_lib_main() {
	local p=$1 P=${1^^} urlvar=$2
	shift 2
	set -euo pipefail
	case "${1:-}" in
	install)
		"${p}_install"
		;;
	start-server)
		"_${p}_paths_from_rundir"
		"${p}_start_server"
		;;
	stop-server)
		"_${p}_paths_from_rundir"
		"${p}_stop_server"
		;;
	start-private)
		# A new server: nothing of the one this environment may describe.
		unset "$urlvar" "${P}_PORT" "${P}_PID" "${P}_RUNDIR" "${P}_EXTERNAL"
		"${p}_start" >&2
		local v
		for v in "$urlvar" "${P}_PID" "${P}_PORT" "${P}_RUNDIR" "${P}_START_CMD" "${P}_STOP_CMD"; do
			printf '%s=%s\n' "$v" "${!v}"
		done
		;;
	remove)
		"_${p}_paths_from_rundir"
		"${p}_stop"
		;;
	run)
		shift
		[ $# -gt 0 ] || { echo "usage: $0 run CMD [ARGS...]" >&2; exit 2; }
		trap "${p}_stop" EXIT
		"${p}_start"
		"$@"
		;;
	*)
		echo "usage: $0 install | run CMD [ARGS...] | start-server | stop-server | start-private | remove (or source it)" >&2
		exit 2
		;;
	esac
}
