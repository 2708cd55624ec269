//! `cloudcx-shim status` for people: the plugin's status JSON (host contract §6) as a few
//! lines. `--json` prints the JSON itself, for scripts.

use serde_json::Value;

/// The lines `status` prints for a person.
pub fn summary(status: &Value) -> Vec<String> {
    let tenant = text(&status["tenant_id"]);
    let connection = &status["connection"];
    let mut lines = vec![match text(&connection["state"]).as_str() {
        "connected" => format!(
            "tenant {tenant}: connected to Salesforce as {} (org {}, {}) since {}",
            text(&connection["username"]),
            text(&connection["org_id"]),
            text(&connection["instance_url"]),
            text(&connection["connected_since"]),
        ),
        "needs_reconnect" => format!(
            "tenant {tenant}: must be connected again ({})",
            text(&connection["reason"])
        ),
        "disconnected" => format!("tenant {tenant}: disconnected"),
        _ => format!("tenant {tenant}: not connected to Salesforce"),
    }];
    if status["enabled"] == false {
        lines.push(
            "  no settings applied yet (cloudcx-shim settings --tenant ... --file ...)".into(),
        );
    }
    if let (Some(used), Some(limit)) = (
        connection["api_usage"]["used"].as_u64(),
        connection["api_usage"]["limit"].as_u64(),
    ) {
        lines.push(format!(
            "  Salesforce API calls used today: {used} of {limit}"
        ));
    }
    if let Some(error) = connection["last_error"].as_str() {
        lines.push(format!("  last error: {error}"));
    }
    if connection["revoke_pending"] == true {
        lines.push("  a disconnect's token revoke still waits for Salesforce".into());
    }
    let queue = &status["queue"];
    lines.push(format!(
        "  events: {} written, {} queued, {} failed for good",
        queue["written"], queue["pending"], queue["failed"]
    ));
    if let Some(reason) = queue["held"]["reason"].as_str() {
        let until = queue["held"]["until"]
            .as_str()
            .map(|u| format!(" until {u}"))
            .unwrap_or_default();
        lines.push(format!("  paused{until}: {reason}"));
    }
    for failure in status["failures"].as_array().into_iter().flatten() {
        lines.push(format!(
            "  failed {} {} at {}: {}: {} (cloudcx-shim retry --tenant {tenant} --event {})",
            text(&failure["event_type"]),
            text(&failure["event_id"]),
            text(&failure["failed_at"]),
            text(&failure["error_code"]),
            text(&failure["message"]),
            text(&failure["event_id"]),
        ));
    }
    lines
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn says_who_what_is_queued_why_it_waits_and_what_failed() {
        let status = json!({
            "tenant_id": "acme", "enabled": true,
            "connection": {"state": "connected", "username": "admin@example.com", "org_id": "00D1",
                           "instance_url": "https://acme.my.salesforce.com", "connected_since": "2026-11-25T10:00:00Z",
                           "api_usage": {"used": 120, "limit": 15000}, "last_error": null, "revoke_pending": false},
            "queue": {"pending": 2, "written": 40, "failed": 1,
                      "held": {"reason": "the org has used 95% of its daily API calls", "until": "2026-11-25T10:15:00Z"}},
            "failures": [{"event_type": "chat.ended", "event_id": "c9", "failed_at": "2026-11-25T09:00:00Z",
                          "error_code": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [Status]"}]
        });
        assert_eq!(
            summary(&status),
            [
                "tenant acme: connected to Salesforce as admin@example.com (org 00D1, https://acme.my.salesforce.com) since 2026-11-25T10:00:00Z",
                "  Salesforce API calls used today: 120 of 15000",
                "  events: 40 written, 2 queued, 1 failed for good",
                "  paused until 2026-11-25T10:15:00Z: the org has used 95% of its daily API calls",
                "  failed chat.ended c9 at 2026-11-25T09:00:00Z: REQUIRED_FIELD_MISSING: Required fields are missing: [Status] (cloudcx-shim retry --tenant acme --event c9)",
            ]
        );
    }

    #[test]
    fn an_unconnected_tenant_without_settings() {
        let status = json!({"tenant_id": "t", "enabled": false, "connection": {"state": "not_connected"},
                            "queue": {"pending": 6, "written": 0, "failed": 0, "held": null}, "failures": []});
        assert_eq!(
            summary(&status),
            [
                "tenant t: not connected to Salesforce",
                "  no settings applied yet (cloudcx-shim settings --tenant ... --file ...)",
                "  events: 0 written, 6 queued, 0 failed for good",
            ]
        );
    }
}
