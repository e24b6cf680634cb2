//! The HTTP and WebSocket transport to a team server (reqwest and tokio-tungstenite over
//! rustls with the system's roots plus an optional extra CA). Maps every answer to the
//! protocol's types and every failure to `client::Failure` (unreachable vs a coded error).

use futures_util::{SinkExt, Stream, StreamExt};
use rapport_sync::client::Failure;
use rapport_sync::wire::*;
use serde::de::DeserializeOwned;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// One bootstrap stream: its lines as they arrive.
pub type Lines = Pin<Box<dyn Stream<Item = Result<BootstrapLine, Failure>> + Send>>;

/// What the driver needs from a server (the simulation implements it in-process).
pub trait Transport: Send + Sync {
    fn register(
        &self,
        req: &RegisterRequest,
    ) -> impl Future<Output = Result<RegisterResponse, Failure>> + Send;
    fn push(&self, req: &PushRequest)
    -> impl Future<Output = Result<PushResponse, Failure>> + Send;
    fn pull(
        &self,
        since: i64,
        limit: usize,
    ) -> impl Future<Output = Result<ChangesPage, Failure>> + Send;
    fn bootstrap(
        &self,
        after_id: Option<String>,
    ) -> impl Future<Output = Result<Lines, Failure>> + Send;
}

/// A server at a base URL, with a token (and the org the sync calls are for).
#[derive(Clone)]
pub struct Http {
    base: String,
    token: Option<String>,
    org: Option<String>,
    client_id: Option<String>,
    http: reqwest::Client,
    tls: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http").field("base", &self.base).finish()
    }
}

/// The TLS setup: the OS's roots, plus `ca_file` (PEM) when given.
fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(c);
    }
    if let Some(f) = ca_file {
        let pem = std::fs::read(f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
        use rustls_pki_types::pem::PemObject;
        let mut n = 0;
        for c in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
            let c = c.map_err(|e| format!("{}: {e}", f.display()))?;
            roots.add(c).map_err(|e| format!("{}: {e}", f.display()))?;
            n += 1;
        }
        if n == 0 {
            return Err(format!("{} holds no PEM certificate", f.display()));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn unreachable(e: impl std::fmt::Display) -> Failure {
    Failure::Unreachable(e.to_string())
}

impl Http {
    /// A client for `base` (`https://host:port` or `http://127.0.0.1:port`).
    pub fn new(base: &str, ca_file: Option<&Path>) -> Result<Http, Failure> {
        let base = base.trim().trim_end_matches('/').to_string();
        let url = reqwest::Url::parse(&base).map_err(|e| Failure::Api {
            code: ErrorCode::BadRequest,
            message: format!("`{base}` is not a server URL: {e}"),
            server_time: None,
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Failure::Api {
                code: ErrorCode::BadRequest,
                message: format!("`{base}` is not an http(s) URL"),
                server_time: None,
            });
        }
        let tls = Arc::new(tls_config(ca_file).map_err(Failure::Local)?);
        let http = reqwest::Client::builder()
            .use_preconfigured_tls((*tls).clone())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(300))
            .build()
            .map_err(unreachable)?;
        Ok(Http {
            base,
            token: None,
            org: None,
            client_id: None,
            http,
            tls,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn with_token(mut self, token: &str) -> Http {
        self.token = Some(token.to_string());
        self
    }

    pub fn for_client(mut self, org: &str, client_id: &str) -> Http {
        self.org = Some(org.to_string());
        self.client_id = Some(client_id.to_string());
        self
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn org_url(&self, path: &str) -> String {
        format!(
            "{}/v1/orgs/{}{path}",
            self.base,
            self.org.as_deref().unwrap_or("-")
        )
    }

    fn req(&self, r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let mut r = r.header(PROTOCOL_HEADER, PROTOCOL.to_string());
        if let Some(t) = &self.token {
            r = r.bearer_auth(t);
        }
        if let Some(c) = &self.client_id {
            r = r.header(CLIENT_HEADER, c);
        }
        r
    }

    async fn send<T: DeserializeOwned>(&self, r: reqwest::RequestBuilder) -> Result<T, Failure> {
        let resp = self.req(r).send().await.map_err(unreachable)?;
        let status = resp.status();
        if status.is_success() {
            return resp.json::<T>().await.map_err(unreachable);
        }
        Err(error_of(
            status,
            resp.bytes().await.unwrap_or_default().as_ref(),
        ))
    }

    pub async fn login(&self, req: &LoginRequest) -> Result<LoginResponse, Failure> {
        self.send(self.http.post(self.url("/v1/auth/login")).json(req))
            .await
    }

    pub async fn me(&self) -> Result<LoginResponse, Failure> {
        self.send(self.http.get(self.url("/v1/me"))).await
    }

    pub async fn logout(&self) -> Result<(), Failure> {
        let resp = self
            .req(self.http.post(self.url("/v1/auth/logout")))
            .send()
            .await
            .map_err(unreachable)?;
        match resp.status() {
            s if s.is_success() => Ok(()),
            s => Err(error_of(s, resp.bytes().await.unwrap_or_default().as_ref())),
        }
    }

    pub async fn capabilities(&self) -> Result<Capabilities, Failure> {
        self.send(self.http.get(self.url("/v1/capabilities"))).await
    }

    /// Opens the org's event socket (the bearer token on the upgrade request) and says
    /// `hello` with the cursor. Returns the messages as a stream and a sender for presence.
    pub async fn events(
        &self,
        cursor: i64,
    ) -> Result<
        (
            Pin<Box<dyn Stream<Item = ServerMessage> + Send>>,
            tokio::sync::mpsc::UnboundedSender<ClientMessage>,
        ),
        Failure,
    > {
        use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
        let ws = self.org_url("/events").replacen("http", "ws", 1);
        let mut req = ws.into_client_request().map_err(unreachable)?;
        if let Some(t) = &self.token {
            req.headers_mut().insert(
                "authorization",
                format!("Bearer {t}").parse().map_err(unreachable)?,
            );
        }
        req.headers_mut().insert(
            PROTOCOL_HEADER,
            PROTOCOL.to_string().parse().map_err(unreachable)?,
        );
        if let Some(c) = &self.client_id {
            req.headers_mut()
                .insert(CLIENT_HEADER, c.parse().map_err(unreachable)?);
        }
        let connector = tokio_tungstenite::Connector::Rustls(self.tls.clone());
        let (socket, _) =
            tokio_tungstenite::connect_async_tls_with_config(req, None, true, Some(connector))
                .await
                .map_err(|e| match e {
                    tokio_tungstenite::tungstenite::Error::Http(r) => {
                        error_of(r.status(), r.body().as_deref().unwrap_or_default())
                    }
                    e => unreachable(e),
                })?;
        let (mut sink, stream) = socket.split();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<ClientMessage>();
        let _ = tx.send(ClientMessage::Hello { cursor });
        tokio::spawn(async move {
            while let Some(m) = rx.recv().await {
                let text = serde_json::to_string(&m).unwrap_or_default();
                if sink.send(Message::text(text)).await.is_err() {
                    break;
                }
            }
        });
        let messages = stream.filter_map(|m| async move {
            match m {
                Ok(Message::Text(t)) => serde_json::from_str::<ServerMessage>(&t).ok(),
                _ => None,
            }
        });
        // The stream ends when the socket closes (an error or a close frame ends it).
        let messages = messages.take_while(|_| async { true });
        Ok((Box::pin(messages), tx))
    }
}

/// The error an answer carries: the body's `ApiError` when it has one, else by status.
pub(crate) fn error_of(status: reqwest::StatusCode, body: &[u8]) -> Failure {
    if let Ok(e) = serde_json::from_slice::<ApiError>(body) {
        if e.code == ErrorCode::Internal {
            return Failure::Unreachable(format!("server error: {}", e.message));
        }
        return Failure::Api {
            code: e.code,
            message: e.message,
            server_time: e.server_time,
        };
    }
    if status.is_server_error() {
        return Failure::Unreachable(format!("server error {status}"));
    }
    let code = match status.as_u16() {
        401 => ErrorCode::Unauthorized,
        403 => ErrorCode::Forbidden,
        404 => ErrorCode::NotFound,
        410 => ErrorCode::MustRebootstrap,
        413 => ErrorCode::PayloadTooLarge,
        429 => ErrorCode::RateLimited,
        _ => ErrorCode::BadRequest,
    };
    Failure::Api {
        code,
        message: format!("the server answered {status}"),
        server_time: None,
    }
}

impl Transport for Http {
    async fn register(&self, req: &RegisterRequest) -> Result<RegisterResponse, Failure> {
        self.send(self.http.post(self.org_url("/clients")).json(req))
            .await
    }

    async fn push(&self, req: &PushRequest) -> Result<PushResponse, Failure> {
        self.send(self.http.post(self.org_url("/push")).json(req))
            .await
    }

    async fn pull(&self, since: i64, limit: usize) -> Result<ChangesPage, Failure> {
        self.send(
            self.http
                .get(self.org_url("/changes"))
                .query(&[("since", since.to_string()), ("limit", limit.to_string())]),
        )
        .await
    }

    async fn bootstrap(&self, after_id: Option<String>) -> Result<Lines, Failure> {
        let mut r = self.http.get(self.org_url("/bootstrap"));
        if let Some(a) = &after_id {
            r = r.query(&[("after_id", a)]);
        }
        let resp = self.req(r).send().await.map_err(unreachable)?;
        let status = resp.status();
        if !status.is_success() {
            return Err(error_of(
                status,
                resp.bytes().await.unwrap_or_default().as_ref(),
            ));
        }
        Ok(Box::pin(ndjson(resp.bytes_stream())))
    }
}

/// Splits a byte stream into NDJSON lines and parses each.
fn ndjson<S, B, E>(bytes: S) -> impl Stream<Item = Result<BootstrapLine, Failure>> + Send
where
    S: Stream<Item = Result<B, E>> + Send + 'static,
    B: AsRef<[u8]>,
    E: std::fmt::Display,
{
    let state = (
        Box::pin(bytes),
        Vec::<u8>::new(),
        std::collections::VecDeque::new(),
        false,
    );
    futures_util::stream::unfold(
        state,
        |(mut bytes, mut buf, mut ready, mut done)| async move {
            loop {
                if let Some(line) = ready.pop_front() {
                    return Some((line, (bytes, buf, ready, done)));
                }
                if done {
                    return None;
                }
                match bytes.next().await {
                    Some(Ok(chunk)) => {
                        buf.extend_from_slice(chunk.as_ref());
                        let mut start = 0;
                        while let Some(i) = buf[start..].iter().position(|b| *b == b'\n') {
                            let line = &buf[start..start + i];
                            if !line.iter().all(u8::is_ascii_whitespace) {
                                ready.push_back(
                                    serde_json::from_slice::<BootstrapLine>(line).map_err(|e| {
                                        Failure::Unreachable(format!("bad bootstrap line: {e}"))
                                    }),
                                );
                            }
                            start += i + 1;
                        }
                        buf.drain(..start);
                    }
                    Some(Err(e)) => {
                        ready.push_back(Err(Failure::Unreachable(format!(
                            "bootstrap cut off: {e}"
                        ))));
                        done = true;
                    }
                    None => {
                        if !buf.iter().all(u8::is_ascii_whitespace) {
                            ready.push_back(Err(Failure::Unreachable(
                                "bootstrap cut off mid-line".into(),
                            )));
                        }
                        done = true;
                    }
                }
            }
        },
    )
}
