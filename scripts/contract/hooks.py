"""schemathesis hooks for scripts/contract-fuzz.sh (SCHEMATHESIS_HOOKS=hooks).

Idempotency-Key: a client sends a new random key per logical request (the
document says so). Generated values repeat ("0", "00", ...), and a key reused
with another request is refused, as the IETF draft requires (422), which is
a state the generator cannot see. So every generated key gets a unique
suffix: the header is still sent, with the generated characters, and its
replay behaviour is tested by the integration tests.
"""
import itertools
import re

import schemathesis

_KEY = re.compile(r"[\x21-\x7e]([\x20-\x7e]{0,253}[\x21-\x7e])?")

_counter = itertools.count()


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() == "idempotency-key" and isinstance(headers[name], str):
            value = headers[name]
            suffix = f"-{next(_counter)}"
            # Only a key the document allows is made unique; one it forbids
            # (a negative case) is sent as generated, to be refused.
            # (A key at the 255-character limit keeps its length: the suffix
            # replaces its tail, or every such boundary value would be one key.)
            # (Whitespace around the value is not part of it: HTTP strips it.)
            key = value.strip(" \t")
            if _KEY.fullmatch(key):
                headers[name] = key[: 255 - len(suffix)] + suffix


# The fuzzer's own credential: revoking its key (DELETE /api-keys/{id}) or
# demoting its user (PATCH /users/{id} with another role) is a legitimate
# request that ends the run's access, and every later request would be a
# 401 or 403 that tests nothing. Those two requests, aimed at the fuzzer's
# own key or user, are sent to an id that does not exist instead (404);
# keys and users the run creates itself are revoked and changed for real.
import os

_OWN = {
    "/api/v1/api-keys/{id}": ("DELETE", os.environ.get("SWITCHBOARD_FUZZ_KEY_ID")),
    "/api/v1/users/{id}": ("PATCH", os.environ.get("SWITCHBOARD_FUZZ_USER_ID")),
}


@schemathesis.hook("before_call")
def spare_own_credential(context, case, kwargs):
    rule = _OWN.get(case.operation.path)
    if not rule or case.method.upper() != rule[0] or rule[1] is None:
        return
    params = case.path_parameters or {}
    if str(params.get("id")) == rule[1]:
        params["id"] = 999_999_999_999
