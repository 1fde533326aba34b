//! Runs the real Seatbroker binaries together: the one-command demo
//! (`seatbroker-demo`, started by `scripts/demo`) and the end-to-end tests
//! (`tests/e2e/`) share these pieces.
//!
//! - [`bins`]: find (and for tests, build) the binaries of the current build;
//! - [`process`]: child processes with log files, killed on drop;
//! - [`platform`], [`sim`], [`agent`]: start each part with its own folder;
//! - [`apps`]: the Graph simulator, seat-list files, their truths and the agent's
//!   application sources;
//! - [`console`]: an administrator's HTTP session (login, CSRF forms, JSON reports);
//! - [`wait`]: poll until something holds, with a deadline;
//! - [`demo`]: the demo's walk through enrollment, approval and the first upload.

pub mod agent;
pub mod apps;
pub mod bins;
pub mod console;
pub mod demo;
pub mod platform;
pub mod process;
pub mod sim;
pub mod wait;

use std::path::Path;

use anyhow::Context;

/// Writes `content` to `path`, readable only by the current user on Unix.
pub fn write_secret_file(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(content.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// A random password of `len` characters from an alphabet without look-alikes.
pub fn random_password(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}
