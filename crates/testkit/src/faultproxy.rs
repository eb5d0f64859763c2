//! A storage endpoint that fails on demand: a TCP proxy in front of a real storage server
//! (moto) that passes connections through, refuses them (its port closed), or sends them
//! to a server that answers every request with an error, worded as S3 words it (an XML
//! `Error` with a new RequestId each time, as S3's own), until told otherwise.
//!
//! A change of the fault closes the connections open through the proxy, so that a
//! client's pooled connection does not carry on past it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the endpoint does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Passes every connection to the real server.
    None,
    /// Refuses connections: nothing listens on the port.
    Refuse,
    /// Answers every request `status` with the S3 error `code`, and a Retry-After header
    /// when set.
    Answer { status: u16, code: &'static str, retry_after: Option<u32> },
}

impl Fault {
    /// 500 InternalError.
    pub const INTERNAL: Fault =
        Fault::Answer { status: 500, code: "InternalError", retry_after: None };
    /// 503 SlowDown, S3's throttling.
    pub const SLOW_DOWN: Fault = Fault::Answer { status: 503, code: "SlowDown", retry_after: None };
    /// 429 with Retry-After, as other object stores throttle.
    pub const TOO_MANY: Fault =
        Fault::Answer { status: 429, code: "TooManyRequests", retry_after: Some(5) };
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    fault: watch::Sender<Fault>,
    answered: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl FaultProxy {
    /// A proxy to `upstream` (`http://HOST:PORT`), passing connections through.
    pub async fn start(upstream: &str) -> std::io::Result<FaultProxy> {
        Self::start_with(upstream, None).await
    }

    /// A proxy to an HTTPS `upstream` (`https://HOST:PORT`) whose certificate and key
    /// (PEM) the error answers are given with too, so a client that trusts the server
    /// reads them as the server's.
    pub async fn start_tls(
        upstream: &str,
        cert_pem: &str,
        key_pem: &str,
    ) -> std::io::Result<FaultProxy> {
        Self::start_with(upstream, Some((cert_pem, key_pem))).await
    }

    async fn start_with(upstream: &str, tls: Option<(&str, &str)>) -> std::io::Result<FaultProxy> {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let upstream: SocketAddr = upstream
            .trim_start_matches(&format!("{scheme}://"))
            .trim_end_matches('/')
            .parse()
            .map_err(|e| std::io::Error::other(format!("upstream {upstream}: {e}")))?;
        let (fault, rx) = watch::channel(Fault::None);
        let answered = Arc::new(AtomicU64::new(0));
        let app = axum::Router::new().fallback(answer).with_state((rx.clone(), answered.clone()));
        let (errors_addr, error_server) = serve_errors(app, tls).await?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let proxy = tokio::spawn(run(listener, addr, upstream, errors_addr, rx));
        Ok(FaultProxy {
            endpoint: format!("{scheme}://{addr}"),
            fault,
            answered,
            tasks: vec![error_server, proxy],
        })
    }

    /// Fails (or stops failing) from now on.
    pub fn set(&self, fault: Fault) {
        self.fault.send_replace(fault);
    }

    /// Requests answered with an error so far.
    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }
}

/// The server of the error answers, over TLS with `tls` (certificate, key) when given.
async fn serve_errors(
    app: axum::Router,
    tls: Option<(&str, &str)>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let task = match tls {
        Some((cert, key)) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let config = axum_server::tls_rustls::RustlsConfig::from_pem(
                cert.as_bytes().to_vec(),
                key.as_bytes().to_vec(),
            )
            .await?;
            let server = axum_server::from_tcp_rustls(listener, config)?;
            tokio::spawn(async move {
                let _ = server.serve(app.into_make_service()).await;
            })
        }
        None => {
            let listener = TcpListener::from_std(listener)?;
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            })
        }
    };
    Ok((addr, task))
}

/// The accept loop: the port is closed while the fault is [`Fault::Refuse`], and bound
/// again (the same port) after.
async fn run(
    listener: TcpListener,
    addr: SocketAddr,
    upstream: SocketAddr,
    errors: SocketAddr,
    mut rx: watch::Receiver<Fault>,
) {
    let mut listener = Some(listener);
    loop {
        let fault = rx.borrow_and_update().clone();
        if fault == Fault::Refuse {
            listener = None;
            if rx.changed().await.is_err() {
                return;
            }
            continue;
        }
        let l = match listener.take() {
            Some(l) => l,
            None => match TcpListener::bind(addr).await {
                Ok(l) => l,
                Err(e) => {
                    // Every later connection is refused: say why rather than look down.
                    eprintln!("fault proxy: cannot listen on {addr} again: {e}");
                    return;
                }
            },
        };
        tokio::select! {
            accepted = l.accept() => {
                if let Ok((conn, _)) = accepted {
                    let to = if fault == Fault::None { upstream } else { errors };
                    tokio::spawn(pass(conn, to, rx.clone()));
                }
            }
            changed = rx.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
        listener = Some(l);
    }
}

/// Copies one connection both ways until either side closes or the fault changes.
async fn pass(mut conn: TcpStream, to: SocketAddr, mut rx: watch::Receiver<Fault>) {
    let Ok(mut server) = TcpStream::connect(to).await else { return };
    rx.mark_unchanged();
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut conn, &mut server) => {}
        _ = rx.changed() => {}
    }
}

/// Every request while a fault answers: its status and S3's XML error.
async fn answer(
    State((rx, answered)): State<(watch::Receiver<Fault>, Arc<AtomicU64>)>,
) -> Response {
    let Fault::Answer { status, code, retry_after } = rx.borrow().clone() else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let n = answered.fetch_add(1, Ordering::Relaxed) + 1;
    let request_id = format!("FAULT{n:011X}");
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>injected {code}</Message><RequestId>{request_id}</RequestId><HostId>host-{n}</HostId></Error>"
    );
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/xml"));
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert("x-amz-request-id", v);
    }
    if let Some(s) = retry_after {
        headers.insert("retry-after", HeaderValue::from(s));
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, headers, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Raw HTTP/1.0 over a socket: the status line, or the connection error.
    async fn status_line(endpoint: &str) -> Result<String, std::io::Error> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = TcpStream::connect(endpoint.trim_start_matches("http://")).await?;
        s.write_all(b"GET /bucket HTTP/1.0\r\nHost: x\r\n\r\n").await?;
        let mut out = String::new();
        s.read_to_string(&mut out).await?;
        Ok(out.lines().next().unwrap_or_default().to_string())
    }

    #[tokio::test]
    async fn passes_refuses_and_answers_as_told() {
        // The real server: one that answers 200 to everything.
        let real = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let real_addr = real.local_addr().unwrap();
        tokio::spawn(async move {
            let app = axum::Router::new().fallback(|| async { "ok" });
            let _ = axum::serve(real, app).await;
        });
        let proxy = FaultProxy::start(&format!("http://{real_addr}")).await.unwrap();
        assert!(status_line(&proxy.endpoint).await.unwrap().contains("200"));

        proxy.set(Fault::SLOW_DOWN);
        assert!(status_line(&proxy.endpoint).await.unwrap().contains("503"));
        proxy.set(Fault::TOO_MANY);
        assert!(status_line(&proxy.endpoint).await.unwrap().contains("429"));
        assert_eq!(proxy.answered(), 2);

        proxy.set(Fault::Refuse);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let refused = status_line(&proxy.endpoint).await.unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);

        proxy.set(Fault::None);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(status_line(&proxy.endpoint).await.unwrap().contains("200"), "the same port again");
    }
}
