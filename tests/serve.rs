//! `sofi serve` for real on loopback: health, 404s, the demo load, graceful SIGTERM.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let status = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

fn start(data: &std::path::Path, port: u16, demo: bool) -> Child {
    let mut cmd = sofi();
    cmd.arg("--data-dir")
        .arg(data)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")]);
    if demo {
        cmd.arg("--demo");
    }
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn wait_health(port: u16) -> serde_json::Value {
    let t0 = Instant::now();
    loop {
        if let Some((200, body)) = get(port, "/health") {
            return serde_json::from_str(&body).unwrap();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "server did not come up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn sigterm(child: &mut Child) -> std::process::ExitStatus {
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let t0 = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        assert!(t0.elapsed() < Duration::from_secs(15), "no graceful exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn health_404_and_graceful_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    import(tmp.path(), &[&lheo("samples/trefle/daeu.xml")], &[]);
    let port = free_port();
    let mut child = start(tmp.path(), port, false);
    let h = wait_health(port);
    assert_eq!(h["formations"], 1);
    assert_eq!(h["sessions"], 1);
    assert_eq!(h["journal_seq"], 1);
    let (status, body) = get(port, "/nulle-part").unwrap();
    assert_eq!(status, 404);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["erreur"]["code"], "introuvable");
    // While the server holds the store, the CLI explains instead of failing obscurely.
    let out = run(sofi()
        .arg("--data-dir")
        .arg(tmp.path())
        .arg("import")
        .arg(lheo("samples/trefle/poec.xml")));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("déjà ouvert"), "{}", stderr(&out));
    assert!(sigterm(&mut child).success());
}

#[test]
fn demo_loads_only_into_an_empty_store() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = start(tmp.path(), port, true);
    let h = wait_health(port);
    assert_eq!(h["sessions"], 5_000);
    assert!(h["organismes"].as_u64().unwrap() >= 8);
    assert!(sigterm(&mut child).success());

    // Without --demo an empty store stays empty.
    let empty = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = start(empty.path(), port, false);
    assert_eq!(wait_health(port)["formations"], 0);
    assert!(sigterm(&mut child).success());
}
