//! `taizhang serve`: the HTTP API over one store, for many offices at once.
//!
//! tokio and axum in front, the synchronous store behind: handlers call it from
//! `spawn_blocking`, so appends from every connection reach the store's single writer
//! together and share its group commits. One middleware ([`observe`]) limits requests in
//! flight, authenticates, bounds request time, logs every request (actor, route, status,
//! duration) and counts it; each handler then checks its role's rules ([`auth`]).

pub mod auth;
pub mod error;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod sse;

use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::sync::{watch, Semaphore};

use self::auth::TokenCache;
use self::error::{ApiError, RefusalCode};
pub use self::limits::Limits;
use self::metrics::Metrics;
use crate::store::SledLog;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The token file is unreadable: fix it (it is JSON) or remove it.
    #[error(transparent)]
    Tokens(#[from] crate::store::tokens::TokenError),
    /// Listening or serving failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What every handler shares.
pub struct Shared {
    /// The store.
    pub log: Arc<SledLog>,
    /// The tokens, reloaded when their file changes.
    pub tokens: TokenCache,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// The limits in force.
    pub limits: Limits,
    in_flight: Arc<Semaphore>,
    subscribers: Arc<Semaphore>,
    exports: Arc<Semaphore>,
    shutdown: watch::Receiver<bool>,
    started: Instant,
    /// Why the store stopped accepting appends, once it did (`/healthz` reports it).
    store_failed: std::sync::OnceLock<String>,
}

impl Shared {
    /// Notes an append's failure if it means the store no longer accepts appends.
    pub fn note_append_error(&self, e: &crate::store::AppendError) {
        use crate::store::AppendError;
        match e {
            AppendError::Io(reason) => {
                let _ = self.store_failed.set(reason.clone());
            }
            AppendError::Closed => {
                let _ = self.store_failed.set("the store is closed".into());
            }
            _ => {}
        }
    }

    /// Why the store no longer accepts appends, if it does not.
    pub fn store_failure(&self) -> Option<&str> {
        self.store_failed.get().map(String::as_str)
    }
}

/// The router's state: a cheap handle on [`Shared`].
#[derive(Clone)]
pub struct AppState(pub Arc<Shared>);

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// A server over one open store: its router, and the switch that ends subscriptions.
pub struct Server {
    state: AppState,
    shutdown: watch::Sender<bool>,
}

impl Server {
    /// A server for `log` (whose data directory holds the tokens).
    pub fn new(log: Arc<SledLog>, limits: Limits) -> Result<Server, ServeError> {
        let tokens = TokenCache::new(log.dir().to_path_buf())?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let shared = Shared {
            log,
            tokens,
            metrics: Metrics::default(),
            in_flight: Arc::new(Semaphore::new(limits.requests_in_flight_max)),
            subscribers: Arc::new(Semaphore::new(limits.subscribers_max)),
            exports: Arc::new(Semaphore::new(limits.exports_max)),
            limits,
            shutdown: shutdown_rx,
            started: Instant::now(),
            store_failed: std::sync::OnceLock::new(),
        };
        Ok(Server {
            state: AppState(Arc::new(shared)),
            shutdown,
        })
    }

    /// The shared state (metrics, the log).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The API's router, for serving or for in-process tests.
    pub fn router(&self) -> Router {
        let mut router = Router::new();
        for (_, path, handler) in routes::table() {
            router = router.route(path, handler);
        }
        router
            .fallback(|| async {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "no_route",
                    "no such route; see GET /v1/openapi.json",
                )
            })
            .method_not_allowed_fallback(|| async {
                ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    "this route does not take this method; see GET /v1/openapi.json",
                )
            })
            .layer(axum::middleware::from_fn_with_state(
                self.state.clone(),
                observe,
            ))
            // Bodies are read by the handlers with their own limits and JSON errors.
            .layer(axum::extract::DefaultBodyLimit::disable())
            .with_state(self.state.clone())
    }

    /// Ends live subscriptions (each gets a final `shutdown` event).
    pub fn begin_shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    /// Serves on `listener` until `signal` completes, then stops accepting, ends
    /// subscriptions and waits for the requests in flight, for at most the shutdown grace
    /// ([`limits::SHUTDOWN_GRACE`]): connections still open then (a client that stopped
    /// reading an export, say) are left to be dropped with the runtime. The caller then
    /// closes the store (`SledLog::close`), which finishes and syncs whatever was accepted.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let listener = limits::LimitedListener::new(
            listener,
            self.state.limits.connections_max,
            self.state.limits.client_stall_max,
            self.state.metrics.connections.clone(),
            self.state.metrics.connections_refused.clone(),
        );
        let router = self.router();
        let shutdown = self.shutdown;
        let mut signalled = shutdown.subscribe();
        let grace = self.state.limits.shutdown_grace;
        let serving = axum::serve(listener, router).with_graceful_shutdown(async move {
            signal.await;
            tracing::info!("shutting down: no new connections, finishing requests in flight");
            let _ = shutdown.send(true);
        });
        let deadline = async move {
            if signalled.wait_for(|s| *s).await.is_err() {
                return std::future::pending().await;
            }
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            served = serving => served?,
            _ = deadline => {
                tracing::warn!(
                    grace_seconds = grace.as_secs_f64(),
                    "connections still open after the shutdown grace are dropped"
                );
            }
        }
        Ok(())
    }
}

/// Routes that need no token.
fn is_public(route: &str) -> bool {
    matches!(route, "/healthz" | "/v1/openapi.json" | "unmatched")
}

/// Every request passes here: in-flight limit, authentication, time limit, log line, counts.
async fn observe(
    State(app): State<AppState>,
    matched: Option<MatchedPath>,
    mut req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = matched
        .as_ref()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    let streaming = route == "/v1/subscribe" || route == "/v1/export";
    let mut actor = String::from("-");
    let response = 'answer: {
        // Subscriptions have their own limit; they would hold these permits for hours.
        let _permit = if streaming {
            None
        } else {
            match app.in_flight.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    break 'answer ApiError::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "too_many_requests",
                        format!(
                            "the server handles {} requests at once; retry shortly",
                            app.limits.requests_in_flight_max
                        ),
                    )
                    .into_response();
                }
            }
        };
        if !is_public(&route) {
            match app.tokens.authenticate(req.headers()).await {
                Ok(p) => {
                    actor = p.name.clone();
                    req.extensions_mut().insert(p);
                }
                Err(e) => break 'answer e.into_response(),
            }
        }
        if streaming {
            next.run(req).await
        } else {
            match tokio::time::timeout(app.limits.request_time_max, next.run(req)).await {
                Ok(r) => r,
                Err(_) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "timeout", format!("the request took longer than {} s; an append may still have been written: retry it with the same event ids", app.limits.request_time_max.as_secs())).into_response(),
            }
        }
    };
    let status = response.status();
    let refusal = response.extensions().get::<RefusalCode>().map(|c| c.0);
    let micros = started.elapsed().as_micros() as u64;
    app.metrics
        .request(&route, status.as_u16(), refusal, micros);
    tracing::info!(
        actor = %actor,
        method = %method,
        route = %route,
        status = status.as_u16(),
        duration_ms = micros as f64 / 1000.0,
        refusal = refusal.unwrap_or(""),
        "request"
    );
    response
}
