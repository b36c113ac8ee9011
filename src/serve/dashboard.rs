//! The dashboard at `/`: one HTML page, its script and its stylesheet,
//! embedded in the binary (no build step, nothing loaded from elsewhere).
//! The page holds no data: it reads the same APIs a script would
//! (`/api/v1/metrics`, the lists, `/api/v1/explain/deployment`) with the
//! token kept in the tab's sessionStorage, so it is served without one.

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};

pub struct Asset {
    pub path: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const ASSETS: [Asset; 3] = [
    Asset {
        path: "/",
        content_type: "text/html; charset=utf-8",
        body: include_str!("assets/index.html"),
    },
    Asset {
        path: "/assets/app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("assets/app.js"),
    },
    Asset {
        path: "/assets/style.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("assets/style.css"),
    },
];

/// The asset served at `path` (`/index.html` is `/`).
pub fn asset(path: &str) -> Option<&'static Asset> {
    let path = if path == "/index.html" { "/" } else { path };
    ASSETS.iter().find(|a| a.path == path)
}

/// An asset's answer: only this origin's scripts, styles and requests.
pub fn reply(path: &str) -> Response<Full<Bytes>> {
    let asset = asset(path).expect("routes only name known assets");
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", asset.content_type)
        .header("cache-control", "no-cache")
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .header(
            "content-security-policy",
            "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; form-action 'self'",
        )
        .body(Full::new(Bytes::from_static(asset.body.as_bytes())))
        .expect("valid response")
}
