//! Where settings come from, in one order: a flag, then its `SWITCHBOARD_*`
//! environment variable, then the configuration file (`--config` or
//! `SWITCHBOARD_CONFIG`, TOML), then the default.
//!
//! The file's keys are the long flags' names (`database_url`, `listen`, …;
//! `-` or `_`). Each key the environment does not already set is put into
//! the environment before clap reads it, so clap's own rule (flag > env >
//! default) decides for all four. Secrets (the database and Redis URLs) may
//! come from a file named by `<NAME>_FILE` (Docker secrets, systemd
//! credentials), in the environment or as a `…_file` key of the file: the
//! value stays out of the process listing, shell history and config file.

use crate::db::redact;
use anyhow::{bail, Context, Result};
use clap::parser::ValueSource;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The settings that may hold passwords: shown redacted, and readable from
/// `<NAME>_FILE`.
pub const SECRET_SETTINGS: [&str; 2] = ["SWITCHBOARD_DATABASE_URL", "SWITCHBOARD_REDIS_URL"];

/// Where a variable this module set came from.
enum Origin {
    File(PathBuf),
    SecretFile(String),
}

static ORIGINS: OnceLock<HashMap<String, Origin>> = OnceLock::new();

/// The configuration file named on the command line (`--config PATH`,
/// `--config=PATH`) or by `SWITCHBOARD_CONFIG`.
fn config_path() -> Option<PathBuf> {
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        if a == "--" {
            break;
        }
        if a == "--config" {
            return args.next().map(PathBuf::from);
        }
        if let Some(p) = a.to_str().and_then(|s| s.strip_prefix("--config=")) {
            return Some(PathBuf::from(p));
        }
    }
    std::env::var_os("SWITCHBOARD_CONFIG").filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// Every setting's file key and environment variable, from the flags
/// that have one (all subcommands).
fn settings(cmd: &clap::Command, out: &mut HashMap<String, String>) {
    for a in cmd.get_arguments() {
        if let Some(var) = a.get_env().and_then(|v| v.to_str()) {
            if let Some(key) = var.strip_prefix("SWITCHBOARD_").filter(|k| *k != "CONFIG") {
                out.insert(key.to_ascii_lowercase(), var.to_string());
            }
        }
    }
    for sub in cmd.get_subcommands() {
        settings(sub, out);
    }
}

/// Applies `*_FILE` secrets and the configuration file to the environment
/// (before the command line is parsed, on the one thread there is).
pub fn load(cmd: &clap::Command) -> Result<()> {
    let mut origins = HashMap::new();
    for name in SECRET_SETTINGS {
        let file_var = format!("{name}_FILE");
        if std::env::var_os(name).is_some() {
            continue;
        }
        if let Some(path) = std::env::var_os(&file_var) {
            set_from_file(name, Path::new(&path)).with_context(|| format!("reading {file_var}"))?;
            origins.insert(name.to_string(), Origin::SecretFile(file_var));
        }
    }
    if let Some(path) = config_path() {
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading config file {}", path.display()))?;
        let table: toml::Table =
            text.parse().map_err(|e: toml::de::Error| anyhow::anyhow!("config file {}: {}", path.display(), e.message()))?;
        let mut known = HashMap::new();
        settings(cmd, &mut known);
        let mut secret_files = Vec::new();
        for (key, value) in table {
            let norm = key.replace('-', "_");
            let secret = norm.strip_suffix("_file").and_then(|base| known.get(base)).filter(|v| SECRET_SETTINGS.contains(&v.as_str()));
            let Some(var) = secret.or_else(|| known.get(&norm)) else {
                bail!(
                    "config file {}: unknown setting `{key}` (the settings are the long flags' names, e.g. database_url, listen)",
                    path.display()
                );
            };
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Float(f) => f.to_string(),
                _ => bail!("config file {}: `{key}` must be a string, a number or true/false", path.display()),
            };
            if secret.is_some() {
                secret_files.push((var.clone(), text));
            } else if std::env::var_os(var).is_none() {
                std::env::set_var(var, text);
                origins.insert(var.clone(), Origin::File(path.clone()));
            }
        }
        for (var, file) in secret_files {
            if std::env::var_os(&var).is_none() {
                set_from_file(&var, Path::new(&file)).with_context(|| format!("config file {}: reading {file}", path.display()))?;
                origins.insert(var, Origin::File(path.clone()));
            }
        }
    }
    let _ = ORIGINS.set(origins);
    Ok(())
}

fn set_from_file(var: &str, path: &Path) -> Result<()> {
    let value = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    std::env::set_var(var, value.trim());
    Ok(())
}

/// Where a parsed argument's value came from, in words.
fn source(matches: &clap::ArgMatches, arg: &clap::Arg) -> Option<String> {
    let var = arg.get_env().and_then(|v| v.to_str()).unwrap_or_default();
    Some(match matches.value_source(arg.get_id().as_str())? {
        ValueSource::CommandLine => "flag".into(),
        ValueSource::EnvVariable => match ORIGINS.get().and_then(|o| o.get(var)) {
            Some(Origin::File(p)) => format!("config file {}", p.display()),
            Some(Origin::SecretFile(v)) => format!("env {v}"),
            None => format!("env {var}"),
        },
        _ => "default".into(),
    })
}

/// `config show`: the effective settings as a configuration file (TOML),
/// each with where it came from; passwords in URLs replaced by `***`.
pub fn show(cmd: &clap::Command, matches: &clap::ArgMatches, values: &toml::Table) -> String {
    let mut out = String::from("# The effective configuration (flag > SWITCHBOARD_* env > config file > default).\n");
    if let Some(p) = config_path() {
        out.push_str(&format!("# config file: {}\n", p.display()));
    }
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        if matches!(id, "help" | "version" | "config") {
            continue;
        }
        let secret = arg.get_env().and_then(|v| v.to_str()).is_some_and(|v| SECRET_SETTINGS.contains(&v));
        match (values.get(id), source(matches, arg)) {
            (Some(v), Some(from)) => {
                let v = match v {
                    toml::Value::String(s) if secret => toml::Value::String(redact(s)),
                    v => v.clone(),
                };
                out.push_str(&format!("{id} = {v}  # {from}\n"));
            }
            _ => out.push_str(&format!("# {id}: not set\n")),
        }
    }
    out
}
