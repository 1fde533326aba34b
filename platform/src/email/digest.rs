//! What the messages say. A digest's figures come from the store functions the console's
//! pages call (`report_licences`, `licence_changes`, `report_overview`'s health,
//! `list_agents` / `list_pending_links`, `report_reclaim`), and its attachment is the
//! Reclaim CSV the console exports, byte for byte. No token, credential or password is
//! ever part of a message: only figures, names and links.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use seatbroker_protocol::AgentState;

use super::{EmailError, EmailSettings};
use crate::reports::model::Health;
use crate::store::licences::{OrganisationFigures, ReclaimFilter};
use crate::store::{EmailSend, Store, ts};

/// Every row of the reclaim list (as the console's CSV export takes them).
const EXPORT_LIMIT: i64 = 1_000_000;

/// What a digest reports, gathered from the store.
#[derive(Debug)]
pub(super) struct DigestFigures {
    pub(super) organisations: Vec<OrganisationFigures>,
    /// Licences that became orphaned in the period.
    pub(super) new_orphaned: u64,
    /// Names of stale sources.
    pub(super) stale_sources: Vec<String>,
    /// Host names of agents waiting for approval.
    pub(super) pending_agents: Vec<String>,
    /// Sources (of approved or pending agents) waiting for a decision.
    pub(super) pending_sources: u64,
}

async fn gather(store: &Store, since: DateTime<Utc>) -> Result<DigestFigures, EmailError> {
    let organisations = store.report_licences().await?;
    let changes = store.licence_changes(&ts(since), 1).await?;
    let stale_sources = store
        .report_overview()
        .await?
        .into_iter()
        .filter(|row| row.health == Health::Stale)
        .map(|row| row.name)
        .collect();
    let pending_agents = store
        .list_agents(Some(AgentState::Pending))
        .await?
        .into_iter()
        .map(|agent| agent.host_name)
        .collect();
    let pending_sources = store.list_pending_links().await?.len() as u64;
    Ok(DigestFigures {
        organisations,
        new_orphaned: changes.entered.get("orphaned").copied().unwrap_or(0),
        stale_sources,
        pending_agents,
        pending_sources,
    })
}

/// Money as the console shows it: two decimals and the currency.
fn money(amount: f64, currency: &str) -> String {
    format!("{amount:.2} {currency}")
}

/// The digest's text. Lines that carry figures have a fixed form (`Reclaimable seats: N`,
/// `Possible savings: A CUR per month`), one block per organisation.
pub(super) fn digest_text(
    figures: &DigestFigures,
    frequency: &str,
    since: DateTime<Utc>,
    today: chrono::NaiveDate,
    public_url: &str,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Seatbroker {frequency} report, {today}");
    let _ = writeln!(out);
    if figures.organisations.is_empty() {
        let _ = writeln!(
            out,
            "No organisation has licence figures yet: approve an HR source and its application sources."
        );
        let _ = writeln!(out);
    }
    for org in &figures.organisations {
        let _ = writeln!(out, "Organisation: {}", org.name);
        let _ = writeln!(out, "  Reclaimable seats: {}", org.figures.reclaimable());
        let _ = writeln!(
            out,
            "  Of which unassigned (bought, held by nobody): {}",
            org.figures.unassigned
        );
        let savings = org.savings.monthly();
        if savings.is_empty() {
            let _ = writeln!(
                out,
                "  Possible savings: no price entered yet (enter prices on {public_url}/applications)"
            );
        }
        for (currency, amount) in &savings {
            let _ = writeln!(
                out,
                "  Possible savings: {} per month",
                money(*amount, currency)
            );
        }
        for reason in &org.incomplete {
            let _ = writeln!(out, "  Incomplete: {reason}");
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "Seats that became orphaned since {}: {} (their holder has left)",
        since.date_naive(),
        figures.new_orphaned
    );
    if figures.stale_sources.is_empty() {
        let _ = writeln!(out, "Sources not uploading on schedule: none");
    } else {
        let _ = writeln!(
            out,
            "Sources not uploading on schedule: {} ({}); their figures are from their last upload.",
            figures.stale_sources.len(),
            figures.stale_sources.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "Agents waiting for approval: {}{}",
        figures.pending_agents.len(),
        if figures.pending_agents.is_empty() {
            String::new()
        } else {
            format!(" ({})", figures.pending_agents.join(", "))
        }
    );
    let _ = writeln!(
        out,
        "Sources waiting for a decision: {}",
        figures.pending_sources
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "The attached CSV lists every reclaimable seat, as the Reclaim page exports it."
    );
    let _ = writeln!(out, "Reclaim list: {public_url}/reclaim");
    let _ = writeln!(out, "Changes: {public_url}/changes");
    let _ = writeln!(out, "Approvals: {public_url}/approvals");
    let _ = writeln!(out, "Sources and agents: {public_url}/sources");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "You get this because an administrator subscribed you on {public_url}/email."
    );
    out
}

fn mailbox(text: &str) -> Result<Mailbox, EmailError> {
    text.parse()
        .map_err(|e: lettre::address::AddressError| EmailError::Address {
            address: text.to_owned(),
            reason: e.to_string(),
        })
}

/// A digest for `send`, with the Reclaim CSV attached.
pub(super) async fn digest_message(
    settings: &EmailSettings,
    store: &Store,
    send: &EmailSend,
) -> Result<Message, EmailError> {
    let now = store.now();
    let frequency = match send.subscription_id.as_deref() {
        Some(id) => store
            .list_email_subscriptions()
            .await?
            .into_iter()
            .find(|s| s.id == id)
            .map_or_else(|| "scheduled".to_owned(), |s| s.frequency),
        None => "scheduled".to_owned(),
    };
    let since = send.period_start.unwrap_or(now - chrono::Duration::days(7));
    let figures = gather(store, since).await?;
    let today = now.date_naive();
    let text = digest_text(&figures, &frequency, since, today, &settings.public_url);
    let rows = store
        .report_reclaim(&ReclaimFilter::default(), EXPORT_LIMIT)
        .await?;
    let csv = crate::web::reclaim_csv_text(&rows);
    let reclaimable: u64 = figures
        .organisations
        .iter()
        .map(|o| o.figures.reclaimable())
        .sum();
    let subject = format!("Seatbroker {frequency} report: {reclaimable} reclaimable seats");
    let csv_type = ContentType::parse("text/csv; charset=utf-8")
        .map_err(|e| EmailError::Build(e.to_string()))?;
    Message::builder()
        .from(mailbox(&settings.from)?)
        .to(mailbox(&send.address)?)
        .subject(subject)
        .multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain(text))
                .singlepart(Attachment::new(format!("reclaim-{today}.csv")).body(csv, csv_type)),
        )
        .map_err(|e| EmailError::Build(e.to_string()))
}

/// The "send a test email" message: proves the SMTP settings work.
pub(super) fn test_message(
    settings: &EmailSettings,
    address: &str,
    now: DateTime<Utc>,
) -> Result<Message, EmailError> {
    let text = format!(
        "This is a test message from Seatbroker ({url}), sent {at}.\n\n\
         The platform reached the mail server {host}:{port}; scheduled reports will arrive the same way.\n\
         Subscriptions: {url}/email\n",
        url = settings.public_url,
        at = now.format("%Y-%m-%d %H:%M UTC"),
        host = settings.host,
        port = settings.port,
    );
    Message::builder()
        .from(mailbox(&settings.from)?)
        .to(mailbox(address)?)
        .subject("Seatbroker test email")
        .singlepart(SinglePart::plain(text))
        .map_err(|e| EmailError::Build(e.to_string()))
}
