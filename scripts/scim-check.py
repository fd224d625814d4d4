"""Runs scim2-tester's checks against a live Switchboard /scim/v2 (called by
scripts/scim-check.sh). Prints one line per check and a summary; exits 1 on
any CRITICAL, or on more ERRORs than the known baseline (SCIM_CHECK_MAX_ERRORS,
default 27 with scim2-tester 0.5.2: its random values for the Switchboard
extension's skills/services/groups name no existing object, userName is read
back upper-case, one email/phone kept as type work, no Group externalId, no
POST /.search, DELETE deactivates by default; see docs/scim.md)."""
import collections
import os
import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

base, token = sys.argv[1], sys.argv[2]
client = SyncSCIMClient(Client(base_url=base, headers={"Authorization": f"Bearer {token}"}))
client.discover()
results = check_server(client)
counts = collections.Counter()
for r in results:
    counts[r.status.name] += 1
    reason = (r.reason or "").replace("\n", " ")[:300]
    print(f"{r.status.name:10} {r.title}: {reason}")
print("scim2-tester:", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
max_errors = int(os.environ.get("SCIM_CHECK_MAX_ERRORS", "27"))
sys.exit(1 if counts["CRITICAL"] or counts["ERROR"] > max_errors else 0)
