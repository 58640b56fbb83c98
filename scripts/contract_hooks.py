"""Schemathesis hooks and serializers for scripts/contract.sh.

POST /v1/import takes JSON lines (application/x-ndjson), which the
document describes as an array whose items are the lines: the serializer
writes each item as JSON on a line of its own. A value that is not an array
(a negative case) is written as one line, as it is.

The run authenticates with the server's local admin key, and an admin may
revoke any key, its own too. Fuzzing and stateful testing learn key ids from
GET /v1/keys and would revoke the key the run tests with; every request
after that would answer 401 and the run would check nothing. So a request
that would revoke that one key revokes a fresh admin key made for it
instead: the request, its answer and the checks stay those of a real
revocation, and the run keeps its key.
"""

import json
import os
import urllib.request

import schemathesis

BASE_URL = os.environ["CONTRACT_BASE_URL"]
TOKEN = os.environ["CONTRACT_TOKEN"]
# The run's key by id and by token prefix: POST /v1/keys/{key}/revoke takes either.
KEY_ID = os.environ["CONTRACT_KEY_ID"]
KEY_PREFIX = os.environ["CONTRACT_KEY_PREFIX"]


def _fresh_key():
    req = urllib.request.Request(
        BASE_URL + "/v1/keys",
        method="POST",
        data=json.dumps({"name": "contract-stand-in", "scope": "admin"}).encode(),
        headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    if isinstance(value, list):
        return "".join(json.dumps(item) + "\n" for item in value).encode()
    return json.dumps(value).encode()


@schemathesis.hook
def before_call(ctx, case, kwargs):
    if case.method.upper() != "POST" or case.path != "/v1/keys/{key}/revoke":
        return
    key = (case.path_parameters or {}).get("key")
    if key == KEY_ID:
        case.path_parameters["key"] = _fresh_key()["id"]
    elif key == KEY_PREFIX:
        case.path_parameters["key"] = _fresh_key()["prefix"]
