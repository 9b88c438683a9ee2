//! Exports that stream (`GET /leads.csv`, `GET /v1/leads`): the leads leave a page at a time,
//! read from the store by keyset on the list's own order (newest first, `before` the last id
//! sent), so the relay holds one page in memory however many leads there are, and the first
//! byte leaves after one page (500 leads) is read, whatever the total.
//!
//! A store that fails on the first page gets its 503 like any route; after that the status
//! line has left, so a failure halfway cannot become a 5xx any more: the relay logs it and cuts the body short (the client sees a truncated
//! transfer, never a file that looks complete).

use axum::body::{Body, Bytes};
use futures_util::{stream, StreamExt};

use crate::dashboard::{push_csv_line, CSV_HEADER};
use crate::logline::{log, Level};
use crate::store::{LeadQuery, Store, StoreError, StoredLead};

/// Leads per page read from the store.
pub const PAGE: u32 = 500;

/// How an export writes its leads.
#[derive(Debug, Clone, Copy)]
pub(super) enum Format {
    /// The dashboard's CSV ([`CSV_HEADER`], one line a lead).
    Csv,
    /// A JSON array of [`StoredLead`]s, as `GET /v1/leads` has always answered.
    Json,
}

impl Format {
    fn head(self) -> &'static str {
        match self {
            Format::Csv => CSV_HEADER,
            Format::Json => "[",
        }
    }

    fn tail(self) -> &'static str {
        match self {
            Format::Csv => "",
            Format::Json => "]",
        }
    }

    fn push(self, out: &mut String, lead: &StoredLead, first: bool) {
        match self {
            Format::Csv => push_csv_line(out, lead),
            Format::Json => {
                if !first {
                    out.push(',');
                }
                // A StoredLead is plain data: serializing it cannot fail.
                if let Ok(json) = serde_json::to_string(lead) {
                    out.push_str(&json);
                }
            }
        }
    }
}

/// Where an export is.
struct Cursor {
    store: Store,
    query: LeadQuery,
    format: Format,
    /// Leads still wanted (`?limit=`), if limited.
    left: Option<u32>,
    /// A lead has been written (the JSON array's next element needs a comma).
    any: bool,
    /// The tail has been sent (or the store failed).
    done: bool,
}

impl Cursor {
    /// How many leads the next page asks for (0: none left).
    fn wanted(&self) -> u32 {
        self.left.map_or(PAGE, |left| left.min(PAGE))
    }

    /// The next page from the store (none once `?limit=` leads were read).
    async fn page(&self) -> Result<Vec<StoredLead>, StoreError> {
        match self.wanted() {
            0 => Ok(Vec::new()),
            limit => self.store.list(LeadQuery { limit: Some(limit), ..self.query.clone() }).await,
        }
    }

    /// `leads` written out, and the cursor moved past them; the tail after the last page.
    fn write(&mut self, leads: &[StoredLead], out: &mut String) {
        let last_page = (leads.len() as u32) < self.wanted();
        for lead in leads {
            self.format.push(out, lead, !self.any);
            self.any = true;
        }
        if let Some(left) = self.left.as_mut() {
            *left = left.saturating_sub(leads.len() as u32);
        }
        if let Some(last) = leads.last() {
            self.query.before = Some(last.id.clone());
        }
        if last_page || self.left == Some(0) {
            out.push_str(self.format.tail());
            self.done = true;
        }
    }
}

/// The body of an export of the leads `query` selects (its `limit` and `before` honoured).
/// The first page is read before anything is sent, so a store that fails at once still gets
/// its 503; after that, a page at a time as the client reads.
pub(super) async fn body(
    store: Store,
    query: LeadQuery,
    format: Format,
) -> Result<Body, StoreError> {
    let left = query.limit;
    let mut cursor = Cursor { store, query, format, left, any: false, done: false };
    let leads = cursor.page().await?;
    let mut first = String::from(format.head());
    cursor.write(&leads, &mut first);
    let first = stream::once(std::future::ready(Ok(Bytes::from(first))));
    Ok(Body::from_stream(first.chain(stream::unfold(cursor, next))))
}

async fn next(mut c: Cursor) -> Option<(Result<Bytes, StoreError>, Cursor)> {
    if c.done {
        return None;
    }
    match c.page().await {
        Ok(leads) => {
            let mut out = String::new();
            c.write(&leads, &mut out);
            Some((Ok(Bytes::from(out)), c))
        }
        Err(e) => {
            log(Level::Error, "export.failed", &[("error", &e)]);
            c.done = true;
            Some((Err(e), c))
        }
    }
}
