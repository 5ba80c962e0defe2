//! Another origin for browser tests: a tiny HTTP server on its own loopback port (a different port is
//! a different origin from the API gateway) that serves one HTML page at `/` and 404 elsewhere. It
//! stands in for an organizer's web page that embeds rising's form or script.
//!
//! The server runs on its own thread with its own Tokio runtime, so it answers whatever the test's
//! runtime is doing, and it stops (connections included) when the `OtherOrigin` is dropped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::sync::oneshot;

/// A static page served from `http://127.0.0.1:PORT/`.
pub struct OtherOrigin {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl OtherOrigin {
    /// Serves `html` at `/` on a free port of 127.0.0.1, from now until the value is dropped.
    pub fn serve(html: String) -> OtherOrigin {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let addr = listener.local_addr().expect("the listener's address");
        let html = Arc::new(html);
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("other-origin-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a Tokio runtime for the other origin");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .expect("the listener on the other origin's runtime");
                    let page = get(move || {
                        let html = Arc::clone(&html);
                        async move {
                            (
                                [
                                    (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                                    (header::CACHE_CONTROL, "no-store"),
                                ],
                                html.as_str().to_owned(),
                            )
                        }
                    });
                    let app = Router::new().route("/", page).fallback(|| async {
                        (StatusCode::NOT_FOUND, "not found").into_response()
                    });
                    // Stop at once on drop: no graceful wait for a browser's keep-alive connections.
                    tokio::select! {
                        result = axum::serve(listener, app) => {
                            if let Err(e) = result {
                                panic!("the other origin's server on {addr} failed: {e}");
                            }
                        }
                        _ = stopped => {}
                    }
                });
                // Dropping the runtime here ends the connection tasks still open.
            })
            .expect("a thread for the other origin");
        OtherOrigin {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT/`: the page.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// `http://127.0.0.1:PORT`: the origin, as a browser sends it in `Origin` headers.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for OtherOrigin {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
