//! Checks a decoded payload must pass before anything of it is written: it belongs to the
//! link it was uploaded for, and every field fits the database (no NUL, bounded lengths,
//! unique person ids). Pure: no I/O.

use std::collections::HashSet;

use seatbroker_protocol::{LicenceSnapshot, SeatRecord, SnapshotPayload};

/// Longest text field a seat may carry.
const MAX_FIELD_CHARS: usize = 1024;

/// Checks a decoded payload against the link it was uploaded for.
pub(super) fn validate(
    payload: &SnapshotPayload,
    local_name: &str,
    tenant_id: &str,
    kind: &str,
) -> Result<(), String> {
    if payload.local_source != local_name {
        return Err(format!(
            "the snapshot is of local source {:?} but was uploaded for {:?}",
            payload.local_source, local_name
        ));
    }
    if !tenant_id.is_empty() && payload.collection.tenant_id != tenant_id {
        return Err(format!(
            "the snapshot is of tenant {:?} but source {:?} was approved for tenant {:?}",
            payload.collection.tenant_id, local_name, tenant_id
        ));
    }
    // PostgreSQL refuses NUL in text; refuse it here as bad input rather than fail the
    // transaction with a 5xx the agent would retry for ever.
    let has_nul = |v: &str| v.contains('\0');
    let seat_has_nul = |seat: &SeatRecord| {
        [
            &seat.name,
            &seat.work_email,
            &seat.job_title,
            &seat.department,
            &seat.manager_id,
        ]
        .iter()
        .any(|f| f.as_deref().is_some_and(has_nul))
            || [
                seat.person_id.as_str(),
                seat.status.as_str(),
                seat.state.as_str(),
            ]
            .iter()
            .any(|v| has_nul(v))
            || seat.reason.as_ref().is_some_and(|r| has_nul(r.as_str()))
    };
    if let Some(seat) = payload.seats.iter().find(|s| seat_has_nul(s)) {
        return Err(format!(
            "person {:?} has a text field containing a NUL character",
            seat.person_id.replace('\0', "\\0")
        ));
    }
    if payload.findings.iter().any(|f| {
        has_nul(&f.person_id)
            || has_nul(f.kind.as_str())
            || f.detail.as_deref().is_some_and(has_nul)
    }) {
        return Err("a data-quality finding contains a NUL character".to_owned());
    }
    if super::apply::is_app_kind(kind) {
        let Some(licences) = payload.licences.as_ref() else {
            return Err(format!(
                "source {local_name:?} is of kind {kind} but the snapshot has no licences section \
                 (schema {}); upgrade the agent",
                payload.schema
            ));
        };
        validate_licences(licences)?;
    }
    let mut seen = HashSet::with_capacity(payload.seats.len());
    for seat in &payload.seats {
        if seat.person_id.is_empty() || seat.person_id.len() > 256 {
            return Err(format!(
                "a seat has a person id of {} bytes; ids must be 1 to 256 bytes",
                seat.person_id.len()
            ));
        }
        if !seen.insert(seat.person_id.as_str()) {
            return Err(format!(
                "person {:?} appears more than once in the snapshot",
                seat.person_id
            ));
        }
        let fields = [
            &seat.name,
            &seat.work_email,
            &seat.job_title,
            &seat.department,
            &seat.manager_id,
        ];
        if fields.iter().any(|f| {
            f.as_ref()
                .is_some_and(|v| v.chars().count() > MAX_FIELD_CHARS)
        }) || seat.status.as_str().len() > 64
            || seat.state.as_str().len() > 64
        {
            return Err(format!(
                "person {:?} has a field longer than {MAX_FIELD_CHARS} characters",
                seat.person_id
            ));
        }
    }
    Ok(())
}

/// The licence section's own checks: unique account ids, every licence naming a pool of the
/// snapshot once per account, and text that fits the database.
fn validate_licences(licences: &LicenceSnapshot) -> Result<(), String> {
    let bad_text = |v: &str| v.contains('\0') || v.chars().count() > MAX_FIELD_CHARS;
    let mut pools = HashSet::with_capacity(licences.pools.len());
    for pool in &licences.pools {
        if pool.id.is_empty() || bad_text(&pool.id) || bad_text(&pool.name) {
            return Err(format!(
                "licence pool {:?} has an empty id, a NUL character or a field longer than {MAX_FIELD_CHARS} characters",
                pool.id.replace('\0', "\\0")
            ));
        }
        if pool.application.as_deref().is_some_and(bad_text) {
            return Err(format!(
                "licence pool {:?} has a bad application name",
                pool.id
            ));
        }
        if !pools.insert(pool.id.as_str()) {
            return Err(format!("licence pool {:?} appears more than once", pool.id));
        }
    }
    let mut accounts = HashSet::with_capacity(licences.accounts.len());
    for account in &licences.accounts {
        let id = account.account_id.replace('\0', "\\0");
        if account.account_id.is_empty()
            || account.account_id.len() > 256
            || bad_text(&account.account_id)
        {
            return Err(format!(
                "account {id:?} has an id of {} bytes or a NUL character; ids must be 1 to 256 bytes",
                account.account_id.len()
            ));
        }
        if !accounts.insert(account.account_id.as_str()) {
            return Err(format!(
                "account {id:?} appears more than once in the snapshot"
            ));
        }
        let texts = [account.login.as_deref(), account.email.as_deref()];
        if texts.into_iter().flatten().any(bad_text)
            || account.aliases.iter().any(|a| bad_text(a))
            || account.aliases.len() > 256
            || bad_text(account.account_type.as_str())
        {
            return Err(format!(
                "account {id:?} has an address with a NUL character, longer than {MAX_FIELD_CHARS} characters, or too many aliases"
            ));
        }
        let mut held = HashSet::with_capacity(account.licences.len());
        for licence in &account.licences {
            if !pools.contains(licence.pool_id.as_str()) {
                return Err(format!(
                    "account {id:?} holds a licence of pool {:?}, which the snapshot does not list",
                    licence.pool_id
                ));
            }
            if !held.insert(licence.pool_id.as_str()) {
                return Err(format!(
                    "account {id:?} holds pool {:?} more than once",
                    licence.pool_id
                ));
            }
            if bad_text(licence.state.as_str())
                || licence
                    .reason
                    .as_ref()
                    .is_some_and(|r| bad_text(r.as_str()))
            {
                return Err(format!(
                    "account {id:?} has a licence state that does not fit"
                ));
            }
        }
    }
    if let Some(delta) = &licences.delta {
        let is_hex = |v: &str| v.len() == 16 && v.bytes().all(|b| b.is_ascii_hexdigit());
        if delta.base_snapshot_id.is_empty() || bad_text(&delta.base_snapshot_id) {
            return Err("the delta names no base snapshot".to_owned());
        }
        if !is_hex(&delta.accounts_digest)
            || delta
                .accounts_digest
                .bytes()
                .any(|b| b.is_ascii_uppercase())
        {
            return Err(format!(
                "the delta's accounts digest {:?} is not 16 lower-case hex digits",
                delta.accounts_digest.replace('\0', "\\0")
            ));
        }
        let mut removed = HashSet::with_capacity(delta.removed_accounts.len());
        for id in &delta.removed_accounts {
            if id.is_empty() || id.len() > 256 || bad_text(id) {
                return Err(
                    "the delta removes an account with an empty, too long or NUL-containing id"
                        .to_owned(),
                );
            }
            if accounts.contains(id.as_str()) || !removed.insert(id.as_str()) {
                return Err(format!(
                    "the delta both sends and removes account {id:?}, or removes it twice"
                ));
            }
        }
    }
    Ok(())
}
