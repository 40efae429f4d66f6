//! The serve loop the service and the gateway share: answer until
//! SIGTERM/SIGINT, then drain accepted requests for a grace period.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// Serves `app` until SIGTERM/SIGINT. Then `on_signal` runs (so readiness
/// turns 503), no new connections are accepted, and accepted requests
/// finish, for at most `grace`.
pub async fn serve_until_signal(
    listener: TcpListener,
    app: Router,
    grace: Duration,
    on_signal: impl FnOnce() + Send + 'static,
) -> anyhow::Result<()> {
    let signalled = Arc::new(Notify::new());
    let on_signal = {
        let signalled = signalled.clone();
        async move {
            shutdown_signal().await;
            on_signal();
            signalled.notify_one();
        }
    };
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    let serving = axum::serve(listener, app).with_graceful_shutdown(on_signal);
    tokio::select! {
        served = serving.into_future() => served?,
        () = async { signalled.notified().await; tokio::time::sleep(grace).await } => {
            tracing::warn!("grace period of {grace:?} over; exiting with requests still in flight");
        }
    }
    tracing::info!("shut down");
    Ok(())
}

pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
