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
    let text_layer = (!json).then(|| {
        tracing_subscriber::fmt::layer()
            .event_format(format::Text::default())
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
    });
    let json_layer = json.then(|| tracing_subscriber::fmt::layer().event_format(format::Json).with_writer(std::io::stderr));
    tracing_subscriber::registry().with(text_layer).with(json_layer).with(targets).init();
    Ok(())
}

/// Log lines in tracing-subscriber's text and JSON formats, with the request
/// being answered where a `request` span used to show it (the span cost
/// every request, logged or not: `switchboard_http::with_request`).
mod format {
    use serde::ser::{SerializeMap, Serializer as _};
    use std::fmt;
    use switchboard_http::{with_request, RequestContext};
    use tracing::{Event, Level, Subscriber};
    use tracing_log::NormalizeEvent;
    use tracing_subscriber::fmt::format::{self as tsf, FormatEvent, FormatFields, Writer};
    use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
    use tracing_subscriber::fmt::FmtContext;
    use tracing_subscriber::registry::LookupSpan;

    /// `2026-12-05T06:35:01.378775Z  WARN request{id="…" method=POST path=/x}: target: message k=v`
    pub struct Text {
        /// Writes `target: message k=v` (tracing-subscriber's own).
        rest: tsf::Format<tsf::Full, ()>,
    }

    impl Default for Text {
        fn default() -> Self {
            Text { rest: tsf::Format::default().without_time().with_level(false) }
        }
    }

    impl<S, N> FormatEvent<S, N> for Text
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        N: for<'a> FormatFields<'a> + 'static,
    {
        fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut w: Writer<'_>, event: &Event<'_>) -> fmt::Result {
            let normalized = event.normalized_metadata();
            let level = *normalized.as_ref().unwrap_or_else(|| event.metadata()).level();
            let ansi = w.has_ansi_escapes();
            let paint = |w: &mut Writer<'_>, code: &str, text: &dyn fmt::Display| {
                if ansi {
                    write!(w, "\x1b[{code}m{text}\x1b[0m")
                } else {
                    write!(w, "{text}")
                }
            };
            if ansi {
                w.write_str("\x1b[2m")?;
            }
            SystemTime.format_time(&mut w)?;
            if ansi {
                w.write_str("\x1b[0m")?;
            }
            w.write_char(' ')?;
            let colour = match level {
                Level::TRACE => "35",
                Level::DEBUG => "34",
                Level::INFO => "32",
                Level::WARN => "33",
                Level::ERROR => "31",
            };
            paint(&mut w, colour, &format_args!("{:>5}", level.as_str()))?;
            w.write_char(' ')?;
            with_request(|r| match r {
                Some(r) => {
                    paint(&mut w, "1", &"request{")?;
                    write!(w, "id={:?} method={} path={}", r.id.to_str().unwrap_or("-"), r.method, r.uri.path())?;
                    paint(&mut w, "1", &"}")?;
                    paint(&mut w, "2", &":")?;
                    w.write_char(' ')
                }
                None => Ok(()),
            })?;
            self.rest.format_event(ctx, w, event)
        }
    }

    /// One object a line: timestamp, level, the event's fields, target, and
    /// `span` (`{"id", "method", "path", "name": "request"}`) while a
    /// request is answered.
    pub struct Json;

    impl<S, N> FormatEvent<S, N> for Json
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        N: for<'a> FormatFields<'a> + 'static,
    {
        fn format_event(&self, _: &FmtContext<'_, S, N>, mut w: Writer<'_>, event: &Event<'_>) -> fmt::Result {
            let normalized = event.normalized_metadata();
            let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
            let mut timestamp = String::new();
            SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
            let mut line = Vec::with_capacity(256);
            let mut json = serde_json::Serializer::new(&mut line);
            let written = (|| {
                let mut object = json.serialize_map(None)?;
                object.serialize_entry("timestamp", &timestamp)?;
                object.serialize_entry("level", meta.level().as_str())?;
                let mut fields = tracing_serde::SerdeMapVisitor::new(object);
                event.record(&mut fields);
                let mut object = fields.take_serializer()?;
                object.serialize_entry("target", meta.target())?;
                with_request(|r| r.map_or(Ok(()), |r| object.serialize_entry("span", &Span(r))))?;
                object.end()
            })();
            written.map_err(|_| fmt::Error)?;
            w.write_str(std::str::from_utf8(&line).map_err(|_| fmt::Error)?)?;
            w.write_char('\n')
        }
    }

    struct Span<'a>(&'a RequestContext);

    impl serde::Serialize for Span<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut m = s.serialize_map(Some(4))?;
            m.serialize_entry("id", self.0.id.to_str().unwrap_or("-"))?;
            m.serialize_entry("method", self.0.method.as_str())?;
            m.serialize_entry("path", self.0.uri.path())?;
            m.serialize_entry("name", "request")?;
            m.end()
        }
    }
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
