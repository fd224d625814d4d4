//! Puts the commit the binary is built from into `--version`
//! (`SWITCHBOARD_COMMIT` from the environment, e.g. a container build
//! without `.git`; else `git rev-parse`; else "unknown").

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok().filter(|o| o.status.success())?;
    Some(String::from_utf8(out.stdout).ok()?.trim().to_string()).filter(|s| !s.is_empty())
}

fn main() {
    println!("cargo:rerun-if-env-changed=SWITCHBOARD_COMMIT");
    let commit = std::env::var("SWITCHBOARD_COMMIT").ok().filter(|s| !s.is_empty()).or_else(|| {
        // Rebuild when HEAD moves (a new commit, another branch).
        for path in ["HEAD", "refs/heads"] {
            if let Some(p) = git(&["rev-parse", "--git-path", path]) {
                println!("cargo:rerun-if-changed={p}");
            }
        }
        git(&["rev-parse", "--short=12", "HEAD"])
    });
    println!("cargo:rustc-env=SWITCHBOARD_COMMIT={}", commit.as_deref().unwrap_or("unknown"));
}
