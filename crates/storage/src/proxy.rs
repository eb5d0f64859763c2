//! A connector for the hyper clients here (GCS and its token endpoint) that goes through
//! the cluster proxy of the process's environment (`HTTPS_PROXY`, `HTTP_PROXY`,
//! `NO_PROXY`), as reqwest and the AWS SDK do: a `CONNECT` tunnel for `https` targets, and
//! the proxy itself, asked with the full URL, for `http` ones. Hosts `NO_PROXY` names are
//! reached directly.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use google_storage1::hyper_util::client::legacy::connect::proxy::Tunnel;
use google_storage1::hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use google_storage1::hyper_util::client::proxy::matcher::Matcher;
use google_storage1::hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

type Io = TokioIo<TcpStream>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Whether the environment's proxy settings send requests for `uri` through a proxy.
pub fn proxied(uri: &http::Uri) -> bool {
    Matcher::from_env().intercept(uri).is_some()
}

/// An HTTP connector that knows the proxy.
#[derive(Clone)]
pub struct ProxyConnector {
    http: HttpConnector,
    proxies: Arc<Matcher>,
}

impl ProxyConnector {
    /// The proxies of the environment.
    pub fn from_env() -> Self {
        let mut http = HttpConnector::new();
        // TLS runs over it (hyper-rustls), so it takes https URIs too.
        http.enforce_http(false);
        ProxyConnector { http, proxies: Arc::new(Matcher::from_env()) }
    }
}

/// A connection, and whether it is to a proxy that wants full URLs.
pub struct Proxied {
    io: Io,
    forward: bool,
}

impl Connection for Proxied {
    fn connected(&self) -> Connected {
        self.io.connected().proxy(self.forward)
    }
}

impl google_storage1::hyper::rt::Read for Proxied {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: google_storage1::hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl google_storage1::hyper::rt::Write for Proxied {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl tower::Service<http::Uri> for ProxyConnector {
    type Response = Proxied;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Proxied, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        tower::Service::<http::Uri>::poll_ready(&mut self.http, cx).map_err(Into::into)
    }

    fn call(&mut self, dst: http::Uri) -> Self::Future {
        let mut http = self.http.clone();
        let intercept = self.proxies.intercept(&dst);
        Box::pin(async move {
            match intercept {
                Some(p) if dst.scheme() == Some(&http::uri::Scheme::HTTPS) => {
                    let mut tunnel = Tunnel::new(p.uri().clone(), http);
                    if let Some(auth) = p.basic_auth() {
                        tunnel = tunnel.with_auth(auth.clone());
                    }
                    let io = tower::Service::call(&mut tunnel, dst).await?;
                    Ok(Proxied { io, forward: false })
                }
                Some(p) => {
                    let io = tower::Service::call(&mut http, p.uri().clone()).await?;
                    Ok(Proxied { io, forward: true })
                }
                None => {
                    let io = tower::Service::call(&mut http, dst).await?;
                    Ok(Proxied { io, forward: false })
                }
            }
        })
    }
}
