//! Reading a whole `$limit`/`$skip` listing: the first page gives `total`, the rest are
//! fetched concurrently and put back in offset order, so the result is the same as
//! sequential paging whatever order the pages arrive in.

use std::collections::HashSet;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use tokio::task::JoinSet;

use super::client::HumaansClient;
use super::error::{HumaansError, Resource};
use super::model::Record;

/// How far a listing has got, for a progress line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub resource: Resource,
    pub pages_done: u64,
    /// `None` while unknown (before the first page, or a server without `total`).
    pub pages_total: Option<u64>,
    /// Records received so far (before de-duplication).
    pub records: u64,
}

/// One listing, read completely.
#[derive(Debug)]
pub(crate) struct Listing<T> {
    /// In offset order, de-duplicated by id (first occurrence kept).
    pub(crate) records: Vec<T>,
    /// Ids of records that could not be parsed (`"<no id>"` if unreadable), de-duplicated.
    pub(crate) unparsable_ids: Vec<String>,
    /// Records received, parsed or not, after de-duplication.
    pub(crate) seen: u64,
}

impl<T> Listing<T> {
    pub(crate) fn empty() -> Self {
        Self {
            records: Vec::new(),
            unparsable_ids: Vec::new(),
            seen: 0,
        }
    }
}

/// The list envelope. Records stay raw JSON text until each is parsed on its own, so one
/// bad record does not spoil its page and no generic JSON tree is ever built.
#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    total: Option<u64>,
    #[serde(default)]
    limit: Option<u64>,
    #[serde(default)]
    data: Vec<Box<RawValue>>,
}

/// Just the id of a record that failed to parse, if even that is readable.
#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

/// One page, parsed into the reduced model.
#[derive(Debug)]
struct Page<T> {
    total: Option<u64>,
    limit: Option<u64>,
    /// How many records the page held, parsed or not.
    len: u64,
    records: Vec<T>,
    bad_ids: Vec<String>,
}

const NO_ID: &str = "<no id>";

async fn fetch_page<T: DeserializeOwned>(
    client: &HumaansClient,
    resource: Resource,
    skip: u64,
    limit: u64,
) -> Result<Page<T>, HumaansError> {
    let path = format!("{}?%24limit={limit}&%24skip={skip}", resource.path());
    let envelope: Envelope = client.get_json(&path).await?;
    let len = envelope.data.len() as u64;
    let mut records = Vec::with_capacity(envelope.data.len());
    let mut bad_ids = Vec::new();
    for raw in envelope.data {
        match serde_json::from_str::<T>(raw.get()) {
            Ok(record) => records.push(record),
            Err(error) => {
                let id = serde_json::from_str::<IdOnly>(raw.get())
                    .map(|r| r.id)
                    .unwrap_or_else(|_| NO_ID.to_owned());
                tracing::warn!(%resource, id, %error, "Skipping a Humaans record that cannot be read.");
                bad_ids.push(id);
            }
        }
    }
    Ok(Page {
        total: envelope.total,
        limit: envelope.limit,
        len,
        records,
        bad_ids,
    })
}

/// Reads the whole listing. If `total` changes while reading, starts over once; a second
/// change fails the listing.
pub(crate) async fn list_all<T>(
    client: &HumaansClient,
    resource: Resource,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Listing<T>, HumaansError>
where
    T: DeserializeOwned + Record + Send + 'static,
{
    match list_once(client, resource, progress).await {
        Err(HumaansError::TotalChanged { first, now, .. }) => {
            tracing::warn!(%resource, first, now, "Humaans listing changed while reading; starting over once.");
            list_once(client, resource, progress).await
        }
        other => other,
    }
}

async fn list_once<T>(
    client: &HumaansClient,
    resource: Resource,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Listing<T>, HumaansError>
where
    T: DeserializeOwned + Record + Send + 'static,
{
    let config = client.config();
    let requested = u64::from(config.effective_page_size());
    let cap = config.max_pages.max(1);
    progress(Progress {
        resource,
        pages_done: 0,
        pages_total: None,
        records: 0,
    });
    let first: Page<T> = fetch_page(client, resource, 0, requested).await?;
    let Some(total) = first.total else {
        // Page by the size the server really applied, or a clamped `$limit` would end the
        // listing after the first page.
        let limit = first
            .limit
            .filter(|l| (1..=requested).contains(l))
            .unwrap_or(requested);
        return list_sequential(client, resource, first, limit, progress).await;
    };
    // The server may clamp `$limit` below what we asked: page by what it really gives.
    let limit = match first.limit {
        Some(l) if (1..=requested).contains(&l) => l,
        _ if first.len > 0 && first.len < requested && first.len < total => first.len,
        _ => requested,
    };
    let pages_total = total.div_ceil(limit).max(1);
    if pages_total > cap {
        return Err(HumaansError::TooManyPages {
            resource,
            cap,
            detail: format!("total {total} at {limit} per page needs {pages_total}"),
        });
    }
    check_page_length(resource, 0, first.len, limit, total)?;

    let mut records_received = first.len;
    let mut pages: Vec<Option<Page<T>>> = (0..pages_total).map(|_| None).collect();
    pages[0] = Some(first);
    let mut done = 1;
    progress(Progress {
        resource,
        pages_done: done,
        pages_total: Some(pages_total),
        records: records_received,
    });

    let concurrency = config.concurrency.max(1);
    let mut next = 1;
    let mut in_flight = JoinSet::new();
    // Dropping the JoinSet on an early return aborts the pages still in flight.
    while done < pages_total {
        while in_flight.len() < concurrency && next < pages_total {
            let index = next;
            let client = client.clone();
            in_flight.spawn(async move {
                let page = fetch_page::<T>(&client, resource, index * limit, limit).await;
                (index, page)
            });
            next += 1;
        }
        let Some(joined) = in_flight.join_next().await else {
            break;
        };
        let (index, page) = joined.map_err(|e| HumaansError::Transport {
            url: client.url(resource.path()),
            message: format!("page task failed: {e}"),
        })?;
        let page = page?;
        let page_total = page.total.unwrap_or(total);
        if page_total != total {
            return Err(HumaansError::TotalChanged {
                resource,
                first: total,
                now: page_total,
            });
        }
        check_page_length(resource, index * limit, page.len, limit, total)?;
        records_received += page.len;
        pages[index as usize] = Some(page);
        done += 1;
        progress(Progress {
            resource,
            pages_done: done,
            pages_total: Some(pages_total),
            records: records_received,
        });
    }
    let listing = assemble(
        resource,
        pages.into_iter().flatten(),
        &client.config().unparsable,
    )?;
    // Every page was full and `total` never moved, yet fewer distinct records arrived: one
    // person was added and another removed while reading, so a record slid between pages
    // unseen. Treat it as a change of the listing (read it again once).
    if listing.seen < total {
        return Err(HumaansError::TotalChanged {
            resource,
            first: total,
            now: listing.seen,
        });
    }
    Ok(listing)
}

/// A page must be full unless it is the last; the last must hold the rest of `total`.
fn check_page_length(
    resource: Resource,
    skip: u64,
    len: u64,
    limit: u64,
    total: u64,
) -> Result<(), HumaansError> {
    let expected = limit.min(total.saturating_sub(skip));
    if len < expected {
        return Err(HumaansError::TruncatedListing {
            resource,
            skip,
            got: len,
            expected,
            total,
        });
    }
    Ok(())
}

/// For a server that sends no `total`: page until a short page, within the page cap.
async fn list_sequential<T>(
    client: &HumaansClient,
    resource: Resource,
    first: Page<T>,
    limit: u64,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Listing<T>, HumaansError>
where
    T: DeserializeOwned + Record + Send + 'static,
{
    let cap = client.config().max_pages.max(1);
    let mut records = first.len;
    let mut last_len = first.len;
    let mut pages = vec![first];
    while last_len >= limit {
        if pages.len() as u64 >= cap {
            return Err(HumaansError::TooManyPages {
                resource,
                cap,
                detail: "the server sends no total and every page is full".into(),
            });
        }
        let skip = pages.len() as u64 * limit;
        let page: Page<T> = fetch_page(client, resource, skip, limit).await?;
        last_len = page.len;
        records += page.len;
        pages.push(page);
        progress(Progress {
            resource,
            pages_done: pages.len() as u64,
            pages_total: None,
            records,
        });
    }
    assemble(resource, pages, &client.config().unparsable)
}

fn assemble<T: Record>(
    resource: Resource,
    pages: impl IntoIterator<Item = Page<T>>,
    threshold: &super::config::UnparsableThreshold,
) -> Result<Listing<T>, HumaansError> {
    let pages: Vec<Page<T>> = pages.into_iter().collect();
    // Sized up front: the records are the bulk of the agent's memory, no doubling.
    let mut records = Vec::with_capacity(pages.iter().map(|p| p.records.len()).sum());
    let mut bad_ids = Vec::new();
    for page in pages {
        records.extend(page.records);
        bad_ids.extend(page.bad_ids);
    }
    // Offset paging shows a record twice when data shifts: keep the first occurrence.
    // The set borrows the ids instead of copying them.
    let keep: Vec<bool> = {
        let mut seen = HashSet::with_capacity(records.len());
        records.iter().map(|r| seen.insert(r.record_id())).collect()
    };
    let mut index = 0;
    records.retain(|_| {
        index += 1;
        keep[index - 1]
    });
    let mut anonymous_bad = 0u64;
    let mut seen_bad = HashSet::new();
    let mut unparsable_ids = Vec::new();
    for id in bad_ids {
        if id == NO_ID {
            anonymous_bad += 1;
            unparsable_ids.push(id);
        } else if seen_bad.insert(id.clone()) {
            unparsable_ids.push(id);
        }
    }
    let bad = unparsable_ids.len() as u64;
    let seen = records.len() as u64 + bad;
    if threshold.exceeded(bad, seen) {
        return Err(HumaansError::TooManyUnparsable {
            resource,
            bad,
            seen,
            sample_ids: unparsable_ids.iter().take(5).cloned().collect(),
        });
    }
    if bad > 0 {
        tracing::warn!(%resource, bad, seen, anonymous_bad, "Some Humaans records could not be read and were left out.");
    }
    Ok(Listing {
        records,
        unparsable_ids,
        seen,
    })
}
