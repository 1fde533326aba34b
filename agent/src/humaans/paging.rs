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

/// A list answer. Records stay raw JSON text until each is parsed on its own, so one bad
/// record does not spoil its page and no generic JSON tree is ever built.
///
/// Feathers services answer a list in one of these shapes, and all are accepted: the
/// envelope `{"total","limit","skip","data"}`; the envelope with `total` of `-1` or without
/// `total` (the count was skipped: page until a short page); a bare JSON array of records
/// (pagination switched off). Unknown members are ignored.
#[derive(Debug, Default)]
pub(crate) struct ListBody {
    /// `None` when missing, negative or not a whole number.
    pub(crate) total: Option<u64>,
    pub(crate) limit: Option<u64>,
    pub(crate) data: Vec<Box<RawValue>>,
    /// The answer was a bare array, not an envelope.
    pub(crate) bare: bool,
}

impl<'de> Deserialize<'de> for ListBody {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ListBodyVisitor)
    }
}

struct ListBodyVisitor;

/// A count that is a whole number of 0 or more; anything else (`-1`, `null`, text) is none.
fn count(value: &serde_json::Value) -> Option<u64> {
    value.as_u64()
}

impl<'de> serde::de::Visitor<'de> for ListBodyVisitor {
    type Value = ListBody;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list envelope {\"total\",\"limit\",\"data\":[..]} or an array of records")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<ListBody, A::Error> {
        let mut data = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(record) = seq.next_element::<Box<RawValue>>()? {
            data.push(record);
        }
        Ok(ListBody {
            data,
            bare: true,
            ..ListBody::default()
        })
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<ListBody, A::Error> {
        let mut body = ListBody::default();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "total" => body.total = count(&map.next_value::<serde_json::Value>()?),
                "limit" => body.limit = count(&map.next_value::<serde_json::Value>()?),
                "data" => {
                    body.data = map
                        .next_value::<Option<Vec<Box<RawValue>>>>()?
                        .unwrap_or_default();
                }
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(body)
    }
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
    /// A bare array, not an envelope.
    bare: bool,
    /// How many records the page held, parsed or not.
    len: u64,
    records: Vec<T>,
    bad_ids: Vec<String>,
}

const NO_ID: &str = "<no id>";

/// The sort order sent with every page: creation time, then id. Offset paging is only
/// stable under an explicit order on a unique key that never changes, and pages are
/// fetched concurrently, so without it a database may hand out pages from different
/// orders and records slip between them.
const SORT_QUERY: &str = "&%24sort%5BcreatedAt%5D=1&%24sort%5Bid%5D=1";

/// Whether to send [`SORT_QUERY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    Sorted,
    /// The server refused the sort (see [`refuses_sort`]).
    Unsorted,
}

async fn fetch_page<T: DeserializeOwned>(
    client: &HumaansClient,
    resource: Resource,
    skip: u64,
    limit: u64,
    order: Order,
) -> Result<Page<T>, HumaansError> {
    let sort = match order {
        Order::Sorted => SORT_QUERY,
        Order::Unsorted => "",
    };
    let path = format!("{}?%24limit={limit}&%24skip={skip}{sort}", resource.path());
    let envelope: ListBody = client.get_json(&path).await?;
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
        bare: envelope.bare,
        len,
        records,
        bad_ids,
    })
}

/// The warning logged (and shown by a dry run) when Humaans refuses the sort order.
fn unsorted_warning(resource: Resource) -> String {
    format!(
        "Humaans refused the sort order (createdAt, id) for {resource}, so the listing was \
         read unsorted; if people are edited while the agent reads, a run may fail with \
         'the {resource} listing changed while it was being read' and the next run retries"
    )
}

/// A 400 whose message names the sort: the server does not accept `$sort` on these keys.
fn refuses_sort(error: &HumaansError) -> bool {
    matches!(error, HumaansError::Rejected { status: 400, message, .. }
        if message.to_ascii_lowercase().contains("sort"))
}

/// Reads the whole listing in a stable order (see [`SORT_QUERY`]); if Humaans refuses the
/// sort, reads it once more without one and adds [`unsorted_warning`] to `warnings`. If
/// `total` changes while reading, starts over once; a second change fails the listing.
pub(crate) async fn list_all<T>(
    client: &HumaansClient,
    resource: Resource,
    progress: &(dyn Fn(Progress) + Sync),
    warnings: &mut Vec<String>,
) -> Result<Listing<T>, HumaansError>
where
    T: DeserializeOwned + Record + Send + 'static,
{
    match list_restarting(client, resource, Order::Sorted, progress).await {
        Err(error) if refuses_sort(&error) => {
            let warning = unsorted_warning(resource);
            tracing::warn!(%resource, %error, "{warning}");
            warnings.push(warning);
            list_restarting(client, resource, Order::Unsorted, progress).await
        }
        other => other,
    }
}

async fn list_restarting<T>(
    client: &HumaansClient,
    resource: Resource,
    order: Order,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Listing<T>, HumaansError>
where
    T: DeserializeOwned + Record + Send + 'static,
{
    match list_once(client, resource, order, progress).await {
        Err(error @ (HumaansError::TotalChanged { .. } | HumaansError::ListingShifted { .. })) => {
            tracing::warn!(%resource, %error, "Humaans listing changed while reading; starting over once.");
            list_once(client, resource, order, progress).await
        }
        other => other,
    }
}

async fn list_once<T>(
    client: &HumaansClient,
    resource: Resource,
    order: Order,
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
    let first: Page<T> = fetch_page(client, resource, 0, requested, order).await?;
    let Some(total) = first.total else {
        // Page by the size the server really applied, or a clamped `$limit` would end the
        // listing after the first page.
        let limit = first
            .limit
            .filter(|l| (1..=requested).contains(l))
            .unwrap_or(requested);
        return list_sequential(client, resource, order, first, limit, progress).await;
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
                let page = fetch_page::<T>(&client, resource, index * limit, limit, order).await;
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

/// For a server that sends no `total` (or `-1`, or a bare array): page until a short page,
/// within the page cap. A page identical to the first ends the listing too: a server that
/// ignores `$skip` (a bare array of everything) would otherwise repeat it until the cap. A
/// page that repeats earlier records in any other way means the order moved while reading
/// ([`HumaansError::ListingShifted`]).
async fn list_sequential<T>(
    client: &HumaansClient,
    resource: Resource,
    order: Order,
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
    let mut ids: HashSet<String> = first
        .records
        .iter()
        .map(|r| r.record_id().to_owned())
        .collect();
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
        let page: Page<T> = fetch_page(client, resource, skip, limit, order).await?;
        let mut new = 0u64;
        for record in &page.records {
            if ids.insert(record.record_id().to_owned()) {
                new += 1;
            }
        }
        let repeated = page.records.len() as u64 - new;
        if repeated > 0 && same_records(&page, &pages[0]) {
            // The first page again, record for record: the server ignores `$skip` and
            // already sent everything.
            tracing::debug!(%resource, skip, bare = page.bare, "A page repeated the first one; the listing is complete.");
            break;
        }
        if repeated > 0 {
            // Some repeats next to new records: records moved between pages, so others
            // may have moved past the reader unseen.
            return Err(HumaansError::ListingShifted {
                resource,
                skip,
                repeated,
            });
        }
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

/// Whether two pages hold the same records in the same order (by id, all parsed).
fn same_records<T: Record>(a: &Page<T>, b: &Page<T>) -> bool {
    a.len == b.len
        && a.bad_ids.is_empty()
        && b.bad_ids.is_empty()
        && a.records
            .iter()
            .map(Record::record_id)
            .eq(b.records.iter().map(Record::record_id))
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
