"""Runs scim2-tester's checks against a live Switchboard /scim/v2 (called by
scripts/scim-check.sh). Prints one line per check and a summary; exits 1 on
any ERROR or CRITICAL result.

What is configured rather than discovered (each with its reason):

- The Switchboard extension (urn:switchboard:params:scim:schemas:extension:
  agent:2.0:User) refers to the tenant's skills, ACD services and groups by
  id, and the server rightly refuses an id that names none of them (400
  invalidValue). The tester cannot know the tenant's ids and would fill
  them with random text: the script creates a skill, a call center with an
  ACD service, and a group (native API, the tenant's first key), and gives
  their ids to the tester as the canonical values of skills.value,
  services.value and groups.value in its copy of the schema, with 1 to 5
  for skills.proficiency (its range), so the tester writes valid values and
  checks them as any other attribute.

No check is skipped: every SKIPPED result fails the run too, so that a
tester upgrade which skips a check is noticed here.
"""
import collections
import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import ResourceType, Schema, ScimProvider, ServiceProviderConfig
from scim2_tester import Status, check_server

AGENT_EXTENSION = "urn:switchboard:params:scim:schemas:extension:agent:2.0:User"

base, token, api_base, api_key = sys.argv[1:5]

# The tenant's objects the extension refers to (see above).
api = Client(base_url=api_base, headers={"Authorization": f"Bearer {api_key}"})


def created(path, body):
    r = api.post(path, json=body)
    r.raise_for_status()
    return str(r.json()["id"])


skill = created("/api/v1/skills", {"name": "scim2-tester skill"})
call_center = created("/api/v1/call-centers", {"name": "scim2-tester call center"})
service = created("/api/v1/services", {"name": "scim2-tester service", "callCenterId": int(call_center), "acd": True})
group = created("/api/v1/groups", {"name": "scim2-tester group"})
canonical = {("skills", "value"): [skill], ("skills", "proficiency"): [1, 2, 3, 4, 5],
             ("services", "value"): [service], ("groups", "value"): [group]}

client = SyncSCIMClient(Client(base_url=base, headers={"Authorization": f"Bearer {token}"}))
client.discover()

# The service as published, with the tenant's ids as canonical values of
# the extension's references (see above).
schemas = client.query(Schema).resources
for schema in schemas:
    if schema.id == AGENT_EXTENSION:
        for attribute in schema.attributes:
            for sub in attribute.sub_attributes or []:
                if (attribute.name, sub.name) in canonical:
                    # Unvalidated: proficiency's values are integers.
                    object.__setattr__(sub, "canonical_values", canonical[(attribute.name, sub.name)])
resource_types = client.query(ResourceType).resources
config = client.query(ServiceProviderConfig)
client.provider = ScimProvider.from_discovery(schemas, resource_types, config, client.provider.policy)

results = check_server(client)
counts = collections.Counter()
for r in results:
    counts[r.status.name] += 1
    reason = (r.reason or "").replace("\n", " ")[:300]
    print(f"{r.status.name:10} {r.resource_type or '':6} {r.title}: {reason}")
print("scim2-tester:", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
failed = sum(counts[s.name] for s in (Status.ERROR, Status.CRITICAL, Status.SKIPPED))
sys.exit(1 if failed or not counts[Status.SUCCESS.name] else 0)
