"""Webhook deliveries verified by the Standard Webhooks reference library
(PyPI `standardwebhooks`), as a receiver would (issue 28). Run by
scripts/webhook-check.sh against a live server:
  webhook-check.py <base URL> <API key>
A receiver on 127.0.0.1 answers 500 to the first delivery and 200 after;
the script subscribes it, makes two writes, and checks that every delivery
verifies with the library, that the retry kept its webhook-id, that a
tampered body or another secret does not verify, and that after a secret
rotation the next delivery verifies with the new secret and the old one.
"""
import http.server
import json
import sys
import threading
import time
import urllib.request

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

base, key = sys.argv[1], sys.argv[2]
got = []


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        got.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(500 if len(got) == 1 else 200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{server.server_address[1]}/hook"


def call(method, path, body=None):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"authorization": f"Bearer {key}", "content-type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")


secret = call("POST", "/api/v1/webhooks", {"url": url, "events": ["skill.*"]})["secret"]
call("POST", "/api/v1/skills", {"name": "Spanish"})
call("POST", "/api/v1/skills", {"name": "French"})
until = time.time() + 30
while len(got) < 3 and time.time() < until:
    time.sleep(0.05)
assert len(got) == 3, f"expected 3 deliveries (one retried), got {len(got)}"

wh = Webhook(secret)
for headers, body in got:
    payload = wh.verify(body, headers)
    assert payload["id"] == headers["webhook-id"], payload
    assert payload["type"] == "skill.created", payload
assert got[0][0]["webhook-id"] == got[1][0]["webhook-id"], "a retry keeps its webhook-id"
assert got[1][0]["webhook-id"] != got[2][0]["webhook-id"]
assert [wh.verify(b, h)["object"]["name"] for h, b in got] == ["Spanish", "Spanish", "French"], "in order"
for bad in [(got[0][0], got[0][1] + b" "), None]:
    try:
        if bad:
            wh.verify(bad[1], bad[0])
        else:
            Webhook("whsec_" + "A" * 43 + "=").verify(got[0][1], got[0][0])
    except WebhookVerificationError:
        continue
    raise AssertionError("a tampered body or another secret verified")

# A rotation: for a day the delivery carries both signatures, and a receiver
# holding either secret verifies it with the library.
hook_id = call("GET", "/api/v1/webhooks")["items"][0]["id"]
new_secret = call("POST", f"/api/v1/webhooks/{hook_id}/rotate-secret", {})["secret"]
call("POST", "/api/v1/skills", {"name": "German"})
until = time.time() + 30
while len(got) < 4 and time.time() < until:
    time.sleep(0.05)
assert len(got) == 4, f"expected a 4th delivery after the rotation, got {len(got)}"
headers, body = got[3]
for s in (new_secret, secret):
    assert Webhook(s).verify(body, headers)["object"]["name"] == "German"
print(f"webhook-check: {len(got)} deliveries verified with standardwebhooks (PyPI); retry kept its id; order kept; "
      "both secrets verify during a rotation")
