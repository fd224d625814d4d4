//! Agents: the searchable, sortable, paged table; the agent page (fields,
//! password, unlock, skills, services, groups, history); create and delete.

use super::audit;
use super::ui::{self, Errs, Field, Input, Nav};
use super::{query, Console, FormData};
use crate::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use switchboard_domain::{
    Agent, AgentDetail, AgentFilter, AgentPatch, AgentSort, Entity, Error, GroupMembership, Id, Named, NewAgent, PageRequest, Rule,
    Service, Skill,
};

pub const PAGE_SIZE: u32 = 50;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/agents", get(list))
        .route("/agents/new", get(new_page).post(create))
        .route("/agents/{id}", get(show).post(update))
        .route("/agents/{id}/password", post(set_password))
        .route("/agents/{id}/unlock", post(unlock))
        .route("/agents/{id}/skills", post(assign_skill))
        .route("/agents/{id}/skills/{skill}/remove", post(remove_skill))
        .route("/agents/{id}/services", post(add_service))
        .route("/agents/{id}/services/{service}/remove", post(remove_service))
        .route("/agents/{id}/groups", post(set_group))
        .route("/agents/{id}/groups/{group}/remove", post(remove_group))
        .route("/agents/{id}/delete", get(confirm_delete).post(delete))
}

// ---- the list ------------------------------------------------------------

const SORTS: &[(&str, &str, AgentSort)] = &[
    ("loginId", "Login ID, A to Z", AgentSort::LoginIdAsc),
    ("-loginId", "Login ID, Z to A", AgentSort::LoginIdDesc),
    ("lastName", "Last name, A to Z", AgentSort::LastNameAsc),
    ("-lastName", "Last name, Z to A", AgentSort::LastNameDesc),
    ("id", "Oldest first", AgentSort::IdAsc),
    ("-id", "Newest first", AgentSort::IdDesc),
];

/// The list's query string, parsed leniently (a bad value is ignored).
#[derive(Debug, Clone, Default)]
struct ListQuery {
    q: String,
    active: String,
    skill: Option<Id>,
    service: Option<Id>,
    group: Option<Id>,
    sort: String,
    page: u64,
}

impl ListQuery {
    fn parse(f: &FormData) -> ListQuery {
        let sort = f.text("sort").filter(|s| SORTS.iter().any(|(k, _, _)| k == s)).unwrap_or_else(|| "loginId".into());
        ListQuery {
            q: f.text("q").unwrap_or_default(),
            active: f.text("active").filter(|a| a == "true" || a == "false").unwrap_or_default(),
            skill: f.int("skill").filter(|i| *i > 0),
            service: f.int("service").filter(|i| *i > 0),
            group: f.int("group").filter(|i| *i > 0),
            sort,
            page: f.int("page").filter(|p| (1..=1_000_000).contains(p)).unwrap_or(1) as u64,
        }
    }

    fn filter(&self) -> AgentFilter {
        AgentFilter {
            q: (!self.q.is_empty()).then(|| self.q.clone()),
            active: match self.active.as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            skill_id: self.skill,
            service_id: self.service,
            group_id: self.group,
            sort: SORTS.iter().find(|(k, _, _)| *k == self.sort).map(|s| s.2).unwrap_or_default(),
            ..Default::default()
        }
    }

    /// The URL of this list with some values changed.
    fn url(&self, sort: Option<&str>, page: Option<u64>) -> String {
        let mut pairs: Vec<(&str, String)> = vec![];
        if !self.q.is_empty() {
            pairs.push(("q", self.q.clone()));
        }
        if !self.active.is_empty() {
            pairs.push(("active", self.active.clone()));
        }
        for (k, v) in [("skill", self.skill), ("service", self.service), ("group", self.group)] {
            if let Some(v) = v {
                pairs.push((k, v.to_string()));
            }
        }
        pairs.push(("sort", sort.unwrap_or(&self.sort).to_string()));
        let page = page.unwrap_or(self.page);
        if page > 1 {
            pairs.push(("page", page.to_string()));
        }
        format!("/agents?{}", serde_urlencoded::to_string(&pairs).unwrap_or_default())
    }
}

/// Names of the catalog, for selects and for showing assignments.
struct Catalog {
    skills: Vec<Skill>,
    services: Vec<Service>,
    groups: Vec<Named>,
}

impl Catalog {
    async fn load(s: &AppState, c: &Console) -> Result<Catalog, Error> {
        let all = PageRequest::first(1000);
        Ok(Catalog {
            skills: s.dir.list_skills(&c.p, all).await?.items,
            services: s.dir.list_services(&c.p, None, all).await?.items,
            groups: s.dir.list_named(&c.p, Entity::Group, all).await?.items,
        })
    }
    fn skill(&self, id: Id) -> String {
        self.skills.iter().find(|x| x.id == id).map(|x| x.name.clone()).unwrap_or_else(|| format!("skill {id}"))
    }
    fn service(&self, id: Id) -> String {
        self.services.iter().find(|x| x.id == id).map(|x| x.name.clone()).unwrap_or_else(|| format!("service {id}"))
    }
    fn group(&self, id: Id) -> String {
        self.groups.iter().find(|x| x.id == id).map(|x| x.name.clone()).unwrap_or_else(|| format!("group {id}"))
    }
}

fn options(first: &str, items: impl Iterator<Item = (Id, String)>) -> Vec<(String, String)> {
    std::iter::once((String::new(), first.to_string())).chain(items.map(|(i, n)| (i.to_string(), n))).collect()
}

async fn list(State(s): State<AppState>, c: Console, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    let qd = query(raw);
    let lq = ListQuery::parse(&qd);
    let page = PageRequest { after: 0, offset: (lq.page - 1) * u64::from(PAGE_SIZE), limit: PAGE_SIZE };
    let agents = match s.dir.list_agents(&c.p, &lq.filter(), page).await {
        Ok(p) => p,
        Err(e) => return ui::error_page(Some(&c), e),
    };
    let results = results(&lq, &agents.items, agents.has_more);
    // htmx asks for the results only (search as you type, paging).
    let fragment = headers.get("hx-target").and_then(|v| v.to_str().ok()) == Some("agent-results");
    if fragment {
        // The address bar shows the canonical URL (no empty filters).
        let mut r = results.into_response();
        if let Ok(v) = axum::http::HeaderValue::from_str(&lq.url(None, None)) {
            r.headers_mut().insert("hx-push-url", v);
        }
        return r;
    }
    let cat = match Catalog::load(&s, &c).await {
        Ok(x) => x,
        Err(e) => return ui::error_page(Some(&c), e),
    };
    let opt = |first: &str, items: Vec<(Id, String)>| options(first, items.into_iter());
    let skills = opt("Any skill", cat.skills.iter().map(|x| (x.id, x.name.clone())).collect());
    let services = opt("Any service", cat.services.iter().map(|x| (x.id, x.name.clone())).collect());
    let groups = opt("Any group", cat.groups.iter().map(|x| (x.id, x.name.clone())).collect());
    let actives: Vec<(String, String)> =
        vec![("".into(), "Active or not".into()), ("true".into(), "Active only".into()), ("false".into(), "Inactive only".into())];
    let sorts: Vec<(String, String)> = SORTS.iter().map(|(k, l, _)| (k.to_string(), l.to_string())).collect();
    let id_str = |v: Option<Id>| v.map(|i| i.to_string()).unwrap_or_default();
    let (sk, sv, gr) = (id_str(lq.skill), id_str(lq.service), id_str(lq.group));
    let none = Errs::none();
    let body = html! {
        (ui::flash(qd.get("done")))
        @if c.can_edit() {
            p { a.button href="/agents/new" { "New agent" } }
        }
        form #agent-filters .filters role="search" aria-label="Search and filter agents" method="get" action="/agents"
            hx-get="/agents" hx-target="#agent-results" hx-swap="outerHTML" hx-push-url="true"
            hx-trigger="input delay:300ms, submit" {
            div.field.grow {
                label for="agents-q" { "Search" }
                input #agents-q type="search" name="q" value=(lq.q) autocomplete="off" aria-describedby="agents-q-help";
                p.help #agents-q-help { "Part of a login ID, name, email or phone; results update as you type." }
            }
            (Field::new("agents", "active", "Status", &lq.active).input(Input::Select(&actives)).render(&none))
            (Field::new("agents", "skill", "Skill", &sk).input(Input::Select(&skills)).render(&none))
            (Field::new("agents", "service", "Service", &sv).input(Input::Select(&services)).render(&none))
            (Field::new("agents", "group", "Group", &gr).input(Input::Select(&groups)).render(&none))
            (Field::new("agents", "sort", "Sort by", &lq.sort).input(Input::Select(&sorts)).render(&none))
            div.actions { button type="submit" { "Search" } span.htmx-indicator aria-hidden="true" { "Loading…" } }
        }
        (results)
    };
    ui::html_response(StatusCode::OK, ui::page(&c, Nav::Agents, "Agents", body))
}

/// The table, its count and its pager: what a search replaces.
fn results(lq: &ListQuery, agents: &[Agent], has_more: bool) -> Markup {
    let first = (lq.page - 1) * u64::from(PAGE_SIZE) + 1;
    let last = first + agents.len() as u64 - 1;
    let header = |label: &str, asc: &str, desc: &str| {
        let (next, state) = if lq.sort == asc {
            (desc, Some("ascending"))
        } else if lq.sort == desc {
            (asc, Some("descending"))
        } else {
            (asc, None)
        };
        html! {
            th scope="col" aria-sort=[state] {
                a href=(lq.url(Some(next), Some(1))) {
                    (label)
                    @match state { Some("ascending") => span aria-hidden="true" { " ▲" }, Some(_) => span aria-hidden="true" { " ▼" }, None => {} }
                    span.sr-only { ", sort" }
                }
            }
        }
    };
    html! {
        div #agent-results {
            p #agent-count role="status" {
                @if agents.is_empty() { "No agents match." }
                @else { "Agents " (first) "–" (last) @if has_more { " (more on the next page)" } }
            }
            @if !agents.is_empty() {
                div.table-wrap {
                    table {
                        caption.sr-only { "Agents" }
                        thead { tr {
                            (header("Login ID", "loginId", "-loginId"))
                            (header("Name", "lastName", "-lastName"))
                            th scope="col" { "Email" }
                            th scope="col" { "Phone" }
                            th scope="col" { "Active" }
                            th scope="col" { "Locked" }
                        } }
                        tbody {
                            @for a in agents {
                                tr {
                                    td { a href={ "/agents/" (a.id) } { (a.login_id) } }
                                    td { (a.last_name) ", " (a.first_name) @if let Some(d) = &a.display_name { " (" (d) ")" } }
                                    td { (a.email.as_deref().unwrap_or("")) }
                                    td { (a.phone) }
                                    td { (ui::yes_no(a.active)) }
                                    td { (ui::yes_no(a.locked)) }
                                }
                            }
                        }
                    }
                }
            }
            @if lq.page > 1 || has_more {
                nav.pager aria-label="Pages of agents" {
                    @if lq.page > 1 {
                        a href=(lq.url(None, Some(lq.page - 1))) hx-get=(lq.url(None, Some(lq.page - 1))) hx-target="#agent-results" hx-swap="outerHTML" hx-push-url="true" { "Previous page" }
                    }
                    span { "Page " (lq.page) }
                    @if has_more {
                        a href=(lq.url(None, Some(lq.page + 1))) hx-get=(lq.url(None, Some(lq.page + 1))) hx-target="#agent-results" hx-swap="outerHTML" hx-push-url="true" { "Next page" }
                    }
                }
            }
        }
    }
}

// ---- create --------------------------------------------------------------

const PASSWORD_POLICY: &str = "8 to 128 characters with at least one digit; on a change, not one of the agent's last 4 passwords.";
const FIELDS: &[&str] =
    &["loginId", "firstName", "lastName", "displayName", "email", "phone", "wrapUpTime", "homeAgent", "active", "password"];

/// The values of the agent fields form, as shown.
#[derive(Default)]
struct Values {
    login_id: String,
    first_name: String,
    last_name: String,
    display_name: String,
    email: String,
    phone: String,
    wrap_up_time: String,
    home_agent: bool,
    active: bool,
}

impl Values {
    fn of(a: &Agent) -> Values {
        Values {
            login_id: a.login_id.clone(),
            first_name: a.first_name.clone(),
            last_name: a.last_name.clone(),
            display_name: a.display_name.clone().unwrap_or_default(),
            email: a.email.clone().unwrap_or_default(),
            phone: a.phone.clone(),
            wrap_up_time: a.wrap_up_time.to_string(),
            home_agent: a.home_agent,
            active: a.active,
        }
    }
    fn from_form(f: &FormData) -> Values {
        Values {
            login_id: f.raw("loginId").unwrap_or_default(),
            first_name: f.raw("firstName").unwrap_or_default(),
            last_name: f.raw("lastName").unwrap_or_default(),
            display_name: f.raw("displayName").unwrap_or_default(),
            email: f.raw("email").unwrap_or_default(),
            phone: f.raw("phone").unwrap_or_default(),
            wrap_up_time: f.raw("wrapUpTime").unwrap_or_default(),
            home_agent: f.checked("homeAgent"),
            active: f.checked("active"),
        }
    }
    fn wrap_up(&self) -> Result<Option<i64>, Error> {
        let t = self.wrap_up_time.trim();
        if t.is_empty() {
            return Ok(None);
        }
        t.parse().map(Some).map_err(|_| Error::invalid("wrapUpTime", Rule::Format { expected: "a whole number of seconds" }))
    }
    fn fields(&self, form: &str, errs: &Errs) -> Markup {
        html! {
            (Field::new(form, "loginId", "Login ID", &self.login_id).required().help("Unique in the tenant; stored in capitals.").render(errs))
            (Field::new(form, "firstName", "First name", &self.first_name).required().render(errs))
            (Field::new(form, "lastName", "Last name", &self.last_name).required().render(errs))
            (Field::new(form, "displayName", "Display name", &self.display_name).render(errs))
            (Field::new(form, "email", "Email", &self.email).input(Input::Email).render(errs))
            (Field::new(form, "phone", "Phone", &self.phone).input(Input::Tel).render(errs))
            (Field::new(form, "wrapUpTime", "Wrap-up time (seconds)", &self.wrap_up_time).input(Input::Number).help("-1 means unlimited.").render(errs))
            (Field::new(form, "homeAgent", "Home agent", "").input(Input::Checkbox(self.home_agent)).render(errs))
            (Field::new(form, "active", "Active", "").input(Input::Checkbox(self.active)).render(errs))
        }
    }
}

fn blank_none(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn new_form(c: &Console, v: &Values, errs: &Errs, status: StatusCode) -> Response {
    let body = html! {
        (errs.banner())
        form.stack method="post" action="/agents/new" novalidate {
            (ui::csrf(c))
            (v.fields("new", errs))
            (Field::new("new", "password", "Password (optional)", "").input(Input::Password).autocomplete("new-password").help(PASSWORD_POLICY).render(errs))
            div.actions {
                button type="submit" { "Create agent" }
                a.button.secondary href="/agents" { "Cancel" }
            }
        }
    };
    ui::html_response(status, ui::page(c, Nav::Agents, "New agent", body))
}

async fn new_page(c: Console) -> Response {
    if !c.can_edit() {
        return ui::error_page(Some(&c), Error::Forbidden);
    }
    new_form(&c, &Values { wrap_up_time: "-1".into(), active: true, ..Default::default() }, &Errs::none(), StatusCode::OK)
}

async fn create(State(s): State<AppState>, c: Console, f: FormData) -> Response {
    let v = Values::from_form(&f);
    let fail = |e: Error| new_form(&c, &v, &Errs::from_error(&e, FIELDS), Errs::status(&e));
    let wrap = match v.wrap_up() {
        Ok(w) => w,
        Err(e) => return fail(e),
    };
    let a = NewAgent {
        login_id: Some(v.login_id.clone()),
        first_name: Some(v.first_name.clone()),
        last_name: Some(v.last_name.clone()),
        display_name: blank_none(&v.display_name),
        email: blank_none(&v.email),
        phone: Some(v.phone.clone()),
        wrap_up_time: wrap,
        home_agent: Some(v.home_agent),
        active: Some(v.active),
        password: f.raw("password").filter(|p| !p.is_empty()),
        ..Default::default()
    };
    match s.dir.create_agent(&c.p, a).await {
        Ok(a) => Redirect::to(&format!("/agents/{}?done=created", a.agent.id)).into_response(),
        Err(e) => fail(e),
    }
}

// ---- the agent page --------------------------------------------------------

/// Errors to show in one section of the agent page after a failed POST.
#[derive(Default)]
struct PageErrs {
    details: Errs,
    password: Errs,
    skills: Errs,
    services: Errs,
    groups: Errs,
    general: Errs,
}

async fn show(State(s): State<AppState>, c: Console, Path(id): Path<Id>, RawQuery(raw): RawQuery) -> Response {
    let done = query(raw).text("done");
    render(&s, &c, id, None, PageErrs::default(), done.as_deref(), StatusCode::OK).await
}

async fn render(
    s: &AppState,
    c: &Console,
    id: Id,
    values: Option<Values>,
    errs: PageErrs,
    done: Option<&str>,
    status: StatusCode,
) -> Response {
    let a = match s.dir.get_agent(&c.p, id).await {
        Ok(a) => a,
        Err(e) => return ui::error_page(Some(c), e),
    };
    let cat = match Catalog::load(s, c).await {
        Ok(x) => x,
        Err(e) => return ui::error_page(Some(c), e),
    };
    let history = if c.can_audit() {
        match s.dir.list_audit(&c.p, Some(Entity::Agent), Some(id), PageRequest::first(10)).await {
            Ok(p) => Some(p),
            Err(e) => return ui::error_page(Some(c), e),
        }
    } else {
        None
    };
    let values = values.unwrap_or_else(|| Values::of(&a.agent));
    let title = format!("Agent {}", a.agent.login_id);
    let body = html! {
        (ui::flash(done))
        (errs.general.banner())
        p.lead { (a.agent.first_name) " " (a.agent.last_name)
            " · " @if a.agent.active { "active" } @else { "inactive" }
            @if a.agent.locked { " · " strong { "locked" } } }
        @if a.agent.locked {
            section.box aria-labelledby="h-lock" {
                h2 #h-lock { "Locked" }
                p { "This agent is locked after " (a.agent.failed_logins) " failed logins and cannot log in." }
                @if c.can_edit() {
                    form method="post" action={ "/agents/" (id) "/unlock" } {
                        (ui::csrf(c))
                        button type="submit" { "Unlock" }
                    }
                }
            }
        }
        div.columns {
            div {
                (details_section(c, &a, &values, &errs.details))
                @if c.can_edit() { (password_section(c, id, &errs.password)) }
            }
            div {
                (skills_section(c, &a, &cat, &errs.skills))
                (services_section(c, &a, &cat, &errs.services))
                (groups_section(c, &a, &cat, &errs.groups))
                @if let Some(h) = history {
                    section aria-labelledby="h-history" {
                        h2 #h-history { "History" }
                        (audit::timeline(&h.items, false))
                        p { a href={ "/audit?entity=agent&entityId=" (id) } { "Full history of this agent" } }
                    }
                }
                @if c.can_edit() {
                    section aria-labelledby="h-delete" {
                        h2 #h-delete { "Delete" }
                        p { a.button.danger href={ "/agents/" (id) "/delete" } { "Delete this agent…" } }
                    }
                }
            }
        }
    };
    ui::html_response(status, ui::page(c, Nav::Agents, &title, body))
}

fn details_section(c: &Console, a: &AgentDetail, v: &Values, errs: &Errs) -> Markup {
    let ag = &a.agent;
    html! {
        section aria-labelledby="h-details" {
            h2 #h-details { "Details" }
            @if c.can_edit() {
                (errs.banner())
                form.stack method="post" action={ "/agents/" (ag.id) } novalidate {
                    (ui::csrf(c))
                    input type="hidden" name="version" value=(ag.version);
                    (v.fields("agent", errs))
                    div.actions { button type="submit" { "Save changes" } }
                }
            } @else {
                dl.facts {
                    dt { "Login ID" } dd { (ag.login_id) }
                    dt { "First name" } dd { (ag.first_name) }
                    dt { "Last name" } dd { (ag.last_name) }
                    dt { "Display name" } dd { (ag.display_name.as_deref().unwrap_or("—")) }
                    dt { "Email" } dd { (ag.email.as_deref().unwrap_or("—")) }
                    dt { "Phone" } dd { (if ag.phone.is_empty() { "—" } else { &ag.phone }) }
                    dt { "Wrap-up time" } dd { (ag.wrap_up_time) " s" }
                    dt { "Home agent" } dd { (ui::yes_no(ag.home_agent)) }
                    dt { "Active" } dd { (ui::yes_no(ag.active)) }
                }
            }
            dl.facts.small {
                dt { "Last login" } dd { (ag.last_login.map(ui::when).unwrap_or_else(|| "never".into())) }
                dt { "Password set" } dd { (ag.password_last_modified.map(ui::when).unwrap_or_else(|| "never".into())) }
                dt { "Version" } dd { (ag.version) }
            }
        }
    }
}

fn password_section(c: &Console, id: Id, errs: &Errs) -> Markup {
    html! {
        section aria-labelledby="h-password" {
            h2 #h-password { "Password" }
            (errs.banner())
            form.stack method="post" action={ "/agents/" (id) "/password" } novalidate {
                (ui::csrf(c))
                (Field::new("pw", "password", "New password", "").input(Input::Password).autocomplete("new-password").required().help(PASSWORD_POLICY).render(errs))
                div.actions { button type="submit" { "Set password" } }
            }
        }
    }
}

fn proficiencies() -> Vec<(String, String)> {
    (1..=5).map(|i| (i.to_string(), i.to_string())).collect()
}

fn skills_section(c: &Console, a: &AgentDetail, cat: &Catalog, errs: &Errs) -> Markup {
    let id = a.agent.id;
    let profs = proficiencies();
    let unassigned: Vec<(String, String)> =
        cat.skills.iter().filter(|s| !a.skills.iter().any(|x| x.skill_id == s.id)).map(|s| (s.id.to_string(), s.name.clone())).collect();
    html! {
        section aria-labelledby="h-skills" {
            h2 #h-skills { "Skills" }
            (errs.banner())
            @if a.skills.is_empty() { p { "No skills assigned." } }
            @else {
                div.table-wrap { table {
                    caption.sr-only { "Skills of this agent" }
                    thead { tr { th scope="col" { "Skill" } th scope="col" { "Proficiency (1–5)" } @if c.can_edit() { th scope="col" { "Actions" } } } }
                    tbody {
                        @for sa in &a.skills {
                            @let name = cat.skill(sa.skill_id);
                            tr {
                                td { (name) }
                                @if c.can_edit() {
                                    td {
                                        form.inline method="post" action={ "/agents/" (id) "/skills" } {
                                            (ui::csrf(c))
                                            input type="hidden" name="skillId" value=(sa.skill_id);
                                            label.sr-only for={ "prof-" (sa.skill_id) } { "Proficiency for " (name) }
                                            select id={ "prof-" (sa.skill_id) } name="proficiency" {
                                                @for (v, l) in &profs { option value=(v) selected[*v == sa.proficiency.to_string()] { (l) } }
                                            }
                                            button type="submit" { "Save" span.sr-only { " proficiency for " (name) } }
                                        }
                                    }
                                    td {
                                        form.inline method="post" action={ "/agents/" (id) "/skills/" (sa.skill_id) "/remove" } {
                                            (ui::csrf(c))
                                            button.secondary type="submit" { "Remove" span.sr-only { " skill " (name) } }
                                        }
                                    }
                                } @else {
                                    td { (sa.proficiency) }
                                }
                            }
                        }
                    }
                } }
            }
            @if c.can_edit() {
                @if unassigned.is_empty() { p.help { "Every skill is assigned. Create skills on the " a href="/skills" { "Skills" } " page." } }
                @else {
                    form.inline.add method="post" action={ "/agents/" (id) "/skills" } {
                        (ui::csrf(c))
                        (Field::new("add-skill", "skillId", "Skill", "").input(Input::Select(&unassigned)).render(errs))
                        (Field::new("add-skill", "proficiency", "Proficiency", "3").input(Input::Select(&profs)).render(errs))
                        div.actions { button type="submit" { "Assign skill" } }
                    }
                }
            }
        }
    }
}

fn services_section(c: &Console, a: &AgentDetail, cat: &Catalog, errs: &Errs) -> Markup {
    let id = a.agent.id;
    let unassigned: Vec<(String, String)> = cat
        .services
        .iter()
        .filter(|s| !a.service_ids.contains(&s.id))
        .map(|s| (s.id.to_string(), if s.acd { s.name.clone() } else { format!("{} (not ACD)", s.name) }))
        .collect();
    html! {
        section aria-labelledby="h-services" {
            h2 #h-services { "Services" }
            (errs.banner())
            @if a.service_ids.is_empty() { p { "No services assigned." } }
            @else {
                ul.items {
                    @for sid in &a.service_ids {
                        @let name = cat.service(*sid);
                        li {
                            span { (name) }
                            @if c.can_edit() {
                                form.inline method="post" action={ "/agents/" (id) "/services/" (sid) "/remove" } {
                                    (ui::csrf(c))
                                    button.secondary type="submit" { "Remove" span.sr-only { " service " (name) } }
                                }
                            }
                        }
                    }
                }
            }
            @if c.can_edit() && !unassigned.is_empty() {
                form.inline.add method="post" action={ "/agents/" (id) "/services" } {
                    (ui::csrf(c))
                    (Field::new("add-service", "serviceId", "Service", "").input(Input::Select(&unassigned)).render(errs))
                    div.actions { button type="submit" { "Add service" } }
                }
            }
        }
    }
}

fn groups_section(c: &Console, a: &AgentDetail, cat: &Catalog, errs: &Errs) -> Markup {
    let id = a.agent.id;
    let unassigned: Vec<(String, String)> =
        cat.groups.iter().filter(|g| !a.groups.iter().any(|m| m.group_id == g.id)).map(|g| (g.id.to_string(), g.name.clone())).collect();
    html! {
        section aria-labelledby="h-groups" {
            h2 #h-groups { "Groups" }
            (errs.banner())
            @if a.groups.is_empty() { p { "Not in any group." } }
            @else {
                div.table-wrap { table {
                    caption.sr-only { "Groups of this agent" }
                    thead { tr { th scope="col" { "Group" } th scope="col" { "Receives calls" } @if c.can_edit() { th scope="col" { "Actions" } } } }
                    tbody {
                        @for m in &a.groups {
                            @let name = cat.group(m.group_id);
                            tr {
                                td { (name) }
                                td { (if m.receive_call { "on" } else { "off" }) }
                                @if c.can_edit() {
                                    td.actions-cell {
                                        form.inline method="post" action={ "/agents/" (id) "/groups" } {
                                            (ui::csrf(c))
                                            input type="hidden" name="groupId" value=(m.group_id);
                                            @if !m.receive_call { input type="hidden" name="receiveCall" value="on"; }
                                            button type="submit" {
                                                (if m.receive_call { "Turn calls off" } else { "Turn calls on" })
                                                span.sr-only { " in " (name) }
                                            }
                                        }
                                        form.inline method="post" action={ "/agents/" (id) "/groups/" (m.group_id) "/remove" } {
                                            (ui::csrf(c))
                                            button.secondary type="submit" { "Remove" span.sr-only { " from group " (name) } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                } }
            }
            @if c.can_edit() && !unassigned.is_empty() {
                form.inline.add method="post" action={ "/agents/" (id) "/groups" } {
                    (ui::csrf(c))
                    (Field::new("add-group", "groupId", "Group", "").input(Input::Select(&unassigned)).render(errs))
                    (Field::new("add-group", "receiveCall", "Receives calls", "").input(Input::Checkbox(true)).render(errs))
                    div.actions { button type="submit" { "Add to group" } }
                }
            }
        }
    }
}

// ---- changes ---------------------------------------------------------------

fn back(id: Id, done: &str) -> Response {
    Redirect::to(&format!("/agents/{id}?done={done}")).into_response()
}

async fn update(State(s): State<AppState>, c: Console, Path(id): Path<Id>, f: FormData) -> Response {
    let v = Values::from_form(&f);
    let current = match s.dir.get_agent(&c.p, id).await {
        Ok(a) => a.agent,
        Err(e) => return ui::error_page(Some(&c), e),
    };
    let fail = |e: Error| {
        let errs = PageErrs { details: Errs::from_error(&e, FIELDS), ..Default::default() };
        let st = Errs::status(&e);
        (errs, st)
    };
    let wrap = match v.wrap_up() {
        Ok(w) => w,
        Err(e) => {
            let (errs, st) = fail(e);
            return render(&s, &c, id, Some(v), errs, None, st).await;
        }
    };
    // Only what changed, so that saving an unchanged form writes nothing.
    let now = Values::of(&current);
    let changed = |a: &str, b: &str| (a.trim() != b.trim()).then(|| a.to_string());
    let clearable = |a: &str, b: &str| (a.trim() != b.trim()).then(|| blank_none(a));
    let patch = AgentPatch {
        login_id: (v.login_id.trim().to_uppercase() != now.login_id).then(|| v.login_id.clone()),
        first_name: changed(&v.first_name, &now.first_name),
        last_name: changed(&v.last_name, &now.last_name),
        display_name: clearable(&v.display_name, &now.display_name),
        email: clearable(&v.email, &now.email),
        phone: changed(&v.phone, &now.phone),
        wrap_up_time: wrap.filter(|w| *w != current.wrap_up_time),
        home_agent: (v.home_agent != now.home_agent).then_some(v.home_agent),
        active: (v.active != now.active).then_some(v.active),
        ..Default::default()
    };
    if patch.is_empty() {
        return back(id, "saved");
    }
    let version = f.int("version");
    match s.dir.update_agent(&c.p, id, patch, version).await {
        Ok(_) => back(id, "saved"),
        Err(e) => {
            let (errs, st) = fail(e);
            render(&s, &c, id, Some(v), errs, None, st).await
        }
    }
}

async fn set_password(State(s): State<AppState>, c: Console, Path(id): Path<Id>, f: FormData) -> Response {
    let pw = f.raw("password").unwrap_or_default();
    let result = if pw.is_empty() {
        Err(Error::invalid("password", Rule::Required))
    } else {
        s.dir.update_agent(&c.p, id, AgentPatch { password: Some(pw), ..Default::default() }, None).await
    };
    match result {
        Ok(_) => back(id, "password"),
        Err(e) => {
            let st = Errs::status(&e);
            render(&s, &c, id, None, PageErrs { password: Errs::from_error(&e, &["password"]), ..Default::default() }, None, st).await
        }
    }
}

async fn unlock(State(s): State<AppState>, c: Console, Path(id): Path<Id>) -> Response {
    match s.dir.unlock_agent(&c.p, id).await {
        Ok(_) => back(id, "unlocked"),
        Err(e) => section_error(&s, &c, id, e, |pe, x| pe.general = x).await,
    }
}

async fn section_error(s: &AppState, c: &Console, id: Id, e: Error, put: impl FnOnce(&mut PageErrs, Errs)) -> Response {
    if matches!(e, Error::NotFound { entity: Entity::Agent, .. }) {
        return ui::error_page(Some(c), e);
    }
    let st = Errs::status(&e);
    let mut pe = PageErrs::default();
    put(&mut pe, Errs::from_error(&e, &["skillId", "proficiency", "serviceId", "groupId"]));
    render(s, c, id, None, pe, None, st).await
}

async fn assign_skill(State(s): State<AppState>, c: Console, Path(id): Path<Id>, f: FormData) -> Response {
    let r = match (f.int("skillId"), f.int("proficiency")) {
        (Some(skill), Some(p)) => s.dir.assign_skill(&c.p, id, skill, p).await,
        (None, _) => Err(Error::invalid("skillId", Rule::Required)),
        (_, None) => Err(Error::invalid("proficiency", Rule::Required)),
    };
    match r {
        Ok(_) => back(id, "skill"),
        Err(Error::NotFound { entity: Entity::Skill, id: sid }) => {
            section_error(&s, &c, id, Error::invalid("skillId", Rule::UnknownReference { entity: Entity::Skill, id: sid }), |pe, x| {
                pe.skills = x
            })
            .await
        }
        Err(e) => section_error(&s, &c, id, e, |pe, x| pe.skills = x).await,
    }
}

async fn remove_skill(State(s): State<AppState>, c: Console, Path((id, skill)): Path<(Id, Id)>) -> Response {
    match s.dir.remove_skill(&c.p, id, skill).await {
        Ok(_) => back(id, "skill"),
        Err(e) => section_error(&s, &c, id, e, |pe, x| pe.skills = x).await,
    }
}

async fn add_service(State(s): State<AppState>, c: Console, Path(id): Path<Id>, f: FormData) -> Response {
    let r = match f.int("serviceId") {
        Some(sv) => s.dir.assign_service(&c.p, id, sv).await,
        None => Err(Error::invalid("serviceId", Rule::Required)),
    };
    match r {
        Ok(_) => back(id, "service"),
        Err(e) => section_error(&s, &c, id, e, |pe, x| pe.services = x).await,
    }
}

async fn remove_service(State(s): State<AppState>, c: Console, Path((id, service)): Path<(Id, Id)>) -> Response {
    match s.dir.remove_service(&c.p, id, service).await {
        Ok(_) => back(id, "service"),
        Err(e) => section_error(&s, &c, id, e, |pe, x| pe.services = x).await,
    }
}

async fn set_group(State(s): State<AppState>, c: Console, Path(id): Path<Id>, f: FormData) -> Response {
    let r = match f.int("groupId") {
        Some(g) => s.dir.set_group_memberships(&c.p, id, &[GroupMembership { group_id: g, receive_call: f.checked("receiveCall") }]).await,
        None => Err(Error::invalid("groupId", Rule::Required)),
    };
    match r {
        Ok(_) => back(id, "group"),
        Err(Error::Invalid { field, rule }) if field == "groups" => {
            section_error(&s, &c, id, Error::Invalid { field: "groupId".into(), rule }, |pe, x| pe.groups = x).await
        }
        Err(e) => section_error(&s, &c, id, e, |pe, x| pe.groups = x).await,
    }
}

async fn remove_group(State(s): State<AppState>, c: Console, Path((id, group)): Path<(Id, Id)>) -> Response {
    match s.dir.remove_group_membership(&c.p, id, group).await {
        Ok(_) => back(id, "group"),
        Err(e) => section_error(&s, &c, id, e, |pe, x| pe.groups = x).await,
    }
}

async fn confirm_delete(State(s): State<AppState>, c: Console, Path(id): Path<Id>) -> Response {
    if !c.can_edit() {
        return ui::error_page(Some(&c), Error::Forbidden);
    }
    match s.dir.get_agent(&c.p, id).await {
        Ok(a) => {
            let what = format!("agent {} ({} {})", a.agent.login_id, a.agent.first_name, a.agent.last_name);
            ui::html_response(
                StatusCode::OK,
                ui::confirm_delete(&c, Nav::Agents, &what, &format!("/agents/{id}/delete"), &format!("/agents/{id}"), a.agent.version),
            )
        }
        Err(e) => ui::error_page(Some(&c), e),
    }
}

async fn delete(State(s): State<AppState>, c: Console, Path(id): Path<Id>, f: FormData) -> Response {
    match s.dir.delete_agent(&c.p, id, f.int("version")).await {
        Ok(()) => Redirect::to("/agents?done=deleted").into_response(),
        Err(e) => ui::error_page(Some(&c), e),
    }
}
