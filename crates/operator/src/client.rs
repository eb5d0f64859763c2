//! Kubernetes clients that say who they are: every request carries the user agent
//! `cluster-image-registry-operator/<version>`.

use std::path::Path;

use http::{HeaderValue, Request, header};
use kube::Client;
use kube::client::ClientBuilder;
use tower::util::MapRequestLayer;

/// The user agent of every request.
pub fn user_agent() -> String {
    format!("cluster-image-registry-operator/{}", env!("CARGO_PKG_VERSION"))
}

fn layer<B>() -> MapRequestLayer<impl Fn(Request<B>) -> Request<B> + Clone> {
    let ua = HeaderValue::from_str(&user_agent()).expect("a valid header value");
    MapRequestLayer::new(move |mut req: Request<B>| {
        req.headers_mut().insert(header::USER_AGENT, ua.clone());
        req
    })
}

/// A client from a kubeconfig file, or inferred (in-cluster, then `KUBECONFIG` and
/// `~/.kube/config`) when none is given.
pub async fn connect(kubeconfig: Option<&Path>) -> Result<Client, String> {
    let config = match kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &Default::default())
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => {
            kube::Config::infer().await.map_err(|e| format!("no cluster configuration: {e}"))?
        }
    };
    let mut config = config;
    // The proxy of the environment, unless NO_PROXY names the API server (kube compares
    // NO_PROXY with the proxy's own address, not the server's). In a pod the client never
    // takes one.
    if config.proxy_url.is_some() && !storage::proxy::proxied(&config.cluster_url) {
        config.proxy_url = None;
    }
    // The cluster's trusted CA bundle, beside the API server's own CA (storage::tls).
    if let Some(roots) = config.root_cert.as_mut() {
        roots.extend(storage::tls::extra().iter().map(|c| c.to_vec()));
    }
    let builder = ClientBuilder::try_from(config).map_err(|e| e.to_string())?;
    Ok(builder.with_layer(&layer()).build())
}

/// A client talking to an in-memory API server without a socket.
pub fn in_process(server: &testkit::apiserver::ApiServer) -> Client {
    ClientBuilder::new(server.router(), "default").with_layer(&layer()).build()
}
