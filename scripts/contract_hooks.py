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

An artifact upload's checksum headers (Digest, X-Checksum-Sha256) are the
SHA-256 of the body, which no schema can say: a generated value of the
declared form is replaced by the body's true checksum in the same form, as
a client computes it. Malformed values are left as generated, so that the
server is still seen to refuse them (a wrong checksum of the right form is
the crosstest suite's to check).

An artifact's name is 1-255 bytes of UTF-8 (what file systems allow), which
a schema's maxLength, counting characters, cannot say: the document names
the rule as the string format file-name, and its strategy here generates
names within it.
"""

import base64
import hashlib
import json
import os
import re
import urllib.request

import schemathesis
from hypothesis import strategies as st
from schemathesis.transport.serialization import serialize_binary

# No control character (C0, DEL, C1), no slash or backslash, no surrogate;
# not . or ..; at most 255 bytes of UTF-8 (artifact.go CheckArtifactName).
_NAME_CHAR = st.characters(
    exclude_categories=("Cs",), exclude_characters="/\\", min_codepoint=0x20
).filter(lambda c: not 0x7F <= ord(c) <= 0x9F)
schemathesis.openapi.format(
    "file-name",
    st.text(_NAME_CHAR, min_size=1, max_size=255).filter(
        lambda s: len(s.encode()) <= 255 and s not in (".", "..")
    ),
)

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


# The declared forms (httpapi/artifacts.go).
_B64_SUM = r"[A-Za-z0-9+/]{43}="
_DIGEST = re.compile(r"^\s*([A-Za-z0-9-]+=[^,]*,\s*)*[Ss][Hh][Aa]-256=" + _B64_SUM + r"(\s*,\s*[A-Za-z0-9-]+=[^,]*)*\s*$")
_HEX_SUM = re.compile(r"^\s*[0-9A-Fa-f]{64}\s*$")
_B64_ONLY = re.compile(r"^\s*" + _B64_SUM + r"\s*$")
_UPLOADS = {"/v1/wps/{wp}/artifacts", "/v1/features/{feature}/artifacts"}


def _true_checksums(case):
    headers = case.headers or {}
    if not ({"Digest", "X-Checksum-Sha256"} & headers.keys()):
        return
    body = case.body if isinstance(case.body, (bytes, str)) else b""
    digest = hashlib.sha256(serialize_binary(body)).digest()
    b64 = base64.b64encode(digest).decode()
    d = headers.get("Digest")
    if isinstance(d, str) and _DIGEST.match(d):
        headers["Digest"] = "sha-256=" + b64
    x = headers.get("X-Checksum-Sha256")
    if isinstance(x, str) and _HEX_SUM.match(x):
        headers["X-Checksum-Sha256"] = digest.hex()
    elif isinstance(x, str) and _B64_ONLY.match(x):
        headers["X-Checksum-Sha256"] = b64


@schemathesis.hook
def before_call(ctx, case, kwargs):
    if case.method.upper() == "POST" and case.path in _UPLOADS:
        _true_checksums(case)
        return
    if case.method.upper() != "POST" or case.path != "/v1/keys/{key}/revoke":
        return
    key = (case.path_parameters or {}).get("key")
    if key == KEY_ID:
        case.path_parameters["key"] = _fresh_key()["id"]
    elif key == KEY_PREFIX:
        case.path_parameters["key"] = _fresh_key()["prefix"]
