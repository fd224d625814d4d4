//! Cursor paging: `limit` (1–1000, default 100) and a `cursor` that the
//! previous page returned as `nextCursor`. Paging is by keyset and the cursor
//! is the last item's id in decimal, so the document can say exactly which
//! cursors exist (a pattern) and a generated client can type it. Cursors of
//! earlier releases (base64 of `after:<id>`) are still read.

use super::problem::Problem;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use switchboard_domain::{Id, Page, PageRequest};
use utoipa::{IntoParams, ToSchema};

pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Items per page (default 100).
    #[serde(default, deserialize_with = "super::wire::query_int")]
    #[param(minimum = 1, maximum = 1000, example = 100)]
    pub limit: Option<u32>,
    /// `nextCursor` of the previous page; empty or left out for the first page.
    /// (A positive decimal id of at most 18 digits, so always in range.)
    #[param(pattern = "^([1-9][0-9]{0,17})?$", example = "1042")]
    pub cursor: Option<String>,
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Paged<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; null on the last page.
    #[schema(pattern = "^[1-9][0-9]{0,17}$", example = "1042")]
    pub next_cursor: Option<String>,
}

/// Builds the store's page request from `limit` and `cursor`.
pub fn request(limit: Option<u32>, cursor: Option<&str>) -> Result<PageRequest, Problem> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Problem::bad_request(format!("limit must be between 1 and {MAX_LIMIT}")).with_field("limit"));
    }
    let after = match cursor {
        None | Some("") => 0,
        Some(c) => decode(c).ok_or_else(|| Problem::bad_request("cursor is not one this server issued").with_field("cursor"))?,
    };
    Ok(PageRequest { after, offset: 0, limit })
}

impl ListParams {
    pub fn page(&self) -> Result<PageRequest, Problem> {
        request(self.limit, self.cursor.as_deref())
    }
}

/// Turns a store page into the wire page, with the cursor after its last item.
pub fn paged<T, U>(page: Page<T>, id: impl Fn(&T) -> Id, map: impl Fn(T) -> U) -> Paged<U> {
    let next_cursor = if page.has_more { page.last_id(&id).map(encode) } else { None };
    Paged { items: page.items.into_iter().map(map).collect(), next_cursor }
}

fn encode(after: Id) -> String {
    after.to_string()
}

fn decode(cursor: &str) -> Option<Id> {
    let digits = cursor.bytes().all(|b| b.is_ascii_digit()) && cursor.len() <= 18 && !cursor.starts_with('0');
    let id: Id = if digits {
        cursor.parse().ok()?
    } else {
        // A cursor from an earlier release.
        let raw = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        std::str::from_utf8(&raw).ok()?.strip_prefix("after:")?.parse().ok()?
    };
    (id > 0).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_forgeries() {
        assert_eq!(decode(&encode(42)), Some(42));
        assert_eq!(decode("YWZ0ZXI6NDI"), Some(42), "a cursor of an earlier release");
        assert_eq!(decode("garbage!"), None);
        assert_eq!(decode("042"), None);
        assert_eq!(decode("1234567890123456789"), None, "19 digits is outside the documented pattern");
        assert_eq!(decode(&URL_SAFE_NO_PAD.encode("after:-1")), None);
        assert!(request(Some(0), None).is_err());
        assert!(request(Some(1001), None).is_err());
        assert_eq!(request(None, None).unwrap().limit, DEFAULT_LIMIT);
    }
}
