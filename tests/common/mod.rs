//! Helpers shared by the black-box tests: run the real binary on real files and a real store.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn sofi() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sofi"))
}

/// `../shared/lheo/<rel>`: the real LHÉO samples beside the repository.
pub fn lheo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/lheo")
        .join(rel)
}

pub fn samples() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = ["samples/trefle", "samples/anotea", "lheo-2.2/examples"]
        .iter()
        .flat_map(|d| std::fs::read_dir(lheo(d)).expect("shared samples present"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    v.sort();
    v
}

pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.stdin(Stdio::null()).output().expect("sofi runs");
    out
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `sofi import --json` on `files`; returns the exit code and the reports.
pub fn import(dir: &Path, files: &[&Path], extra: &[&str]) -> (i32, serde_json::Value) {
    let out = run(sofi()
        .arg("--data-dir")
        .arg(dir)
        .arg("import")
        .arg("--json")
        .args(extra)
        .args(files));
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON report expected ({e}): {}\n{}",
            stdout(&out),
            stderr(&out)
        )
    });
    (out.status.code().unwrap_or(-1), v)
}

pub fn stats(dir: &Path) -> serde_json::Value {
    let out = run(sofi().arg("stats").arg("--json").arg("--data-dir").arg(dir));
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

pub fn generate(sessions: u64, seed: u64, path: &Path) {
    let out = run(sofi()
        .args([
            "generate",
            "--sessions",
            &sessions.to_string(),
            "--seed",
            &seed.to_string(),
        ])
        .args(["--date-base", "2027-03-01", "-o"])
        .arg(path));
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Counts occurrences of an opening tag like `<session ` in a file.
pub fn count_tag(path: &Path, tag: &str) -> usize {
    let s = std::fs::read_to_string(path).unwrap();
    s.matches(&format!("<{tag} ")).count() + s.matches(&format!("<{tag}>")).count()
}
