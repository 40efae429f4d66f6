//! The deployment artifacts against the real server: the Helm chart rendered
//! and linted by Helm's own engine (scripts/helm_render.py), every YAML file
//! parsed, and every probe path and port in the chart, the Dockerfiles and
//! the systemd unit answered by the binary itself. The images cannot be
//! built here (no container engine), so their healthcheck commands are run
//! as they are against the booted server.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Server, workspace_root};
use serde::Deserialize;
use serde_json::{Value, json};

const CHART: &str = "deploy/helm/inference-hub";

/// `helm template` of the chart with `values` over values.yaml; lint must be clean.
fn helm_template(values: &Value) -> Vec<Value> {
    let root = workspace_root();
    let out = Command::new("python3")
        .arg(root.join("scripts/helm_render.py"))
        .arg(root.join(CHART))
        .arg(values.to_string())
        .args(["--name", "hub", "--namespace", "ocr"])
        .output()
        .expect("python3 runs scripts/helm_render.py");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "helm lint/render failed (run scripts/setup.sh for vendor/helm-sdk):\n{stderr}");
    yaml_documents(&String::from_utf8(out.stdout).unwrap())
}

fn yaml_documents(text: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("invalid YAML ({e}):\n{text}")))
        .filter(|doc| !doc.is_null())
        .collect()
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

/// An HTTP check a manifest asks of the server: where from, path, port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Probe {
    origin: String,
    path: String,
    port: u16,
}

/// The probes of every container of a Deployment, named ports resolved.
fn deployment_probes(deployment: &Value) -> Vec<Probe> {
    let name = deployment["metadata"]["name"].as_str().unwrap();
    let mut probes = Vec::new();
    for container in deployment["spec"]["template"]["spec"]["containers"].as_array().unwrap() {
        for kind in ["startupProbe", "readinessProbe", "livenessProbe"] {
            let get = &container[kind]["httpGet"];
            if get.is_null() {
                continue;
            }
            probes.push(Probe {
                origin: format!("{name} {kind}"),
                path: get["path"].as_str().unwrap().to_owned(),
                port: resolve_port(container, &get["port"]),
            });
        }
    }
    probes
}

fn resolve_port(container: &Value, port: &Value) -> u16 {
    if let Some(number) = port.as_u64() {
        return number as u16;
    }
    let name = port.as_str().expect("a port is a number or a name");
    let ports = container["ports"].as_array().expect("container ports");
    let found = ports.iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("no port named {name}"));
    found["containerPort"].as_u64().unwrap() as u16
}

fn env_of(container: &Value, name: &str) -> Option<String> {
    container["env"].as_array()?.iter().find(|e| e["name"] == name)?["value"].as_str().map(str::to_owned)
}

/// A Deployment of `serve` or `worker` with `hub.merchantsConfigMap`: the
/// directory file HUB_MERCHANTS names lies in the ConfigMap's mount, a
/// whole-volume one (a `subPath` mount never sees the ConfigMap change).
fn assert_merchants_mounted(deployment: &Value) {
    let spec = &deployment["spec"]["template"]["spec"];
    let container = &spec["containers"][0];
    let path = env_of(container, "HUB_MERCHANTS").expect("HUB_MERCHANTS");
    let mounts = container["volumeMounts"].as_array().unwrap();
    let mount = mounts.iter().find(|m| m["name"] == "merchants").expect("the merchants mount");
    let dir = mount["mountPath"].as_str().unwrap();
    assert_eq!(path, format!("{dir}/merchants.jsonl"));
    assert!(mount.get("subPath").is_none(), "{mount}");
    let volume = spec["volumes"].as_array().unwrap().iter().find(|v| v["name"] == "merchants").expect("volume");
    assert_eq!(volume["configMap"]["name"], "vendors");
}

/// The port `command` listens on by default, and the variable that sets
/// it, from the binary's own help.
fn default_port(command: &str, variable: &str) -> u16 {
    let out = Command::new(env!("CARGO_BIN_EXE_inference-hub")).args([command, "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    let tail = help.split(&format!("env: {variable}=")).nth(1).expect("--port documents its variable");
    let default = tail.split("default: ").nth(1).expect("--port has a default");
    default.split(']').next().unwrap().parse().unwrap()
}

/// A Dockerfile's instructions, continuation lines joined, comments dropped.
fn dockerfile(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut joined = String::new();
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        match line.strip_suffix('\\') {
            Some(start) => joined.push_str(start),
            None => {
                joined.push_str(line);
                joined.push('\n');
            }
        }
    }
    joined
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (op, rest) = l.trim().split_once(' ').unwrap_or((l.trim(), ""));
            (op.to_ascii_uppercase(), rest.trim().to_owned())
        })
        .collect()
}

fn instruction<'a>(file: &'a [(String, String)], op: &str) -> Vec<&'a str> {
    file.iter().filter(|(o, _)| o == op).map(|(_, rest)| rest.as_str()).collect()
}

/// The shell script of `HEALTHCHECK ... CMD ["bash", "-c", SCRIPT]`, and
/// the port and path it asks for.
fn healthcheck(file: &[(String, String)]) -> (String, Probe) {
    let checks = instruction(file, "HEALTHCHECK");
    assert_eq!(checks.len(), 1, "one HEALTHCHECK: {checks:?}");
    let exec = checks[0].split_once("CMD ").expect("HEALTHCHECK CMD").1;
    let argv: Vec<String> = serde_json::from_str(exec).expect("exec-form CMD");
    assert_eq!(argv[..2], ["bash", "-c"], "{argv:?}");
    let script = argv[2].clone();
    let port = script.split("/dev/tcp/127.0.0.1/").nth(1).unwrap().split(|c: char| !c.is_ascii_digit()).next();
    let path = script.split("GET ").nth(1).unwrap().split(' ').next().unwrap();
    let probe = Probe { origin: "HEALTHCHECK".into(), path: path.into(), port: port.unwrap().parse().unwrap() };
    (script, probe)
}

/// Runs a healthcheck script against `port` instead of its own; true on exit 0.
fn run_healthcheck(script: &str, own_port: u16, port: u16) -> bool {
    let script = script.replace(&format!("/dev/tcp/127.0.0.1/{own_port}"), &format!("/dev/tcp/127.0.0.1/{port}"));
    Command::new("bash").args(["-c", &script]).status().unwrap().success()
}

fn env_value<'a>(file: &'a [(String, String)], name: &str) -> Option<&'a str> {
    instruction(file, "ENV").into_iter().flat_map(|e| e.split_whitespace()).find_map(|kv| {
        let (key, value) = kv.split_once('=')?;
        (key == name).then_some(value)
    })
}

#[tokio::test]
async fn probes_and_ports_in_every_manifest_are_served() {
    let root = workspace_root();
    let port = default_port("serve", "HUB_PORT");
    let worker_port = default_port("worker", "HUB_WORKER_PORT");
    let mut probes = BTreeSet::new();
    let mut checked_merchants = 0;

    // Helm: the default render, and one with every optional part on.
    let everything = json!({
        "gateway": {"enabled": true},
        "autoscaling": {"enabled": true},
        "ingress": {"enabled": true},
        "metrics": {"serviceMonitor": {"enabled": true}},
        "hub": {"apiKeysSecret": "hub-keys", "merchantsConfigMap": "vendors"},
        // Autoscaling and workers share a PostgreSQL job store.
        "jobs": {"postgresUrlSecret": "jobs-db"},
        "worker": {"enabled": true},
    });
    for values in [json!({}), everything] {
        let docs = helm_template(&values);
        let hub = of_kind(&docs, "Deployment").into_iter().find(|d| d["metadata"]["name"] == "hub-inference-hub");
        let hub = hub.expect("the hub Deployment");
        let container = &hub["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["args"], json!(["serve"]));
        assert_eq!(env_of(container, "HUB_PORT").as_deref(), Some(port.to_string().as_str()));
        assert_eq!(resolve_port(container, &json!("http")), port);
        let annotations = &hub["spec"]["template"]["metadata"]["annotations"];
        assert_eq!(annotations["prometheus.io/port"], port.to_string());
        probes.insert(Probe {
            origin: "prometheus.io annotations".into(),
            path: annotations["prometheus.io/path"].as_str().unwrap().into(),
            port,
        });
        if let Some(worker) =
            of_kind(&docs, "Deployment").into_iter().find(|d| d["metadata"]["name"] == "hub-inference-hub-worker")
        {
            let container = &worker["spec"]["template"]["spec"]["containers"][0];
            assert_eq!(env_of(container, "HUB_WORKER_PORT").as_deref(), Some(worker_port.to_string().as_str()));
            let annotations = &worker["spec"]["template"]["metadata"]["annotations"];
            probes.insert(Probe {
                origin: "worker prometheus.io annotations".into(),
                path: annotations["prometheus.io/path"].as_str().unwrap().into(),
                port: annotations["prometheus.io/port"].as_str().unwrap().parse().unwrap(),
            });
        }
        for d in of_kind(&docs, "Deployment") {
            probes.extend(deployment_probes(d));
            let command = &d["spec"]["template"]["spec"]["containers"][0]["args"][0];
            if values["hub"]["merchantsConfigMap"].is_string() && (command == "serve" || command == "worker") {
                assert_merchants_mounted(d);
                checked_merchants += 1;
            }
        }
        let service = of_kind(&docs, "Service").into_iter().find(|s| s["metadata"]["name"] == "hub-inference-hub");
        let service = service.expect("the hub Service");
        assert_eq!(service["spec"]["ports"][0]["targetPort"], "http");
        // The Service's uploads reach the API pods only, not the gateway's or the workers'.
        let selector = service["spec"]["selector"].as_object().unwrap();
        for d in of_kind(&docs, "Deployment") {
            let labels = &d["spec"]["template"]["metadata"]["labels"];
            let selected = selector.iter().all(|(key, value)| &labels[key] == value);
            let api = d["spec"]["template"]["spec"]["containers"][0]["args"][0] == "serve";
            assert_eq!(selected, api, "the hub Service and {}: {labels}", d["metadata"]["name"]);
        }
        for monitor in of_kind(&docs, "ServiceMonitor") {
            let endpoint = &monitor["spec"]["endpoints"][0];
            assert_eq!(endpoint["port"], "http");
            let path = endpoint["path"].as_str().unwrap().to_owned();
            probes.insert(Probe { origin: "ServiceMonitor".into(), path, port });
        }
        for pod in of_kind(&docs, "Pod") {
            let url = pod["spec"]["containers"][0]["args"].as_array().unwrap().last().unwrap().as_str().unwrap();
            let (host_port, path) = url.trim_start_matches("http://").split_once('/').unwrap();
            let port = host_port.rsplit(':').next().unwrap().parse().unwrap();
            probes.insert(Probe { origin: "helm test".into(), path: format!("/{path}"), port });
        }
    }
    assert_eq!(checked_merchants, 2, "the hub and the worker both read the merchant directory");
    let kinds: BTreeSet<&str> = probes.iter().map(|p| p.origin.as_str()).collect();
    let expected = [
        "hub-inference-hub startupProbe",
        "hub-inference-hub livenessProbe",
        "hub-inference-hub-worker readinessProbe",
        "worker prometheus.io annotations",
        "ServiceMonitor",
        "helm test",
    ];
    for expected in expected {
        assert!(kinds.contains(expected), "{expected} not found in {kinds:?}");
    }

    // Plain manifests (a KServe InferenceService, say): their containers' probes.
    let mut manifests = Vec::new();
    collect_yaml(&root.join("deploy"), &mut manifests);
    for file in manifests.iter().filter(|f| !f.starts_with(root.join(CHART))) {
        for doc in yaml_documents(&std::fs::read_to_string(file).unwrap()) {
            let containers = doc["spec"]["predictor"]["containers"].as_array().cloned().unwrap_or_default();
            for container in containers {
                let origin = format!("{} {}", file.display(), doc["kind"].as_str().unwrap_or_default());
                let shell =
                    json!({"metadata": {"name": origin}, "spec": {"template": {"spec": {"containers": [container]}}}});
                probes.extend(deployment_probes(&shell));
            }
        }
    }

    // Docker: the service image.
    let image = dockerfile(&root.join("deploy/docker/Dockerfile"));
    assert_eq!(instruction(&image, "EXPOSE"), [port.to_string().as_str()]);
    assert_eq!(env_value(&image, "HUB_PORT"), Some(port.to_string().as_str()));
    let (script, check) = healthcheck(&image);
    assert_eq!(check.port, port);
    probes.insert(check.clone());
    let user = instruction(&image, "USER");
    assert!(user.last().is_some_and(|u| !u.starts_with('0') && !u.starts_with("root")), "non-root: {user:?}");

    // systemd: the port it sets.
    let unit = std::fs::read_to_string(root.join("deploy/systemd/inference-hub.service")).unwrap();
    assert!(unit.lines().any(|l| l == format!("Environment=HUB_PORT={port}")), "unit port");

    // The gateway (`inference-hub gateway`, port 8001): its probes must be
    // probes `serve` answers too, which the chart's gateway Deployment uses.
    let gateway = dockerfile(&root.join("deploy/docker/Dockerfile.gateway"));
    assert_eq!(instruction(&gateway, "EXPOSE"), ["8001"]);
    let (_, gateway_check) = healthcheck(&gateway);
    assert_eq!(gateway_check.port, 8001);
    let entry = instruction(&gateway, "ENTRYPOINT")[0];
    assert!(entry.contains("\"gateway\"") && entry.contains("\"8001\""), "{entry}");
    let gateway_probes: Vec<&Probe> = probes.iter().filter(|p| p.origin.contains("gateway")).collect();
    assert!(gateway_probes.iter().all(|p| p.port == 8001), "{gateway_probes:?}");

    // Every path, asked of the real server (or worker) once it is ready, answers 200.
    let (worker_probes, probes): (BTreeSet<Probe>, BTreeSet<Probe>) =
        probes.into_iter().partition(|p| p.origin.contains("worker"));
    let server = Server::start(&["--workers", "1"]);
    server.wait_ready().await;
    let paths: BTreeSet<&str> = probes.iter().map(|p| p.path.as_str()).chain([gateway_check.path.as_str()]).collect();
    for path in &paths {
        let (status, _, body) = server.get_text(path, &[]).await;
        assert_eq!(status, 200, "{path} (asked by {probes:?}): {body}");
    }
    for probe in probes.iter().filter(|p| !p.origin.contains("gateway")) {
        assert_eq!(probe.port, port, "{probe:?}");
    }
    let data = std::env::temp_dir().join(format!("hub-deploy-worker-{}", std::process::id()));
    let worker = Server::start_worker(&["--workers", "1", "--data-dir", data.to_str().unwrap()]);
    let deadline = std::time::Instant::now() + common::LOAD_TIMEOUT;
    while worker.get("/ready").await.status != 200 {
        assert!(std::time::Instant::now() < deadline, "the worker is not ready: {}", worker.logs());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for probe in &worker_probes {
        assert_eq!(probe.port, worker_port, "{probe:?}");
        let (status, _, body) = worker.get_text(&probe.path, &[]).await;
        assert_eq!(status, 200, "{probe:?}: {body}");
    }
    drop(worker);
    let _ = std::fs::remove_dir_all(data);
    assert!(run_healthcheck(&script, port, server.addr.port()), "the HEALTHCHECK fails on a ready server");

    // The same healthcheck fails on a server whose models did not load.
    let broken = Server::start(&["--model-dir", "/nonexistent"]);
    assert!(!run_healthcheck(&script, port, broken.addr.port()), "the HEALTHCHECK passes on a failed server");
}

#[test]
fn chart_values_reach_the_pod() {
    let docs = helm_template(&json!({"ai": {"enableOcr": false, "enableStt": true}, "hub": {"profile": "fast"}}));
    let hub = &of_kind(&docs, "Deployment")[0]["spec"]["template"]["spec"];
    let container = &hub["containers"][0];
    assert_eq!(env_of(container, "AI_ENABLE_OCR").as_deref(), Some("0"));
    assert_eq!(env_of(container, "AI_ENABLE_STT").as_deref(), Some("1"));
    assert_eq!(env_of(container, "AI_ENABLE_TTS").as_deref(), Some("0"));
    assert_eq!(env_of(container, "HUB_PROFILE").as_deref(), Some("fast"));
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(container["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(hub["securityContext"]["runAsNonRoot"], true);
    assert!(container["resources"]["limits"]["memory"].is_string());
    let defaults = helm_template(&json!({}));
    let kinds: BTreeSet<&str> = defaults.iter().filter_map(|d| d["kind"].as_str()).collect();
    let expected = ["Deployment", "PersistentVolumeClaim", "Pod", "Service", "ServiceAccount"];
    assert_eq!(kinds, BTreeSet::from(expected), "optional parts are off; the job store has its volume");
}

#[test]
fn job_store_values_reach_serve_and_worker() {
    // Embedded: one pod, its SQLite file on the claim, replaced not rolled.
    let docs = helm_template(&json!({}));
    let hub = &of_kind(&docs, "Deployment")[0]["spec"];
    let container = &hub["template"]["spec"]["containers"][0];
    assert_eq!(env_of(container, "HUB_DATA_DIR").as_deref(), Some("/var/lib/inference-hub"));
    assert_eq!(hub["strategy"]["type"], "Recreate");
    let mounts = container["volumeMounts"].as_array().unwrap();
    assert!(mounts.iter().any(|m| m["name"] == "data" && m["mountPath"] == "/var/lib/inference-hub"));
    let volumes = hub["template"]["spec"]["volumes"].as_array().unwrap();
    let data = volumes.iter().find(|v| v["name"] == "data").expect("the data volume");
    assert_eq!(
        data["persistentVolumeClaim"]["claimName"],
        of_kind(&docs, "PersistentVolumeClaim")[0]["metadata"]["name"]
    );
    // More than one pod on the embedded store is refused at render time.
    for values in [json!({"replicaCount": 2}), json!({"autoscaling": {"enabled": true}})] {
        assert!(!helm_renders(&values), "{values} rendered");
    }

    // PostgreSQL: replicas and workers share the store named by the Secret.
    let values = json!({"replicaCount": 2, "jobs": {"postgresUrlSecret": "jobs-db", "callbackHosts": "erp.local",
        "webhookSecret": "hooks"}, "worker": {"enabled": true, "replicaCount": 3}});
    let docs = helm_template(&values);
    assert!(of_kind(&docs, "PersistentVolumeClaim").is_empty());
    let deployments = of_kind(&docs, "Deployment");
    let worker = deployments.iter().find(|d| d["metadata"]["name"] == "hub-inference-hub-worker").expect("workers");
    assert_eq!(worker["spec"]["replicas"], 3);
    let help = Command::new(env!("CARGO_BIN_EXE_inference-hub")).args(["worker", "--help"]).output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    for deployment in deployments.iter().filter(|d| d["spec"]["template"]["spec"]["containers"][0]["name"] != "gateway")
    {
        let container = &deployment["spec"]["template"]["spec"]["containers"][0];
        let env = container["env"].as_array().unwrap();
        let url = env.iter().find(|e| e["name"] == "HUB_JOBS_URL").expect("HUB_JOBS_URL");
        assert_eq!(url["valueFrom"]["secretKeyRef"]["name"], "jobs-db");
        assert!(env_of(container, "HUB_DATA_DIR").is_none());
        assert_eq!(env_of(container, "HUB_CALLBACK_HOSTS").as_deref(), Some("erp.local"));
    }
    // Every HUB_ variable the worker gets is one `inference-hub worker` reads.
    let container = &worker["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["args"][0], "worker");
    for var in container["env"].as_array().unwrap().iter().filter_map(|e| e["name"].as_str()) {
        assert!(help.contains(&format!("[env: {var}")), "the worker does not read {var}");
    }
    // Workers need the shared store.
    assert!(!helm_renders(&json!({"worker": {"enabled": true}})));
}

/// Whether the chart renders with `values` (the chart's own checks may refuse them).
fn helm_renders(values: &Value) -> bool {
    let root = workspace_root();
    Command::new("python3")
        .arg(root.join("scripts/helm_render.py"))
        .arg(root.join(CHART))
        .arg(values.to_string())
        .args(["--name", "hub", "--namespace", "ocr"])
        .output()
        .expect("python3 runs scripts/helm_render.py")
        .status
        .success()
}

#[test]
fn gateway_values_reach_flags_the_gateway_reads() {
    let values = json!({"gateway": {"enabled": true, "protocol": "v1", "upstreamApiKeySecret": {"name": "gw-key"}}});
    let docs = helm_template(&values);
    let gateway = of_kind(&docs, "Deployment")
        .into_iter()
        .find(|d| d["spec"]["template"]["spec"]["containers"][0]["name"] == "gateway");
    let pod = &gateway.expect("the gateway Deployment")["spec"]["template"];
    let container = &pod["spec"]["containers"][0];
    assert_eq!(env_of(container, "HUB_UPSTREAM_PROTOCOL").as_deref(), Some("v1"));
    let key = container["env"].as_array().unwrap().iter().find(|e| e["name"] == "HUB_UPSTREAM_API_KEY");
    assert_eq!(key.expect("the upstream key")["valueFrom"]["secretKeyRef"]["name"], "gw-key");
    assert_eq!(pod["metadata"]["annotations"]["prometheus.io/port"], "8001");
    // Every HUB_ variable the chart sets is one `inference-hub gateway` reads.
    let help = Command::new(env!("CARGO_BIN_EXE_inference-hub")).args(["gateway", "--help"]).output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    for var in container["env"].as_array().unwrap().iter().filter_map(|e| e["name"].as_str()) {
        if var.starts_with("HUB_") {
            assert!(help.contains(&format!("[env: {var}")), "the gateway does not read {var}");
        }
    }
}

/// Every YAML file under deploy/ parses (Helm templates are checked rendered,
/// above), and the Argo CD Application points at the chart.
#[test]
fn deploy_yaml_parses_and_argocd_points_at_the_chart() {
    let root = workspace_root();
    let mut files = Vec::new();
    collect_yaml(&root.join("deploy"), &mut files);
    assert!(files.len() >= 3, "{files:?}");
    for file in &files {
        let docs = yaml_documents(&std::fs::read_to_string(file).unwrap());
        assert!(!docs.is_empty(), "{} holds no document", file.display());
    }
    let app = &yaml_documents(&std::fs::read_to_string(root.join("deploy/argocd/application.yaml")).unwrap())[0];
    assert_eq!(app["kind"], "Application");
    let path = app["spec"]["source"]["path"].as_str().unwrap();
    assert_eq!(path, CHART);
    let chart = &yaml_documents(&std::fs::read_to_string(root.join(path).join("Chart.yaml")).unwrap())[0];
    assert_eq!(chart["name"], "inference-hub");
    assert_eq!(app["spec"]["source"]["helm"]["releaseName"], "inference-hub");
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() && path.file_name().is_some_and(|n| n != "templates") {
            collect_yaml(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

/// The environment the image and the unit set, with `/opt/inference-hub`
/// laid out in a temporary folder (`vendor/` linked in),
/// starts a server that loads its models and turns ready: the paths and
/// values they ship work, JSON logs included.
#[tokio::test]
async fn shipped_environments_start_a_ready_server() {
    let root = workspace_root();
    let opt = std::env::temp_dir().join(format!("hub-opt-{}", std::process::id()));
    std::fs::create_dir_all(&opt).unwrap();
    let _ = std::fs::remove_file(opt.join("vendor"));
    std::os::unix::fs::symlink(root.join("vendor"), opt.join("vendor")).unwrap();
    let image = dockerfile(&root.join("deploy/docker/Dockerfile"));
    let image_env: Vec<(String, String)> = instruction(&image, "ENV")
        .into_iter()
        .flat_map(|e| e.split_whitespace())
        .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect();
    let unit = std::fs::read_to_string(root.join("deploy/systemd/inference-hub.service")).unwrap();
    let unit_env: Vec<(String, String)> = unit
        .lines()
        .filter_map(|l| l.strip_prefix("Environment="))
        .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect();
    for (origin, env) in [("Dockerfile", image_env), ("systemd unit", unit_env)] {
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        for needed in ["HUB_MODEL_DIR", "ORT_DYLIB_PATH", "AI_ENABLE_OCR", "HUB_LOG_FORMAT"] {
            assert!(names.contains(&needed), "{origin} sets no {needed}");
        }
        let local: Vec<(String, String)> = env
            .into_iter()
            .map(|(k, v)| (k, v.replace("/opt/inference-hub", opt.to_str().unwrap())))
            .filter(|(k, _)| k != "HUB_HOST" && k != "HUB_PORT")
            .collect();
        let pairs: Vec<(&str, &str)> = local.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let server = Server::start_with_env(&[], &pairs);
        server.wait_ready().await;
        let (status, headers, _) = server.get_text("/live", &[("x-request-id", "env-check-1")]).await;
        assert_eq!((status, headers["x-request-id"].to_str().unwrap()), (200, "env-check-1"), "{origin}");
        let logs = server.wait_for_log("Models loaded successfully", 1);
        let json: Vec<Value> = logs.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        assert!(!json.is_empty() && json.len() == logs.lines().count(), "{origin}: JSON logs expected:\n{logs}");
    }
    let _ = std::fs::remove_dir_all(&opt);
}
