//! Where a secret comes from: a file, an environment variable, or a systemd credential.
//! Never from the command line, where every user of the machine could read it.

use std::path::{Path, PathBuf};

use seatbroker_protocol::Secret;

/// A reference to a secret, resolved only when it is needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// A file whose content (trimmed) is the secret.
    File(PathBuf),
    /// An environment variable.
    Env(String),
    /// A systemd credential: `$CREDENTIALS_DIRECTORY/<name>`.
    Credential(String),
}

/// Why a secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read the secret file {}: {source}; check the path and that the agent's user may read it", path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the secret file {} is empty; put the token in it", path.display())]
    EmptyFile { path: PathBuf },
    #[error(
        "the environment variable {name} is not set or empty; set it to the token, or use a token file"
    )]
    Env { name: String },
    #[error(
        "the systemd credential {name} is not available: CREDENTIALS_DIRECTORY is not set; add `LoadCredential={name}:<path>` to the service, or use a token file"
    )]
    NoCredentialsDirectory { name: String },
}

impl SecretRef {
    /// At most one of the three may be set; validation makes sure of that.
    pub(crate) fn from_parts(
        file: Option<PathBuf>,
        env: Option<String>,
        credential: Option<String>,
    ) -> Option<Self> {
        file.map(Self::File)
            .or(env.map(Self::Env))
            .or(credential.map(Self::Credential))
    }

    /// Human description, e.g. `file /etc/seatbroker/token`.
    pub fn describe(&self) -> String {
        match self {
            Self::File(path) => format!("file {}", path.display()),
            Self::Env(name) => format!("environment variable {name}"),
            Self::Credential(name) => format!("systemd credential {name}"),
        }
    }

    /// Reads the secret. A file readable by group or others is read but warned about.
    pub fn resolve(&self) -> Result<Secret, SecretError> {
        self.resolve_with(&|name| std::env::var(name).ok())
    }

    /// [`Self::resolve`] with an injected environment, for tests.
    pub fn resolve_with(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Secret, SecretError> {
        match self {
            Self::File(path) => read_secret_file(path),
            Self::Env(name) => env(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .map(Secret::new)
                .ok_or_else(|| SecretError::Env { name: name.clone() }),
            Self::Credential(name) => {
                let dir = env("CREDENTIALS_DIRECTORY")
                    .ok_or_else(|| SecretError::NoCredentialsDirectory { name: name.clone() })?;
                read_secret_file(&Path::new(&dir).join(name))
            }
        }
    }
}

/// Reads a secret file, trimming surrounding whitespace; warns when others may read it.
pub(crate) fn read_secret_file(path: &Path) -> Result<Secret, SecretError> {
    if let Some(mode) = loose_permissions(path) {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{mode:o}"),
            "The secret file can be read by other users; restrict it with `chmod 600`."
        );
    }
    let text = std::fs::read_to_string(path).map_err(|source| SecretError::File {
        path: path.to_owned(),
        source,
    })?;
    let value = text.trim();
    if value.is_empty() {
        return Err(SecretError::EmptyFile {
            path: path.to_owned(),
        });
    }
    Ok(Secret::new(value))
}

/// The file's permission bits when group or others may read it.
pub(crate) fn loose_permissions(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o044 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}
