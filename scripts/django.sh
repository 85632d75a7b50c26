#!/usr/bin/env bash
# The Django that the interoperability tests (package django) run against:
# Debian's python3-django, installed when it is missing. Nothing is
# started here; each test runs Django's own code through
# scripts/django/*.py with that interpreter.
#
# Sourced:
#
#	source scripts/django.sh
#	django_setup             # install if needed, export the variables below
#
# django_setup exports:
#
#	SESSION_TEST_DJANGO_PYTHON   the python3 that imports django (/usr/bin/python3)
#	SESSION_TEST_REQUIRE_DJANGO  1 (the Django tests fail instead of skipping)
#
# Run directly:
#
#	scripts/django.sh run CMD [ARGS...]  # set up, run CMD with the variables above

_django_script=$(readlink -f "${BASH_SOURCE[0]}")
# shellcheck source=lib.sh
source "$(dirname "$_django_script")/lib.sh"

_django_log() { _lib_log django "$@"; }

# django_setup: see the top of this file.
django_setup() {
	local py=/usr/bin/python3 version
	if ! "$py" -I -c 'import django' 2>/dev/null; then
		_lib_install django Django SESSION_TEST_DJANGO_PYTHON "django-admin" "python3-django" || return 1
	fi
	# -I: Django from the system, never a directory of this repository
	# that happens to be called django.
	version=$(cd / && "$py" -I -c 'import django; print(django.get_version())') ||
		{ _django_log "$py cannot import django"; return 1; }
	SESSION_TEST_DJANGO_PYTHON=$py
	SESSION_TEST_REQUIRE_DJANGO=1
	export SESSION_TEST_DJANGO_PYTHON SESSION_TEST_REQUIRE_DJANGO
	_django_log "Django $version with $py"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	case "${1:-}" in
	run)
		shift
		[ $# -gt 0 ] || { echo "usage: $0 run CMD [ARGS...]" >&2; exit 2; }
		django_setup
		"$@"
		;;
	*)
		echo "usage: $0 run CMD [ARGS...] (or source it)" >&2
		exit 2
		;;
	esac
fi
