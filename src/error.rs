//! One error type for a request, mapped once to an HTTP status, a
//! `text/plain` body that the go command shows to its user, and a metric
//! label.
//!
//! Status choices matter for safety: 404/410 make the go command fall
//! through to the next GOPROXY entry, so they are used only when something
//! genuinely does not exist. A failed verification is 502 (or 503 while a
//! checksum database is untrusted): goward's answer is final.

use std::sync::Arc;

use axum::http::StatusCode;

use crate::cache::StoreError;
use crate::request::RequestError;
use crate::sumdb::SumdbError;
use crate::upstream::{FetchError, FetchErrorKind};
use crate::verify::VerifyError;
use crate::verify::gomod::ModError;
use crate::verify::info::InfoError;
use crate::verify::proof::signature::kind::SignatureFailure;
use crate::verify::zip::ZipCheckError;

use crate::upstream::OFFLINE_HINT;

/// Everything that can end a request without the artifact.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ProxyError {
    /// A malformed or unknown request path.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The upstream proxies have no such module/version (404 or 410).
    #[error("not found: {0}")]
    NotFound(String, u16),
    /// Offline mode, and the cache does not hold `what` (such as
    /// `example.com/m@v1.2.3 .zip`): 404, so the go command shows why and
    /// may fall through to its next GOPROXY entry.
    #[error("not in this offline mirror: {what}: {OFFLINE_HINT}")]
    NotInOfflineCache { what: String },
    /// Upstream unreachable or misbehaving.
    #[error("{0}")]
    Upstream(FetchError),
    /// The zip broke a module-zip rule.
    #[error("{target}: invalid zip: {source}")]
    Zip {
        target: String,
        #[source]
        source: ZipCheckError,
    },
    /// The go.mod was rejected.
    #[error("{target}: invalid go.mod: {source}")]
    Mod {
        target: String,
        #[source]
        source: ModError,
    },
    /// The `.info` was rejected.
    #[error("{target}: invalid .info: {source}")]
    Info {
        target: String,
        #[source]
        source: InfoError,
    },
    /// The hash did not match the proof (boxed: it carries two hashes).
    #[error("verifying {target}: {source}")]
    Verify {
        target: String,
        #[source]
        source: Box<VerifyError>,
    },
    /// No proof could be had for an artifact.
    #[error("verifying {target}: {source}")]
    Proof {
        target: String,
        #[source]
        source: Arc<SumdbError>,
    },
    /// A signature the policy requires is missing, unreadable or does not
    /// verify: 502, never 404 (the go command must not fall through).
    #[error("{target}: signature required by policy rule {rule:?}: {source}")]
    Signature {
        target: String,
        rule: String,
        #[source]
        source: Box<SignatureFailure>,
    },
    /// A checksum-database proxy request failed.
    #[error("{0}")]
    Sumdb(Arc<SumdbError>),
    /// The policy denies the request; `reason` names the rule.
    #[error("{reason}")]
    Denied { reason: String },
    /// The policy rule that decides this path admits other users or groups
    /// than the client's (`users`/`groups`); the reason names both.
    #[error("{0}")]
    AccessDenied(String),
    /// A cached artifact lacks a proof the policy now requires, and proving
    /// it again did not yield one.
    #[error("{target}: {msg}")]
    Unproven { target: String, msg: String },
    /// Local storage failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// A bug or an unexpected runtime failure.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Longest body the go command shows (8 lines of 81 bytes, web/api.go).
const MAX_BODY: usize = 8 * 81;

impl crate::flight::TaskFailed for ProxyError {
    fn task_failed(msg: String) -> Self {
        ProxyError::Internal(format!("fill task failed: {msg}"))
    }
}

impl ProxyError {
    /// The HTTP status.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ProxyError::Request(e) if e.is_not_found() => StatusCode::NOT_FOUND,
            ProxyError::Request(_) => StatusCode::BAD_REQUEST,
            ProxyError::NotFound(_, 410) => StatusCode::GONE,
            ProxyError::NotFound(..) | ProxyError::NotInOfflineCache { .. } => {
                StatusCode::NOT_FOUND
            }
            ProxyError::Upstream(e) if matches!(e.kind, FetchErrorKind::Timeout) => {
                StatusCode::GATEWAY_TIMEOUT
            }
            ProxyError::Upstream(_) => StatusCode::BAD_GATEWAY,
            ProxyError::Zip { .. }
            | ProxyError::Mod { .. }
            | ProxyError::Info { .. }
            | ProxyError::Verify { .. }
            | ProxyError::Signature { .. } => StatusCode::BAD_GATEWAY,
            ProxyError::Proof { source, .. } => sumdb_status(source, false),
            ProxyError::Denied { .. } | ProxyError::AccessDenied(_) => StatusCode::FORBIDDEN,
            ProxyError::Unproven { .. } => StatusCode::BAD_GATEWAY,
            ProxyError::Sumdb(e) => sumdb_status(e, true),
            // The shared bucket is down: heals without a restart.
            ProxyError::Store(StoreError::Unavailable { .. }) => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::Store(_) | ProxyError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The metric label for `goward_verification_failures_total` and logs.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            ProxyError::Request(e) if e.is_not_found() => "not_found",
            ProxyError::Request(_) => "bad_request",
            ProxyError::NotFound(..) => "not_found",
            ProxyError::NotInOfflineCache { .. } => "not_in_offline_cache",
            ProxyError::Upstream(e) => e.reason(),
            ProxyError::Zip { source, .. } => source.reason(),
            ProxyError::Mod { source, .. } => source.reason(),
            ProxyError::Info { source, .. } => source.reason(),
            ProxyError::Verify { source, .. } => source.reason(),
            ProxyError::Signature { source, .. } => source.label(),
            ProxyError::Proof { source, .. } | ProxyError::Sumdb(source) => source.reason(),
            ProxyError::Denied { .. } => "policy_denied",
            ProxyError::AccessDenied(_) => "access_denied",
            ProxyError::Unproven { .. } => "policy_unproven",
            ProxyError::Store(_) => "store",
            ProxyError::Internal(_) => "internal",
        }
    }

    /// Whether this counts as a verification failure (for metrics).
    pub(crate) fn is_verification_failure(&self) -> bool {
        matches!(
            self,
            ProxyError::Zip { .. }
                | ProxyError::Mod { .. }
                | ProxyError::Info { .. }
                | ProxyError::Verify { .. }
                | ProxyError::Unproven { .. }
                | ProxyError::Signature { .. }
        ) || matches!(self, ProxyError::Proof { source, .. } | ProxyError::Sumdb(source)
            if !matches!(**source, SumdbError::Upstream { .. } | SumdbError::Store(_) | SumdbError::BadRequest { .. } | SumdbError::TileNotCovered { .. } | SumdbError::NotInOfflineCache { .. }))
    }

    /// The `text/plain` body: `goward: <what failed and why>`, kept within
    /// what the go command displays (graphic characters, no blank line,
    /// ≤ 8 lines / 648 bytes).
    pub(crate) fn body(&self) -> String {
        // Local failures name cache paths: they go to the log, not to clients.
        if matches!(self, ProxyError::Store(e) if !matches!(e, StoreError::Unavailable { .. }))
            || matches!(self, ProxyError::Internal(_))
        {
            return "goward: internal error; see the goward log\n".to_owned();
        }
        let mut s = format!("goward: {self}");
        if let ProxyError::Zip { source, .. } = self {
            let problems = source.problems();
            if problems.len() > 1 {
                s = format!("goward: {}: invalid zip:", self.target_name());
                for p in problems {
                    s.push('\n');
                    s.push_str(&p);
                }
            }
        }
        let mut out = String::with_capacity(s.len().min(MAX_BODY) + 1);
        for (i, line) in s
            .lines()
            .filter(|l| !l.trim().is_empty())
            .take(8)
            .enumerate()
        {
            if i > 0 {
                out.push('\n');
            }
            out.extend(line.chars().map(|c| if c.is_control() { ' ' } else { c }));
        }
        if out.len() > MAX_BODY - 1 {
            let mut cut = MAX_BODY - 4;
            while !out.is_char_boundary(cut) {
                cut -= 1;
            }
            out.truncate(cut);
            out.push_str("...");
        }
        out.push('\n');
        out
    }

    fn target_name(&self) -> &str {
        match self {
            ProxyError::Zip { target, .. } => target,
            _ => "",
        }
    }
}

fn sumdb_status(e: &SumdbError, endpoint: bool) -> StatusCode {
    match e {
        SumdbError::Poisoned { .. } | SumdbError::Fork { .. } => StatusCode::SERVICE_UNAVAILABLE,
        SumdbError::NotFound { .. } | SumdbError::TileNotCovered { .. } if endpoint => {
            StatusCode::NOT_FOUND
        }
        SumdbError::NotInOfflineCache { .. } => StatusCode::NOT_FOUND,
        SumdbError::BadRequest { .. } if endpoint => StatusCode::BAD_REQUEST,
        SumdbError::Upstream { source, .. } if matches!(source.kind, FetchErrorKind::Timeout) => {
            StatusCode::GATEWAY_TIMEOUT
        }
        SumdbError::Store(StoreError::Unavailable { .. }) => StatusCode::SERVICE_UNAVAILABLE,
        SumdbError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_GATEWAY,
    }
}

impl From<Arc<SumdbError>> for ProxyError {
    fn from(e: Arc<SumdbError>) -> Self {
        ProxyError::Sumdb(e)
    }
}

/// An error and its causes on one line, each cause once.
///
/// goward's error types put their cause in their message (that message is
/// what the go command shows in a response body) and also return it from
/// `source()`; `anyhow`'s `{:#}` would then print every such cause twice or
/// more. A cause whose text the previous link's message already contains is
/// skipped; context added at the command line (which does not embed its
/// cause) is followed by it.
pub(crate) fn display_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut prev = out.clone();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !prev.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        prev = text;
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod chain_tests {
    use super::*;

    #[test]
    fn display_chain_prints_each_cause_once() {
        let io = std::io::Error::from_raw_os_error(20);
        let store = StoreError::io("create", "/f/blobs", io);
        assert_eq!(
            display_chain(&store),
            format!(
                "cache create /f/blobs: {}",
                std::io::Error::from_raw_os_error(20)
            )
        );
        // A permission error on the cache names the fix.
        let denied = StoreError::io(
            "create",
            "/var/cache/goward/tmp",
            std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        );
        assert_eq!(
            display_chain(&denied),
            format!(
                "cache create /var/cache/goward/tmp: {} (the cache directory must be writable by \
                 the user goward runs as: fix its owner, or choose another with --cache-dir)",
                std::io::Error::from(std::io::ErrorKind::PermissionDenied)
            )
        );
        // A context that does not embed its cause (as anyhow's) is followed by it.
        #[derive(Debug, thiserror::Error)]
        #[error("listening on 127.0.0.1:1")]
        struct Context(#[source] std::io::Error);
        let ctx = Context(std::io::Error::other("address in use"));
        assert_eq!(
            display_chain(&ctx),
            "listening on 127.0.0.1:1: address in use"
        );
    }
}
