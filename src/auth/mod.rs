//! Client authentication: who is asking, from the credentials the go
//! command already sends (HTTP basic from `.netrc`/`GOAUTH`, or a bearer
//! token), checked against a credentials file that holds only hashes.
//!
//! Passwords are stored as Argon2id PHC strings (memory-hard, so a stolen
//! file does not give the passwords away); tokens are 256 random bits, so
//! their SHA-256 is enough. A verified password is remembered in memory by
//! the SHA-256 of what was presented, so Argon2's deliberate cost is paid
//! once per credential and file version, not per request.
//!
//! The file is TOML, written by `goward user add` / `goward token create`
//! and reloaded like the policy:
//!
//! ```toml
//! [[user]]
//! name = "alice"
//! groups = ["payments"]
//! password = "$argon2id$v=19$m=19456,t=2,p=1$…"
//! tokens = [{ sha256 = "…", created = 1796464800 }]
//! ```

#![cfg_attr(
    not(test),
    deny(
        clippy::arithmetic_side_effects,
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

pub(crate) mod cli;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::xmod::dirhash::hex;

/// Who a request comes from: a user of the credentials file and its groups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Identity {
    /// The user name.
    pub name: String,
    /// The groups it belongs to, as written in the file.
    pub groups: Vec<String>,
}

impl Identity {
    /// `alice (groups: payments, dev)` for denials and logs.
    pub(crate) fn describe(&self) -> String {
        if self.groups.is_empty() {
            format!("{:?} (no groups)", self.name)
        } else {
            format!("{:?} (groups: {})", self.name, self.groups.join(", "))
        }
    }
}

/// Why a credentials file could not be used. Names the file and what is wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum CredentialsError {
    /// The file could not be read or written.
    #[error("credentials file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file does not parse, or an entry is invalid.
    #[error("credentials file {path}: {msg}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
}

/// Why a request was not authenticated: answered 401 with
/// `WWW-Authenticate`, so the go command retries with its credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum AuthError {
    /// No `Authorization` header.
    #[error(
        "authentication required: this goward serves only its users (put credentials in .netrc or GOAUTH)"
    )]
    Missing,
    /// An `Authorization` header goward does not understand.
    #[error("authentication failed: {0}")]
    Malformed(String),
    /// Unknown user or wrong password (not told apart, so names cannot be probed).
    #[error("authentication failed: wrong user name or password for {0:?}")]
    Wrong(String),
    /// A bearer token that is not (or no longer) in the file.
    #[error("authentication failed: unknown or revoked token")]
    UnknownToken,
}

impl AuthError {
    /// Stable metric label.
    pub(crate) fn label(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing",
            AuthError::Malformed(_) => "malformed",
            AuthError::Wrong(_) => "wrong_password",
            AuthError::UnknownToken => "unknown_token",
        }
    }
}

/// The file's format.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileModel {
    #[serde(default)]
    user: Vec<UserModel>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserModel {
    name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    password: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tokens: Vec<TokenModel>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenModel {
    /// Lowercase hex SHA-256 of the token.
    sha256: String,
    /// When it was created (Unix seconds), for `goward token list`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created: Option<u64>,
}

/// A parsed, validated credentials file.
#[derive(Debug, Default)]
pub(crate) struct Credentials {
    users: BTreeMap<String, UserEntry>,
    tokens: HashMap<[u8; 32], String>,
}

#[derive(Debug)]
struct UserEntry {
    identity: Arc<Identity>,
    password: Option<String>,
}

/// The prefix of goward tokens, so a leaked one is recognisable (secret
/// scanners) and never mistaken for a password.
pub(crate) const TOKEN_PREFIX: &str = "gwd_";

/// User and group names: short, and safe in logs and TOML.
pub(crate) fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
}

impl Credentials {
    /// Parses and validates a credentials file's text.
    pub(crate) fn parse(text: &str, path: &Path) -> Result<Credentials, CredentialsError> {
        let invalid = |msg: String| CredentialsError::Invalid {
            path: path.to_owned(),
            msg,
        };
        let model: FileModel = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let mut out = Credentials::default();
        for u in model.user {
            if !valid_name(&u.name) {
                return Err(invalid(format!(
                    "user name {:?}: use 1 to 64 letters, digits, '-', '_', '.' or '@'",
                    u.name
                )));
            }
            for g in &u.groups {
                if !valid_name(g) {
                    return Err(invalid(format!(
                        "user {:?}: group name {g:?}: use 1 to 64 letters, digits, '-', '_', '.' or '@'",
                        u.name
                    )));
                }
            }
            if let Some(p) = &u.password {
                PasswordHash::new(p).map_err(|e| {
                    invalid(format!(
                        "user {:?}: password is not an Argon2 PHC hash ({e}); write it with goward user add",
                        u.name
                    ))
                })?;
            }
            for t in &u.tokens {
                let digest = parse_sha256(&t.sha256).ok_or_else(|| {
                    invalid(format!(
                        "user {:?}: token sha256 {:?} is not 64 hex digits",
                        u.name, t.sha256
                    ))
                })?;
                if out.tokens.insert(digest, u.name.clone()).is_some() {
                    return Err(invalid(format!(
                        "user {:?}: token {} is listed twice",
                        u.name,
                        token_id(&t.sha256)
                    )));
                }
            }
            let entry = UserEntry {
                identity: Arc::new(Identity {
                    name: u.name.clone(),
                    groups: u.groups.clone(),
                }),
                password: u.password.clone(),
            };
            if out.users.insert(u.name.clone(), entry).is_some() {
                return Err(invalid(format!("user {:?} is listed twice", u.name)));
            }
        }
        Ok(out)
    }

    /// Reads and parses a credentials file.
    pub(crate) fn load(path: &Path) -> Result<Credentials, CredentialsError> {
        let text = std::fs::read_to_string(path).map_err(|source| CredentialsError::Io {
            path: path.to_owned(),
            source,
        })?;
        Credentials::parse(&text, path)
    }

    /// A user's identity, if the file has it (`policy explain --as`).
    pub(crate) fn identity(&self, name: &str) -> Option<Arc<Identity>> {
        self.users.get(name).map(|u| u.identity.clone())
    }

    /// How many users the file holds.
    pub(crate) fn len(&self) -> usize {
        self.users.len()
    }
}

fn parse_sha256(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        let at = i.checked_mul(2)?;
        *o = u8::from_str_radix(s.get(at..at.checked_add(2)?)?, 16).ok()?;
    }
    Some(out)
}

/// The short id a token is listed and revoked by: the first 12 hex digits
/// of its SHA-256 (not a secret).
fn token_id(sha256_hex: &str) -> &str {
    sha256_hex.get(..12).unwrap_or(sha256_hex)
}

/// What a request presented.
enum Presented<'a> {
    Basic { user: String, secret: String },
    Bearer(&'a str),
}

fn parse_header(value: &str) -> Result<Presented<'_>, AuthError> {
    let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .map_err(|_| AuthError::Malformed("basic credentials are not base64".into()))?;
        let text = String::from_utf8(raw)
            .map_err(|_| AuthError::Malformed("basic credentials are not UTF-8".into()))?;
        let (user, secret) = text.split_once(':').ok_or_else(|| {
            AuthError::Malformed("basic credentials have no ':' between user and password".into())
        })?;
        Ok(Presented::Basic {
            user: user.to_owned(),
            secret: secret.to_owned(),
        })
    } else if scheme.eq_ignore_ascii_case("bearer") {
        Ok(Presented::Bearer(rest))
    } else {
        Err(AuthError::Malformed(format!(
            "the {scheme:?} scheme is not supported (use Basic or Bearer)"
        )))
    }
}

/// The most remembered verified passwords; the memo is emptied when full
/// (it only saves Argon2 work).
const MEMO_CAP: usize = 4096;

/// Checks requests' credentials against the credentials file in force,
/// which [`Authenticator::reload`] replaces (an invalid new file is refused
/// and the old one stays).
#[derive(Debug)]
pub(crate) struct Authenticator {
    path: PathBuf,
    current: RwLock<Arc<Credentials>>,
    /// SHA-256(user, NUL, password) of passwords verified against the
    /// credentials in force; cleared on reload.
    memo: Mutex<HashMap<[u8; 32], Arc<Identity>>>,
    /// The file's contents when last loaded, for the change watcher.
    loaded: Mutex<Vec<u8>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Authenticator {
    /// Loads the credentials file; an invalid one refuses the start.
    pub(crate) fn load(path: &Path) -> Result<Authenticator, CredentialsError> {
        let bytes = std::fs::read(path).map_err(|source| CredentialsError::Io {
            path: path.to_owned(),
            source,
        })?;
        let text = String::from_utf8(bytes.clone()).map_err(|_| CredentialsError::Invalid {
            path: path.to_owned(),
            msg: "not UTF-8".into(),
        })?;
        let creds = Credentials::parse(&text, path)?;
        Ok(Authenticator {
            path: path.to_owned(),
            current: RwLock::new(Arc::new(creds)),
            memo: Mutex::new(HashMap::new()),
            loaded: Mutex::new(bytes),
        })
    }

    /// The credentials in force.
    pub(crate) fn credentials(&self) -> Arc<Credentials> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Reads the file again; on success the new users and tokens apply to
    /// the next request and remembered passwords are forgotten.
    pub(crate) fn reload(&self) -> Result<(), CredentialsError> {
        let fresh = Authenticator::load(&self.path)?;
        let creds = fresh.credentials();
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = creds;
        lock(&self.memo).clear();
        *lock(&self.loaded) = fresh.loaded.into_inner().unwrap_or_default();
        Ok(())
    }

    /// Reloads, logging the outcome (SIGHUP and the change watcher).
    pub(crate) fn reload_logged(&self) {
        match self.reload() {
            Ok(()) => tracing::info!(target: "goward::auth", file = %self.path.display(),
                users = self.credentials().len(), "credentials reloaded"),
            Err(e) => tracing::warn!(target: "goward::auth",
                "credentials not reloaded; the ones in force stay: {e}"),
        }
    }

    /// Polls the file every `every` and reloads when its contents changed.
    pub(crate) fn watch(self: &Arc<Self>, every: Duration) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let m = me.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    let Ok(now) = std::fs::read(&m.path) else {
                        return;
                    };
                    if now != *lock(&m.loaded) {
                        m.reload_logged();
                    }
                })
                .await;
            }
        });
    }

    /// Whether checking `authorization` would run Argon2 (a password not
    /// verified since the last reload): the caller then moves it off the
    /// async workers.
    pub(crate) fn needs_hashing(&self, authorization: &str) -> bool {
        match parse_header(authorization) {
            Ok(Presented::Basic { user, secret }) if !secret.starts_with(TOKEN_PREFIX) => {
                !lock(&self.memo).contains_key(&memo_key(&user, &secret))
            }
            _ => false,
        }
    }

    /// Who sent `authorization` (the header's value, if any). Runs Argon2
    /// for a password not verified before: call it off the async workers.
    pub(crate) fn authenticate(
        &self,
        authorization: Option<&str>,
    ) -> Result<Arc<Identity>, AuthError> {
        let value = authorization.ok_or(AuthError::Missing)?;
        let creds = self.credentials();
        match parse_header(value)? {
            Presented::Bearer(token) => token_identity(&creds, token),
            // A token works as the password too (`.netrc` has no bearer
            // form): any user name, the token decides.
            Presented::Basic { secret, .. } if secret.starts_with(TOKEN_PREFIX) => {
                token_identity(&creds, &secret)
            }
            Presented::Basic { user, secret } => {
                let key = memo_key(&user, &secret);
                if let Some(id) = lock(&self.memo).get(&key) {
                    return Ok(id.clone());
                }
                let wrong = || AuthError::Wrong(user.clone());
                let entry = creds.users.get(&user).ok_or_else(wrong)?;
                let phc = entry.password.as_deref().ok_or_else(wrong)?;
                let hash = PasswordHash::new(phc).map_err(|_| wrong())?;
                argon2::Argon2::default()
                    .verify_password(secret.as_bytes(), &hash)
                    .map_err(|_| wrong())?;
                let mut memo = lock(&self.memo);
                if memo.len() >= MEMO_CAP {
                    memo.clear();
                }
                memo.insert(key, entry.identity.clone());
                Ok(entry.identity.clone())
            }
        }
    }
}

fn memo_key(user: &str, secret: &str) -> [u8; 32] {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(user.as_bytes());
    h.update([0u8]);
    h.update(secret.as_bytes());
    h.finalize().into()
}

fn token_identity(creds: &Credentials, token: &str) -> Result<Arc<Identity>, AuthError> {
    if !token.starts_with(TOKEN_PREFIX) {
        return Err(AuthError::UnknownToken);
    }
    let digest = crate::xmod::dirhash::sha256(token.as_bytes());
    let user = creds.tokens.get(&digest).ok_or(AuthError::UnknownToken)?;
    creds
        .users
        .get(user)
        .map(|u| u.identity.clone())
        .ok_or(AuthError::UnknownToken)
}

// ---- Editing the file (goward user / goward token) ----

fn read_model(path: &Path) -> Result<FileModel, CredentialsError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            // Validate the whole file first: never rewrite a broken one.
            Credentials::parse(&text, path)?;
            toml::from_str(&text).map_err(|e| CredentialsError::Invalid {
                path: path.to_owned(),
                msg: e.to_string(),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileModel::default()),
        Err(source) => Err(CredentialsError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Writes the file atomically (temp file, fsync, rename), readable by its
/// owner only on unix: it holds hashes, which still deserve privacy.
fn write_model(path: &Path, model: &FileModel) -> Result<(), CredentialsError> {
    let io = |source| CredentialsError::Io {
        path: path.to_owned(),
        source,
    };
    let text = toml::to_string(model).map_err(|e| CredentialsError::Invalid {
        path: path.to_owned(),
        msg: e.to_string(),
    })?;
    let header = "# goward credentials: hashes only. Edit with `goward user` and `goward token`.\n";
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    {
        use std::io::Write as _;
        tmp.write_all(header.as_bytes()).map_err(io)?;
        tmp.write_all(text.as_bytes()).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// Hashes a password with Argon2id (the crate's defaults: 19 MiB, 2 passes,
/// as OWASP recommends) and a random 16-byte salt.
pub(crate) fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt)
        .map_err(|_| "no system randomness".to_owned())?;
    argon2::Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Adds `name` or replaces its password and groups (`goward user add`).
pub(crate) fn set_user(
    path: &Path,
    name: &str,
    groups: &[String],
    password: &str,
) -> Result<(), CredentialsError> {
    let invalid = |msg: String| CredentialsError::Invalid {
        path: path.to_owned(),
        msg,
    };
    if password.len() < 8 {
        return Err(invalid("the password is shorter than 8 characters".into()));
    }
    if password.starts_with(TOKEN_PREFIX) {
        return Err(invalid(format!(
            "a password may not start with {TOKEN_PREFIX} (that marks a token)"
        )));
    }
    let mut model = read_model(path)?;
    let phc = hash_password(password).map_err(invalid)?;
    match model.user.iter_mut().find(|u| u.name == name) {
        Some(u) => {
            u.password = Some(phc);
            u.groups = groups.to_vec();
        }
        None => model.user.push(UserModel {
            name: name.to_owned(),
            groups: groups.to_vec(),
            password: Some(phc),
            tokens: Vec::new(),
        }),
    }
    check_model(path, &model)?;
    write_model(path, &model)
}

/// Removes a user and its tokens; `false` if there was none.
pub(crate) fn remove_user(path: &Path, name: &str) -> Result<bool, CredentialsError> {
    let mut model = read_model(path)?;
    let before = model.user.len();
    model.user.retain(|u| u.name != name);
    if model.user.len() == before {
        return Ok(false);
    }
    write_model(path, &model)?;
    Ok(true)
}

/// Creates a token for `name` (adding the user, without a password, if
/// new) and returns it: it is shown once and only its hash is kept.
pub(crate) fn create_token(
    path: &Path,
    name: &str,
    groups: &[String],
) -> Result<String, CredentialsError> {
    let invalid = |msg: String| CredentialsError::Invalid {
        path: path.to_owned(),
        msg,
    };
    let mut raw = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut raw)
        .map_err(|_| invalid("no system randomness".into()))?;
    let token = format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    );
    let entry = TokenModel {
        sha256: hex(&crate::xmod::dirhash::sha256(token.as_bytes())),
        created: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs()),
    };
    let mut model = read_model(path)?;
    match model.user.iter_mut().find(|u| u.name == name) {
        Some(u) => {
            u.tokens.push(entry);
            if !groups.is_empty() {
                u.groups = groups.to_vec();
            }
        }
        None => model.user.push(UserModel {
            name: name.to_owned(),
            groups: groups.to_vec(),
            password: None,
            tokens: vec![entry],
        }),
    }
    check_model(path, &model)?;
    write_model(path, &model)?;
    Ok(token)
}

/// Revokes the token whose id (`goward token list`) is `id`; returns its
/// user, or `None` if no token has that id.
pub(crate) fn revoke_token(path: &Path, id: &str) -> Result<Option<String>, CredentialsError> {
    let mut model = read_model(path)?;
    let mut owner = None;
    for u in &mut model.user {
        let before = u.tokens.len();
        u.tokens.retain(|t| token_id(&t.sha256) != id);
        if u.tokens.len() != before {
            owner = Some(u.name.clone());
        }
    }
    if owner.is_some() {
        write_model(path, &model)?;
    }
    Ok(owner)
}

/// One line per user: name, groups, whether it has a password, its tokens' ids.
pub(crate) fn list(path: &Path) -> Result<Vec<String>, CredentialsError> {
    let model = read_model(path)?;
    Ok(model
        .user
        .iter()
        .map(|u| {
            let tokens: Vec<String> = u
                .tokens
                .iter()
                .map(|t| match &t.created {
                    Some(c) => format!("{} (created {c})", token_id(&t.sha256)),
                    None => token_id(&t.sha256).to_owned(),
                })
                .collect();
            format!(
                "{}\tgroups: {}\tpassword: {}\ttokens: {}",
                u.name,
                if u.groups.is_empty() {
                    "-".to_owned()
                } else {
                    u.groups.join(",")
                },
                if u.password.is_some() { "yes" } else { "no" },
                if tokens.is_empty() {
                    "-".to_owned()
                } else {
                    tokens.join(", ")
                }
            )
        })
        .collect())
}

/// Validates an edited model the way the server will read it.
fn check_model(path: &Path, model: &FileModel) -> Result<(), CredentialsError> {
    let text = toml::to_string(model).map_err(|e| CredentialsError::Invalid {
        path: path.to_owned(),
        msg: e.to_string(),
    })?;
    Credentials::parse(&text, path).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, pw: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"))
        )
    }

    #[test]
    fn users_and_tokens_authenticate_and_nothing_else_does() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        set_user(&path, "alice", &["payments".into()], "correct horse").unwrap();
        let token = create_token(&path, "ci-bot", &["ci".into()]).unwrap();
        assert!(token.starts_with(TOKEN_PREFIX));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("correct horse") && !text.contains(&token),
            "{text}"
        );
        let a = Authenticator::load(&path).unwrap();

        let alice = a
            .authenticate(Some(&basic("alice", "correct horse")))
            .unwrap();
        assert_eq!(alice.name, "alice");
        assert_eq!(alice.groups, vec!["payments".to_owned()]);
        // Remembered: the second check is a memo hit with the same answer.
        assert_eq!(
            a.authenticate(Some(&basic("alice", "correct horse")))
                .unwrap(),
            alice
        );
        let bot = a.authenticate(Some(&format!("Bearer {token}"))).unwrap();
        assert_eq!(bot.name, "ci-bot");
        // A token as the .netrc password, with any user name.
        assert_eq!(
            a.authenticate(Some(&basic("x", &token))).unwrap().name,
            "ci-bot"
        );

        for (header, want) in [
            (None, AuthError::Missing),
            (
                Some(basic("alice", "wrong horse")),
                AuthError::Wrong("alice".into()),
            ),
            (
                Some(basic("mallory", "correct horse")),
                AuthError::Wrong("mallory".into()),
            ),
            // ci-bot has a token but no password.
            (
                Some(basic("ci-bot", "anything1")),
                AuthError::Wrong("ci-bot".into()),
            ),
            (
                Some(format!("Bearer {TOKEN_PREFIX}forged")),
                AuthError::UnknownToken,
            ),
            (Some("Bearer not-a-token".into()), AuthError::UnknownToken),
            (
                Some("Basic !!!".into()),
                AuthError::Malformed("basic credentials are not base64".into()),
            ),
            (
                Some("Digest x".into()),
                AuthError::Malformed(
                    "the \"Digest\" scheme is not supported (use Basic or Bearer)".into(),
                ),
            ),
        ] {
            assert_eq!(a.authenticate(header.as_deref()).unwrap_err(), want);
        }

        // Revoked and removed: refused after the reload.
        let id = list(&path).unwrap().concat();
        let tid = id
            .split("tokens: ")
            .nth(2)
            .unwrap()
            .get(..12)
            .unwrap()
            .to_owned();
        assert_eq!(
            revoke_token(&path, &tid).unwrap().as_deref(),
            Some("ci-bot")
        );
        assert!(remove_user(&path, "alice").unwrap());
        a.reload().unwrap();
        assert_eq!(
            a.authenticate(Some(&format!("Bearer {token}")))
                .unwrap_err(),
            AuthError::UnknownToken
        );
        assert_eq!(
            a.authenticate(Some(&basic("alice", "correct horse")))
                .unwrap_err(),
            AuthError::Wrong("alice".into())
        );
    }

    #[test]
    fn invalid_files_are_refused_with_the_reason() {
        let p = Path::new("users.toml");
        for (text, want) in [
            ("[[user]]\nname = \"a b\"\n", "user name \"a b\""),
            (
                "[[user]]\nname = \"a\"\npassword = \"plain\"\n",
                "password is not an Argon2 PHC hash",
            ),
            (
                "[[user]]\nname = \"a\"\ntokens = [{ sha256 = \"12\" }]\n",
                "is not 64 hex digits",
            ),
            (
                "[[user]]\nname = \"a\"\n[[user]]\nname = \"a\"\n",
                "listed twice",
            ),
            (
                "[[user]]\nname = \"a\"\ngroups = [\"\"]\n",
                "group name \"\"",
            ),
            ("[[user]]\nnom = \"a\"\n", "unknown field `nom`"),
        ] {
            let e = Credentials::parse(text, p).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
            assert!(e.starts_with("credentials file users.toml: "), "{e}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u.toml");
        assert!(
            set_user(&path, "a", &[], "short")
                .unwrap_err()
                .to_string()
                .contains("shorter than 8")
        );
        assert!(!path.exists(), "nothing written for a refused edit");
        // A broken file is never rewritten.
        std::fs::write(&path, "not toml [").unwrap();
        assert!(set_user(&path, "a", &[], "long enough").is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "not toml [");
    }
}
