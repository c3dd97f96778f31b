//! Limits on the HTTP service's connections, so that clients holding
//! connections open (half a request, an idle keep-alive) cannot use up the
//! service's file descriptors and lock out `/healthz` and the API: caps per
//! client address and in total, and a deadline for each request head
//! (and TLS handshake). The one accept loop, plain or TLS, is here.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// How long a request head may take under pressure (past three quarters of
/// the total cap): slow and silent clients make way for new ones quickly.
const PRESSED_HEADER_TIMEOUT: Duration = Duration::from_secs(2);

/// How long the graceful shutdown waits for open requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

/// The connection limits (settings `http_max_connections`,
/// `http_max_connections_per_address`, `http_header_timeout_seconds`).
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// Connections open at once, all clients together.
    pub total: usize,
    /// Connections open at once from one client address.
    pub per_address: usize,
    /// A connection must send a complete request head within this long of
    /// opening, and of its previous response (the idle keep-alive limit).
    pub header_timeout: Duration,
}

/// Admits connections within the caps; each admitted one holds a [`Permit`].
#[derive(Debug, Clone)]
pub struct Gate {
    limits: ConnLimits,
    counts: Arc<Mutex<Counts>>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// An admitted connection's place; given back when dropped.
#[derive(Debug)]
pub struct Permit {
    counts: Arc<Mutex<Counts>>,
    addr: IpAddr,
    header_timeout: Duration,
}

impl Gate {
    pub fn new(limits: ConnLimits) -> Gate {
        Gate {
            limits,
            counts: Arc::default(),
        }
    }

    /// A place for a connection from `addr`, or `None` past a cap (the
    /// caller closes the connection at once).
    pub fn admit(&self, addr: IpAddr) -> Option<Permit> {
        let addr = addr.to_canonical();
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let from = c.by_address.get(&addr).copied().unwrap_or(0);
        if c.total >= self.limits.total || from >= self.limits.per_address {
            return None;
        }
        let pressed = c.total >= self.limits.total / 4 * 3;
        c.total += 1;
        c.by_address.insert(addr, from + 1);
        Some(Permit {
            counts: self.counts.clone(),
            addr,
            header_timeout: if pressed {
                self.limits.header_timeout.min(PRESSED_HEADER_TIMEOUT)
            } else {
                self.limits.header_timeout
            },
        })
    }
}

impl Permit {
    /// How long this connection has for its first request head (or message).
    pub fn header_timeout(&self) -> Duration {
        self.header_timeout
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.by_address.get_mut(&self.addr) {
            *n -= 1;
            if *n == 0 {
                c.by_address.remove(&self.addr);
            }
        }
    }
}

/// Serves one admitted connection (plain or TLS) on its own task, HTTP/1.1
/// or HTTP/2 as the client speaks, with the request-head deadline, until it
/// closes or the shutdown ends it.
pub fn serve_connection<I>(io: I, app: Router, peer: SocketAddr, permit: Permit, watcher: Watcher)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(permit.header_timeout)
        .keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    tokio::spawn(async move {
        // Each request carries its client's address, as axum's `ConnectInfo`.
        let app = app.map_request(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            req
        });
        let conn = builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(app));
        if let Err(e) = watcher.watch(conn).await {
            tracing::debug!(error = %e, "an HTTP connection ended with an error");
        }
        drop(permit);
    });
}

/// The HTTP accept loop: admits each connection through `gate`, makes the
/// TLS handshake when `tls` is given (within the request-head deadline, on
/// the connection's own task, so a slow client holds up no one), and
/// serves it; on `stop`, stops accepting and lets open requests finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    gate: Gate,
    tls: Option<TlsAcceptor>,
    stop: CancellationToken,
) {
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, most likely: wait for some
                    // to close rather than spin.
                    tracing::warn!(error = %e, "cannot accept an HTTP connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(permit) = gate.admit(peer.ip()) else {
            tracing::debug!(%peer, "HTTP connection over the cap closed");
            continue;
        };
        let _ = stream.set_nodelay(true);
        match &tls {
            None => serve_connection(stream, app.clone(), peer, permit, graceful.watcher()),
            Some(acceptor) => {
                let (acceptor, app, watcher) = (acceptor.clone(), app.clone(), graceful.watcher());
                tokio::spawn(async move {
                    let handshake = acceptor.accept(stream);
                    match tokio::time::timeout(permit.header_timeout(), handshake).await {
                        Ok(Ok(tls)) => serve_connection(tls, app, peer, permit, watcher),
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("open HTTP requests did not end in time");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(total: usize, per_address: usize) -> Gate {
        Gate::new(ConnLimits {
            total,
            per_address,
            header_timeout: Duration::from_secs(10),
        })
    }

    #[test]
    fn caps_per_address_and_in_total_and_gives_places_back() {
        let g = gate(4, 2);
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let a1 = g.admit(a).unwrap();
        let _a2 = g.admit(a).unwrap();
        assert!(g.admit(a).is_none(), "a third from one address");
        let _b1 = g.admit(b).unwrap();
        let b2 = g.admit(b).unwrap();
        assert_eq!(
            b2.header_timeout, PRESSED_HEADER_TIMEOUT,
            "the last quarter"
        );
        assert!(g.admit("127.0.0.4".parse().unwrap()).is_none(), "the total");
        drop(a1);
        assert!(g.admit(a).is_some(), "a place given back");
    }

    #[test]
    fn an_ipv4_mapped_address_counts_as_the_ipv4_one() {
        let g = gate(10, 1);
        let _p = g.admit("127.0.0.2".parse().unwrap()).unwrap();
        assert!(g.admit("::ffff:127.0.0.2".parse().unwrap()).is_none());
    }
}
