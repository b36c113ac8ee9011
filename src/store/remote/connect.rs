//! Reaching an object-store warehouse: the store a location's URL names
//! (options and credentials from the environment), what its refusals
//! mean, and where its objects are cached locally.

use std::fs;
use std::path::PathBuf;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;

use crate::error::{Error, Result};

pub(super) fn store_error(url: &str, action: &str, e: object_store::Error) -> Error {
    let text = e.to_string();
    let lower = text.to_ascii_lowercase();
    let denied = [
        "403",
        "401",
        "forbidden",
        "accessdenied",
        "access denied",
        "invalidaccesskeyid",
        "signaturedoesnotmatch",
        "unauthorized",
    ]
    .iter()
    .any(|w| lower.contains(w));
    if denied {
        return Error::Usage {
            option: "--warehouse".into(),
            message: format!(
                "{url}: the object store refused to {action} ({text}); check the credentials in the \
                 environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, GOOGLE_APPLICATION_CREDENTIALS, \
                 AZURE_STORAGE_ACCOUNT_KEY) and the bucket's permissions"
            ),
        };
    }
    Error::Warehouse {
        path: PathBuf::from(url),
        message: format!("cannot {action}: {text}"),
    }
}

pub(super) fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("DORALENS_CACHE") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("doralens");
    }
    if let Some(home) = std::env::var_os("HOME") {
        return PathBuf::from(home).join(".cache").join("doralens");
    }
    std::env::temp_dir().join("doralens-cache")
}

/// A file-name-safe key for a location: readable, and unique.
pub(super) fn location_key(url: &str) -> String {
    let readable: String = url
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    format!(
        "{readable}-{:016x}",
        crate::store::keys::text_key_hash([url])
    )
}

/// The object store a location names (options from the environment) and
/// the prefix inside it.
pub fn store_for(url: &str) -> Result<(Arc<dyn ObjectStore>, ObjectPath)> {
    let usage = |message: String| Error::Usage {
        option: "--warehouse".into(),
        message,
    };
    let parsed =
        url::Url::parse(url).map_err(|e| usage(format!("{url} is not a valid URL ({e})")))?;
    let (store, prefix): (Arc<dyn ObjectStore>, ObjectPath) = match parsed.scheme() {
        "s3" | "s3a" => {
            let store = object_store::aws::AmazonS3Builder::from_env()
                .with_url(url)
                .build()
                .map_err(|e| usage(format!("{url}: {e}")))?;
            (Arc::new(store), ObjectPath::from(parsed.path()))
        }
        "gs" => {
            let store = object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_url(url)
                .build()
                .map_err(|e| usage(format!("{url}: {e}")))?;
            (Arc::new(store), ObjectPath::from(parsed.path()))
        }
        "az" | "abfs" | "abfss" | "azure" => {
            let store = object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_url(url)
                .build()
                .map_err(|e| usage(format!("{url}: {e}")))?;
            (Arc::new(store), ObjectPath::from(parsed.path()))
        }
        "file" => {
            let dir = parsed
                .to_file_path()
                .map_err(|()| usage(format!("{url} is not an absolute file:// path")))?;
            fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create", &dir, e))?;
            let store = object_store::local::LocalFileSystem::new_with_prefix(&dir)
                .map_err(|e| usage(format!("{url}: {e}")))?;
            (Arc::new(store), ObjectPath::default())
        }
        other => {
            return Err(usage(format!(
                "{url}: unknown scheme `{other}`; use s3://, gs://, az:// or file:// (or a directory)"
            )));
        }
    };
    Ok((store, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_schemes_and_relative_file_urls_are_usage_errors() {
        for url in ["ftp://host/x", "file://relative/path", "not a url"] {
            match store_for(url) {
                Err(Error::Usage { option, message }) => {
                    assert_eq!(option, "--warehouse");
                    assert!(message.contains(url), "{message}");
                }
                Err(other) => panic!("{url}: expected a usage error, got {other:?}"),
                Ok(_) => panic!("{url}: accepted"),
            }
        }
    }

    #[test]
    fn a_file_url_is_created_and_has_no_prefix() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        let (_, prefix) = store_for(&format!("file://{}", dir.display())).unwrap();
        assert!(dir.is_dir());
        assert_eq!(prefix, ObjectPath::default());
    }

    #[test]
    fn a_refusal_points_at_the_credentials_and_other_failures_name_the_location() {
        let failure = |text: &str| object_store::Error::Generic {
            store: "S3",
            source: text.to_string().into(),
        };
        match store_error(
            "s3://b/p",
            "list the warehouse",
            failure("HTTP 403 Forbidden"),
        ) {
            Error::Usage { option, message } => {
                assert_eq!(option, "--warehouse");
                assert!(message.contains("AWS_ACCESS_KEY_ID"), "{message}");
                assert!(
                    message.starts_with("s3://b/p: the object store refused to list the warehouse")
                );
            }
            other => panic!("expected a usage error, got {other:?}"),
        }
        match store_error("s3://b/p", "commit", failure("connection reset")) {
            Error::Warehouse { path, message } => {
                assert_eq!(path, PathBuf::from("s3://b/p"));
                assert!(message.starts_with("cannot commit: "), "{message}");
            }
            other => panic!("expected a warehouse error, got {other:?}"),
        }
    }

    #[test]
    fn location_keys_are_file_names_that_tell_locations_apart() {
        let a = location_key("s3://bucket/prefix");
        let b = location_key("s3://bucket/prefix2");
        assert_ne!(a, b);
        assert!(a.starts_with("s3___bucket_prefix-"), "{a}");
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
        );
        assert_eq!(a, location_key("s3://bucket/prefix"), "stable");
        assert!(location_key(&"x".repeat(500)).len() < 100);
    }
}
