//! systemd's service notifications (`sd_notify`), for `Type=notify` units.
//! Every call is a no-op unless systemd set `NOTIFY_SOCKET`.
//!
//! `READY=1` is sent once the models are loaded (at once when OCR is
//! disabled), not when the port is bound: systemd has no readiness probe, so
//! "started" must mean "can serve", and units ordered after this one, or a
//! `systemctl start` waiting for it, should not see it up before it can
//! answer OCR requests. The port still opens first, for `/live` and `/ready`.

use std::time::Duration;

use sd_notify::NotifyState;

/// Whether a service manager listens for notifications.
pub fn supervised() -> bool {
    std::env::var_os("NOTIFY_SOCKET").is_some()
}

pub fn ready() {
    send(&[NotifyState::Ready, NotifyState::Status("serving")]);
}

pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("draining in-flight requests")]);
}

pub fn status(text: &str) {
    send(&[NotifyState::Status(text)]);
}

/// With `WatchdogSec=` set, pings systemd at half the interval from the
/// async runtime: a stalled runtime (which could answer nothing) stops the
/// pings and systemd restarts the service.
pub fn start_watchdog() {
    let Some(interval) = sd_notify::watchdog_enabled() else { return };
    tracing::info!("systemd watchdog every {interval:?}; pinging at half that");
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval((interval / 2).max(Duration::from_millis(10)));
        loop {
            ticker.tick().await;
            send(&[NotifyState::Watchdog]);
        }
    });
}

fn send(states: &[NotifyState]) {
    if let Err(err) = sd_notify::notify(states) {
        tracing::warn!("cannot notify systemd: {err}");
    }
}
