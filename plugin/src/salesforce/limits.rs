//! The org's daily API usage, from the `Sforce-Limit-Info` header Salesforce sends on every
//! REST response (salesforce-api.md §4.4).

use serde::{Deserialize, Serialize};

pub const LIMIT_INFO_HEADER: &str = "sforce-limit-info";

/// `api-usage=used/limit`: calls used in the rolling 24 hours, and the org's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiUsage {
    pub used: u64,
    pub limit: u64,
}

impl ApiUsage {
    /// Reads a header value such as `api-usage=10018/100000; api-bursts=1/750`; other
    /// segments are ignored, as is a value without a well-formed `api-usage`.
    pub fn parse(value: &str) -> Option<ApiUsage> {
        value.split(';').find_map(|segment| {
            let counts = segment.trim().strip_prefix("api-usage=")?;
            let (used, limit) = counts.split_once('/')?;
            Some(ApiUsage {
                used: used.trim().parse().ok()?,
                limit: limit.trim().parse().ok()?,
            })
        })
    }

    /// The usage a response reports, if it carries the header.
    pub fn from_headers(headers: &http::HeaderMap) -> Option<ApiUsage> {
        headers
            .get_all(LIMIT_INFO_HEADER)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(ApiUsage::parse)
    }

    /// The share of the limit used, in percent; `None` for an org that reports no limit.
    pub fn percent_used(&self) -> Option<f64> {
        (self.limit > 0).then(|| self.used as f64 * 100.0 / self.limit as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_forms() {
        let usage = |s| ApiUsage::parse(s);
        assert_eq!(
            usage("api-usage=18/5000"),
            Some(ApiUsage {
                used: 18,
                limit: 5000
            })
        );
        assert_eq!(
            usage("api-usage=10018/100000; api-bursts=1/750"),
            Some(ApiUsage {
                used: 10018,
                limit: 100000
            })
        );
        assert_eq!(
            usage("per-app-api-usage=17/250(appName=x); api-usage=25/5000"),
            Some(ApiUsage {
                used: 25,
                limit: 5000
            })
        );
        assert_eq!(usage("api-usage=/5000"), None);
        assert_eq!(usage("api-usage=-1/5000"), None);
        assert_eq!(usage("api-bursts=1/750"), None);
        assert_eq!(usage(""), None);
    }

    #[test]
    fn reads_the_header_case_insensitively_and_computes_the_share() {
        let response = http::Response::builder()
            .header("Sforce-Limit-Info", "api-usage=4500/5000")
            .body(())
            .unwrap();
        let usage = ApiUsage::from_headers(response.headers()).unwrap();
        assert_eq!(usage.percent_used(), Some(90.0));
        assert_eq!(ApiUsage { used: 1, limit: 0 }.percent_used(), None);
    }
}
