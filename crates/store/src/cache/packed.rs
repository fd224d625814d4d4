//! Agents packed into one byte string each for the cache: about 150 bytes
//! for a typical agent instead of about 1 KB as `AgentDetail` (a struct of
//! ~360 bytes, a heap block per string and list, and the map's spare room),
//! so that a directory of a million agents fits in ~200 MB. Unpacking (a
//! handful of allocations) costs far less than the round trip it replaces.
//!
//! Integers are zigzag varints, strings and lists are length-prefixed,
//! options are a 0/1 byte then the value, and the vendor attributes are
//! their JSON text (empty when there are none).

use switchboard_domain::{Agent, AgentDetail, GroupMembership, SkillAssignment};

pub(crate) fn pack(a: &AgentDetail) -> Box<[u8]> {
    let mut w = Vec::with_capacity(128);
    let g = &a.agent;
    for n in [g.id, g.tenant_id] {
        int(&mut w, n);
    }
    for s in [&g.login_id, &g.first_name, &g.last_name] {
        text(&mut w, s);
    }
    opt_text(&mut w, g.display_name.as_deref());
    opt_text(&mut w, g.email.as_deref());
    text(&mut w, &g.phone);
    int(&mut w, g.wrap_up_time);
    w.push(u8::from(g.home_agent) | u8::from(g.active) << 1 | u8::from(g.locked) << 2 | u8::from(g.has_password) << 3);
    int(&mut w, g.failed_logins);
    opt_int(&mut w, g.last_login);
    opt_text(&mut w, g.last_login_ip.as_deref());
    opt_int(&mut w, g.password_last_modified);
    for t in [&g.external_id, &g.employee_number, &g.department, &g.manager] {
        opt_text(&mut w, t.as_deref());
    }
    let attributes = if g.attributes.is_empty() { String::new() } else { serde_json::Value::Object(g.attributes.clone()).to_string() };
    text(&mut w, &attributes);
    for n in [g.created_at, g.updated_at, g.version] {
        int(&mut w, n);
    }
    int(&mut w, a.skills.len() as i64);
    for s in &a.skills {
        int(&mut w, s.skill_id);
        int(&mut w, s.proficiency);
    }
    int(&mut w, a.service_ids.len() as i64);
    for s in &a.service_ids {
        int(&mut w, *s);
    }
    int(&mut w, a.groups.len() as i64);
    for m in &a.groups {
        int(&mut w, m.group_id);
        w.push(u8::from(m.receive_call));
    }
    w.into_boxed_slice()
}

/// None only if `bytes` did not come from `pack` (the cache then misses).
pub(crate) fn unpack(bytes: &[u8]) -> Option<AgentDetail> {
    let mut r = Reader(bytes);
    let agent = read_agent(&mut r)?;
    let n = r.len()?;
    let skills = (0..n).map(|_| Some(SkillAssignment { skill_id: r.int()?, proficiency: r.int()? })).collect::<Option<Vec<_>>>()?;
    let n = r.len()?;
    let service_ids = (0..n).map(|_| r.int()).collect::<Option<Vec<_>>>()?;
    let n = r.len()?;
    let groups = (0..n).map(|_| Some(GroupMembership { group_id: r.int()?, receive_call: r.byte()? != 0 })).collect::<Option<Vec<_>>>()?;
    if !r.0.is_empty() {
        return None;
    }
    Some(AgentDetail { agent, skills, service_ids, groups })
}

/// The agent's own fields only (a list row), without its assignments.
pub(crate) fn unpack_agent(bytes: &[u8]) -> Option<Agent> {
    read_agent(&mut Reader(bytes))
}

fn read_agent(r: &mut Reader<'_>) -> Option<Agent> {
    let (id, tenant_id) = (r.int()?, r.int()?);
    let (login_id, first_name, last_name) = (r.text()?, r.text()?, r.text()?);
    let (display_name, email, phone) = (r.opt_text()?, r.opt_text()?, r.text()?);
    let wrap_up_time = r.int()?;
    let flags = r.byte()?;
    let failed_logins = r.int()?;
    let last_login = r.opt_int()?;
    let last_login_ip = r.opt_text()?;
    let password_last_modified = r.opt_int()?;
    let (external_id, employee_number, department, manager) = (r.opt_text()?, r.opt_text()?, r.opt_text()?, r.opt_text()?);
    let attributes = match r.text()? {
        a if a.is_empty() => serde_json::Map::new(),
        a => match serde_json::from_str(&a).ok()? {
            serde_json::Value::Object(m) => m,
            _ => return None,
        },
    };
    let (created_at, updated_at, version) = (r.int()?, r.int()?, r.int()?);
    Some(Agent {
        id,
        tenant_id,
        login_id,
        first_name,
        last_name,
        display_name,
        email,
        phone,
        wrap_up_time,
        home_agent: flags & 1 != 0,
        active: flags & 2 != 0,
        locked: flags & 4 != 0,
        failed_logins,
        last_login,
        last_login_ip,
        password_last_modified,
        has_password: flags & 8 != 0,
        external_id,
        employee_number,
        department,
        manager,
        attributes,
        created_at,
        updated_at,
        version,
    })
}

fn int(w: &mut Vec<u8>, n: i64) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    while z >= 0x80 {
        w.push(z as u8 | 0x80);
        z >>= 7;
    }
    w.push(z as u8);
}

fn text(w: &mut Vec<u8>, s: &str) {
    int(w, s.len() as i64);
    w.extend_from_slice(s.as_bytes());
}

fn opt_text(w: &mut Vec<u8>, s: Option<&str>) {
    w.push(u8::from(s.is_some()));
    if let Some(s) = s {
        text(w, s);
    }
}

fn opt_int(w: &mut Vec<u8>, n: Option<i64>) {
    w.push(u8::from(n.is_some()));
    if let Some(n) = n {
        int(w, n);
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*b)
    }

    fn int(&mut self) -> Option<i64> {
        let mut z = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            z |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some((z >> 1) as i64 ^ -((z & 1) as i64));
            }
        }
        None
    }

    fn len(&mut self) -> Option<usize> {
        usize::try_from(self.int()?).ok().filter(|n| *n <= self.0.len())
    }

    fn text(&mut self) -> Option<String> {
        let n = self.len()?;
        let (s, rest) = self.0.split_at(n);
        self.0 = rest;
        String::from_utf8(s.to_vec()).ok()
    }

    fn opt_text(&mut self) -> Option<Option<String>> {
        match self.byte()? {
            0 => Some(None),
            _ => self.text().map(Some),
        }
    }

    fn opt_int(&mut self) -> Option<Option<i64>> {
        match self.byte()? {
            0 => Some(None),
            _ => self.int().map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(full: bool) -> AgentDetail {
        let mut attributes = serde_json::Map::new();
        if full {
            attributes.insert("inbound".into(), serde_json::json!(true));
            attributes.insert("note".into(), serde_json::json!({"a": [1, "é"]}));
        }
        AgentDetail {
            agent: Agent {
                id: 1 << 40,
                tenant_id: 7,
                login_id: "LOGIN".into(),
                first_name: "Zoë".into(),
                last_name: if full { "O'Brien-Smith".into() } else { String::new() },
                display_name: full.then(|| "Z O".into()),
                email: full.then(|| "z@example.com".into()),
                phone: "+15550100".into(),
                wrap_up_time: -1,
                home_agent: full,
                active: true,
                locked: full,
                failed_logins: 3,
                last_login: full.then_some(1_795_000_000_000),
                last_login_ip: full.then(|| "::1".into()),
                password_last_modified: full.then_some(i64::MIN),
                has_password: full,
                external_id: full.then(|| "00u1abcd".into()),
                employee_number: full.then(|| "E-17".into()),
                department: None,
                manager: full.then(|| "12".into()),
                attributes,
                created_at: 0,
                updated_at: i64::MAX,
                version: 42,
            },
            skills: if full {
                vec![SkillAssignment { skill_id: 5, proficiency: 1 }, SkillAssignment { skill_id: 900, proficiency: 5 }]
            } else {
                vec![]
            },
            service_ids: if full { vec![1, 2, 3] } else { vec![] },
            groups: if full {
                vec![GroupMembership { group_id: 9, receive_call: true }, GroupMembership { group_id: 10, receive_call: false }]
            } else {
                vec![]
            },
        }
    }

    #[test]
    fn unpack_gives_back_what_was_packed() {
        for full in [false, true] {
            let a = agent(full);
            let p = pack(&a);
            assert_eq!(unpack(&p).as_ref(), Some(&a));
            // Anything cut short or with bytes over is refused, not misread.
            assert_eq!(unpack(&p[..p.len() - 1]), None);
            let mut longer = p.to_vec();
            longer.push(0);
            assert_eq!(unpack(&longer), None);
        }
        assert!(pack(&agent(false)).len() < 64, "{}", pack(&agent(false)).len());
    }
}
