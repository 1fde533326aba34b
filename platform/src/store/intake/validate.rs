//! Checks a decoded payload must pass before anything of it is written: it belongs to the
//! link it was uploaded for, and every field fits the database (no NUL, bounded lengths,
//! unique person ids). Pure: no I/O.

use std::collections::HashSet;

use seatbroker_protocol::{SeatRecord, SnapshotPayload};

/// Longest text field a seat may carry.
const MAX_FIELD_CHARS: usize = 1024;

/// Checks a decoded payload against the link it was uploaded for.
pub(super) fn validate(
    payload: &SnapshotPayload,
    local_name: &str,
    tenant_id: &str,
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
