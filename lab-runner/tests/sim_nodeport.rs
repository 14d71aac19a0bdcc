//! `lab-runner sim`'s NodePort listeners, driven by the machine's real kubectl and curl: the
//! chapter's NodePort Service answers on 127.0.0.1:<nodePort + offset> with the simulated
//! httpd pods' page, spread over the pods, and its listener closes with the Service.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use support::{CURL, DATA, KUBECTL, NODE_PORT, Sim, free_offset, kubectl, wait_running};

const IT_WORKS: &str = "<html><body><h1>It works!</h1></body></html>\n";

fn curl(args: &[&str]) -> Output {
    Command::new(CURL)
        .args(["--max-time", "10"])
        .args(args)
        .output()
        .expect("running curl")
}

fn wait_for_three_ready_pods(home: &Path) {
    wait_running(home, &["-l", "app=httpd"], 3);
}

#[test]
fn real_curl_reaches_the_pods_through_the_node_port() {
    assert!(Path::new(KUBECTL).exists(), "needs {KUBECTL} (see README)");
    assert!(Path::new(CURL).exists(), "needs {CURL}");
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let offset = free_offset();
    let local = NODE_PORT + offset;
    let sim = Sim::start(home, &["--nodeport-offset", &offset.to_string()]);
    kubectl(
        home,
        &[
            "apply",
            "-f",
            &format!("{DATA}/httpd-deployment.yaml"),
            "-f",
            &format!("{DATA}/httpd-service-nodeport.yaml"),
        ],
    );
    let line = sim.wait_line(|l| l.starts_with("NodePort "), home);
    assert_eq!(
        line,
        format!("NodePort default/httpd-svc {NODE_PORT} → 127.0.0.1:{local}")
    );
    wait_for_three_ready_pods(home);
    let url = format!("http://127.0.0.1:{local}/");

    let out = curl(&["-s", &url]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), IT_WORKS);

    let pods: BTreeSet<String> = kubectl(home, &["get", "pods", "-l", "app=httpd", "-o", "name"])
        .lines()
        .filter_map(|l| l.strip_prefix("pod/").map(String::from))
        .collect();
    let mut reached = BTreeSet::new();
    for _ in 0..12 {
        let out = curl(&["-sI", &url]);
        assert!(out.status.success(), "{out:?}");
        let head = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("\r\nServer: Apache/2.4."), "{head}");
        let pod = head
            .lines()
            .find_map(|l| l.strip_prefix("X-Svclab-Pod: "))
            .unwrap_or_else(|| panic!("no X-Svclab-Pod header:\n{head}"))
            .to_string();
        assert!(pods.contains(&pod), "{pod} is not one of {pods:?}");
        reached.insert(pod);
    }
    assert!(reached.len() > 1, "12 requests all reached {reached:?}");

    // The image serves only its index page; other paths get Apache's 404 from the pod.
    let out = curl(&["-s", &format!("{url}index.html")]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), IT_WORKS);
    let out = curl(&["-si", &format!("{url}no/such/page")]);
    let answer = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(answer.starts_with("HTTP/1.1 404 Not Found\r\n"), "{answer}");
    assert!(answer.ends_with("<h1>Not Found</h1>\n<p>The requested URL was not found on this server.</p>\n</body></html>\n"), "{answer}");

    // Not GET/HEAD: the listener's own 400.
    let out = curl(&[
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-X",
        "POST",
        &url,
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "400");

    // No endpoints left: kube-proxy rejects, and the listener resets the connection
    // (curl 56: "Recv failure: Connection reset by peer").
    kubectl(home, &["scale", "deployment", "httpd", "--replicas=0"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = curl(&["-s", &url]);
        if out.status.code() == Some(56) {
            assert_eq!(out.stdout, b"");
            break;
        }
        assert!(Instant::now() < deadline, "never reset: {out:?}");
        std::thread::sleep(Duration::from_millis(200));
    }

    kubectl(home, &["delete", "service", "httpd-svc"]);
    sim.wait_line(
        |l| l == format!("NodePort default/httpd-svc {NODE_PORT} closed"),
        home,
    );
    let out = curl(&["-s", &url]);
    // 7: could not connect (nothing listens any more).
    assert_eq!(out.status.code(), Some(7), "{out:?}");
}
