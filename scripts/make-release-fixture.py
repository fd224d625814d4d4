#!/usr/bin/env python3
"""Makes crates/store/tests/fixtures/release-0007.db: a SQLite database as the
release before migration 0008 (ids never reused) leaves it, with deleted rows,
and release-0007.json, what it holds (the ids that name objects, and the
highest id ever given of each kind, deleted ones included).

Run with that release's binary (commit 054ed79):
    scripts/make-release-fixture.py path/to/old/switchboard
The store test `sqlite::a_database_of_the_previous_release_keeps_its_ids`
opens a copy with the current code."""
import json, os, shutil, socket, sqlite3, subprocess, sys, tempfile, time, urllib.request

BIN = sys.argv[1]
OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "store", "tests", "fixtures")
tmp = tempfile.mkdtemp()
db = os.path.join(tmp, "switchboard.db")

def cli(*args):
    out = subprocess.run([BIN, *args, "--database-url", db], check=True, capture_output=True, text=True).stdout
    return json.loads(out)

acme = cli("admin", "create-tenant", "--name", "acme", "--client-id", "4199")
beta = cli("admin", "create-tenant", "--name", "beta")
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
srv = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{port}", "--database-url", db], stderr=subprocess.DEVNULL)
base = f"http://127.0.0.1:{port}"
for _ in range(100):
    try:
        urllib.request.urlopen(base + "/healthz"); break
    except Exception:
        time.sleep(0.1)

def call(key, method, path, body=None):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        data = r.read()
        return json.loads(data) if data else None

K = acme["apiKey"]
given = {}    # kind -> highest id given
def made(kind, obj):
    given[kind] = max(given.get(kind, 0), obj["id"])
    return obj

sk = [made("skill", call(K, "POST", "/api/v1/skills", {"name": f"Skill {i}"})) for i in range(3)]
cc = [made("call_center", call(K, "POST", "/api/v1/call-centers", {"name": f"Center {i}"})) for i in range(2)]
sv = [made("service", call(K, "POST", "/api/v1/services", {"name": f"Service {i}", "callCenterId": cc[0]["id"]})) for i in range(3)]
gr = [made("group", call(K, "POST", "/api/v1/groups", {"name": f"Group {i}"})) for i in range(3)]
ph = [made("phone", call(K, "POST", "/api/v1/phones", {"name": f"Phone {i}", "number": f"55500{i}"})) for i in range(2)]
di = [made("did", call(K, "POST", "/api/v1/dids", {"number": f"1800555000{i}"})) for i in range(3)]
ca = [made("campaign", call(K, "POST", "/api/v1/campaigns", {"name": f"Campaign {i}", "dynamicDids": [di[0]["number"]]})) for i in range(2)]
ag = [made("agent", call(K, "POST", "/api/v1/agents", {"loginId": f"a{i}", "firstName": "Ann", "lastName": f"Agent{i}", "phone": "5550100",
        "skills": [{"skillId": sk[0]["id"], "proficiency": 3}], "serviceIds": [sv[0]["id"]]})) for i in range(5)]
us = [made("user", call(K, "POST", "/api/v1/users", {"username": f"user{i}", "role": "manager", "password": "Secret12345"})) for i in range(2)]
ke = [made("api_key", call(K, "POST", "/api/v1/api-keys", {"name": f"key{i}"})) for i in range(2)]
made("agent", call(beta["apiKey"], "POST", "/api/v1/agents", {"loginId": "b1", "firstName": "Bob", "lastName": "Beta", "phone": "5550199"}))

# Delete the newest of each kind (the id SQLite would hand out again) and one in the middle.
for path, objs in [("skills", sk), ("services", sv), ("groups", gr), ("phones", ph), ("dids", di), ("campaigns", ca), ("agents", ag), ("users", us)]:
    call(K, "DELETE", f"/api/v1/{path}/{objs[-1]['id']}")
call(K, "DELETE", f"/api/v1/agents/{ag[2]['id']}")
call(K, "DELETE", f"/api/v1/api-keys/{ke[-1]['id']}")
call(K, "PATCH", f"/api/v1/agents/{ag[0]['id']}", {"lastName": "Renamed"})

remaining = {}
for path, kind in [("skills", "skill"), ("call-centers", "call_center"), ("services", "service"), ("groups", "group"), ("phones", "phone"),
                   ("dids", "did"), ("campaigns", "campaign"), ("agents", "agent"), ("users", "user"), ("api-keys", "api_key")]:
    items = call(K, "GET", f"/api/v1/{path}?limit=1000")["items"]
    remaining[kind] = {str(x["id"]): x.get("loginId") or x.get("name") or x.get("username") or x.get("number") for x in items}
audit = call(K, "GET", "/api/v1/audit?limit=1000")["items"]
srv.terminate(); srv.wait()

c = sqlite3.connect(db)
c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
given["audit_event"] = c.execute("SELECT max(id) FROM audit_events").fetchone()[0]
given["tenant"] = c.execute("SELECT max(id) FROM tenants").fetchone()[0]
c.close()
os.makedirs(OUT, exist_ok=True)
shutil.copy(db, os.path.join(OUT, "release-0007.db"))
with open(os.path.join(OUT, "release-0007.json"), "w") as f:
    json.dump({"tenant": acme["tenantId"], "given": given, "remaining": remaining, "audit_events": len(audit)}, f, indent=1, sort_keys=True)
    f.write("\n")
print(json.dumps(given))
