//! AWS shared configuration files for an `s3://` store: `object_store`
//! reads only environment variables (and instance, container and
//! web-identity credentials), so the profile a developer or a host already
//! has (`AWS_PROFILE`, default `default`) is read here from
//! `~/.aws/credentials` (`AWS_SHARED_CREDENTIALS_FILE`) and `~/.aws/config`
//! (`AWS_CONFIG_FILE`): `aws_access_key_id`, `aws_secret_access_key`,
//! `aws_session_token`, `region` and `endpoint_url`. Environment variables
//! win over the files, as in the AWS SDKs. Profiles that assume a role,
//! use SSO or run a credential process are refused by name rather than
//! silently ignored.
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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a shared profile supplies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Profile {
    /// The profile's name.
    pub name: String,
    /// Where its keys came from (for `goward doctor`), if it has keys.
    pub keys_from: Option<PathBuf>,
    /// `aws_access_key_id`.
    pub access_key_id: Option<String>,
    /// `aws_secret_access_key`.
    pub secret_access_key: Option<String>,
    /// `aws_session_token`.
    pub session_token: Option<String>,
    /// `region`.
    pub region: Option<String>,
    /// `endpoint_url`.
    pub endpoint_url: Option<String>,
}

/// Settings of a profile goward cannot use: named in the refusal.
const UNSUPPORTED: [&str; 6] = [
    "role_arn",
    "source_profile",
    "credential_process",
    "sso_session",
    "sso_start_url",
    "web_identity_token_file",
];

/// The sections of an INI file: `[name]` → key → value (names as written;
/// comments `#` and `;`; indented lines, nested settings such as `s3 =`
/// blocks, are skipped).
fn parse_ini(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for raw in text.lines() {
        if raw.starts_with([' ', '\t']) {
            continue;
        }
        let line = raw.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim().to_owned();
            out.entry(name.clone()).or_default();
            current = Some(name);
            continue;
        }
        if let (Some(section), Some((k, v))) = (&current, line.split_once('=')) {
            out.entry(section.clone())
                .or_default()
                .insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    out
}

fn home(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    env("HOME")
        .or_else(|| env("USERPROFILE"))
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// Reads a file that may be absent; other errors name the file.
fn read_optional(p: &Path) -> Result<Option<String>, String> {
    match std::fs::read_to_string(p) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("reading AWS shared file {}: {e}", p.display())),
    }
}

/// The shared profile in force: `AWS_PROFILE` (else `default`) from the
/// credentials and config files. `Ok(None)`: neither file has it (an error
/// when `AWS_PROFILE` names it explicitly).
pub(crate) fn load(env: &dyn Fn(&str) -> Option<String>) -> Result<Option<Profile>, String> {
    let explicit = env("AWS_PROFILE").filter(|p| !p.is_empty());
    let name = explicit.clone().unwrap_or_else(|| "default".to_owned());
    let aws_dir = home(env).map(|h| h.join(".aws"));
    let file = |var: &str, default: &str| {
        env(var)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .or_else(|| aws_dir.as_ref().map(|d| d.join(default)))
    };
    let creds_path = file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    let config_path = file("AWS_CONFIG_FILE", "config");
    let mut found = false;
    let mut p = Profile {
        name: name.clone(),
        ..Profile::default()
    };
    // The config file names a profile `[profile NAME]` (`[default]` too).
    if let Some(path) = &config_path
        && let Some(text) = read_optional(path)?
    {
        let ini = parse_ini(&text);
        let section = ini
            .get(&format!("profile {name}"))
            .or_else(|| (name == "default").then(|| ini.get("default")).flatten());
        if let Some(s) = section {
            found = true;
            apply(&mut p, s, path)?;
        }
    }
    // The credentials file names it `[NAME]` and wins for keys.
    if let Some(path) = &creds_path
        && let Some(text) = read_optional(path)?
        && let Some(s) = parse_ini(&text).get(&name)
    {
        found = true;
        apply(&mut p, s, path)?;
    }
    match (found, explicit) {
        (true, _) => Ok(Some(p)),
        (false, None) => Ok(None),
        (false, Some(n)) => Err(format!(
            "AWS_PROFILE={n}: no [{n}] in {} and no [profile {n}] in {}",
            shown(&creds_path),
            shown(&config_path)
        )),
    }
}

fn shown(p: &Option<PathBuf>) -> String {
    p.as_ref().map_or_else(
        || "(no home directory)".to_owned(),
        |p| p.display().to_string(),
    )
}

fn apply(p: &mut Profile, s: &BTreeMap<String, String>, path: &Path) -> Result<(), String> {
    let has_keys = s.contains_key("aws_access_key_id");
    if !has_keys && let Some(k) = UNSUPPORTED.iter().find(|k| s.contains_key(**k)) {
        return Err(format!(
            "AWS profile {} in {} uses {k}, which goward does not support: give it \
             aws_access_key_id and aws_secret_access_key, or use AWS_* variables, \
             web identity, ECS or EC2 instance credentials",
            p.name,
            path.display()
        ));
    }
    if has_keys {
        p.keys_from = Some(path.to_path_buf());
        p.access_key_id = s.get("aws_access_key_id").cloned();
        p.secret_access_key = s.get("aws_secret_access_key").cloned();
        p.session_token = s.get("aws_session_token").cloned();
    }
    if let Some(r) = s.get("region") {
        p.region = Some(r.clone());
    }
    if let Some(u) = s.get("endpoint_url") {
        p.endpoint_url = Some(u.clone());
    }
    Ok(())
}

/// Whether the environment already gives credentials of its own, which win
/// over a profile's keys.
pub(crate) fn env_has_credentials(env: &dyn Fn(&str) -> Option<String>) -> bool {
    let set = |k: &str| env(k).is_some_and(|v| !v.is_empty());
    set("AWS_ACCESS_KEY_ID")
        || set("AWS_SECRET_ACCESS_KEY")
        || (set("AWS_WEB_IDENTITY_TOKEN_FILE") && set("AWS_ROLE_ARN"))
        || set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        || env("AWS_SKIP_SIGNATURE").is_some_and(|v| v == "true")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn a_profile_from_both_files() {
        let dir = tempfile::tempdir().unwrap();
        let aws = dir.path().join(".aws");
        std::fs::create_dir(&aws).unwrap();
        std::fs::write(
            aws.join("credentials"),
            "[default]\naws_access_key_id = AKIDEFAULT\naws_secret_access_key = s0\n\n\
             # team\n[team]\naws_access_key_id=AKITEAM\naws_secret_access_key = s1\naws_session_token = t1\n",
        )
        .unwrap();
        std::fs::write(
            aws.join("config"),
            "[default]\nregion = eu-west-1\n[profile team]\nregion = eu-central-1\n\
             endpoint_url = https://minio.example:9000\ns3 =\n  addressing_style = path\n",
        )
        .unwrap();
        let home = dir.path().display().to_string();
        let p = load(&env_of(vec![("HOME", home.clone())]))
            .unwrap()
            .unwrap();
        assert_eq!(p.name, "default");
        assert_eq!(p.access_key_id.as_deref(), Some("AKIDEFAULT"));
        assert_eq!(p.region.as_deref(), Some("eu-west-1"));
        assert_eq!(p.keys_from, Some(aws.join("credentials")));

        let p = load(&env_of(vec![
            ("HOME", home.clone()),
            ("AWS_PROFILE", "team".into()),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(p.access_key_id.as_deref(), Some("AKITEAM"));
        assert_eq!(p.secret_access_key.as_deref(), Some("s1"));
        assert_eq!(p.session_token.as_deref(), Some("t1"));
        assert_eq!(p.region.as_deref(), Some("eu-central-1"));
        assert_eq!(
            p.endpoint_url.as_deref(),
            Some("https://minio.example:9000")
        );

        assert_eq!(
            load(&env_of(vec![
                ("HOME", home.clone()),
                ("AWS_PROFILE", "nope".into())
            ]))
            .unwrap_err(),
            format!(
                "AWS_PROFILE=nope: no [nope] in {} and no [profile nope] in {}",
                aws.join("credentials").display(),
                aws.join("config").display()
            )
        );
    }

    #[test]
    fn no_files_no_profile_and_unsupported_kinds_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().display().to_string();
        assert_eq!(load(&env_of(vec![("HOME", home)])).unwrap(), None);
        let config = dir.path().join("cfg");
        std::fs::write(
            &config,
            "[profile ops]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = default\n",
        )
        .unwrap();
        let e = load(&env_of(vec![
            ("AWS_CONFIG_FILE", config.display().to_string()),
            ("AWS_PROFILE", "ops".into()),
        ]))
        .unwrap_err();
        assert!(
            e.starts_with(&format!(
                "AWS profile ops in {} uses role_arn, which goward does not support",
                config.display()
            )),
            "{e}"
        );
    }

    #[test]
    fn environment_credentials_win() {
        assert!(env_has_credentials(&env_of(vec![(
            "AWS_ACCESS_KEY_ID",
            "x".into()
        )])));
        assert!(!env_has_credentials(&env_of(vec![(
            "AWS_REGION",
            "x".into()
        )])));
    }
}
