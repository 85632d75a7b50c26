"""A small Django site for the Go tests of sessions shared with Django.

Run with Debian's python3-django: python3 -I app.py PORTFILE. It serves on a
free loopback port, writes the port to PORTFILE, and runs until killed.
Settings come from the environment: DJANGO_SECRET_KEY, and
DJANGO_SESSION_ENGINE (default django.contrib.sessions.backends.signed_cookies).

  POST /set     the body is JSON text (NaN and big integers allowed):
                request.session.update(it)
  GET  /get     the session as JSON text, keys sorted
  POST /login   body {"id": ..., "password": "<hash string>"}: the keys
                django.contrib.auth.login writes, for that password hash
  GET  /whoami  {"user": id} if the session's auth hash matches the
                password hash given in ?password=, else {"user": null}
  POST /flush   request.session.flush()
"""
import json
import os
import sys

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY=os.environ["DJANGO_SECRET_KEY"],
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware"],
    INSTALLED_APPS=["django.contrib.sessions"],
    SESSION_ENGINE=os.environ.get("DJANGO_SESSION_ENGINE", "django.contrib.sessions.backends.signed_cookies"),
    USE_TZ=True,
    LOGGING_CONFIG=None,
)
django.setup()

from django.http import HttpResponse, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.utils.crypto import constant_time_compare, salted_hmac  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

AUTH_SALT = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash"


def auth_hash(password):
    return salted_hmac(AUTH_SALT, password, algorithm="sha256").hexdigest()


@csrf_exempt
def set_values(request):
    request.session.update(json.loads(request.body))
    return HttpResponse("ok")


def get_values(request):
    return HttpResponse(json.dumps(dict(request.session), sort_keys=True, separators=(",", ":")),
                        content_type="application/json")


@csrf_exempt
def login(request):
    body = json.loads(request.body)
    request.session.cycle_key()
    request.session["_auth_user_id"] = str(body["id"])
    request.session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    request.session["_auth_user_hash"] = auth_hash(body["password"])
    return HttpResponse("ok")


def whoami(request):
    # What django.contrib.auth.get_user checks, without a user table.
    stored = request.session.get("_auth_user_hash", "")
    ok = "_auth_user_id" in request.session and constant_time_compare(stored, auth_hash(request.GET["password"]))
    return JsonResponse({"user": request.session["_auth_user_id"] if ok else None})


@csrf_exempt
def flush(request):
    request.session.flush()
    return HttpResponse("ok")


urlpatterns = [
    path("set", set_values),
    path("get", get_values),
    path("login", login),
    path("whoami", whoami),
    path("flush", flush),
]


def main():
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
