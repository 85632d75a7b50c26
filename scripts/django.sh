#!/usr/bin/env bash
# The Django that the interoperability tests (package django, the root
# package's TestDjango*, server/mysql's TestDjango*) run against: Debian's
# python3-django 3.2, installed when it is missing, with python3-mysqldb
# (mysqlclient) for Django's MySQL backend; and, optionally, Django 4.2
# from Debian's bookworm-backports, unpacked into a directory of its own
# (its package conflicts with 3.2's). Nothing is started here; each test
# runs Django's own code through scripts/django/*.py with that interpreter.
#
# Sourced:
#
#	source scripts/django.sh
#	django_setup             # install if needed, export the variables below;
#	                         # with SESSION_TEST_MYSQL_DSN set, also run
#	                         # Django's migrations there (django_session)
#	django42_setup           # Django 4.2 for the next tests: download and
#	                         # unpack it if needed, export SESSION_TEST_DJANGO_PATH,
#	                         # and migrate again with 4.2
#	django_unset42           # back to the system's Django
#
# django_setup exports:
#
#	SESSION_TEST_DJANGO_PYTHON   the python3 that imports django (/usr/bin/python3)
#	SESSION_TEST_REQUIRE_DJANGO  1 (the Django tests fail instead of skipping)
#
# django42_setup exports SESSION_TEST_DJANGO_PATH, the directory that the
# scripts in scripts/django/ put first on sys.path: Django 4.2 instead of
# the system's 3.2. It keeps the download in DJANGO42_DIR (default
# ${XDG_CACHE_HOME:-$HOME/.cache}/sessionkit/django-4.2), so that it
# happens once; its apt lists and cache stay there too, and the system's
# apt sources are not changed.
#
# Run directly:
#
#	scripts/django.sh run CMD [ARGS...]    # set up, run CMD with the variables above
#	scripts/django.sh run42 CMD [ARGS...]  # the same with Django 4.2
#	scripts/django.sh migrate [zero]       # Django's migrations on SESSION_TEST_MYSQL_DSN

_django_script=$(readlink -f "${BASH_SOURCE[0]}")
_django_dir=$(dirname "$_django_script")
# shellcheck source=lib.sh
source "$_django_dir/lib.sh"

_django_log() { _lib_log django "$@"; }

_django_py=/usr/bin/python3

# _django_imports MODULE: true if the Django python imports MODULE (with
# SESSION_TEST_DJANGO_PATH first on its path, when set). -I: nothing of
# this repository (which has a directory called django) nor of PYTHON*.
_django_imports() {
	(cd / && "$_django_py" -I -c "import os, sys
p = os.environ.get('SESSION_TEST_DJANGO_PATH')
if p: sys.path.insert(0, p)
import $1") 2>/dev/null
}

_django_version() {
	(cd / && "$_django_py" -I -c "import os, sys
p = os.environ.get('SESSION_TEST_DJANGO_PATH')
if p: sys.path.insert(0, p)
import django; print(django.get_version())")
}

# django_setup: see the top of this file.
django_setup() {
	local version
	if ! _django_imports django; then
		_lib_install django Django SESSION_TEST_DJANGO_PYTHON "django-admin" "python3-django" || return 1
	fi
	if ! _django_imports MySQLdb; then
		_lib_apt django "mysqlclient (python3-mysqldb)" SESSION_TEST_DJANGO_PYTHON "python3-mysqldb" || return 1
		_django_imports MySQLdb || { _django_log "MySQLdb still missing after installing python3-mysqldb"; return 1; }
	fi
	version=$(_django_version) || { _django_log "$_django_py cannot import django"; return 1; }
	SESSION_TEST_DJANGO_PYTHON=$_django_py
	SESSION_TEST_REQUIRE_DJANGO=1
	export SESSION_TEST_DJANGO_PYTHON SESSION_TEST_REQUIRE_DJANGO
	_django_log "Django $version with $_django_py"
	if [ -n "${SESSION_TEST_MYSQL_DSN:-}" ]; then
		django_migrate || return 1
	fi
}

# django_migrate [zero]: Django's own migrations (sessions, auth,
# contenttypes) on SESSION_TEST_MYSQL_DSN, by the Django in use; "zero"
# unapplies them, dropping their tables.
django_migrate() {
	: "${SESSION_TEST_MYSQL_DSN:?django_migrate needs SESSION_TEST_MYSQL_DSN}"
	local t0
	t0=$(_lib_now)
	(cd / && DJANGO_DB_DSN=$SESSION_TEST_MYSQL_DSN "$_django_py" -I "$_django_dir/django/app.py" migrate "$@") ||
		{ _django_log "Django's migrate${*:+ $*} failed"; return 1; }
	_django_log "Django $(_django_version) migrate${*:+ $*} on the test database in $(_lib_elapsed "$t0") s"
}

# django42_setup: see the top of this file.
django42_setup() {
	local dir=${DJANGO42_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sessionkit/django-4.2}
	local site=$dir/root/usr/lib/python3/dist-packages
	if ! (SESSION_TEST_DJANGO_PATH=$site _django_imports django) ||
		[ "$(SESSION_TEST_DJANGO_PATH=$site _django_version | cut -d. -f1-2)" != 4.2 ]; then
		_django42_fetch "$dir" || return 1
	fi
	SESSION_TEST_DJANGO_PATH=$site
	export SESSION_TEST_DJANGO_PATH
	_django_log "Django $(_django_version) from $site"
	if [ -n "${SESSION_TEST_MYSQL_DSN:-}" ]; then
		# The tables anew, made by 4.2's own migrations.
		django_migrate zero && django_migrate || return 1
	fi
}

# django_unset42: the system's Django again.
django_unset42() { unset SESSION_TEST_DJANGO_PATH; }

# _django42_fetch DIR: download python3-django from bookworm-backports with
# apt lists and cache of DIR's own, and unpack it into DIR/root.
_django42_fetch() {
	local dir=$1 t0 apt deb
	t0=$(_lib_now)
	command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null ||
		{ _django_log "Django 4.2 needs apt-get and dpkg-deb"; return 1; }
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/parts" "$dir/download" || return 1
	cat >"$dir/backports.sources" <<-EOF
		Types: deb
		URIs: http://deb.debian.org/debian
		Suites: bookworm-backports
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	apt=(apt-get -q -o "Dir::Etc::SourceList=$dir/backports.sources" -o "Dir::Etc::SourceParts=$dir/parts"
		-o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
	_django_log "downloading python3-django 4.2 from bookworm-backports into $dir"
	"${apt[@]}" update >"$dir/apt.log" 2>&1 ||
		{ _django_log "apt-get update of bookworm-backports failed:"; tail -n 5 "$dir/apt.log" >&2; return 1; }
	rm -f "$dir"/download/*.deb
	(cd "$dir/download" && "${apt[@]}" download python3-django/bookworm-backports) >>"$dir/apt.log" 2>&1 ||
		{ _django_log "apt-get download python3-django/bookworm-backports failed:"; tail -n 5 "$dir/apt.log" >&2; return 1; }
	deb=$(ls "$dir"/download/python3-django_*4.2.*.deb 2>/dev/null | head -n 1)
	[ -n "$deb" ] || { _django_log "bookworm-backports did not give python3-django 4.2"; return 1; }
	rm -rf "$dir/root"
	dpkg-deb -x "$deb" "$dir/root" || return 1
	_django_log "unpacked $(basename "$deb") in $(_lib_elapsed "$t0") s"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	case "${1:-}" in
	run | run42)
		cmd=$1
		shift
		[ $# -gt 0 ] || { echo "usage: $0 $cmd CMD [ARGS...]" >&2; exit 2; }
		django_setup
		[ "$cmd" = run ] || django42_setup
		"$@"
		;;
	migrate)
		shift
		django_migrate "$@"
		;;
	*)
		echo "usage: $0 run CMD [ARGS...] | run42 CMD [ARGS...] | migrate [zero] (or source it)" >&2
		exit 2
		;;
	esac
fi
