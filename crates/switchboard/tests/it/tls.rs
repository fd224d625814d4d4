//! TLS to PostgreSQL and Redis, against servers this test starts with TLS
//! on and certificates it makes: a throwaway CA, a server certificate for
//! `localhost` only, and a second CA that signed nothing. Shows that
//! `verify-full` refuses a certificate that does not name the host asked
//! for, `verify-ca` one of another CA, and that `rediss://` is checked the
//! same way. Needs root (the PostgreSQL cluster runs as `postgres`), the
//! PostgreSQL server binaries and redis-server; without them the test
//! fails, unless `SWITCHBOARD_TEST_SKIP` names `tls`. SQLite binary only
//! (the servers are its own).

use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

struct Certs {
    dir: tempfile::TempDir,
    ca: PathBuf,
    other_ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn certs() -> Certs {
    use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let ca_params = |name: &str| {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        p
    };
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params("Switchboard test CA").self_signed(&ca_key).unwrap();
    let other_key = KeyPair::generate().unwrap();
    let other_cert = ca_params("Another CA").self_signed(&other_key).unwrap();
    let issuer = Issuer::new(ca_params("Switchboard test CA"), ca_key);
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    p.distinguished_name.push(DnType::CommonName, "localhost");
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = p.signed_by(&key, &issuer).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    // Chained: the server sends its certificate and the CA's.
    Certs {
        ca: write("ca.pem", ca_cert.pem()),
        other_ca: write("other-ca.pem", other_cert.pem()),
        cert: write("server.crt", cert.pem() + &ca_cert.pem()),
        key: write("server.key", key.serialize_pem()),
        dir,
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for_port(port: u16, child: &mut std::process::Child) -> bool {
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        if child.try_wait().ok().flatten().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The newest installed PostgreSQL's server binaries (Debian's layout, or
/// `pg_config --bindir`).
fn pg_bin() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir("/usr/lib/postgresql").into_iter().flatten().flatten().map(|e| e.path().join("bin")).collect();
    dirs.sort_by_key(|d| {
        d.file_name()
            .map(|_| d.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0))
    });
    if let Ok(o) = Command::new("pg_config").arg("--bindir").output() {
        dirs.insert(0, PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    }
    dirs.into_iter().rev().find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
}

/// A PostgreSQL cluster of its own with `ssl = on`, accepting TCP only over
/// TLS; stopped and removed when dropped.
struct PgTls {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

fn as_postgres(cmd: &Path) -> Command {
    let mut c = Command::new("runuser");
    c.args(["-u", "postgres", "--"]).arg(cmd);
    c
}

impl PgTls {
    fn start(certs: &Certs) -> Option<PgTls> {
        let Some(bin) = pg_bin() else {
            available_or_skipped("tls", "no PostgreSQL server binaries (initdb, pg_ctl) to start a cluster with TLS");
            return None;
        };
        if !is_root() {
            available_or_skipped("tls", "the TLS test runs initdb as the postgres user, which needs root");
            return None;
        }
        let dir = tempfile::Builder::new().prefix("sb-pgtls").tempdir().unwrap();
        let chown = |p: &Path| assert!(Command::new("chown").args(["-R", "postgres:postgres"]).arg(p).status().unwrap().success());
        chown(dir.path());
        let data = dir.path().join("data");
        let out = as_postgres(&bin.join("initdb"))
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync", "--no-instructions", "-D"])
            .arg(&data)
            .output()
            .unwrap();
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        std::fs::copy(&certs.cert, data.join("server.crt")).unwrap();
        std::fs::copy(&certs.key, data.join("server.key")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(data.join("server.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
        let port = free_port();
        let conf = format!(
            "\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nfsync = off\nmax_connections = 30\nshared_buffers = 16MB\n",
            dir.path().display()
        );
        use std::io::Write;
        std::fs::OpenOptions::new().append(true).open(data.join("postgresql.conf")).unwrap().write_all(conf.as_bytes()).unwrap();
        // TCP only over TLS: a plain connection finds no pg_hba line.
        std::fs::write(data.join("pg_hba.conf"), "local all all trust\nhostssl all all 127.0.0.1/32 trust\n").unwrap();
        chown(dir.path());
        let out = as_postgres(&bin.join("pg_ctl"))
            .args(["-w", "-t", "30", "-l"])
            .arg(dir.path().join("log"))
            .arg("-D")
            .arg(&data)
            .arg("start")
            .output()
            .unwrap();
        let pg = PgTls { dir, bin, port };
        assert!(
            out.status.success(),
            "pg_ctl start: {} {}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(pg.dir.path().join("log")).unwrap_or_default()
        );
        Some(pg)
    }
}

impl Drop for PgTls {
    fn drop(&mut self) {
        let _ =
            as_postgres(&self.bin.join("pg_ctl")).args(["-m", "immediate", "-D"]).arg(self.dir.path().join("data")).arg("stop").output();
    }
}

/// `switchboard admin migrate` on `url` (and `extra` flags): the error
/// line, if it failed.
fn migrate(cwd: &Path, url: &str, extra: &[&str]) -> Result<(), String> {
    let out = Command::new(BIN)
        .args(["admin", "migrate", "--database-url", url])
        .args(extra)
        .current_dir(cwd)
        .env_remove("SWITCHBOARD_DATABASE_URL")
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn postgres_over_tls() {
    if on_postgres() {
        return; // the test's own server; once is enough
    }
    let certs = certs();
    let Some(pg) = PgTls::start(&certs) else { return };
    let cwd = certs.dir.path();
    let ca = certs.ca.to_str().unwrap();
    let url = |host: &str, mode: &str| format!("postgres://postgres@{host}:{}/postgres?sslmode={mode}", pg.port);

    // verify-full: the CA (flag or sslrootcert) and the host name must both match.
    migrate(cwd, &url("localhost", "verify-full"), &["--db-ca-file", ca]).expect("verify-full with the CA file");
    migrate(cwd, &format!("{}&sslrootcert={ca}", url("localhost", "verify-full")), &[]).expect("verify-full with sslrootcert=");
    let err =
        migrate(cwd, &url("127.0.0.1", "verify-full"), &["--db-ca-file", ca]).expect_err("the certificate names localhost, not 127.0.0.1");
    assert!(err.starts_with("error: opening database postgres://postgres@127.0.0.1") && err.trim().lines().count() == 1, "{err}");
    assert!(err.to_lowercase().contains("certificate") || err.to_lowercase().contains("tls"), "{err}");
    // verify-ca: the CA only.
    migrate(cwd, &url("127.0.0.1", "verify-ca"), &["--db-ca-file", ca]).expect("verify-ca checks the chain, not the name");
    let err = migrate(cwd, &url("localhost", "verify-ca"), &["--db-ca-file", certs.other_ca.to_str().unwrap()]).expect_err("another CA");
    assert!(err.to_lowercase().contains("certificate") || err.to_lowercase().contains("tls"), "{err}");
    // Without a CA, the public web CAs: this one is not among them.
    migrate(cwd, &url("localhost", "verify-full"), &[]).expect_err("an unknown CA");
    // require: encrypted, unverified (libpq's meaning).
    migrate(cwd, &url("127.0.0.1", "require"), &[]).expect("require");
    // The server takes TLS only: a plain connection is refused.
    let err = migrate(cwd, &url("127.0.0.1", "disable"), &[]).expect_err("plain TCP");
    assert!(err.contains("pg_hba.conf") && err.contains("no encryption"), "{err}");
    let err = migrate(cwd, &url("localhost", "verify-full"), &["--db-ca-file", "/nonexistent/ca.pem"]).expect_err("a missing CA file");
    assert!(err.contains("/nonexistent/ca.pem"), "{err}");
}

#[tokio::test]
async fn redis_over_tls() {
    if on_postgres() {
        return;
    }
    let certs = certs();
    let port = free_port();
    let Ok(mut redis) = Command::new("redis-server")
        .args([
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--tls-auth-clients",
            "no",
            "--tls-port",
            &port.to_string(),
        ])
        .arg("--tls-cert-file")
        .arg(&certs.cert)
        .arg("--tls-key-file")
        .arg(&certs.key)
        .arg("--tls-ca-cert-file")
        .arg(&certs.ca)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        available_or_skipped("tls", "redis-server is not installed");
        return;
    };
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    if !wait_for_port(port, &mut redis) {
        let _ = redis.kill();
        available_or_skipped("tls", "redis-server did not start with --tls-port (built without TLS?)");
        return;
    }
    let _redis = Kill(redis);
    let tmp = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    let ca = certs.ca.to_str().unwrap();

    // The name and the CA match: sessions live in Redis, over TLS.
    let url = format!("rediss://localhost:{port}");
    let p = Process::serve(tmp.path(), &db, &["--redis-url", &url, "--redis-ca-file", ca, "--redis-prefix", "sbtls"]);
    let t = admin_cli(&db, &["admin", "create-tenant", "--name", "tls"]);
    let anon = p.client("");
    let r = anon
        .post("/api/v1/sessions", serde_json::json!({"tenant": "tls", "username": "admin", "password": t["password"]}))
        .await
        .expect(201);
    let session = r.body["sessionId"].as_str().unwrap().to_string();
    // The session is found in Redis (and then no more).
    anon.delete(&format!("/api/v1/sessions/{session}")).await.expect(204);
    anon.delete(&format!("/api/v1/sessions/{session}")).await.expect(404);
    p.terminate();

    // A name the certificate does not hold, another CA, or none: refused at start.
    for (url, extra) in [
        (format!("rediss://127.0.0.1:{port}"), vec!["--redis-ca-file", ca]),
        (format!("rediss://localhost:{port}"), vec!["--redis-ca-file", certs.other_ca.to_str().unwrap()]),
        (format!("rediss://localhost:{port}"), vec![]),
    ] {
        let out = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--redis-url", &url])
            .args(&extra)
            .args(db.cli_args())
            .current_dir(tmp.path())
            .env_remove("SWITCHBOARD_REDIS_URL")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{url} {extra:?} must be refused: {err}");
        assert!(err.trim_end().lines().last().unwrap().starts_with(&format!("error: connecting to Redis {url}")), "{err}");
    }
}
