//! The commented skeleton config written when no `--config` is given.

use crate::layout::{ENROLLMENT_TOKEN, HUMAANS_TOKEN, Layout};
use crate::plan::TargetOs;

/// A YAML double-quoted scalar: backslash and quote escaped. The URL was already checked
/// to hold no control characters.
fn yaml_quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Where the service finds its credentials, in words, for the comment at the top.
fn credentials_hint(layout: &Layout) -> String {
    match layout.target {
        TargetOs::Linux => format!(
            "files in {} that systemd passes to the service with LoadCredential=",
            layout.credentials_dir
        ),
        TargetOs::Macos | TargetOs::Windows => format!(
            "files in {}, readable only by the service account ($CREDENTIALS_DIRECTORY)",
            layout.credentials_dir
        ),
    }
}

/// The skeleton config for `layout`, filled with the platform URL.
pub fn skeleton_config(layout: &Layout, platform_url: &str) -> String {
    skeleton(
        layout,
        platform_url,
        &format!(
            "written by seatbroker-install {}",
            env!("CARGO_PKG_VERSION")
        ),
        "Replace one with: seatbroker-install install --humaans-token-file FILE",
    )
}

/// The skeleton with its origin (`written by ...`) and how to replace a token, which differ
/// between the installer and the Debian package.
pub(crate) fn skeleton(layout: &Layout, platform_url: &str, origin: &str, replace: &str) -> String {
    format!(
        "\
# Seatbroker agent configuration, {origin}.
# Check it with: seatbroker-agent check --config {config}
# Every key and its default is described in the README, section \"Configuration\".
#
# This file holds no secrets. Tokens are read by credential name from the
# service's credentials directory: {creds}.
# {replace}

platform:
  # Where the agent enrolls and uploads its results.
  url: {url}
  # Credential holding the enrollment token created in the console.
  enrollment_token_credential: {enroll}

sources:
  # One entry per Humaans company. The name is how the console shows this source.
  - name: humaans
    kind: humaans
    # Credential holding the Humaans API token. It needs the scopes public:read and
    # private:read (\"View public and private data\"), or pre-hires and leavers are invisible.
    token_credential: {humaans}
    # base_url: https://app.humaans.io/api
    # How often to collect (default 6h).
    # interval: 6h
",
        config = layout.config_file,
        creds = credentials_hint(layout),
        url = yaml_quoted(platform_url),
        enroll = ENROLLMENT_TOKEN,
        humaans = HUMAANS_TOKEN,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_backslashes_are_escaped() {
        assert_eq!(yaml_quoted(r#"https://x/"a"\b"#), r#""https://x/\"a\"\\b""#);
    }
}
