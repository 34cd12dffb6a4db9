//! Registry credentials as Docker keeps them: `$DOCKER_CONFIG/config.json` (else
//! `~/.docker/config.json`) with its `auths` entries, and the `credsStore`/`credHelpers`
//! programs (`docker-credential-<name> get|store|erase`) it may delegate to.
//!
//! Keys follow Docker: Docker Hub is `https://index.docker.io/v1/`, any other registry is its
//! `host[:port]`; when reading, `https://host[:port]/...` keys written by older clients match too.
//! A configured helper wins over the file (`credHelpers[host]`, then `credsStore`), and when a
//! helper is configured the file's own `auth` for that registry is not consulted, as in Docker.

use std::ffi::OsString;
use std::fmt;
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Map, Value};

use super::base64;
use crate::util::atomic::write_atomic;

/// Docker Hub's key in `auths` and the server URL its credential helpers are given.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";
const DOCKER_HUB_HOSTS: &[&str] = &["docker.io", "index.docker.io", "registry-1.docker.io"];
/// The user name credential helpers use to mark the secret as an identity token.
const TOKEN_USERNAME: &str = "<token>";
/// What Docker's helpers print (exit 1) when they hold nothing for a server.
const HELPER_NOT_FOUND: &str = "credentials not found in native keychain";

/// A user name and a password, or an identity (refresh) token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub username: String,
    pub secret: String,
    /// `secret` is an identity token (`identitytoken` in the file, `<token>` from a helper).
    pub identity_token: bool,
}

impl Credential {
    pub fn password(username: impl Into<String>, password: impl Into<String>) -> Credential {
        Credential {
            username: username.into(),
            secret: password.into(),
            identity_token: false,
        }
    }

    /// The `Authorization` header value for HTTP Basic auth with this user and secret.
    pub fn basic_auth(&self) -> String {
        format!(
            "Basic {}",
            base64::encode(format!("{}:{}", self.username, self.secret).as_bytes())
        )
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("username", &self.username)
            .field("secret", &"<redacted>")
            .field("identity_token", &self.identity_token)
            .finish()
    }
}

/// Failures reading or writing credentials; none of them carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum CredError {
    #[error("cannot find the Docker config directory: set DOCKER_CONFIG or HOME")]
    NoConfigDir,
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path}: invalid JSON: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("writing {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("credential helper {helper} not found in PATH")]
    HelperMissing { helper: String },
    #[error("running credential helper {helper}: {source}")]
    HelperRun { helper: String, source: io::Error },
    #[error("credential helper {helper} {action} failed: {message}")]
    HelperFailed {
        helper: String,
        action: &'static str,
        message: String,
    },
}

/// `$DOCKER_CONFIG`, else `$HOME/.docker`.
pub fn config_dir() -> Result<PathBuf, CredError> {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(h) => Ok(PathBuf::from(h).join(".docker")),
        None => Err(CredError::NoConfigDir),
    }
}

/// The `auths` key (and helper server URL) for a registry given as `host[:port]`, a Docker Hub
/// alias, or a URL such as `https://host:5000/v1/`.
pub fn config_key(registry: &str) -> String {
    let host = registry_hostname(registry);
    if host.is_empty() || DOCKER_HUB_HOSTS.contains(&host) {
        DOCKER_HUB_KEY.to_string()
    } else {
        host.to_string()
    }
}

/// `https://host:5000/v1/` → `host:5000`, as Docker's `ConvertToHostname`.
fn registry_hostname(registry: &str) -> &str {
    let s = registry.trim();
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    s.split('/').next().unwrap_or("")
}

/// Looks up the credential for `registry_host` in the user's Docker config.
pub fn lookup(registry_host: &str) -> Result<Option<Credential>, CredError> {
    CredStore::from_env()?.lookup(registry_host)
}

/// Saves `cred` for `registry_host` in the user's Docker config (or its credential helper).
pub fn save(registry_host: &str, cred: &Credential) -> Result<(), CredError> {
    CredStore::from_env()?.save(registry_host, cred)
}

/// Forgets the credential for `registry_host`; `false` if there was none.
pub fn erase(registry_host: &str) -> Result<bool, CredError> {
    CredStore::from_env()?.erase(registry_host)
}

pub fn lookup_in(dir: &Path, registry_host: &str) -> Result<Option<Credential>, CredError> {
    CredStore::new(dir).lookup(registry_host)
}

pub fn save_in(dir: &Path, registry_host: &str, cred: &Credential) -> Result<(), CredError> {
    CredStore::new(dir).save(registry_host, cred)
}

pub fn erase_in(dir: &Path, registry_host: &str) -> Result<bool, CredError> {
    CredStore::new(dir).erase(registry_host)
}

/// One Docker config directory, and where its credential helpers are searched for.
#[derive(Debug, Clone)]
pub struct CredStore {
    dir: PathBuf,
    /// A `PATH`-style list; `None` means the process's `PATH`.
    helper_path: Option<OsString>,
}

impl CredStore {
    pub fn new(dir: impl Into<PathBuf>) -> CredStore {
        CredStore {
            dir: dir.into(),
            helper_path: None,
        }
    }

    pub fn from_env() -> Result<CredStore, CredError> {
        Ok(CredStore::new(config_dir()?))
    }

    /// Searches `path` (a `PATH`-style list) for `docker-credential-*` instead of `PATH`.
    pub fn with_helper_path(mut self, path: impl Into<OsString>) -> CredStore {
        self.helper_path = Some(path.into());
        self
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    pub fn lookup(&self, registry_host: &str) -> Result<Option<Credential>, CredError> {
        let key = config_key(registry_host);
        let Some(config) = self.load()? else {
            return Ok(None);
        };
        if let Some(helper) = helper_for(&config, &key) {
            return self.helper_get(&helper, &key);
        }
        let Some(auths) = config.get("auths").and_then(Value::as_object) else {
            return Ok(None);
        };
        let entry = auths
            .get(&key)
            .or_else(|| {
                auths
                    .iter()
                    .find(|(k, _)| config_key(k) == key)
                    .map(|(_, v)| v)
            })
            .and_then(Value::as_object);
        match entry {
            Some(entry) => self.parse_entry(&key, entry),
            None => Ok(None),
        }
    }

    pub fn save(&self, registry_host: &str, cred: &Credential) -> Result<(), CredError> {
        let key = config_key(registry_host);
        let mut config = self.load()?.unwrap_or_default();
        let entry = match helper_for(&config, &key) {
            Some(helper) => {
                self.helper_store(&helper, &key, cred)?;
                // Docker leaves an empty entry so `docker info`-style listings show the login.
                Map::new()
            }
            None => file_entry(cred),
        };
        self.auths_mut(&mut config)?
            .insert(key, Value::Object(entry));
        self.store(&config)
    }

    pub fn erase(&self, registry_host: &str) -> Result<bool, CredError> {
        let key = config_key(registry_host);
        let Some(mut config) = self.load()? else {
            return Ok(false);
        };
        let mut found = false;
        if let Some(helper) = helper_for(&config, &key) {
            found |= self.helper_erase(&helper, &key)?;
        }
        if let Some(auths) = config.get_mut("auths").and_then(Value::as_object_mut) {
            let keys: Vec<String> = auths
                .keys()
                .filter(|k| config_key(k) == key)
                .cloned()
                .collect();
            for k in keys {
                auths.remove(&k);
                found = true;
            }
        }
        if found {
            self.store(&config)?;
        }
        Ok(found)
    }

    /// The config as a JSON object, `None` if the file does not exist.
    fn load(&self) -> Result<Option<Map<String, Value>>, CredError> {
        let path = self.config_path();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(CredError::Read { path, source }),
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Some(Map::new()));
        }
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(m)) => Ok(Some(m)),
            Ok(_) => Err(CredError::Invalid {
                path,
                message: "not a JSON object".into(),
            }),
            Err(source) => Err(CredError::Parse { path, source }),
        }
    }

    fn store(&self, config: &Map<String, Value>) -> Result<(), CredError> {
        let path = self.config_path();
        let werr = |source| CredError::Write {
            path: path.clone(),
            source,
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(werr)?;
        let mut text = serde_json::to_vec_pretty(config).expect("a JSON map serialises");
        text.push(b'\n');
        // The temp file is created 0600, so the secret is never readable by others, even briefly.
        write_atomic(&path, &text).map_err(werr)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(werr)
    }

    fn auths_mut<'a>(
        &self,
        config: &'a mut Map<String, Value>,
    ) -> Result<&'a mut Map<String, Value>, CredError> {
        config
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .ok_or_else(|| CredError::Invalid {
                path: self.config_path(),
                message: "\"auths\" is not an object".into(),
            })
    }

    fn parse_entry(
        &self,
        key: &str,
        entry: &Map<String, Value>,
    ) -> Result<Option<Credential>, CredError> {
        let field = |name: &str| {
            entry
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| v.as_str())
                .filter(|s| !s.is_empty())
        };
        let (mut username, mut password) = (String::new(), String::new());
        if let Some(auth) = field("auth") {
            let invalid = || CredError::Invalid {
                path: self.config_path(),
                message: format!("the \"auth\" of {key:?} is not base64 of user:password"),
            };
            let plain = base64::decode(auth).ok_or_else(invalid)?;
            let plain = String::from_utf8(plain).map_err(|_| invalid())?;
            let (u, p) = plain.split_once(':').ok_or_else(invalid)?;
            (username, password) = (u.to_string(), p.to_string());
        } else {
            if let Some(u) = field("username") {
                username = u.to_string();
            }
            if let Some(p) = field("password") {
                password = p.to_string();
            }
        }
        if let Some(token) = field("identitytoken") {
            return Ok(Some(Credential {
                username,
                secret: token.to_string(),
                identity_token: true,
            }));
        }
        if username.is_empty() && password.is_empty() {
            return Ok(None);
        }
        Ok(Some(Credential::password(username, password)))
    }

    fn helper_get(&self, helper: &str, key: &str) -> Result<Option<Credential>, CredError> {
        let out = match self.run_helper(helper, "get", key.as_bytes())? {
            HelperOutcome::Ok(out) => out,
            HelperOutcome::NotFound => return Ok(None),
        };
        let failed = |message: String| CredError::HelperFailed {
            helper: helper_program(helper),
            action: "get",
            message,
        };
        let v: Value = serde_json::from_slice(&out)
            .map_err(|e| failed(format!("its output is not JSON: {e}")))?;
        let text = |name: &str| {
            v.get(name)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let (username, secret) = (text("Username"), text("Secret"));
        if secret.is_empty() && username.is_empty() {
            return Ok(None);
        }
        if username == TOKEN_USERNAME {
            return Ok(Some(Credential {
                username: String::new(),
                secret,
                identity_token: true,
            }));
        }
        Ok(Some(Credential::password(username, secret)))
    }

    fn helper_store(&self, helper: &str, key: &str, cred: &Credential) -> Result<(), CredError> {
        let username = if cred.identity_token {
            TOKEN_USERNAME
        } else {
            &cred.username
        };
        let input = serde_json::json!({
            "ServerURL": key,
            "Username": username,
            "Secret": cred.secret,
        });
        self.run_helper(helper, "store", input.to_string().as_bytes())
            .map(|_| ())
    }

    fn helper_erase(&self, helper: &str, key: &str) -> Result<bool, CredError> {
        Ok(matches!(
            self.run_helper(helper, "erase", key.as_bytes())?,
            HelperOutcome::Ok(_)
        ))
    }

    /// Runs `docker-credential-<helper> <action>` with `input` on stdin.
    fn run_helper(
        &self,
        helper: &str,
        action: &'static str,
        input: &[u8],
    ) -> Result<HelperOutcome, CredError> {
        let program = helper_program(helper);
        let path = self
            .find_helper(&program)
            .ok_or_else(|| CredError::HelperMissing {
                helper: program.clone(),
            })?;
        let run_err = |source| CredError::HelperRun {
            helper: program.clone(),
            source,
        };
        let mut child = Command::new(&path)
            .arg(action)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(run_err)?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        // A helper that exits without reading its input closes the pipe: its exit status tells.
        let _ = stdin.write_all(input);
        drop(stdin);
        let out = child.wait_with_output().map_err(run_err)?;
        if out.status.success() {
            return Ok(HelperOutcome::Ok(out.stdout));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stdout.contains(HELPER_NOT_FOUND) || stderr.contains(HELPER_NOT_FOUND) {
            return Ok(HelperOutcome::NotFound);
        }
        let mut message = stdout.trim().to_string();
        if message.is_empty() {
            message = stderr.trim().to_string();
        }
        if message.is_empty() {
            message = out.status.to_string();
        }
        Err(CredError::HelperFailed {
            helper: program,
            action,
            message,
        })
    }

    fn find_helper(&self, program: &str) -> Option<PathBuf> {
        let search = match &self.helper_path {
            Some(p) => p.clone(),
            None => std::env::var_os("PATH")?,
        };
        std::env::split_paths(&search)
            .map(|d| d.join(program))
            .find(|p| {
                p.metadata()
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
    }
}

enum HelperOutcome {
    Ok(Vec<u8>),
    NotFound,
}

fn helper_program(helper: &str) -> String {
    format!("docker-credential-{helper}")
}

/// The helper configured for `key`: `credHelpers` (matched like `auths` keys), else `credsStore`.
fn helper_for(config: &Map<String, Value>, key: &str) -> Option<String> {
    let non_empty = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    if let Some(helpers) = config.get("credHelpers").and_then(Value::as_object) {
        let found = helpers
            .get(key)
            .or_else(|| {
                helpers
                    .iter()
                    .find(|(k, _)| config_key(k) == key)
                    .map(|(_, v)| v)
            })
            .and_then(non_empty);
        if found.is_some() {
            return found;
        }
    }
    config.get("credsStore").and_then(non_empty)
}

/// An `auths` entry as Docker writes it: `auth` is base64 of `user:password` (the password left
/// empty when the secret is an identity token, which goes in `identitytoken`).
fn file_entry(cred: &Credential) -> Map<String, Value> {
    let mut entry = Map::new();
    let password = if cred.identity_token {
        ""
    } else {
        &cred.secret
    };
    if !(cred.username.is_empty() && password.is_empty()) {
        let auth = base64::encode(format!("{}:{password}", cred.username).as_bytes());
        entry.insert("auth".into(), Value::String(auth));
    }
    if cred.identity_token {
        entry.insert("identitytoken".into(), Value::String(cred.secret.clone()));
    }
    entry
}

#[cfg(test)]
#[path = "credentials_tests.rs"]
mod tests;
