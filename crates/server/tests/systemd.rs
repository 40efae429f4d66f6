//! The systemd side: notifications on a real `NOTIFY_SOCKET` datagram
//! socket made here (READY=1 once models are loaded, WATCHDOG=1 at half of
//! WATCHDOG_USEC, STOPPING=1 on SIGTERM), and the unit file checked by
//! `systemd-analyze verify`.

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{LOAD_TIMEOUT, Server, workspace_root};

/// A datagram socket standing where systemd's would.
struct NotifySocket {
    socket: UnixDatagram,
    path: PathBuf,
}

impl NotifySocket {
    fn bind() -> Self {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
        let path = std::env::temp_dir().join(format!("hub-notify-{}-{nanos}.sock", std::process::id()));
        let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
        Self { socket, path }
    }

    fn path(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// Messages received until one has the line `line`, which is returned last.
    fn until(&self, line: &str, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no {line:?} within {timeout:?}; got {seen:?}");
            self.socket.set_read_timeout(Some(left)).unwrap();
            let Ok(n) = self.socket.recv(&mut buf) else { continue };
            let message = String::from_utf8_lossy(&buf[..n]).into_owned();
            let done = message.lines().any(|l| l == line);
            seen.push(message);
            if done {
                return seen;
            }
        }
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// READY=1 arrives only once the models are loaded (the port answered
/// before, with /ready 503), the watchdog is fed, and SIGTERM says STOPPING=1.
#[tokio::test]
async fn ready_after_models_load_then_watchdog_and_stopping() {
    let notify = NotifySocket::bind();
    let mut server =
        Server::start_with_env(&["--workers", "1"], &[("NOTIFY_SOCKET", notify.path()), ("WATCHDOG_USEC", "300000")]);
    let early = server.get("/ready").await;
    let before_ready = notify.until("READY=1", LOAD_TIMEOUT);
    // The moment READY=1 arrives the service can serve.
    assert_eq!(server.get("/ready").await.status, 200);
    assert_eq!(early.status, 503, "models take hundreds of ms; READY must wait for them");
    assert!(before_ready.iter().any(|m| m.contains("STATUS=loading models")), "{before_ready:?}");
    assert_eq!(before_ready.iter().filter(|m| m.contains("READY=1")).count(), 1, "{before_ready:?}");
    server.wait_for_log("Models loaded successfully", 1);

    // Pings at half of 300 ms: several within a second.
    let started = Instant::now();
    notify.until("WATCHDOG=1", Duration::from_secs(1));
    notify.until("WATCHDOG=1", Duration::from_secs(1));
    assert!(started.elapsed() < Duration::from_millis(900), "{:?}", started.elapsed());

    server.terminate();
    let stopping = notify.until("STOPPING=1", Duration::from_secs(10));
    assert!(!stopping.iter().any(|m| m.contains("READY=1")), "{stopping:?}");
    assert_eq!(server.wait_exit(Duration::from_secs(30)), Some(0));
}

/// Under systemd a failed model load ends the process with status 1, so the
/// start job fails at once and Restart=on-failure applies; READY never comes.
#[tokio::test]
async fn failed_load_under_systemd_exits_without_ready() {
    let notify = NotifySocket::bind();
    let mut server = Server::start_with_env(&["--model-dir", "/nonexistent"], &[("NOTIFY_SOCKET", notify.path())]);
    let messages = notify.until("STATUS=model loading failed; see the journal", LOAD_TIMEOUT);
    assert!(!messages.iter().any(|m| m.contains("READY=1")), "{messages:?}");
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(1));
}

/// With OCR off there is nothing to load: no model is loaded, READY=1 comes
/// right after listening, and no watchdog pings unless systemd asks for them.
#[tokio::test]
async fn ready_at_once_without_ocr_and_no_unrequested_watchdog() {
    let notify = NotifySocket::bind();
    let server = Server::start_with_env(&[], &[("NOTIFY_SOCKET", notify.path()), ("AI_ENABLE_OCR", "0")]);
    let messages = notify.until("READY=1", Duration::from_secs(5));
    assert_eq!(messages.len(), 1, "{messages:?}");
    notify.socket.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let mut buf = [0u8; 256];
    assert!(notify.socket.recv(&mut buf).is_err(), "unexpected: {}", String::from_utf8_lossy(&buf));
    let logs = server.wait_for_log("OCR disabled", 1);
    assert!(!logs.contains("Loading PaddleOCR models"), "no models may load when OCR is off:\n{logs}");
}

/// The unit as shipped: its settings, and `systemd-analyze verify` clean.
#[test]
fn systemd_unit_verifies_and_has_the_hub_settings() {
    let path = workspace_root().join("deploy/systemd/inference-hub.service");
    let unit = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = unit.lines().map(str::trim).collect();
    for setting in [
        "Type=notify",
        "ExecStart=/opt/inference-hub/bin/inference-hub serve",
        "TimeoutStartSec=900",
        "Restart=on-failure",
        "MemoryMax=2G",
        "WatchdogSec=30",
        "Environment=AI_ENABLE_OCR=1",
        "Environment=AI_ENABLE_STT=0",
        "Environment=AI_ENABLE_TTS=0",
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        // The embedded job store lives where systemd keeps state.
        "StateDirectory=inference-hub",
        "Environment=HUB_DATA_DIR=/var/lib/inference-hub",
    ] {
        assert!(lines.contains(&setting), "{setting} missing from {}", path.display());
    }

    // verify insists that ExecStart exists; point it at the binary built
    // here, and check everything else as shipped.
    let dir = std::env::temp_dir().join(format!("hub-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let local = unit.replace("/opt/inference-hub/bin/inference-hub", env!("CARGO_BIN_EXE_inference-hub"));
    let copy = dir.join("inference-hub.service");
    std::fs::write(&copy, local).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&copy)
        .output()
        .unwrap_or_else(|e| panic!("cannot run systemd-analyze ({e}): scripts/setup.sh installs systemd"));
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify failed:\n{stderr}");
    // Unknown or misspelt settings are only warnings: none allowed.
    let findings: Vec<&str> = stderr.lines().filter(|l| l.contains("inference-hub.service")).collect();
    assert!(findings.is_empty(), "systemd-analyze verify findings:\n{stderr}");
}
