//! Credentials of private upstreams (policy `[[private]]` `auth`), resolved
//! when the policy is loaded: secrets come from the environment or from
//! files, never from the policy text.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use std::fmt;
use std::path::PathBuf;

/// Where a secret comes from. The policy never holds a secret itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Secret {
    /// The value of this environment variable.
    Env(String),
    /// The contents of this file (trailing newline removed), resolved
    /// against the policy file's directory.
    File(PathBuf),
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Env(v) => write!(f, "${v}"),
            Secret::File(p) => write!(f, "file {}", p.display()),
        }
    }
}

/// Credentials for a private upstream.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum Auth {
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The token.
        token: Secret,
    },
    /// HTTP basic authentication.
    Basic {
        /// The user name (not a secret).
        username: String,
        /// The password.
        password: Secret,
    },
    /// Credentials looked up by host in a netrc file, as the go command does.
    Netrc {
        /// The netrc file, resolved against the policy file's directory.
        file: PathBuf,
    },
}

impl fmt::Display for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Bearer { token } => write!(f, "bearer token from {token}"),
            Auth::Basic { username, password } => {
                write!(f, "basic auth as {username:?}, password from {password}")
            }
            Auth::Netrc { file } => write!(f, "netrc file {}", file.display()),
        }
    }
}

/// Reads a secret: an environment variable, or a file without its trailing
/// newline. Empty secrets are errors.
pub(crate) fn read_secret(s: &Secret) -> Result<String, String> {
    let v = match s {
        Secret::Env(name) => {
            std::env::var(name).map_err(|_| format!("environment variable {name} is not set"))?
        }
        Secret::File(p) => std::fs::read_to_string(p)
            .map_err(|e| format!("reading {}: {e}", p.display()))?
            .trim_end_matches(['\r', '\n'])
            .to_owned(),
    };
    if v.is_empty() {
        return Err(format!("{s} is empty"));
    }
    Ok(v)
}

/// The `Authorization` header value `auth` gives for requests to `host`.
pub(crate) fn authorization(auth: &Auth, host: &str) -> Result<Option<String>, String> {
    Ok(Some(match auth {
        Auth::Bearer { token } => format!("Bearer {}", read_secret(token)?),
        Auth::Basic { username, password } => basic(username, &read_secret(password)?),
        Auth::Netrc { file } => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| format!("reading netrc file {}: {e}", file.display()))?;
            match netrc_lookup(&text, host) {
                Some((login, password)) => basic(&login, &password),
                None => {
                    return Err(format!(
                        "netrc file {} has no credentials for {host}",
                        file.display()
                    ));
                }
            }
        }
    }))
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

/// The login and password a netrc file holds for `host` (a `machine` entry,
/// else `default`), as cmd/go auth/netrc.go reads it: whitespace-separated
/// tokens, `macdef` blocks skipped.
pub(crate) fn netrc_lookup(text: &str, host: &str) -> Option<(String, String)> {
    #[derive(Default)]
    struct Entry {
        machine: Option<String>,
        login: String,
        password: String,
    }
    let mut entries: Vec<Entry> = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let mut toks = line.split_whitespace();
        while let Some(t) = toks.next() {
            match t {
                "machine" => entries.push(Entry {
                    machine: Some(toks.next().unwrap_or_default().to_owned()),
                    ..Entry::default()
                }),
                "default" => entries.push(Entry::default()),
                "login" => {
                    if let (Some(e), Some(v)) = (entries.last_mut(), toks.next()) {
                        e.login = v.to_owned();
                    }
                }
                "password" => {
                    if let (Some(e), Some(v)) = (entries.last_mut(), toks.next()) {
                        e.password = v.to_owned();
                    }
                }
                "macdef" => {
                    // A macro runs to the next blank line.
                    for l in lines.by_ref() {
                        if l.trim().is_empty() {
                            break;
                        }
                    }
                    break;
                }
                _ => {}
            }
        }
    }
    let pick = |e: &Entry| (e.login.clone(), e.password.clone());
    entries
        .iter()
        .find(|e| e.machine.as_deref() == Some(host))
        .or_else(|| entries.iter().find(|e| e.machine.is_none()))
        .map(pick)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netrc_machine_then_default() {
        let t = "machine a.example login u1 password p1\n\nmacdef init\nmachine b.example\n\ndefault login d password dp\nmachine c.example\n  login u3\n  password p3\n";
        assert_eq!(
            netrc_lookup(t, "a.example"),
            Some(("u1".into(), "p1".into()))
        );
        assert_eq!(
            netrc_lookup(t, "c.example"),
            Some(("u3".into(), "p3".into()))
        );
        assert_eq!(
            netrc_lookup(t, "b.example"),
            Some(("d".into(), "dp".into()))
        );
        assert_eq!(netrc_lookup("machine x login a password b", "y"), None);
    }

    #[test]
    fn headers() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "s3cret\n").unwrap();
        let a = Auth::Basic {
            username: "ci".into(),
            password: Secret::File(f.clone()),
        };
        assert_eq!(
            authorization(&a, "h").unwrap().unwrap(),
            format!("Basic {}", STANDARD.encode("ci:s3cret"))
        );
        let a = Auth::Bearer {
            token: Secret::File(f),
        };
        assert_eq!(authorization(&a, "h").unwrap().unwrap(), "Bearer s3cret");
        let a = Auth::Bearer {
            token: Secret::Env("GOWARD_TEST_SURELY_UNSET_VAR".into()),
        };
        assert!(authorization(&a, "h").unwrap_err().contains("not set"));
    }
}

#[cfg(test)]
mod wire_tests {
    use axum::Router;
    use axum::http::{HeaderMap, header};
    use axum::routing::get;

    use super::super::ProxyList;
    use super::super::testutil::{client, serve};

    /// A private route's list sends its credentials with every request.
    #[tokio::test]
    async fn route_sends_authorization() {
        let app = Router::new().route(
            "/m/@v/list",
            get(|h: HeaderMap| async move {
                h.get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("none")
                    .to_owned()
            }),
        );
        let addr = serve(app).await;
        let spec = format!("http://{addr}");
        let list = ProxyList::parse_with_auth(&spec, &client(), &|u| {
            assert_eq!(u.host_str(), Some("127.0.0.1"));
            Ok(Some("Bearer t0k".to_owned()))
        })
        .unwrap();
        let (body, _) = list.get("m/@v/list").await.unwrap();
        assert_eq!(&body.bytes(1024).await.unwrap()[..], b"Bearer t0k");
        let plain = ProxyList::parse(&spec, &client()).unwrap();
        let (body, _) = plain.get("m/@v/list").await.unwrap();
        assert_eq!(&body.bytes(1024).await.unwrap()[..], b"none");
        let e =
            ProxyList::parse_with_auth(&spec, &client(), &|_| Err("no secret".into())).unwrap_err();
        assert!(e.to_string().contains("no secret"), "{e}");
    }
}
