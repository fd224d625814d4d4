//! Password logins, one way for every surface (the console's sign-in, native
//! `POST /api/v1/sessions`, LiveVox `/session/login`): the tenant is looked
//! up, the user's attempt budget taken (shared by all surfaces, and across
//! instances when the limiter is Redis), the password checked by the domain,
//! and every refusal logged at WARN and counted in `/metrics`. A surface only
//! maps [`LoginRefused`] onto its own wire form.

pub(crate) use crate::state::retry_secs;
use crate::AppState;
use std::net::IpAddr;
use std::time::Duration;
use switchboard_domain::{Error, Id, Principal, Tenant};

/// Password logins allowed per minute for one user name of one tenant,
/// whichever surface they come through: generous for real clients, a wall
/// for guessing.
pub const LOGIN_ATTEMPTS_PER_MINUTE: u32 = 30;

/// Where a login came from, for logs and metrics.
#[derive(Debug, Clone, Copy)]
pub enum Surface {
    Console,
    Native,
    LiveVox,
}

impl Surface {
    fn as_str(self) -> &'static str {
        match self {
            Surface::Console => "console",
            Surface::Native => "native",
            Surface::LiveVox => "livevox",
        }
    }
}

/// Who is logging in: a user (username, case-sensitive) or an agent
/// (LiveVox's `agent: true`; loginId, counts toward the agent's lockout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Account {
    User,
    Agent,
}

pub struct LoginAttempt<'a> {
    pub surface: Surface,
    pub account: Account,
    /// The tenant's name as the client gave it.
    pub tenant: &'a str,
    pub username: &'a str,
    pub password: &'a str,
    pub client: IpAddr,
    /// The tenant the caller is already bound to (LiveVox's access token):
    /// a login into another tenant is refused before its password is checked
    /// (nor does it count toward that tenant's agent lockouts).
    pub bound_to: Option<Id>,
}

#[derive(Debug)]
pub enum LoginRefused {
    /// Unknown tenant or user, or a wrong password: told apart to nobody.
    BadCredentials,
    /// The agent is locked (the tenant's lockout threshold).
    Locked,
    /// The user's budget is spent; retry after this long.
    Throttled(Duration),
    /// Anything else (storage).
    Failed(Error),
}

impl LoginRefused {
    fn reason(&self) -> &'static str {
        match self {
            LoginRefused::BadCredentials => "bad_credentials",
            LoginRefused::Locked => "locked",
            LoginRefused::Throttled(_) => "throttled",
            LoginRefused::Failed(_) => "error",
        }
    }
}

/// Checks a password login; the one path every surface takes.
pub(crate) async fn password_login(s: &AppState, a: LoginAttempt<'_>) -> Result<(Tenant, Principal), LoginRefused> {
    let outcome = check(s, &a).await;
    if let Err(refused) = &outcome {
        let reason = refused.reason();
        metrics::counter!("switchboard_login_failures_total", "surface" => a.surface.as_str(), "reason" => reason).increment(1);
        if let LoginRefused::Throttled(_) = refused {
            crate::telemetry::count_rate_limited(a.surface.as_str(), "login");
        }
        // Never the password; the username is what was tried (it may not exist).
        match refused {
            LoginRefused::Failed(e) => {
                tracing::error!(surface = a.surface.as_str(), tenant = a.tenant, username = a.username, client = %a.client, error = %e, "login failed")
            }
            _ => {
                tracing::warn!(surface = a.surface.as_str(), tenant = a.tenant, username = a.username, client = %a.client, reason, "login refused")
            }
        }
    }
    outcome
}

async fn check(s: &AppState, a: &LoginAttempt<'_>) -> Result<(Tenant, Principal), LoginRefused> {
    // An unknown tenant is the same failure as a wrong password; its budget
    // is kept by name, so guessing tenants is throttled too.
    let tenant = match s.dir.store().find_tenant_by_name(a.tenant).await {
        Ok(t) => t,
        Err(Error::NotFound { .. }) => {
            take_attempt(s, &format!("login:name:{}:{}", a.tenant.to_lowercase(), a.username.to_lowercase())).await?;
            return Err(LoginRefused::BadCredentials);
        }
        Err(e) => return Err(LoginRefused::Failed(e)),
    };
    if a.bound_to.is_some_and(|id| id != tenant.id) {
        return Err(LoginRefused::BadCredentials);
    }
    take_attempt(s, &format!("login:{}:{}", tenant.id, a.username.to_lowercase())).await?;
    let login = match a.account {
        Account::User => s.dir.login_user(tenant.id, a.username, a.password).await,
        Account::Agent => s.dir.login_agent(tenant.id, a.username, a.password, Some(&a.client.to_string())).await,
    };
    match login {
        Ok(p) => {
            crate::telemetry::note_tenant(tenant.id);
            Ok((tenant, p))
        }
        Err(Error::Unauthenticated) => Err(LoginRefused::BadCredentials),
        Err(Error::Locked) => Err(LoginRefused::Locked),
        Err(e) => Err(LoginRefused::Failed(e)),
    }
}

async fn take_attempt(s: &AppState, key: &str) -> Result<(), LoginRefused> {
    s.limiter.check(key, LOGIN_ATTEMPTS_PER_MINUTE).await.map_err(LoginRefused::Throttled)
}
