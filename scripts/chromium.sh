#!/usr/bin/env bash
# The headless Chromium that the browser tests (examples/demo/browsertest)
# drive: Debian's chromium package, installed when it is missing. Nothing
# is started here; each test starts its own browser, with a fresh profile,
# and kills it.
#
# Sourced:
#
#	source scripts/chromium.sh
#	chromium_setup           # install if needed, export the variables below
#
# chromium_setup exports:
#
#	SESSION_TEST_CHROMIUM          the browser's executable (/usr/bin/chromium)
#	SESSION_TEST_REQUIRE_CHROMIUM  1 (the browser tests fail instead of skipping)
#
# If SESSION_TEST_CHROMIUM is already set, chromium_setup uses that browser
# (it must be an executable file) and installs nothing.
#
# Run directly:
#
#	scripts/chromium.sh install            # install the package if chromium is missing
#	scripts/chromium.sh run CMD [ARGS...]  # set up, run CMD with the variables above

_chromium_script=$(readlink -f "${BASH_SOURCE[0]}")
# shellcheck source=lib.sh
source "$(dirname "$_chromium_script")/lib.sh"

_chromium_log() { _lib_log chromium "$@"; }

# chromium_install: install Debian's chromium package when chromium is
# missing.
chromium_install() {
	_lib_install chromium Chromium SESSION_TEST_CHROMIUM "chromium" "chromium fonts-liberation"
}

# chromium_setup: see the top of this file.
chromium_setup() {
	local t0 path version
	t0=$(_lib_now)
	if [ -n "${SESSION_TEST_CHROMIUM:-}" ]; then
		path=$SESSION_TEST_CHROMIUM
		_chromium_log "SESSION_TEST_CHROMIUM is set: using $path, installing nothing"
	else
		chromium_install || return 1
		path=$(_lib_bin chromium) || { _chromium_log "chromium not found"; return 1; }
	fi
	if [ ! -f "$path" ] || [ ! -x "$path" ]; then
		_chromium_log "$path is not an executable file"
		return 1
	fi
	# Debian's /usr/bin/chromium is a shell script whose memory check can
	# complain on standard error; the version is the line on standard output.
	version=$("$path" --version 2>/dev/null) || { _chromium_log "$path --version failed"; return 1; }
	SESSION_TEST_CHROMIUM=$path
	SESSION_TEST_REQUIRE_CHROMIUM=1
	export SESSION_TEST_CHROMIUM SESSION_TEST_REQUIRE_CHROMIUM
	_chromium_log "$version at $path; setup $(_lib_elapsed "$t0") s"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	case "${1:-}" in
	install)
		chromium_install
		;;
	run)
		shift
		[ $# -gt 0 ] || { echo "usage: $0 run CMD [ARGS...]" >&2; exit 2; }
		chromium_setup
		"$@"
		;;
	*)
		echo "usage: $0 install | run CMD [ARGS...] (or source it)" >&2
		exit 2
		;;
	esac
fi
