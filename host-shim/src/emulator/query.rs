//! `GET /query?q=`, `GET /queryAll?q=` (deleted records too) and their pages
//! (`nextRecordsUrl`, salesforce-api.md §2.9). The SOQL itself is [`super::soql`]'s.

use serde_json::{json, Value};

use super::data::Ctx;
use super::error::ApiError;
use super::soql;
use super::store::{Org, WithDeleted};
use super::wire::Reply;

/// The page size a request asks for with `Sforce-Query-Options: batchSize=N` (200 to 2,000).
pub fn batch_size(header: Option<&str>, default: usize) -> usize {
    header
        .and_then(|h| {
            h.split(',')
                .find_map(|part| part.trim().strip_prefix("batchSize="))
        })
        .and_then(|n| n.trim().parse::<usize>().ok())
        .map_or(default, |n| n.clamp(200, 2000))
}

fn page(ctx: &Ctx, query_id: &str, rows: &[Value], offset: usize, batch: usize) -> Value {
    let end = (offset + batch).min(rows.len());
    let mut out = json!({"totalSize": rows.len(), "done": end >= rows.len()});
    if end < rows.len() {
        out["nextRecordsUrl"] = json!(format!(
            "/services/data/{}/query/{query_id}-{end}",
            ctx.version
        ));
    }
    out["records"] = json!(rows[offset.min(end)..end]);
    out
}

/// Runs a query and answers its first page; `with_deleted` for `queryAll`, which also
/// returns deleted records.
pub fn run(org: &Org, ctx: &Ctx, q: Option<&str>, with_deleted: bool) -> Result<Reply, ApiError> {
    let q = q.filter(|q| !q.trim().is_empty()).ok_or_else(|| {
        ApiError::bad_request("MALFORMED_QUERY", "A query string has to be specified")
    })?;
    let all = WithDeleted(org);
    let catalog: &dyn soql::Catalog = if with_deleted { &all } else { org };
    let rows = soql::execute(catalog, q, &ctx.version)
        .map_err(|e| ApiError::bad_request(e.error_code, e.message))?;
    if let Some(count) = rows.count {
        return Ok(Reply::json(
            200,
            json!({"totalSize": count, "done": true, "records": []}),
        ));
    }
    let batch = ctx.batch_size;
    if rows.records.len() <= batch {
        return Ok(Reply::json(200, page(ctx, "", &rows.records, 0, batch)));
    }
    let body = {
        let mut cursors = ctx.shared.cursors.lock();
        let id = cursors.add(rows.records, batch);
        let cursor = &cursors.open[&id];
        page(ctx, &id, &cursor.rows, 0, batch)
    };
    Ok(Reply::json(200, body))
}

/// `GET /query/{queryId}-{offset}`.
pub fn next_page(ctx: &Ctx, locator: &str) -> Result<Reply, ApiError> {
    let invalid = || ApiError::bad_request("INVALID_QUERY_LOCATOR", "invalid query locator");
    let (id, offset) = locator.rsplit_once('-').ok_or_else(invalid)?;
    let offset: usize = offset.parse().map_err(|_| invalid())?;
    let cursors = ctx.shared.cursors.lock();
    let cursor = cursors
        .open
        .get(id)
        .filter(|c| offset < c.rows.len())
        .ok_or_else(invalid)?;
    Ok(Reply::json(
        200,
        page(ctx, id, &cursor.rows, offset, cursor.batch),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_size_is_clamped() {
        assert_eq!(batch_size(None, 2000), 2000);
        assert_eq!(batch_size(Some("batchSize=500"), 2000), 500);
        assert_eq!(batch_size(Some("batchSize=5"), 2000), 200);
        assert_eq!(batch_size(Some("batchSize=9000"), 2000), 2000);
        assert_eq!(batch_size(Some("junk"), 300), 300);
    }
}
