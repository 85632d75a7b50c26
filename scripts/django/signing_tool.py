"""Django's own signing, for the Go tests of package django.

Reads one JSON request per line on standard input and answers one JSON line
on standard output, using Debian's python3-django, configured in code:

  {"op": "dumps", "salt": S, "secret": K, "values": "<JSON text>", "time": T}
      -> {"value": signing.dumps(json.loads(values), salt=S, compress=True)}
  {"op": "loads", "salt": S, "secret": K, "fallbacks": [...], "value": V,
   "max_age": N or null, "time": T}
      -> {"values": "<JSON text of the result>"} or {"error": "ClassName"}
  {"op": "json", "values": "<JSON text>"}
      -> {"json": json.dumps as signing.dumps writes it, keys sorted}
  {"op": "auth_hash", "secret": K, "password": P}
      -> {"hash": get_session_auth_hash for a user with that password field}

T is the Unix time Django's clock is set to (time.time is patched).
"""
import json
import os
import sys
import time

if os.environ.get("SESSION_TEST_DJANGO_PATH"):  # another Django, see scripts/django.sh
    sys.path.insert(0, os.environ["SESSION_TEST_DJANGO_PATH"])

import django  # noqa: E402
from django.conf import settings  # noqa: E402

settings.configure(SECRET_KEY="unused", USE_TZ=True, INSTALLED_APPS=[],
                   **({"DEFAULT_HASHING_ALGORITHM": "sha256"} if django.VERSION < (4, 0) else {}))
django.setup()

from django.core import signing  # noqa: E402
from django.utils.crypto import salted_hmac  # noqa: E402

real_time = time.time


def with_time(t):
    signing.time.time = (lambda: t) if t is not None else real_time


def main():
    for line in sys.stdin:
        req = json.loads(line)
        out = {}
        try:
            op = req["op"]
            if op == "dumps":
                with_time(req.get("time"))
                settings.SECRET_KEY = req["secret"]
                out["value"] = signing.dumps(json.loads(req["values"]), salt=req["salt"], compress=True)
            elif op == "loads":
                with_time(req.get("time"))
                settings.SECRET_KEY = req["secret"]
                if hasattr(settings, "SECRET_KEY_FALLBACKS") or django.VERSION >= (4, 1):
                    settings.SECRET_KEY_FALLBACKS = req.get("fallbacks") or []
                value = signing.loads(req["value"], salt=req["salt"], max_age=req.get("max_age"))
                out["values"] = json.dumps(value, separators=(",", ":"), sort_keys=True)
            elif op == "auth_hash":
                settings.SECRET_KEY = req["secret"]
                out["hash"] = salted_hmac(
                    "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash",
                    req["password"], algorithm="sha256",
                ).hexdigest()
            elif op == "legacy":
                # Django 3.2 only: what it writes with DEFAULT_HASHING_ALGORITHM
                # = 'sha1' (a SHA-1 signature), and the session format before 3.1.
                from django.contrib.sessions.backends.base import SessionBase

                class SessionStore(SessionBase):
                    pass

                settings.SECRET_KEY = req["secret"]
                settings.DEFAULT_HASHING_ALGORITHM = "sha1"
                try:
                    values = json.loads(req["values"])
                    out["sha1"] = signing.dumps(values, salt=req["salt"], compress=True)
                    out["pre31"] = SessionStore().encode(values)
                finally:
                    settings.DEFAULT_HASHING_ALGORITHM = "sha256"
            elif op == "json":
                # What signing.dumps serializes, with keys sorted as Go writes them.
                out["json"] = json.dumps(json.loads(req["values"]), separators=(",", ":"), sort_keys=True)
            elif op == "version":
                out["version"] = ".".join(str(p) for p in django.VERSION[:3])
            else:
                out["error"] = "unknown op"
        except Exception as e:  # the class name is what the test checks
            out["error"] = type(e).__name__
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


main()
