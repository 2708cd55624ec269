//! The data API under `/services/data/vNN.N/`: routing of one request (top-level or a
//! composite subrequest) to its handler, with the org locked by the caller.

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::composite;
use super::error::ApiError;
use super::query;
use super::shared::Shared;
use super::sobjects;
use super::store::Org;
use super::wire::{percent_decode, Reply};

/// The oldest and newest API versions served (v62.0 = Winter '25).
pub const OLDEST: u32 = 21;
pub const LATEST: u32 = 62;

/// Who calls, and under which version.
pub struct Ctx<'a> {
    pub shared: &'a Shared,
    /// `v62.0`.
    pub version: String,
    pub user_id: String,
    /// `Sforce-Duplicate-Rule-Header: allowSave=true`.
    pub allow_save: bool,
    /// Query page size.
    pub batch_size: usize,
    /// Inside a composite request (which cannot nest).
    pub in_composite: bool,
    /// `If-Modified-Since`: describe answers 304 when the schema is no newer.
    pub if_modified_since: Option<OffsetDateTime>,
}

/// One data request, with the path after the version (`sobjects/Lead/00Q…`), still
/// percent-encoded.
pub struct Call<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a [(String, String)],
    pub body: Option<&'a Value>,
}

impl Call<'_> {
    pub fn param(&self, name: &str) -> Option<&str> {
        super::wire::param(self.query, name)
    }

    /// The body as a JSON object, or Salesforce's parse error.
    pub fn object(&self) -> Result<&Map<String, Value>, ApiError> {
        match self.body {
            Some(Value::Object(map)) => Ok(map),
            Some(other) => Err(ApiError::json_parse(format!(
                "Cannot deserialize instance of SObject from {} value or request may be missing a required field",
                if other.is_array() { "START_ARRAY" } else { "VALUE_STRING" }
            ))),
            None => Err(ApiError::json_parse("No content to map due to end-of-input")),
        }
    }
}

/// A version segment (`v62.0`, or `latest`) as served, or `None` for an unknown version.
pub fn version(segment: &str) -> Option<String> {
    if segment == "latest" {
        return Some(format!("v{LATEST}.0"));
    }
    let major: u32 = segment
        .strip_prefix('v')?
        .strip_suffix(".0")?
        .parse()
        .ok()?;
    (OLDEST..=LATEST)
        .contains(&major)
        .then(|| segment.to_string())
}

/// A served version's major number (`v62.0` → 62).
pub fn major(version: &str) -> u32 {
    version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or_default()
}

/// `GET /services/data/`: every version served, with its release label.
pub fn versions() -> Value {
    let list: Vec<Value> = (OLDEST..=LATEST)
        .map(|v| {
            let i = v - OLDEST;
            let season = ["Spring", "Summer", "Winter"][(i % 3) as usize];
            let year = 11 + i / 3 + u32::from(season == "Winter");
            // Salesforce's own list spells v42.0 "Spring ’18", with a typographic apostrophe.
            let apostrophe = if v == 42 { '’' } else { '\'' };
            json!({"label": format!("{season} {apostrophe}{year:02}"), "url": format!("/services/data/v{v}.0"), "version": format!("{v}.0")})
        })
        .collect();
    Value::Array(list)
}

/// Handles one data request.
pub fn handle(org: &mut Org, ctx: &Ctx, call: &Call) -> Reply {
    let decoded: Vec<String> = call
        .path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let segments: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let result = match (call.method, segments.as_slice()) {
        ("GET", []) => Ok(resources(ctx, org)),
        ("GET", ["limits"]) => Ok(limits(ctx)),
        ("GET", ["limits", "recordCount"]) => record_count(org, ctx, call.param("sObjects")),
        (_, ["limits", "recordCount"]) => Err(ApiError::method_not_allowed(call.method, "GET")),
        ("GET", ["sobjects"]) => Ok(sobjects::describe_global(org, ctx)),
        (_, ["sobjects", object, rest @ ..]) => sobjects::route(org, ctx, call, object, rest),
        ("GET", ["query"]) => query::run(org, ctx, call.param("q"), false),
        ("GET", ["queryAll"]) => query::run(org, ctx, call.param("q"), true),
        ("GET", ["query" | "queryAll", locator]) => query::next_page(ctx, locator),
        ("POST", ["composite"]) if !ctx.in_composite => composite::composite(org, ctx, call),
        ("POST", ["composite", "graph"]) if !ctx.in_composite => composite::graph(org, ctx, call),
        ("POST", ["composite", "batch"]) if !ctx.in_composite => composite::batch(org, ctx, call),
        ("POST", ["composite", "tree", object]) if !ctx.in_composite => {
            composite::tree(org, ctx, call, object)
        }
        (_, ["composite", "sobjects", rest @ ..]) => composite::collections(org, ctx, call, rest),
        (_, [] | ["limits"] | ["sobjects"] | ["query" | "queryAll", ..]) => {
            return Reply::error(&ApiError::method_not_allowed(call.method, "GET"))
        }
        _ => Err(ApiError::not_found()),
    };
    result.unwrap_or_else(|e| Reply::error(&e))
}

/// `GET /services/data/vNN.N/`: resource name to path.
fn resources(ctx: &Ctx, org: &Org) -> Reply {
    let v = &ctx.version;
    let mut out = Map::new();
    for name in [
        "tooling",
        "metadata",
        "eclair",
        "folders",
        "prechatForms",
        "chatter",
        "tabs",
        "appMenu",
        "quickActions",
        "queryAll",
        "commerce",
        "wave",
        "search",
        "identity",
        "composite",
        "parameterizedSearch",
        "theme",
        "nouns",
        "recent",
        "licensing",
        "limits",
        "process",
        "async-queries",
        "query",
        "match",
        "emailConnect",
        "compactLayouts",
        "knowledgeManagement",
        "sobjects",
        "actions",
        "support",
    ] {
        let value = if name == "identity" {
            ctx.shared.hosts.identity_url(&org.org_id, &ctx.user_id)
        } else {
            format!("/services/data/{v}/{name}")
        };
        out.insert(name.to_string(), json!(value));
    }
    Reply::json(200, Value::Object(out))
}

/// Org limits other than the API budget, as a Developer Edition org reports them.
const LIMITS: &[(&str, u64, u64)] = &[
    ("ActiveScratchOrgs", 3, 3),
    ("AnalyticsExternalDataSizeMB", 40960, 40960),
    ("ConcurrentAsyncGetReportInstances", 200, 200),
    ("ConcurrentEinsteinDataInsightsStoryCreation", 5, 5),
    ("ConcurrentEinsteinDiscoveryStoryCreation", 2, 2),
    ("ConcurrentSyncReportRuns", 20, 20),
    ("DailyAnalyticsDataflowJobExecutions", 60, 60),
    ("DailyAnalyticsUploadedFilesSizeMB", 51200, 51200),
    ("DailyAsyncApexExecutions", 250000, 250000),
    ("DailyAsyncApexTests", 540, 540),
    ("DailyBulkApiBatches", 15000, 15000),
    ("DailyBulkV2QueryFileStorageMB", 976562, 976562),
    ("DailyBulkV2QueryJobs", 10000, 10000),
    ("DailyDeliveredPlatformEvents", 10000, 10000),
    ("DailyDurableGenericStreamingApiEvents", 10000, 10000),
    ("DailyDurableStreamingApiEvents", 10000, 10000),
    ("DailyEinsteinDataInsightsStoryCreation", 1000, 1000),
    ("DailyEinsteinDiscoveryOptimizationJobRuns", 25, 25),
    ("DailyEinsteinDiscoveryPredictAPICalls", 50000, 50000),
    ("DailyEinsteinDiscoveryPredictionsByCDC", 500000, 500000),
    ("DailyEinsteinDiscoveryStoryCreation", 100, 100),
    ("DailyFunctionsApiCallLimit", 50000, 50000),
    ("DailyGenericStreamingApiEvents", 10000, 10000),
    ("DailyScratchOrgs", 6, 6),
    ("DailyStandardVolumePlatformEvents", 10000, 10000),
    ("DailyStreamingApiEvents", 10000, 10000),
    ("DailyWorkflowEmails", 405, 405),
    ("DataStorageMB", 5, 5),
    ("DurableStreamingApiConcurrentClients", 20, 20),
    ("FileStorageMB", 20, 20),
    ("HourlyAsyncReportRuns", 1200, 1200),
    ("HourlyDashboardRefreshes", 200, 200),
    ("HourlyDashboardResults", 5000, 5000),
    ("HourlyDashboardStatuses", 999999999, 999999999),
    ("HourlyLongTermIdMapping", 100000, 100000),
    ("HourlyManagedContentPublicRequests", 50000, 50000),
    ("HourlyODataCallout", 1000, 1000),
    ("HourlyPublishedPlatformEvents", 50000, 50000),
    ("HourlyPublishedStandardVolumePlatformEvents", 1000, 1000),
    ("HourlyShortTermIdMapping", 100000, 100000),
    ("HourlySyncReportRuns", 500, 500),
    ("HourlyTimeBasedWorkflow", 50, 50),
    ("MassEmail", 10, 10),
    ("MonthlyEinsteinDiscoveryStoryCreation", 500, 500),
    ("Package2VersionCreates", 6, 6),
    ("Package2VersionCreatesWithoutValidation", 500, 500),
    ("PrivateConnectOutboundCalloutHourlyLimitMB", 0, 0),
    ("PublishCallbackUsageInApex", 5242880, 5242880),
    ("SingleEmail", 15, 15),
    ("StreamingApiConcurrentClients", 20, 20),
];

/// `GET /limits`: each limit as `{Max, Remaining}`, the API budget live.
fn limits(ctx: &Ctx) -> Reply {
    use std::sync::atomic::Ordering;
    let max = ctx.shared.usage.max.load(Ordering::SeqCst);
    let used = ctx.shared.usage.used.load(Ordering::SeqCst);
    let mut out = Map::new();
    for (name, limit_max, remaining) in LIMITS {
        out.insert(
            name.to_string(),
            json!({"Max": limit_max, "Remaining": remaining}),
        );
    }
    out.insert(
        "DailyApiRequests".into(),
        json!({"Max": max, "Remaining": max.saturating_sub(used)}),
    );
    out.insert(
        "PermissionSets".into(),
        json!({"Max": 1500, "Remaining": 1500, "CreateCustom": {"Max": 1000, "Remaining": 1000}}),
    );
    out.sort_keys();
    Reply::json(200, Value::Object(out))
}

/// `GET /limits/recordCount[?sObjects=A,B]` (v40+, salesforce-api.md §4.5): live records per
/// object, for the objects named (unknown ones left out) or for every object.
fn record_count(org: &Org, ctx: &Ctx, names: Option<&str>) -> Result<Reply, ApiError> {
    if major(&ctx.version) < 40 {
        return Err(ApiError::not_found());
    }
    let objects: Vec<&str> = match names {
        Some(list) => list
            .split(',')
            .filter_map(|n| org.schema.object(n.trim()))
            .map(|o| o.name.as_str())
            .collect(),
        None => org.schema.objects.iter().map(|o| o.name.as_str()).collect(),
    };
    let counts: Vec<Value> = objects
        .into_iter()
        .map(|name| json!({"count": org.live_records(name).count(), "name": name}))
        .collect();
    Ok(Reply::json(200, json!({ "sObjects": counts })))
}
