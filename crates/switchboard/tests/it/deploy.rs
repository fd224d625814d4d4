//! The deployment files, run the way they run the binary: the container
//! image (deploy/Dockerfile: its user, working directory, environment and
//! HEALTHCHECK) and the systemd unit (deploy/switchboard@.service: its
//! dynamic user, state directory and credential). There is no Docker
//! engine or systemd manager in the tests: the same binary runs under the
//! same uid, directory and variables, and must serve. `systemd-analyze
//! verify` checks the unit where it is installed. Needs root (to run as
//! uid 65534); SQLite binary only.

use crate::support::*;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

fn repo_file(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A directory the unprivileged user can enter, with a copy of the binary
/// it can run (the build's own may sit under a private home).
fn sandbox() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = tmp.path().join("switchboard");
    std::fs::copy(BIN, &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    (tmp, bin)
}

/// A directory owned by `uid`, mode 0700.
fn owned_dir(path: &Path, uid: u32, gid: u32) {
    std::fs::create_dir_all(path).unwrap();
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).unwrap();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `cmd`; waits for its "listening on" line; the child and that URL.
fn started(mut cmd: Command) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = cmd.stderr(Stdio::piped()).stdout(Stdio::null()).spawn().expect("spawn");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    let url = loop {
        let Some(Ok(line)) = lines.next() else { panic!("exited before listening: {seen}") };
        seen.push_str(&line);
        seen.push('\n');
        if let Some(i) = line.find("listening on http://") {
            break line[i + "listening on ".len()..].split(|c: char| c.is_whitespace() || c == '"').next().unwrap().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, url)
}

struct Image {
    env: BTreeMap<String, String>,
    workdir: String,
    user: (u32, u32),
    volume: String,
    healthcheck: Vec<String>,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    exposed: String,
}

fn json_list(s: &str) -> Vec<String> {
    serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("exec form expected ({e}): {s}"))
}

/// The final stage of deploy/Dockerfile.
fn image() -> Image {
    let text = repo_file("deploy/Dockerfile");
    let stage = text.rsplit_once("\nFROM ").expect("a final stage").1;
    let mut img = Image {
        env: BTreeMap::new(),
        workdir: "/".into(),
        user: (0, 0),
        volume: String::new(),
        healthcheck: vec![],
        entrypoint: vec![],
        cmd: vec![],
        exposed: String::new(),
    };
    for line in stage.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        match word {
            "ENV" => {
                let (k, v) = rest.split_once('=').expect("ENV K=V");
                img.env.insert(k.trim().into(), v.trim().into());
            }
            "WORKDIR" => img.workdir = rest.trim().into(),
            "USER" => {
                let (u, g) = rest.trim().split_once(':').unwrap_or((rest.trim(), rest.trim()));
                img.user = (u.parse().expect("a numeric USER: the image has no passwd entry to name"), g.parse().unwrap());
            }
            "VOLUME" => img.volume = json_list(rest).join(" "),
            "HEALTHCHECK" => img.healthcheck = json_list(rest.split_once("CMD ").expect("HEALTHCHECK … CMD").1),
            "ENTRYPOINT" => img.entrypoint = json_list(rest),
            "CMD" => img.cmd = json_list(rest),
            "EXPOSE" => img.exposed = rest.trim().into(),
            _ => {}
        }
    }
    img
}

/// The program of an exec-form command, replaced by the binary under test.
fn run_as(bin: &Path, argv: &[String], uid: u32, gid: u32, cwd: &Path, env: &BTreeMap<String, String>) -> Command {
    assert_eq!(argv[0], "switchboard", "{argv:?}");
    let mut c = Command::new(bin);
    c.args(&argv[1..]).current_dir(cwd).env_clear().env("PATH", "/usr/local/bin:/usr/bin:/bin").envs(env).uid(uid).gid(gid);
    c
}

#[test]
fn the_container_image_serves_the_sqlite_default_as_non_root() {
    if on_postgres() {
        return;
    }
    let img = image();
    let dockerfile = repo_file("deploy/Dockerfile");
    let ignore = repo_file(".dockerignore");
    assert!(
        ignore.lines().any(|l| l.trim_end_matches('/') == "target") && ignore.lines().any(|l| l.trim_end_matches('/') == ".git"),
        ".dockerignore keeps target/ and .git/ out of the context"
    );
    assert!(
        dockerfile.contains("CARGO_PROFILE_RELEASE_STRIP=symbols") && dockerfile.contains("CARGO_PROFILE_RELEASE_DEBUG=false"),
        "a stripped binary"
    );
    assert_eq!((img.workdir.as_str(), img.volume.as_str()), ("/data", "/data"));
    assert_ne!(img.user.0, 0, "not root");
    assert_eq!(img.exposed, "8080");
    assert_eq!(img.env.get("SWITCHBOARD_LISTEN").map(String::as_str), Some("0.0.0.0:8080"), "reachable through -p 8080:8080");
    assert_eq!(img.healthcheck, ["switchboard", "healthcheck"]);
    let argv: Vec<String> = img.entrypoint.iter().chain(&img.cmd).cloned().collect();
    assert_eq!(argv, ["switchboard", "serve"]);
    if !is_root() {
        available_or_skipped("container", "running the binary as the image's uid needs root");
        return;
    }

    let (tmp, bin) = sandbox();
    let (uid, gid) = img.user;
    // /data as `docker run -v data:/data` gives it: a new volume takes the image's directory (owner, mode).
    let data = tmp.path().join("data");
    owned_dir(&data, uid, gid);
    let port = free_port();
    let mut env = img.env.clone();
    env.insert("SWITCHBOARD_LISTEN".into(), format!("0.0.0.0:{port}"));
    let (mut child, url) = started(run_as(&bin, &argv, uid, gid, &data, &env));
    assert_eq!(url, format!("http://0.0.0.0:{port}"));
    let body = std::process::Command::new(&bin)
        .args(["healthcheck", "--path", "/healthz", "--listen", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert!(body.status.success());
    // The HEALTHCHECK, as Docker runs it: same user, directory and environment.
    let out = run_as(&bin, &img.healthcheck, uid, gid, &data, &env).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("/readyz answered 200"));
    let db = data.join("switchboard.db");
    let meta = std::fs::metadata(&db).expect("the SQLite default in /data");
    use std::os::unix::fs::MetadataExt;
    assert_eq!((meta.uid(), meta.mode() & 0o777), (uid, 0o600));
    // An operator command through the image's entrypoint, on the same volume.
    let out = run_as(
        &bin,
        &["switchboard".into(), "admin".into(), "create-tenant".into(), "--name".into(), "docker".into()],
        uid,
        gid,
        &data,
        &env,
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    stop(&mut child);
    // Once the server is gone, the HEALTHCHECK fails.
    let out = run_as(&bin, &img.healthcheck, uid, gid, &data, &env).output().unwrap();
    assert!(!out.status.success());

    // What the old image did: the working directory `/`, not writable for
    // the user; the error says so in one line.
    let out = run_as(&bin, &argv, uid, gid, Path::new("/"), &env).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.trim_end().lines().last().unwrap_or_default();
    assert!(
        !out.status.success()
            && last.starts_with("error: ")
            && last.contains("not writable by this user")
            && last.contains("--database-url"),
        "{err}"
    );
}

/// SIGTERM, as `docker stop` sends; the server exits cleanly.
fn stop(child: &mut std::process::Child) {
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(child.wait().unwrap().success());
}

/// `Key=value` lines of the unit's [Service] section.
fn unit_settings(unit: &str) -> Vec<(String, String)> {
    let service = unit.split("[Service]").nth(1).expect("[Service]").split("\n[").next().unwrap();
    service
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn the_systemd_unit_runs_the_sqlite_default_with_its_credential() {
    if on_postgres() {
        return;
    }
    let unit = repo_file("deploy/switchboard@.service");
    let settings = unit_settings(&unit);
    let get = |k: &str| settings.iter().filter(|(key, _)| key == k).map(|(_, v)| v.as_str()).collect::<Vec<_>>();
    assert_eq!(get("DynamicUser"), ["yes"]);
    assert_eq!(get("StateDirectory"), ["switchboard"], "the SQLite default needs a writable directory");
    assert_eq!(get("WorkingDirectory"), ["%S/switchboard"]);
    assert_eq!(
        get("LoadCredential"),
        ["switchboard.toml:/etc/switchboard/switchboard.toml"],
        "secrets as a credential the dynamic user can read"
    );
    assert!(get("Environment").contains(&"SWITCHBOARD_CONFIG=%d/switchboard.toml"));
    assert!(!unit.contains("_FILE=/etc/"), "no secret file the dynamic user cannot read");
    for hardening in [
        "NoNewPrivileges",
        "ProtectSystem",
        "ProtectHome",
        "PrivateTmp",
        "PrivateDevices",
        "RestrictAddressFamilies",
        "CapabilityBoundingSet",
        "SystemCallFilter",
        "MemoryDenyWriteExecute",
    ] {
        assert_eq!(get(hardening).len(), 1, "{hardening}");
    }
    if !is_root() {
        available_or_skipped("systemd", "running the binary as a dynamic user's stand-in needs root");
        return;
    }
    let (tmp, bin) = sandbox();
    // systemd-analyze verify: the unit as installed, with this binary.
    match Command::new("systemd-analyze").arg("--version").output() {
        Ok(o) if o.status.success() => {
            let file = tmp.path().join("switchboard@8080.service");
            std::fs::write(&file, unit.replace("/usr/local/bin/switchboard", bin.to_str().unwrap())).unwrap();
            let out = Command::new("systemd-analyze").arg("verify").arg(&file).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            let ours: Vec<&str> = err.lines().filter(|l| l.contains("switchboard")).collect();
            assert!(out.status.success() && ours.is_empty(), "systemd-analyze verify: {err}");
        }
        _ => {
            if !available_or_skipped("systemd", "systemd-analyze is not installed") {
                return;
            }
        }
    }

    // The service as systemd starts it: a user of its own (uid 65534 here),
    // the state directory as working directory, the credential in
    // $CREDENTIALS_DIRECTORY, the Environment= lines with %i, %d, %S filled in.
    let (uid, gid) = (65534, 65534);
    let state = tmp.path().join("state/switchboard");
    owned_dir(tmp.path().join("state").as_path(), 0, 0);
    std::fs::set_permissions(tmp.path().join("state"), std::fs::Permissions::from_mode(0o755)).unwrap();
    owned_dir(&state, uid, gid);
    let creds = tmp.path().join("credentials");
    owned_dir(&creds, uid, gid);
    std::fs::write(
        creds.join("switchboard.toml"),
        "# from /etc/switchboard/switchboard.toml\nsession_idle_minutes = 30\nlog_format = \"json\"\n",
    )
    .unwrap();
    std::os::unix::fs::chown(creds.join("switchboard.toml"), Some(uid), Some(gid)).unwrap();
    std::fs::set_permissions(creds.join("switchboard.toml"), std::fs::Permissions::from_mode(0o400)).unwrap();
    let port = free_port();
    let mut env = BTreeMap::new();
    for v in get("Environment") {
        let v = v
            .replace("%i", &port.to_string())
            .replace("%d", creds.to_str().unwrap())
            .replace("%S", tmp.path().join("state").to_str().unwrap());
        let (k, v) = v.split_once('=').unwrap();
        env.insert(k.to_string(), v.to_string());
    }
    env.insert("CREDENTIALS_DIRECTORY".into(), creds.to_string_lossy().into());
    env.insert("STATE_DIRECTORY".into(), state.to_string_lossy().into());
    let exec: Vec<String> = get("ExecStart")[0].split_whitespace().map(|s| s.rsplit('/').next().unwrap().to_string()).collect();
    let (mut child, url) = started(run_as(&bin, &exec, uid, gid, &state, &env));
    assert_eq!(url, format!("http://127.0.0.1:{port}"));
    let out = Command::new(&bin).args(["healthcheck", "--listen", &format!("127.0.0.1:{port}")]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(state.join("switchboard.db").exists(), "the SQLite default in the state directory");
    // The credential's settings apply.
    let shown = run_as(&bin, &["switchboard".into(), "config".into(), "show".into()], uid, gid, &state, &env).output().unwrap();
    assert!(
        String::from_utf8_lossy(&shown.stdout).contains("session_idle_minutes = 30  # config file"),
        "{}",
        String::from_utf8_lossy(&shown.stdout)
    );
    stop(&mut child);
}
