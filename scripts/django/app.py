"""A small Django site for the Go tests of sessions shared with Django.

Run with Debian's python3-django: python3 -I app.py PORTFILE. It serves on a
free loopback port, writes the port to PORTFILE, and runs until killed.
Settings come from the environment:

  DJANGO_SECRET_KEY            SECRET_KEY
  DJANGO_SECRET_KEY_FALLBACKS  SECRET_KEY_FALLBACKS, comma-separated (Django 4.1+)
  DJANGO_SESSION_ENGINE        SESSION_ENGINE (default
                               django.contrib.sessions.backends.signed_cookies)
  DJANGO_DB_DSN                the database, as a go-sql-driver/mysql DSN
                               (user:pass@tcp(host:port)/db?...): MySQL/MariaDB
                               through mysqlclient, with django.contrib.auth
  DJANGO_DEFAULT_HASHING_ALGORITHM  DEFAULT_HASHING_ALGORITHM (Django 3.2 only;
                               "sha1" writes the session format of Django < 3.1)
  SESSION_TEST_DJANGO_PATH     a directory put first on sys.path: another
                               Django than the system's (see scripts/django.sh)

python3 -I app.py migrate runs Django's own migrations (sessions, auth,
contenttypes) on DJANGO_DB_DSN; python3 -I app.py migrate zero unapplies
them, dropping their tables.

  POST /set     the body is JSON text (NaN and big integers allowed):
                request.session.update(it)
  GET  /get     the session as JSON text, keys sorted
  GET  /expiry  {"key": session_key, "age": get_expiry_age(),
                "date": get_expiry_date() in UTC, ISO 8601}
  POST /expire  body {"seconds": N}: request.session.set_expiry(N)
  POST /login   body {"id": ..., "password": "<hash string>"}: with a
                database, django.contrib.auth.login of that user (created
                or updated with that password hash); without one, the keys
                login writes, for that password hash
  POST /user    body {"id": ..., "password": "<hash string>"}: create or
                update the user (database only)
  GET  /whoami  {"user": id} or {"user": null}: with a database,
                django.contrib.auth.get_user; without one, whether the
                session's auth hash matches the password hash given in
                ?password=
  POST /flush   request.session.flush()
  GET  /version the Django version, as "4.2.21"
"""
import json
import os
import re
import sys

if os.environ.get("SESSION_TEST_DJANGO_PATH"):
    sys.path.insert(0, os.environ["SESSION_TEST_DJANGO_PATH"])

import django  # noqa: E402
from django.conf import settings  # noqa: E402


def database(dsn):
    """Django's DATABASES entry for a go-sql-driver/mysql DSN."""
    m = re.match(r"^(?P<user>[^:@/]*)(?::(?P<password>.*))?@(?P<net>tcp|unix)\((?P<addr>[^)]*)\)/(?P<name>[^?]*)", dsn)
    if not m:
        sys.exit("DJANGO_DB_DSN: not a user:pass@tcp(host:port)/db DSN")
    db = {"ENGINE": "django.db.backends.mysql", "NAME": m["name"], "USER": m["user"],
          "PASSWORD": m["password"] or "", "OPTIONS": {"charset": "utf8mb4"}}
    if m["net"] == "unix":
        db["HOST"] = m["addr"]
    else:
        host, _, port = m["addr"].rpartition(":")
        db["HOST"], db["PORT"] = host, port
    return db


DSN = os.environ.get("DJANGO_DB_DSN")
extra = {}
if os.environ.get("DJANGO_SECRET_KEY_FALLBACKS"):
    extra["SECRET_KEY_FALLBACKS"] = os.environ["DJANGO_SECRET_KEY_FALLBACKS"].split(",")
if DSN:
    extra["DATABASES"] = {"default": database(DSN)}
if os.environ.get("DJANGO_DEFAULT_HASHING_ALGORITHM") and django.VERSION < (4, 0):
    extra["DEFAULT_HASHING_ALGORITHM"] = os.environ["DJANGO_DEFAULT_HASHING_ALGORITHM"]

settings.configure(
    DEBUG=False,
    SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "unused for migrations"),
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware"],
    INSTALLED_APPS=["django.contrib.sessions"] + (["django.contrib.contenttypes", "django.contrib.auth"] if DSN else []),
    SESSION_ENGINE=os.environ.get("DJANGO_SESSION_ENGINE", "django.contrib.sessions.backends.signed_cookies"),
    USE_TZ=True,
    # Not UTC, so that the tests see expire_date stored as naive UTC
    # whatever the site's zone.
    TIME_ZONE="Europe/Paris",
    LOGGING_CONFIG=None,
    **extra,
)
django.setup()

from django.http import HttpResponse, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.utils.crypto import constant_time_compare, salted_hmac  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

AUTH_SALT = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def auth_hash(password):
    return salted_hmac(AUTH_SALT, password, algorithm="sha256").hexdigest()


def upsert_user(body):
    from django.contrib.auth.models import User

    user, _ = User.objects.update_or_create(pk=int(body["id"]), defaults={"username": "user%s" % body["id"]})
    # The password field as given: a hash string, which the Go tests use
    # as the password hash.
    User.objects.filter(pk=user.pk).update(password=body["password"])
    user.refresh_from_db()
    return user


@csrf_exempt
def set_values(request):
    request.session.update(json.loads(request.body))
    return HttpResponse("ok")


def get_values(request):
    return HttpResponse(json.dumps(dict(request.session), sort_keys=True, separators=(",", ":")),
                        content_type="application/json")


def expiry(request):
    from datetime import timezone

    return JsonResponse({"key": request.session.session_key, "age": request.session.get_expiry_age(),
                         "date": request.session.get_expiry_date().astimezone(timezone.utc).isoformat()})


@csrf_exempt
def expire(request):
    request.session.set_expiry(json.loads(request.body)["seconds"])
    return HttpResponse("ok")


@csrf_exempt
def user(request):
    upsert_user(json.loads(request.body))
    return HttpResponse("ok")


@csrf_exempt
def login(request):
    body = json.loads(request.body)
    if DSN:
        from django.contrib import auth

        auth.login(request, upsert_user(body), backend=MODEL_BACKEND)
        return HttpResponse("ok")
    request.session.cycle_key()
    request.session["_auth_user_id"] = str(body["id"])
    request.session["_auth_user_backend"] = MODEL_BACKEND
    request.session["_auth_user_hash"] = auth_hash(body["password"])
    return HttpResponse("ok")


def whoami(request):
    if DSN:
        from django.contrib import auth

        u = auth.get_user(request)
        return JsonResponse({"user": str(u.pk) if u.is_authenticated else None})
    # What django.contrib.auth.get_user checks, without a user table.
    stored = request.session.get("_auth_user_hash", "")
    ok = "_auth_user_id" in request.session and constant_time_compare(stored, auth_hash(request.GET["password"]))
    return JsonResponse({"user": request.session["_auth_user_id"] if ok else None})


@csrf_exempt
def flush(request):
    request.session.flush()
    return HttpResponse("ok")


def version(request):
    return HttpResponse(".".join(str(p) for p in django.VERSION[:3]))


urlpatterns = [
    path("version", version),
    path("set", set_values),
    path("get", get_values),
    path("expiry", expiry),
    path("expire", expire),
    path("user", user),
    path("login", login),
    path("whoami", whoami),
    path("flush", flush),
]


def migrate(args):
    from django.core.management import call_command

    if not DSN:
        sys.exit("migrate needs DJANGO_DB_DSN")
    if args == ["zero"]:
        for app in ("sessions", "auth", "contenttypes"):
            call_command("migrate", app, "zero", verbosity=0, interactive=False)
        return
    call_command("migrate", verbosity=0, interactive=False)


def main():
    if sys.argv[1:2] == ["migrate"]:
        migrate(sys.argv[2:])
        return

    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from django.core.wsgi import get_wsgi_application

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = make_server("127.0.0.1", 0, get_wsgi_application(), handler_class=Quiet)
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(server.server_port))
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    server.serve_forever()


main()
