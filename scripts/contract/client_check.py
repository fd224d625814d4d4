"""Uses the Python client that openapi-python-client generated from the served
document (scripts/contract/client-check.sh) against a live server, as an
integrator would: create a skill and an agent, assign the skill with a
proficiency, page through agents, read the ETag, and get a 404 and a 422 as
typed problems.  Usage: client_check.py <base URL> <API key>
"""
import sys
import uuid

from switchboard_client import AuthenticatedClient
from switchboard_client.api.agents import (
    assign_skill,
    create_agent,
    get_agent,
    list_agents,
    update_agent,
)
from switchboard_client.api.skills import create_skill
from switchboard_client.models import (
    AgentCreate,
    AgentDetail,
    AgentUpdate,
    PagedAgent,
    Problem,
    ProficiencyBody,
    Skill,
    SkillAssignment,
    SkillCreate,
)

base, key = sys.argv[1], sys.argv[2]
client = AuthenticatedClient(base_url=base, token=key, raise_on_unexpected_status=True)
run = uuid.uuid4().hex[:8]


def check(cond, what):
    if not cond:
        raise SystemExit(f"client check failed: {what}")
    print(f"ok: {what}")


# A skill, then an agent; the create answers carry the objects, typed.
r = create_skill.sync_detailed(client=client, body=SkillCreate(name=f"Spanish {run}"))
check(r.status_code == 201 and isinstance(r.parsed, Skill), "create a skill (201, a Skill)")
skill = r.parsed

agents = []
for i in range(5):
    body = AgentCreate(login_id=f"py{run}{i}", first_name="Py", last_name=f"Client{i}", password="Secret123")
    r = create_agent.sync_detailed(client=client, body=body, idempotency_key=str(uuid.uuid4()))
    check(r.status_code == 201 and isinstance(r.parsed, AgentDetail), f"create agent {i} (201, an AgentDetail)")
    agents.append(r.parsed)
agent = agents[0]
check(agent.login_id == f"PY{run}0".upper(), "loginId is stored upper-case")

# Assign the skill with a proficiency.
r = assign_skill.sync_detailed(agent.id, skill.id, client=client, body=ProficiencyBody(proficiency=4))
check(r.status_code == 200 and isinstance(r.parsed, SkillAssignment) and r.parsed.proficiency == 4, "assign the skill with proficiency 4")

# Read the agent: its ETag is the version, and it names the skill.
r = get_agent.sync_detailed(agent.id, client=client)
etag = r.headers.get("etag")
check(r.status_code == 200 and etag == f'"v{r.parsed.version}"', f"read the agent with its ETag {etag}")
check([(s.skill_id, s.proficiency) for s in r.parsed.skills] == [(skill.id, 4)], "the agent has the skill at 4")

# A change with the ETag read, then one with a stale ETag: 412, typed.
r = update_agent.sync_detailed(agent.id, client=client, body=AgentUpdate(last_name="Renamed"), if_match=etag)
check(r.status_code == 200 and r.parsed.last_name == "Renamed", "update with If-Match")
r = update_agent.sync_detailed(agent.id, client=client, body=AgentUpdate(last_name="Again"), if_match=etag)
check(r.status_code == 412 and isinstance(r.parsed, Problem) and r.parsed.code == "version_mismatch", "a stale If-Match is a 412 problem")

# Page through the agents two at a time, following nextCursor.
seen, cursor = [], None
while True:
    kwargs = {"limit": 2, "q": f"py{run}"}
    if cursor:
        kwargs["cursor"] = cursor
    r = list_agents.sync_detailed(client=client, **kwargs)
    check(r.status_code == 200 and isinstance(r.parsed, PagedAgent), f"a page of agents after {cursor}")
    seen += [a.id for a in r.parsed.items]
    cursor = r.parsed.next_cursor
    if not isinstance(cursor, str):
        break
check(seen == sorted(a.id for a in agents), "paging saw every agent once, in id order")

# Errors are typed problems with their stable code.
r = get_agent.sync_detailed(999_999_999, client=client)
check(r.status_code == 404 and isinstance(r.parsed, Problem) and r.parsed.code == "not_found", "an unknown agent is a 404 problem")
r = assign_skill.sync_detailed(agent.id, skill.id, client=client, body=ProficiencyBody(proficiency=9))
check(
    r.status_code == 422 and isinstance(r.parsed, Problem) and r.parsed.code == "invalid" and r.parsed.field == "proficiency",
    "proficiency 9 is a 422 problem naming the field",
)
print("client check: all passed")
