//! User and group names to numeric ids, without libc: the `passwd`/`group` files (of the
//! `--root` tree when it has them, else the host's), then `id` for users only the directory
//! service knows (macOS `dscl` users).

use std::path::Path;

use crate::plan::Owner;

/// The id of `name` in a `passwd`- or `group`-format text (`name:x:id:...`).
pub(crate) fn lookup(text: &str, name: &str) -> Option<u32> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let mut fields = line.split(':');
            (fields.next()? == name).then(|| fields.nth(1)?.parse().ok())?
        })
}

fn from_file(root: Option<&Path>, file: &str, name: &str) -> Option<u32> {
    let candidates = root
        .map(|r| r.join("etc").join(file))
        .into_iter()
        .chain([Path::new("/etc").join(file)]);
    candidates
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .find_map(|text| lookup(&text, name))
}

fn from_id(flag: &str, name: &str) -> Option<u32> {
    let out = std::process::Command::new("id")
        .args([flag, name])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// `(uid, gid)` for `owner`, or `None` when either name is unknown here.
pub(crate) fn resolve(owner: &Owner, root: Option<&Path>) -> Option<(u32, u32)> {
    let uid = from_file(root, "passwd", &owner.user).or_else(|| from_id("-u", &owner.user))?;
    let gid = from_file(root, "group", &owner.group)
        // A user's own group (macOS `_seatbroker`) is its primary group.
        .or_else(|| {
            (owner.group == owner.user)
                .then(|| from_id("-g", &owner.user))
                .flatten()
        })?;
    Some((uid, gid))
}

/// The effective user id of this process: `id -u`, else `/proc/self/status`.
pub fn effective_uid() -> Option<u32> {
    if let Ok(out) = std::process::Command::new("id").arg("-u").output()
        && out.status.success()
        && let Ok(uid) = String::from_utf8_lossy(&out.stdout).trim().parse()
    {
        return Some(uid);
    }
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    uid_from_proc_status(&status)
}

/// The effective uid from `/proc/self/status` (`Uid: real effective saved fs`).
pub(crate) fn uid_from_proc_status(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|uid| uid.parse().ok())
}

/// Whether this process may install a system service: root on Unix, an elevated token on
/// Windows (`net session` only succeeds elevated; no Windows crates needed).
pub(crate) fn is_privileged() -> bool {
    if cfg!(windows) {
        return std::process::Command::new("net")
            .arg("session")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    }
    effective_uid() == Some(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_passwd_and_group_lines() {
        let passwd = "# comment\nroot:x:0:0:root:/root:/bin/sh\n_seatbroker:*:293:293::/var/empty:/usr/bin/false\n";
        assert_eq!(lookup(passwd, "root"), Some(0));
        assert_eq!(lookup(passwd, "_seatbroker"), Some(293));
        assert_eq!(lookup(passwd, "seatbroker"), None);
        assert_eq!(lookup("wheel:x:0:root\n", "wheel"), Some(0));
    }

    #[test]
    fn reads_effective_uid_from_proc_status() {
        let status = "Name:\tx\nUid:\t1000\t0\t0\t0\nGid:\t1\t1\t1\t1\n";
        assert_eq!(uid_from_proc_status(status), Some(0));
        assert_eq!(uid_from_proc_status("Name: x\n"), None);
    }
}
