//! `lab-runner sim` serves the playground and the books from disk on the API's port, and says
//! where it listens in `$SVCLAB_HOME/ports.json`: checked with the real curl and kubectl.

mod support;

use std::path::Path;
use std::process::Command;
use support::{CURL, DATA, NODE_PORT, Sim, free_offset, kubectl};

fn curl(url: &str) -> (String, String) {
    let out = Command::new(CURL)
        .args([
            "-s",
            "--max-time",
            "10",
            "-w",
            "\n%{http_code} %{content_type}",
            url,
        ])
        .output()
        .expect("running curl");
    assert!(out.status.success(), "curl {url}: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap();
    (status.to_string(), body.to_string())
}

fn ports(home: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(home.join("ports.json")).expect("ports.json");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn playground_books_and_api_share_one_port() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let web = dir.path().join("dist");
    let book = dir.path().join("book");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&web).unwrap();
    std::fs::create_dir_all(book.join("zh-CN")).unwrap();
    std::fs::write(
        web.join("index.html"),
        "<!DOCTYPE html><title>svclab</title>",
    )
    .unwrap();
    std::fs::write(web.join("app_bg.wasm"), b"\0asm").unwrap();
    std::fs::write(book.join("zh-CN/index.html"), "<h1>服务</h1>").unwrap();
    let offset = free_offset();
    let sim = Sim::start(
        &home,
        &[
            "--web-dir",
            web.to_str().unwrap(),
            "--book-dir",
            book.to_str().unwrap(),
            "--nodeport-offset",
            &offset.to_string(),
        ],
    );
    let p = ports(&home);
    let api = p["api"].as_str().unwrap().to_string();
    assert!(api.starts_with("http://127.0.0.1:"), "{p}");
    assert_eq!(p["web"], format!("{api}/"));
    assert_eq!(p["book"], format!("{api}/book/"));
    assert_eq!(p["nodePortOffset"], offset);
    assert_eq!(p["nodePorts"], serde_json::json!([]));
    assert_eq!(p["pid"], sim.pid());

    assert_eq!(
        curl(&format!("{api}/?embed=map")),
        (
            "200 text/html".into(),
            "<!DOCTYPE html><title>svclab</title>".into()
        )
    );
    assert_eq!(
        curl(&format!("{api}/app_bg.wasm")).0,
        "200 application/wasm"
    );
    assert_eq!(
        curl(&format!("{api}/book/zh-CN/")),
        ("200 text/html".into(), "<h1>服务</h1>".into())
    );
    assert_eq!(
        curl(&format!("{api}/nosuch.js")),
        (
            "404 text/plain; charset=utf-8".into(),
            "404 page not found\n".into()
        )
    );
    // The API keeps its paths: kubectl works on the same port.
    let (status, body) = curl(&format!("{api}/svclab/v1/info"));
    assert_eq!(status, "200 application/json", "{body}");
    kubectl(
        &home,
        &[
            "apply",
            "-f",
            &format!("{DATA}/httpd-deployment.yaml"),
            "-f",
            &format!("{DATA}/httpd-service-nodeport.yaml"),
        ],
    );
    sim.wait_line(|l| l.starts_with("NodePort "), &home);
    // The file is rewritten right after the banner line goes out.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while ports(&home)["nodePorts"].as_array().unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "ports.json never listed the NodePort"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        ports(&home)["nodePorts"],
        serde_json::json!([{
            "service": "default/httpd-svc",
            "nodePort": NODE_PORT,
            "listen": format!("127.0.0.1:{}", NODE_PORT + offset),
        }])
    );
    assert!(sim.terminate().success());
    assert!(
        !home.join("ports.json").exists(),
        "a stopped sim leaves no ports.json"
    );
}

#[test]
fn without_a_build_the_root_says_how_to_get_one_and_a_missing_dir_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let sim = Sim::start(home, &[]);
    let api = ports(home)["api"].as_str().unwrap().to_string();
    let (status, body) = curl(&format!("{api}/"));
    assert_eq!(status, "200 text/html; charset=utf-8");
    assert!(body.contains("scripts/build-web"), "{body}");
    drop(sim);

    let out = Command::new(env!("CARGO_BIN_EXE_lab-runner"))
        .args(["sim", "--port", "0", "--dns-port", "0", "--web-dir"])
        .arg(dir.path().join("nosuch"))
        .env("SVCLAB_HOME", home)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--web-dir ")
            && err.contains("nosuch: not a folder (build it with scripts/build-web)"),
        "{err}"
    );
}
