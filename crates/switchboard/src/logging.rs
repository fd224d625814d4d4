//! Logs go to stderr (stdout is for command output), as text or as one JSON
//! object a line, filtered by `--log-level` (else `RUST_LOG`, else `info`).
//! A filter that does not parse stops the program at start.

use anyhow::{anyhow, bail, Result};
use clap::Args;
use serde::Serialize;
use tracing_subscriber::filter::{LevelFilter, Targets};

#[derive(Args, Clone, Serialize)]
pub struct LogArgs {
    /// Log format: text (for people) or json (one object a line, for log
    /// collectors).
    #[arg(long, global = true, env = "SWITCHBOARD_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// Log filter: a level (error, warn, info, debug, trace, off) and/or
    /// target=level directives, e.g. `info,switchboard_store=debug`.
    /// Without it: RUST_LOG, else info.
    #[arg(long, global = true, env = "SWITCHBOARD_LOG_LEVEL")]
    pub log_level: Option<String>,
}

/// Parses a filter, refusing what `Targets` would take silently (a bare
/// word that is no level becomes a target name there).
fn filter(spec: &str) -> Result<Targets> {
    for d in spec.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let level = d.rsplit_once('=').map_or(d, |(_, l)| l);
        if level.parse::<LevelFilter>().is_err() {
            bail!("`{d}` is not a level (error, warn, info, debug, trace, off) or target=level");
        }
    }
    spec.parse().map_err(|e| anyhow!("{e}"))
}

pub fn init(a: &LogArgs) -> Result<()> {
    use std::io::IsTerminal;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let (spec, from) = match (&a.log_level, std::env::var("RUST_LOG")) {
        (Some(s), _) => (s.clone(), "--log-level"),
        (None, Ok(s)) if !s.trim().is_empty() => (s, "RUST_LOG"),
        _ => ("info".to_string(), "default"),
    };
    let targets = filter(&spec).map_err(|e| anyhow!("invalid log filter {from}={spec:?}: {e}"))?;
    let json = a.log_format == "json";
    let text_layer =
        (!json).then(|| tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(std::io::stderr().is_terminal()));
    let json_layer = json.then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
    });
    tracing_subscriber::registry().with(text_layer).with(json_layer).with(targets).init();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::filter;

    #[test]
    fn filters() {
        for ok in ["info", "debug,hyper=warn", "switchboard_http=debug,info", "off", " warn "] {
            assert!(filter(ok).is_ok(), "{ok}");
        }
        for bad in ["verbose", "info,loud", "switchboard_http=lots"] {
            assert!(filter(bad).is_err(), "{bad}");
        }
    }
}
