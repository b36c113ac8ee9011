//! The JSON-over-HTTPS client the trackers (PagerDuty, ...) share: one
//! hyper client, the credentials as one sensitive header, and every request
//! through [`Http::send`], the retry and rate-limit policy the forges use.
//! Messages name the request's path, never its headers.

mod answers;
pub mod http;
pub mod requests;

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::Value;

use self::http::{Http, Notify, RetryPolicy};
use crate::error::{Error, Result};

type Hyper = HyperClient<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// How a source authenticates: a header and its value.
pub struct Credentials {
    pub header: ::http::HeaderName,
    pub value: String,
}

pub struct ApiClient {
    source: &'static str,
    /// The API root, without a trailing slash.
    base: String,
    credentials: Option<Credentials>,
    /// Extra headers every request carries (e.g. PagerDuty's Accept).
    headers: Vec<(::http::HeaderName, ::http::HeaderValue)>,
    client: Hyper,
    http: Arc<Http>,
}

impl ApiClient {
    /// `base`: the API root (`https://api.pagerduty.com`); `token_env`
    /// names the variable the credentials came from (for messages).
    pub fn new(
        source: &'static str,
        token_env: &'static str,
        base: &str,
        credentials: Option<Credentials>,
        notify: Notify,
    ) -> Result<Self> {
        crate::ingest::forge::install_tls_provider();
        let parsed = url::Url::parse(base)
            .map_err(|e| Error::usage("--api-url", format!("`{base}` is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::usage(
                "--api-url",
                format!("`{base}` must start with https://"),
            ));
        }
        if let Some(c) = &credentials {
            ::http::HeaderValue::from_str(&c.value).map_err(|_| Error::Token {
                forge: source,
                message: format!(
                    "{token_env} cannot be sent as an HTTP header; export it again without line breaks"
                ),
            })?;
        }
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        Ok(ApiClient {
            source,
            base: base.trim_end_matches('/').to_string(),
            credentials,
            headers: Vec::new(),
            client: HyperClient::builder(hyper_util::rt::TokioExecutor::new()).build(connector),
            http: Arc::new(Http::new(source, token_env, RetryPolicy::default(), notify)),
        })
    }

    pub fn with_header(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.push((
            ::http::HeaderName::from_static(name),
            ::http::HeaderValue::from_static(value),
        ));
        self
    }

    pub fn notify(&self, message: &str) {
        self.http.notify(message)
    }

    /// GET `path` (below the API root) with `query`, as JSON. `scope` names
    /// what the request is for in messages (a service, a project).
    pub async fn get_json(
        &self,
        scope: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Value> {
        let mut url = format!("{}{path}", self.base);
        if !query.is_empty() {
            let encoded: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())))
                .finish();
            url.push('?');
            url.push_str(&encoded);
        }
        let uri: ::http::Uri = url
            .parse()
            .map_err(|e| Error::usage("--api-url", format!("cannot build a URL from it: {e}")))?;
        let what = path.to_string();
        let fetched = self
            .http
            .send(scope, &what, || {
                let mut request = ::http::Request::get(uri.clone())
                    .body(Full::new(Bytes::new()))
                    .expect("a GET request builds");
                let headers = request.headers_mut();
                headers.insert(
                    ::http::header::ACCEPT,
                    ::http::HeaderValue::from_static("application/json"),
                );
                for (name, value) in &self.headers {
                    headers.insert(name.clone(), value.clone());
                }
                if let Some(c) = &self.credentials
                    && let Ok(mut value) = ::http::HeaderValue::from_str(&c.value)
                {
                    value.set_sensitive(true);
                    headers.insert(c.header.clone(), value);
                }
                let sent = self.client.request(request);
                async move {
                    let response = sent.await.map_err(|e| format!("request failed ({e})"))?;
                    crate::ingest::client::http::fetched(response).await
                }
            })
            .await?;
        serde_json::from_slice(&fetched.body).map_err(|e| Error::Forge {
            forge: self.source,
            repo: scope.to_string(),
            message: format!("{what}: the answer is not the JSON expected ({e})"),
        })
    }
}
