//! kubectl's typed generators (`kubectl create deployment|service …|namespace|configmap`) send
//! Kubernetes protobuf bodies; the sim decodes them and answers as a real cluster does. Driven by
//! the machine's real kubectl.

mod support;

use std::path::Path;
use support::{KUBECTL, NODE_PORT, Sim, free_offset, kubectl, kubectl_output};

/// The block of a `-o yaml` document from the top-level line `head` to the next top-level line.
fn block(yaml: &str, head: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in yaml.lines() {
        if !line.starts_with(' ') && !line.starts_with('-') {
            inside = line == head;
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn jsonpath(home: &Path, args: &[&str], path: &str) -> String {
    let mut all = args.to_vec();
    let output = format!("jsonpath={path}");
    all.extend(["-o", &output]);
    kubectl(home, &all)
}

/// A failing kubectl's stderr (exit code 1).
fn fails(home: &Path, args: &[&str]) -> String {
    let out = kubectl_output(home, args);
    assert_eq!(out.status.code(), Some(1), "kubectl {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A Service's `spec` and `status` as `get svc -o yaml` prints them, its cluster IP as `IP`.
fn service_yaml(home: &Path, name: &str) -> String {
    let yaml = kubectl(home, &["get", "svc", name, "-o", "yaml"]);
    let ip = jsonpath(home, &["get", "svc", name], "{.spec.clusterIP}");
    let spec = block(&yaml, "spec:") + &block(&yaml, "status:");
    if ip.starts_with("10.96.") {
        spec.replace(&ip, "IP")
    } else {
        spec
    }
}

/// A generator command's output, its arguments, and a `get` with a jsonpath and its output.
type Case<'a> = (&'a str, &'a [&'a str], &'a [&'a str], &'a str, &'a str);

#[test]
fn create_generators_make_what_a_real_cluster_makes() {
    assert!(Path::new(KUBECTL).exists(), "needs {KUBECTL} (see README)");
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let offset = free_offset().to_string();
    let _sim = Sim::start(home, &["--nodeport-offset", &offset]);

    assert_eq!(
        kubectl(
            home,
            &[
                "create",
                "deployment",
                "web",
                "--image=httpd",
                "--replicas=2"
            ]
        ),
        "deployment.apps/web created\n"
    );
    let yaml = kubectl(home, &["get", "deploy", "web", "-o", "yaml"]);
    assert_eq!(
        jsonpath(home, &["get", "deploy", "web"], "{.metadata.labels}"),
        r#"{"app":"web"}"#
    );
    // As a real cluster stores it, but for the pod template's `creationTimestamp: null` (the
    // sim's objects have no null timestamps).
    assert_eq!(
        block(&yaml, "spec:"),
        "spec:
  progressDeadlineSeconds: 600
  replicas: 2
  revisionHistoryLimit: 10
  selector:
    matchLabels:
      app: web
  strategy:
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 25%
    type: RollingUpdate
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - image: httpd
        imagePullPolicy: Always
        name: httpd
        resources: {}
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File
      dnsPolicy: ClusterFirst
      restartPolicy: Always
      schedulerName: default-scheduler
      securityContext: {}
      terminationGracePeriodSeconds: 30
"
    );

    // Repeated --image with --port (the first container's); one --image with `-- command args`;
    // repeated --tcp; --clusterip=None; a namespace's deployment.
    let containers =
        "{range .spec.template.spec.containers[*]}{.name} {.image} {.ports} {.command}\n{end}";
    let ports = "{.spec.clusterIP} {range .spec.ports[*]}{.name} {.port} {.targetPort} {end}";
    let cases: [Case; 5] = [
        (
            "deployment.apps/multi created\n",
            &[
                "create",
                "deployment",
                "multi",
                "--image=httpd",
                "--image=busybox:1.36",
                "--port=8080",
            ],
            &["get", "deploy", "multi"],
            containers,
            "httpd httpd [{\"containerPort\":8080,\"protocol\":\"TCP\"}] \nbusybox busybox:1.36  \n",
        ),
        (
            "deployment.apps/cmd created\n",
            &[
                "create",
                "deployment",
                "cmd",
                "--image=busybox",
                "--",
                "sleep",
                "3600",
            ],
            &["get", "deploy", "cmd"],
            containers,
            "busybox busybox  [\"sleep\",\"3600\"]\n",
        ),
        (
            "service/two created\n",
            &[
                "create",
                "service",
                "clusterip",
                "two",
                "--tcp=80:8080",
                "--tcp=443:8443",
                "--clusterip=None",
            ],
            &["get", "svc", "two"],
            ports,
            "None 80-8080 80 8080 443-8443 443 8443 ",
        ),
        (
            "namespace/lab created\n",
            &["create", "namespace", "lab"],
            &["get", "ns", "lab"],
            "{.status.phase}",
            "Active",
        ),
        (
            "deployment.apps/nsd created\n",
            &[
                "create",
                "deployment",
                "nsd",
                "--image=nginx:1.27",
                "-n",
                "lab",
            ],
            &["get", "deploy", "-n", "lab"],
            "{.items[*].metadata.name} {.items[*].metadata.labels}",
            "nsd {\"app\":\"nsd\"}",
        ),
    ];
    for (printed, create, get, path, want) in cases {
        assert_eq!(kubectl(home, create), printed);
        assert_eq!(jsonpath(home, get, path), want, "{create:?}");
    }

    assert_eq!(
        kubectl(
            home,
            &["create", "service", "clusterip", "websvc", "--tcp=80:80"]
        ),
        "service/websvc created\n"
    );
    assert_eq!(
        service_yaml(home, "websvc"),
        "spec:
  clusterIP: IP
  clusterIPs:
  - IP
  internalTrafficPolicy: Cluster
  ipFamilies:
  - IPv4
  ipFamilyPolicy: SingleStack
  ports:
  - name: 80-80
    port: 80
    protocol: TCP
    targetPort: 80
  selector:
    app: websvc
  sessionAffinity: None
  type: ClusterIP
status:
  loadBalancer: {}
"
    );
    let node_port = format!("--node-port={NODE_PORT}");
    let np = [
        "create",
        "service",
        "nodeport",
        "np",
        "--tcp=80:80",
        &node_port,
    ];
    assert_eq!(kubectl(home, &np), "service/np created\n");
    assert_eq!(
        jsonpath(
            home,
            &["get", "svc", "np"],
            "{.spec.type} {.spec.externalTrafficPolicy} {.spec.ports} {.spec.selector}"
        ),
        r#"NodePort Cluster [{"name":"80-80","nodePort":30144,"port":80,"protocol":"TCP","targetPort":80}] {"app":"np"}"#
    );
    // The apiserver allocates the node port before it stores the Service, so the same command
    // twice is refused for the port, as is another Service asking for it.
    let taken = |name: &str| {
        format!(
            "error: failed to create NodePort service: Service \"{name}\" is invalid: spec.ports[0].nodePort: Invalid value: 30144: provided port is already allocated\n"
        )
    };
    assert_eq!(fails(home, &np), taken("np"));
    let np2 = [
        "create",
        "service",
        "nodeport",
        "np2",
        "--tcp=80:80",
        &node_port,
    ];
    assert_eq!(fails(home, &np2), taken("np2"));

    assert_eq!(
        kubectl(
            home,
            &["create", "service", "loadbalancer", "lb", "--tcp=80:80"]
        ),
        "service/lb created\n"
    );
    assert_eq!(
        jsonpath(
            home,
            &["get", "svc", "lb"],
            "{.spec.type} {.spec.allocateLoadBalancerNodePorts} {.spec.ports[0].name}"
        ),
        "LoadBalancer true 80-80"
    );
    assert_eq!(
        kubectl(
            home,
            &[
                "create",
                "service",
                "externalname",
                "ext",
                "--external-name=example.com"
            ]
        ),
        "service/ext created\n"
    );
    assert_eq!(
        service_yaml(home, "ext"),
        "spec:
  externalName: example.com
  selector:
    app: ext
  sessionAffinity: None
  type: ExternalName
status:
  loadBalancer: {}
"
    );
}
