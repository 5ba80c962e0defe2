//! The organizer tool `rising-admin`, run as its real binary (built by `cargo build --workspace
//! --bins`) with the stack's environment, as an organizer runs it against a deployed stack.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// `target/<profile>/rising-admin`, next to this test's own `deps` directory.
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    let candidates = [
        exe.parent()
            .and_then(|deps| deps.parent())
            .map(|d| d.join("rising-admin")),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/rising-admin")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.is_file())
        .expect("rising-admin is not built: run `cargo build --workspace --bins` first")
}

pub fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(binary())
        .args(args)
        .env_clear()
        .envs(crate::stack_env())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rising-admin starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("rising-admin runs")
}

pub fn ok(args: &[&str]) -> (String, String) {
    let output = run(args, "");
    let (stdout, stderr) = (
        String::from_utf8(output.stdout).expect("UTF-8 output"),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    );
    assert!(output.status.success(), "{args:?}: {stderr}");
    (stdout, stderr)
}
