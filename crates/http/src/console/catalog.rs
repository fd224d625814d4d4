//! Skills, call centers, services, groups, phones, DIDs and campaigns: one
//! list page (with a create form), one edit page and a delete confirmation
//! for each, described by [`Kind`].

use super::query;
use super::ui::{self, Errs, Field, Input, Nav};
use super::{Console, FormData};
use crate::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use maud::html;
use switchboard_domain::{CampaignInput, Entity, Error, Id, NamedInput, PageRequest, PhoneInput, Rule, ServiceInput, SkillInput};

const PAGE_SIZE: u32 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Skill,
    CallCenter,
    Service,
    Group,
    Phone,
    Did,
    Campaign,
}

const KINDS: &[Kind] = &[Kind::Skill, Kind::CallCenter, Kind::Service, Kind::Group, Kind::Phone, Kind::Did, Kind::Campaign];

impl Kind {
    fn path(self) -> &'static str {
        match self {
            Kind::Skill => "/skills",
            Kind::CallCenter => "/call-centers",
            Kind::Service => "/services",
            Kind::Group => "/groups",
            Kind::Phone => "/phones",
            Kind::Did => "/dids",
            Kind::Campaign => "/campaigns",
        }
    }
    fn plural(self) -> &'static str {
        match self {
            Kind::Skill => "Skills",
            Kind::CallCenter => "Call centers",
            Kind::Service => "Services",
            Kind::Group => "Groups",
            Kind::Phone => "Phones",
            Kind::Did => "DIDs",
            Kind::Campaign => "Campaigns",
        }
    }
    fn singular(self) -> &'static str {
        match self {
            Kind::Skill => "skill",
            Kind::CallCenter => "call center",
            Kind::Service => "service",
            Kind::Group => "group",
            Kind::Phone => "phone",
            Kind::Did => "DID",
            Kind::Campaign => "campaign",
        }
    }
    fn nav(self) -> Nav {
        match self {
            Kind::Skill => Nav::Skills,
            Kind::CallCenter => Nav::CallCenters,
            Kind::Service => Nav::Services,
            Kind::Group => Nav::Groups,
            Kind::Phone => Nav::Phones,
            Kind::Did => Nav::Dids,
            Kind::Campaign => Nav::Campaigns,
        }
    }
    fn entity(self) -> Entity {
        match self {
            Kind::Skill => Entity::Skill,
            Kind::CallCenter => Entity::CallCenter,
            Kind::Service => Entity::Service,
            Kind::Group => Entity::Group,
            Kind::Phone => Entity::Phone,
            Kind::Did => Entity::Did,
            Kind::Campaign => Entity::Campaign,
        }
    }
    /// Form fields (the API's field names) and the list's columns.
    fn fields(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Kind::Skill => &[("name", "Name"), ("description", "Description")],
            Kind::CallCenter | Kind::Group => &[("name", "Name")],
            Kind::Service => &[("name", "Name"), ("callCenterId", "Call center"), ("acd", "ACD (can be assigned to agents)")],
            Kind::Phone => &[("number", "Number"), ("name", "Name"), ("skills", "Skills")],
            Kind::Did => &[("number", "Number")],
            Kind::Campaign => &[("name", "Name"), ("dynamicDids", "Dynamic DIDs"), ("fallbackDids", "Fallback DIDs")],
        }
    }
    fn names(self) -> Vec<&'static str> {
        self.fields().iter().map(|(n, _)| *n).collect()
    }
}

/// One object as the console shows it: field values as text.
struct Obj {
    id: Id,
    version: i64,
    title: String,
    values: Vec<(&'static str, String)>,
}

impl Obj {
    fn get(&self, f: &str) -> &str {
        self.values.iter().find(|(k, _)| *k == f).map(|(_, v)| v.as_str()).unwrap_or("")
    }
}

pub fn routes() -> Router<AppState> {
    let mut r = Router::new();
    for &k in KINDS {
        let base = k.path();
        r = r
            .route(
                base,
                get(move |s: State<AppState>, c: Console, q: RawQuery| list(k, s, c, q))
                    .post(move |s: State<AppState>, c: Console, f: FormData| create(k, s, c, f)),
            )
            .route(
                &format!("{base}/{{id}}"),
                get(move |s: State<AppState>, c: Console, id: Path<Id>, q: RawQuery| show(k, s, c, id, q))
                    .post(move |s: State<AppState>, c: Console, id: Path<Id>, f: FormData| update(k, s, c, id, f)),
            )
            .route(
                &format!("{base}/{{id}}/delete"),
                get(move |s: State<AppState>, c: Console, id: Path<Id>| confirm(k, s, c, id))
                    .post(move |s: State<AppState>, c: Console, id: Path<Id>, f: FormData| delete(k, s, c, id, f)),
            )
    }
    r
}

fn lines(v: &[String]) -> String {
    v.join("\n")
}

/// A list typed one per line or separated by commas.
fn split(s: &str) -> Vec<String> {
    s.split(['\n', ',']).map(str::trim).filter(|x| !x.is_empty()).map(str::to_owned).collect()
}

async fn call_centers(s: &AppState, c: &Console) -> Result<Vec<(Id, String)>, Error> {
    Ok(s.dir.list_named(&c.p, Entity::CallCenter, PageRequest::first(1000)).await?.items.into_iter().map(|n| (n.id, n.name)).collect())
}

async fn fetch_list(k: Kind, s: &AppState, c: &Console, page: PageRequest) -> Result<(Vec<Obj>, bool), Error> {
    let d = &s.dir;
    let p = &c.p;
    Ok(match k {
        Kind::Skill => {
            let pg = d.list_skills(p, page).await?;
            (pg.items.into_iter().map(|x| skill(&x)).collect(), pg.has_more)
        }
        Kind::CallCenter | Kind::Group => {
            let pg = d.list_named(p, k.entity(), page).await?;
            (
                pg.items
                    .into_iter()
                    .map(|x| Obj { id: x.id, version: x.version, title: x.name.clone(), values: vec![("name", x.name)] })
                    .collect(),
                pg.has_more,
            )
        }
        Kind::Service => {
            let pg = d.list_services(p, None, page).await?;
            (pg.items.into_iter().map(|x| service(&x)).collect(), pg.has_more)
        }
        Kind::Phone => {
            let pg = d.list_phones(p, page).await?;
            (pg.items.into_iter().map(|x| phone(&x)).collect(), pg.has_more)
        }
        Kind::Did => {
            let pg = d.list_dids(p, page).await?;
            (
                pg.items
                    .into_iter()
                    .map(|x| Obj { id: x.id, version: x.version, title: x.number.clone(), values: vec![("number", x.number)] })
                    .collect(),
                pg.has_more,
            )
        }
        Kind::Campaign => {
            let pg = d.list_campaigns(p, page).await?;
            (pg.items.into_iter().map(|x| campaign(&x)).collect(), pg.has_more)
        }
    })
}

fn skill(x: &switchboard_domain::Skill) -> Obj {
    Obj {
        id: x.id,
        version: x.version,
        title: x.name.clone(),
        values: vec![("name", x.name.clone()), ("description", x.description.clone())],
    }
}
fn service(x: &switchboard_domain::Service) -> Obj {
    Obj {
        id: x.id,
        version: x.version,
        title: x.name.clone(),
        values: vec![
            ("name", x.name.clone()),
            ("callCenterId", x.call_center_id.to_string()),
            ("acd", if x.acd { "on".into() } else { String::new() }),
        ],
    }
}
fn phone(x: &switchboard_domain::Phone) -> Obj {
    Obj {
        id: x.id,
        version: x.version,
        title: format!("{} ({})", x.name, x.number),
        values: vec![("number", x.number.clone()), ("name", x.name.clone()), ("skills", x.skills.join(", "))],
    }
}
fn campaign(x: &switchboard_domain::Campaign) -> Obj {
    Obj {
        id: x.id,
        version: x.version,
        title: x.name.clone(),
        values: vec![("name", x.name.clone()), ("dynamicDids", lines(&x.dynamic_dids)), ("fallbackDids", lines(&x.fallback_dids))],
    }
}

async fn fetch(k: Kind, s: &AppState, c: &Console, id: Id) -> Result<Obj, Error> {
    let d = &s.dir;
    let p = &c.p;
    Ok(match k {
        Kind::Skill => skill(&d.get_skill(p, id).await?),
        Kind::CallCenter | Kind::Group => {
            let x = d.get_named(p, k.entity(), id).await?;
            Obj { id: x.id, version: x.version, title: x.name.clone(), values: vec![("name", x.name)] }
        }
        Kind::Service => service(&d.get_service(p, id).await?),
        Kind::Phone => phone(&d.get_phone(p, id).await?),
        Kind::Did => {
            let x = d.get_did(p, id).await?;
            Obj { id: x.id, version: x.version, title: x.number.clone(), values: vec![("number", x.number)] }
        }
        Kind::Campaign => campaign(&d.get_campaign(p, id).await?),
    })
}

/// The form's values as typed, for showing the form again after an error.
fn typed(k: Kind, f: &FormData) -> Obj {
    let values = k
        .fields()
        .iter()
        .map(|(n, _)| {
            (
                *n,
                if *n == "acd" {
                    if f.checked("acd") {
                        "on".into()
                    } else {
                        String::new()
                    }
                } else {
                    f.raw(n).unwrap_or_default()
                },
            )
        })
        .collect();
    Obj { id: 0, version: f.int("version").unwrap_or(0), title: String::new(), values }
}

fn call_center_id(f: &FormData) -> Result<Option<Id>, Error> {
    match f.text("callCenterId") {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| Error::invalid("callCenterId", Rule::Required)),
    }
}

async fn write(k: Kind, s: &AppState, c: &Console, id: Option<Id>, f: &FormData) -> Result<Id, Error> {
    let d = &s.dir;
    let p = &c.p;
    let version = f.int("version");
    let text = |n: &str| Some(f.raw(n).unwrap_or_default());
    Ok(match (k, id) {
        (Kind::Skill, None) => d.create_skill(p, SkillInput { name: text("name"), description: text("description") }).await?.id,
        (Kind::Skill, Some(id)) => {
            d.update_skill(p, id, SkillInput { name: text("name"), description: text("description") }, version).await?.id
        }
        (Kind::CallCenter | Kind::Group, None) => d.create_named(p, k.entity(), NamedInput { name: text("name") }).await?.id,
        (Kind::CallCenter | Kind::Group, Some(id)) => {
            d.rename_named(p, k.entity(), id, NamedInput { name: text("name") }, version).await?.id
        }
        (Kind::Service, id) => {
            let input = ServiceInput { name: text("name"), call_center_id: call_center_id(f)?, acd: Some(f.checked("acd")) };
            match id {
                None => d.create_service(p, input).await?.id,
                Some(id) => d.update_service(p, id, input, version).await?.id,
            }
        }
        (Kind::Phone, id) => {
            let input =
                PhoneInput { number: text("number"), name: text("name"), skills: Some(split(&f.raw("skills").unwrap_or_default())) };
            match id {
                None => d.create_phone(p, input).await?.id,
                Some(id) => d.update_phone(p, id, input, version).await?.id,
            }
        }
        (Kind::Did, None) => d.create_did(p, text("number")).await?.id,
        (Kind::Did, Some(id)) => d.update_did(p, id, text("number"), version).await?.id,
        (Kind::Campaign, id) => {
            let input = CampaignInput {
                name: text("name"),
                dynamic_dids: Some(split(&f.raw("dynamicDids").unwrap_or_default())),
                fallback_dids: Some(split(&f.raw("fallbackDids").unwrap_or_default())),
            };
            match id {
                None => d.create_campaign(p, input).await?.id,
                Some(id) => d.update_campaign(p, id, input, version).await?.id,
            }
        }
    })
}

/// The create/edit form's fields.
fn fields(k: Kind, form: &str, o: &Obj, centers: &[(String, String)], errs: &Errs) -> maud::Markup {
    html! {
        @for (name, label) in k.fields() {
            @let v = o.get(name);
            @match *name {
                "description" => (Field::new(form, name, label, v).input(Input::TextArea).render(errs)),
                "callCenterId" => (Field::new(form, name, label, v).input(Input::Select(centers)).required().render(errs)),
                "acd" => (Field::new(form, name, label, "").input(Input::Checkbox(!v.is_empty())).render(errs)),
                "number" => (Field::new(form, name, label, v).input(Input::Tel).required().help("E.164 style, e.g. +14155550100, or digits.").render(errs)),
                "skills" => (Field::new(form, name, label, v).help("Skill names, separated by commas.").render(errs)),
                "dynamicDids" | "fallbackDids" => (Field::new(form, name, label, v).input(Input::TextArea).help("Existing DID numbers, one per line, in order.").render(errs)),
                _ => (Field::new(form, name, label, v).required().render(errs)),
            }
        }
    }
}

async fn center_options(k: Kind, s: &AppState, c: &Console) -> Result<(Vec<(String, String)>, Vec<(Id, String)>), Error> {
    if k != Kind::Service {
        return Ok((vec![], vec![]));
    }
    let cc = call_centers(s, c).await?;
    let opts = std::iter::once((String::new(), "Choose a call center".to_string()))
        .chain(cc.iter().map(|(i, n)| (i.to_string(), n.clone())))
        .collect();
    Ok((opts, cc))
}

async fn list(k: Kind, State(s): State<AppState>, c: Console, RawQuery(raw): RawQuery) -> Response {
    render_list(k, &s, &c, query(raw), None, Errs::none(), StatusCode::OK).await
}

async fn render_list(
    k: Kind,
    s: &AppState,
    c: &Console,
    q: FormData,
    typed_values: Option<Obj>,
    errs: Errs,
    status: StatusCode,
) -> Response {
    let after = q.int("after").filter(|a| *a > 0).unwrap_or(0);
    let (items, more) = match fetch_list(k, s, c, PageRequest { after, offset: 0, limit: PAGE_SIZE }).await {
        Ok(x) => x,
        Err(e) => return ui::error_page(Some(c), e),
    };
    let (opts, centers) = match center_options(k, s, c).await {
        Ok(x) => x,
        Err(e) => return ui::error_page(Some(c), e),
    };
    let blank = Obj { id: 0, version: 0, title: String::new(), values: vec![("acd", "on".into())] };
    let new_values = typed_values.unwrap_or(blank);
    let cell = |o: &Obj, f: &str| -> String {
        match f {
            "callCenterId" => {
                o.get(f).parse::<Id>().ok().and_then(|i| centers.iter().find(|(c, _)| *c == i).map(|(_, n)| n.clone())).unwrap_or_default()
            }
            "acd" => ui::yes_no(!o.get(f).is_empty()).to_string(),
            _ => o.get(f).replace('\n', ", "),
        }
    };
    let next = more.then(|| format!("{}?after={}", k.path(), items.last().map(|o| o.id).unwrap_or(0)));
    let body = html! {
        (ui::flash(q.get("done")))
        @if items.is_empty() { p { "None yet." } }
        @else {
            div.table-wrap { table {
                caption.sr-only { (k.plural()) }
                thead { tr {
                    @for (n, label) in k.fields() { th scope="col" { @if *n == "acd" { "ACD" } @else { (label) } } }
                } }
                tbody {
                    @for o in &items {
                        tr {
                            @for (i, (n, _)) in k.fields().iter().enumerate() {
                                td {
                                    @if i == 0 { a href={ (k.path()) "/" (o.id) } { (cell(o, n)) } }
                                    @else { (cell(o, n)) }
                                }
                            }
                        }
                    }
                }
            } }
        }
        @if after > 0 || next.is_some() {
            nav.pager aria-label={ "Pages of " (k.plural().to_lowercase()) } {
                @if after > 0 { a href=(k.path()) { "First page" } }
                @if let Some(n) = next { a href=(n) { "Next page" } }
            }
        }
        @if c.can_edit() {
            section aria-labelledby="h-new" {
                h2 #h-new { "New " (k.singular()) }
                (errs.banner())
                form.stack method="post" action=(k.path()) novalidate {
                    (ui::csrf(c))
                    (fields(k, "new", &new_values, &opts, &errs))
                    div.actions { button type="submit" { "Create " (k.singular()) } }
                }
            }
        }
    };
    ui::html_response(status, ui::page(c, k.nav(), k.plural(), body))
}

async fn create(k: Kind, State(s): State<AppState>, c: Console, f: FormData) -> Response {
    match write(k, &s, &c, None, &f).await {
        Ok(_) => Redirect::to(&format!("{}?done=created", k.path())).into_response(),
        Err(e) => {
            let errs = Errs::from_error(&e, &k.names());
            render_list(k, &s, &c, FormData::default(), Some(typed(k, &f)), errs, Errs::status(&e)).await
        }
    }
}

async fn show(k: Kind, State(s): State<AppState>, c: Console, Path(id): Path<Id>, RawQuery(raw): RawQuery) -> Response {
    let done = query(raw).text("done");
    render_one(k, &s, &c, id, None, Errs::none(), done.as_deref(), StatusCode::OK).await
}

#[allow(clippy::too_many_arguments)]
async fn render_one(
    k: Kind,
    s: &AppState,
    c: &Console,
    id: Id,
    typed_values: Option<Obj>,
    errs: Errs,
    done: Option<&str>,
    status: StatusCode,
) -> Response {
    let o = match fetch(k, s, c, id).await {
        Ok(o) => o,
        Err(e) => return ui::error_page(Some(c), e),
    };
    let (opts, centers) = match center_options(k, s, c).await {
        Ok(x) => x,
        Err(e) => return ui::error_page(Some(c), e),
    };
    let shown = typed_values.map(|t| Obj { version: o.version, ..t }).unwrap_or(Obj {
        id: o.id,
        version: o.version,
        title: o.title.clone(),
        values: o.values.clone(),
    });
    let title = format!("{} {}", capitalise(k.singular()), o.title);
    let body = html! {
        (ui::flash(done))
        p { a href=(k.path()) { "All " (k.plural().to_lowercase()) } }
        @if c.can_edit() {
            (errs.banner())
            form.stack method="post" action={ (k.path()) "/" (id) } novalidate {
                (ui::csrf(c))
                input type="hidden" name="version" value=(shown.version);
                (fields(k, "edit", &shown, &opts, &errs))
                div.actions {
                    button type="submit" { "Save changes" }
                    a.button.danger href={ (k.path()) "/" (id) "/delete" } { "Delete…" }
                }
            }
        } @else {
            dl.facts {
                @for (n, label) in k.fields() {
                    dt { (label) }
                    dd {
                        @match *n {
                            "callCenterId" => (o.get(n).parse::<Id>().ok().and_then(|i| centers.iter().find(|(c, _)| *c == i).map(|(_, n)| n.clone())).unwrap_or_default()),
                            "acd" => (ui::yes_no(!o.get(n).is_empty())),
                            _ => (o.get(n)),
                        }
                    }
                }
            }
        }
        @if c.can_audit() {
            p { a href={ "/audit?entity=" (k.entity().as_str()) "&entityId=" (id) } { "History of this " (k.singular()) } }
        }
    };
    ui::html_response(status, ui::page(c, k.nav(), &title, body))
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

async fn update(k: Kind, State(s): State<AppState>, c: Console, Path(id): Path<Id>, f: FormData) -> Response {
    match write(k, &s, &c, Some(id), &f).await {
        Ok(_) => Redirect::to(&format!("{}/{id}?done=saved", k.path())).into_response(),
        Err(e @ Error::NotFound { .. }) if matches!(&e, Error::NotFound { entity, .. } if *entity == k.entity()) => {
            ui::error_page(Some(&c), e)
        }
        Err(e) => {
            let errs = Errs::from_error(&e, &k.names());
            render_one(k, &s, &c, id, Some(typed(k, &f)), errs, None, Errs::status(&e)).await
        }
    }
}

async fn confirm(k: Kind, State(s): State<AppState>, c: Console, Path(id): Path<Id>) -> Response {
    if !c.can_edit() {
        return ui::error_page(Some(&c), Error::Forbidden);
    }
    match fetch(k, &s, &c, id).await {
        Ok(o) => {
            let what = format!("{} {}", k.singular(), o.title);
            ui::html_response(
                StatusCode::OK,
                ui::confirm_delete(&c, k.nav(), &what, &format!("{}/{id}/delete", k.path()), &format!("{}/{id}", k.path()), o.version),
            )
        }
        Err(e) => ui::error_page(Some(&c), e),
    }
}

async fn delete(k: Kind, State(s): State<AppState>, c: Console, Path(id): Path<Id>, f: FormData) -> Response {
    let d = &s.dir;
    let p = &c.p;
    let v = f.int("version");
    let r = match k {
        Kind::Skill => d.delete_skill(p, id, v).await,
        Kind::CallCenter | Kind::Group => d.delete_named(p, k.entity(), id, v).await,
        Kind::Service => d.delete_service(p, id, v).await,
        Kind::Phone => d.delete_phone(p, id, v).await,
        Kind::Did => d.delete_did(p, id, v).await,
        Kind::Campaign => d.delete_campaign(p, id, v).await,
    };
    match r {
        Ok(()) => Redirect::to(&format!("{}?done=deleted", k.path())).into_response(),
        Err(e) => ui::error_page(Some(&c), e),
    }
}
