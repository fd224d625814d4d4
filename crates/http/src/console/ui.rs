//! The console's page shell and shared pieces: layout and navigation, form
//! fields with their error next to them, messages, paging links, dates.

use super::{Console, CSRF_FIELD, CSS_PATH, HTMX_PATH};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};
use switchboard_domain::{Error, Millis};

/// The sections of the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Agents,
    Skills,
    Services,
    CallCenters,
    Groups,
    Phones,
    Dids,
    Campaigns,
    Audit,
    Import,
    Settings,
    Webhooks,
    None,
}

const NAV: &[(Nav, &str, &str)] = &[
    (Nav::Agents, "/agents", "Agents"),
    (Nav::Skills, "/skills", "Skills"),
    (Nav::Services, "/services", "Services"),
    (Nav::CallCenters, "/call-centers", "Call centers"),
    (Nav::Groups, "/groups", "Groups"),
    (Nav::Phones, "/phones", "Phones"),
    (Nav::Dids, "/dids", "DIDs"),
    (Nav::Campaigns, "/campaigns", "Campaigns"),
    (Nav::Audit, "/audit", "Audit"),
    (Nav::Import, "/import", "Import"),
    (Nav::Settings, "/settings", "Settings"),
    (Nav::Webhooks, "/webhooks", "Webhooks"),
];

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            // Indicator styles live in console.css: the CSP allows no inline styles.
            meta name="htmx-config" content=r#"{"includeIndicatorStyles":false,"allowEval":false}"#;
            title { (title) " · Switchboard" }
            link rel="stylesheet" href=(CSS_PATH);
            script src=(HTMX_PATH) defer {}
        }
    }
}

/// A full page for a signed-in user.
pub fn page(c: &Console, nav: Nav, title: &str, body: Markup) -> Markup {
    let csrf_json = format!(r#"{{"X-CSRF-Token":"{}"}}"#, c.csrf);
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body hx-headers=(csrf_json) {
                a.skip href="#main" { "Skip to main content" }
                header.top {
                    a.brand href="/agents" { "Switchboard" }
                    nav aria-label="Main" {
                        ul {
                            @for (n, href, label) in NAV {
                                @if (*n != Nav::Audit || c.can_audit()) && (*n != Nav::Import || c.can_edit()) && (!matches!(n, Nav::Settings | Nav::Webhooks) || c.can_configure()) {
                                    li {
                                        @if *n == nav { a href=(href) aria-current="page" { (label) } }
                                        @else { a href=(href) { (label) } }
                                    }
                                }
                            }
                        }
                    }
                    div.who {
                        span { (c.p.username) " · " (c.tenant_name) " · " (role_label(c)) }
                        form method="post" action="/logout" {
                            (csrf(c))
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    @if !c.can_edit() {
                        p.note role="note" { "Your role can view the directory but not change it." }
                    }
                    (body)
                }
            }
        }
    }
}

fn role_label(c: &Console) -> &'static str {
    c.p.role.as_str()
}

/// A page without the signed-in shell (sign-in, errors before sign-in).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                main #main .narrow {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// The hidden CSRF field every form carries.
pub fn csrf(c: &Console) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(c.csrf); }
}

pub fn html_response(status: StatusCode, m: Markup) -> Response {
    (status, m).into_response()
}

pub fn message_page(status: StatusCode, title: &str, text: &str) -> Response {
    html_response(status, bare(title, html! { p { (text) } p { a href="/agents" { "Back to the console" } } }))
}

/// A failed operation outside a form: a page saying what went wrong.
pub fn error_page(c: Option<&Console>, e: Error) -> Response {
    let (status, title) = match &e {
        Error::NotFound { .. } => (StatusCode::NOT_FOUND, "Not found"),
        Error::Forbidden => (StatusCode::FORBIDDEN, "Not allowed"),
        Error::Storage(msg) => {
            tracing::error!(error = %msg, "storage failure");
            (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong")
        }
        Error::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "Invalid request"),
        _ => (StatusCode::CONFLICT, "Not done"),
    };
    let text = message_of(&e);
    match c {
        Some(c) => html_response(
            status,
            page(c, Nav::None, title, html! { p.alert role="alert" { (text) } p { a href="/agents" { "Back to agents" } } }),
        ),
        None => message_page(status, title, &text),
    }
}

/// The text of an error: the native API's `detail` wording.
pub fn message_of(e: &Error) -> String {
    match e {
        Error::Forbidden => "your role does not allow this operation".into(),
        Error::Storage(_) => "internal error; see the server log".into(),
        Error::VersionMismatch { .. } => format!("{e}: someone else changed it since this page was loaded; reload the page and try again"),
        _ => e.to_string(),
    }
}

/// Errors of a submitted form: per field (the API's camelCase field names,
/// which are also the inputs' names) and for the form as a whole.
#[derive(Debug, Default, Clone)]
pub struct Errs {
    pub fields: Vec<(String, String)>,
    pub general: Option<String>,
}

impl Errs {
    pub fn none() -> Errs {
        Errs::default()
    }

    /// Files an error under its field when the form has that field.
    pub fn from_error(e: &Error, form_fields: &[&str]) -> Errs {
        let field = match e {
            Error::Invalid { field, .. } => Some(field.as_str()),
            Error::Duplicate { field, .. } => Some(*field),
            _ => None,
        };
        let msg = message_of(e);
        match field {
            Some(f) if form_fields.contains(&f) => Errs { fields: vec![(f.to_string(), msg)], general: None },
            _ => Errs { fields: vec![], general: Some(msg) },
        }
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields.iter().find(|(f, _)| f == field).map(|(_, m)| m.as_str())
    }

    /// The status a page re-rendered with these errors answers with.
    pub fn status(e: &Error) -> StatusCode {
        match e {
            Error::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Forbidden => StatusCode::FORBIDDEN,
            Error::NotFound { .. } => StatusCode::NOT_FOUND,
            Error::VersionMismatch { .. } => StatusCode::PRECONDITION_FAILED,
            Error::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::CONFLICT,
        }
    }

    /// The form-level error, announced to screen readers.
    pub fn banner(&self) -> Markup {
        html! {
            @if let Some(g) = &self.general { p.alert role="alert" { (g) } }
            @else if !self.fields.is_empty() { p.alert role="alert" { "Please correct the field marked below." } }
        }
    }
}

/// How an input looks.
#[derive(Clone, Copy)]
pub enum Input<'a> {
    Text,
    Email,
    Tel,
    Number,
    Password,
    TextArea,
    Checkbox(bool),
    Select(&'a [(String, String)]),
}

/// One labelled form field; its error (if any) is shown right below it and
/// linked to it (`aria-describedby`, `aria-invalid`).
pub struct Field<'a> {
    pub form: &'a str,
    pub name: &'a str,
    pub label: &'a str,
    pub value: &'a str,
    pub input: Input<'a>,
    pub help: Option<&'a str>,
    pub required: bool,
    pub autocomplete: Option<&'a str>,
}

impl<'a> Field<'a> {
    pub fn new(form: &'a str, name: &'a str, label: &'a str, value: &'a str) -> Field<'a> {
        Field { form, name, label, value, input: Input::Text, help: None, required: false, autocomplete: None }
    }
    pub fn input(mut self, i: Input<'a>) -> Self {
        self.input = i;
        self
    }
    pub fn help(mut self, h: &'a str) -> Self {
        self.help = Some(h);
        self
    }
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub fn autocomplete(mut self, a: &'a str) -> Self {
        self.autocomplete = Some(a);
        self
    }

    pub fn render(&self, errs: &Errs) -> Markup {
        let id = format!("{}-{}", self.form, self.name);
        let help_id = format!("{id}-help");
        let err_id = format!("{id}-error");
        let err = errs.get(self.name);
        let mut described: Vec<&str> = vec![];
        if self.help.is_some() {
            described.push(&help_id);
        }
        if err.is_some() {
            described.push(&err_id);
        }
        let described = (!described.is_empty()).then(|| described.join(" "));
        let invalid = err.map(|_| "true");
        html! {
            div.field.has-error[err.is_some()].check[matches!(self.input, Input::Checkbox(_))] {
                @match self.input {
                    Input::Checkbox(on) => {
                        input type="checkbox" id=(id) name=(self.name) checked[on] aria-describedby=[described.as_deref()] aria-invalid=[invalid];
                        label for=(id) { (self.label) }
                    }
                    _ => {
                        label for=(id) {
                            (self.label)
                            @if self.required { span.req aria-hidden="true" { " *" } }
                        }
                        @match self.input {
                            Input::TextArea => {
                                textarea id=(id) name=(self.name) rows="4" required[self.required] aria-describedby=[described.as_deref()] aria-invalid=[invalid] { (self.value) }
                            }
                            Input::Select(options) => {
                                select id=(id) name=(self.name) required[self.required] aria-describedby=[described.as_deref()] aria-invalid=[invalid] {
                                    @for (v, l) in options {
                                        option value=(v) selected[v == self.value] { (l) }
                                    }
                                }
                            }
                            _ => {
                                input id=(id) name=(self.name) type=(input_type(self.input)) value=(self.value)
                                    required[self.required] autocomplete=[self.autocomplete]
                                    aria-describedby=[described.as_deref()] aria-invalid=[invalid];
                            }
                        }
                    }
                }
                @if let Some(h) = self.help { p.help id=(help_id) { (h) } }
                @if let Some(e) = err { p.error id=(err_id) { (e) } }
            }
        }
    }
}

fn input_type(i: Input<'_>) -> &'static str {
    match i {
        Input::Email => "email",
        Input::Tel => "tel",
        Input::Number => "number",
        Input::Password => "password",
        _ => "text",
    }
}

/// A one-line confirmation after a redirect (`?done=…`): fixed texts only,
/// so nothing from the URL is echoed.
pub fn flash(done: Option<&str>) -> Markup {
    let text = match done {
        Some("created") => "Created.",
        Some("saved") => "Saved.",
        Some("deleted") => "Deleted.",
        Some("password") => "Password set.",
        Some("unlocked") => "Agent unlocked.",
        Some("skill") => "Skills updated.",
        Some("service") => "Services updated.",
        Some("group") => "Groups updated.",
        _ => return html! {},
    };
    html! { p.flash role="status" { (text) } }
}

/// A confirmation page for a delete: a POST form and a way back.
pub fn confirm_delete(c: &Console, nav: Nav, what: &str, action: &str, back: &str, version: i64) -> Markup {
    page(
        c,
        nav,
        &format!("Delete {what}?"),
        html! {
            p { "This deletes " strong { (what) } ". It cannot be undone; the audit trail keeps a record." }
            form method="post" action=(action) {
                (csrf(c))
                input type="hidden" name="version" value=(version);
                div.actions {
                    button.danger type="submit" { "Delete" }
                    a.button.secondary href=(back) { "Cancel" }
                }
            }
        },
    )
}

/// Percent-encodes a query value.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `2024-05-01 13:45:07 UTC` from ms since the epoch.
pub fn when(ms: Millis) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Machine-readable form of [`when`] for `<time datetime>`.
pub fn iso(ms: Millis) -> String {
    when(ms).replace(" UTC", "Z").replacen(' ', "T", 1)
}

pub fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates() {
        assert_eq!(super::when(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(super::when(1_709_210_096_000), "2024-02-29 12:34:56 UTC");
        assert_eq!(super::iso(1_709_210_096_000), "2024-02-29T12:34:56Z");
    }
}
