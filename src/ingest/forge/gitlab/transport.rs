//! The gitlab crate's endpoints over our own hyper client, so every
//! request goes through the one retry and rate-limit policy.

use async_trait::async_trait;
use bytes::Bytes;

use gitlab::api::{ApiError, AsyncClient, RestClient};
use http_body_util::Full;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;

use crate::error::{Error, Result};

use super::*;

/// A failure of our transport, carried through the gitlab crate's
/// `ApiError` and unwrapped again in [`api_error`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Transport(Box<Error>);

pub(super) type Hyper = HyperClient<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The client the gitlab crate's endpoints run on, for one repository
/// (so messages name it).
pub(super) struct ProjectClient<'a> {
    pub(super) gitlab: &'a GitLab,
    pub(super) repo: &'a str,
}

impl RestClient for ProjectClient<'_> {
    type Error = Transport;

    fn rest_endpoint(&self, endpoint: &str) -> Result<url::Url, ApiError<Self::Error>> {
        self.gitlab.base.join(endpoint).map_err(|e| {
            ApiError::client(Transport(Box::new(Error::usage(
                "--api-url",
                e.to_string(),
            ))))
        })
    }
}

#[async_trait]
impl AsyncClient for ProjectClient<'_> {
    async fn rest_async(
        &self,
        request: http::request::Builder,
        body: Vec<u8>,
    ) -> Result<http::Response<Bytes>, ApiError<Self::Error>> {
        let gitlab = self.gitlab;
        let (parts, ()) = request
            .body(())
            .map_err(|e| ApiError::client(Transport(Box::new(self.error(e)))))?
            .into_parts();
        let what = parts
            .uri
            .to_string()
            .strip_prefix(&gitlab.api)
            .map(str::to_string)
            .unwrap_or_else(|| parts.uri.path().to_string());
        let body = Bytes::from(body);
        let fetched = gitlab
            .http
            .send(self.repo, &what, || {
                let mut request = http::Request::from_parts(parts.clone(), Full::new(body.clone()));
                if let Some(token) = &gitlab.token
                    && let Ok(value) = http::HeaderValue::from_str(token)
                {
                    let mut value = value;
                    value.set_sensitive(true);
                    request.headers_mut().insert("PRIVATE-TOKEN", value);
                }
                let sent = gitlab.client.request(request);
                async move {
                    let response = sent.await.map_err(|e| format!("request failed ({e})"))?;
                    crate::ingest::client::http::fetched(response).await
                }
            })
            .await
            .map_err(|e| ApiError::client(Transport(Box::new(e))))?;
        let mut response = http::Response::builder().status(fetched.status);
        if let Some(headers) = response.headers_mut() {
            *headers = fetched.headers;
        }
        response
            .body(fetched.body)
            .map_err(|e| ApiError::client(Transport(Box::new(self.error(e)))))
    }
}

impl ProjectClient<'_> {
    fn error(&self, e: impl std::fmt::Display) -> Error {
        Error::Forge {
            forge: "gitlab",
            repo: self.repo.to_string(),
            message: e.to_string(),
        }
    }
}

pub(super) fn api_error(repo: &str, what: &str, e: ApiError<Transport>) -> Error {
    match e {
        ApiError::Client { source } => *source.0,
        other => Error::Forge {
            forge: "gitlab",
            repo: repo.to_string(),
            message: format!("{what}: {other}"),
        },
    }
}

pub(super) fn shape(repo: &str, what: &str, e: impl std::fmt::Display) -> Error {
    Error::Forge {
        forge: "gitlab",
        repo: repo.to_string(),
        message: format!("{what}: the answer does not have the expected shape: {e}"),
    }
}
