//! Who connected: read from the identity URL (the token response's `id`) with the new access
//! token (salesforce-api.md §1.9).

use http::header::{ACCEPT, AUTHORIZATION};
use oauth2::AccessToken;
use serde::{Deserialize, Serialize};

use crate::salesforce::{self, ApiError, Transport};

/// The Salesforce user a tenant is connected as. Nothing secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub user_id: String,
    pub org_id: String,
    pub username: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
}

#[derive(Deserialize)]
struct IdentityResponse {
    user_id: String,
    organization_id: String,
    username: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
}

/// Why the identity could not be read.
#[derive(Debug)]
pub enum IdentityError {
    Api(ApiError),
    /// A 2xx answer without the fields we need (the body holds no secret, so serde's
    /// message may be shown).
    Unreadable(String),
}

pub fn fetch(
    transport: &dyn Transport,
    id_url: &str,
    token: &AccessToken,
) -> Result<Identity, IdentityError> {
    let request = http::Request::get(id_url)
        .header(AUTHORIZATION, format!("Bearer {}", token.secret()))
        .header(ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|e| IdentityError::Unreadable(format!("bad identity URL ({e})")))?;
    let response = salesforce::send(transport, request).map_err(IdentityError::Api)?;
    let mut reader = serde_json::Deserializer::from_slice(response.body());
    let body: IdentityResponse = serde_path_to_error::deserialize(&mut reader)
        .map_err(|e| IdentityError::Unreadable(e.to_string()))?;
    Ok(Identity {
        user_id: body.user_id,
        org_id: body.organization_id,
        username: body.username,
        email: body.email.filter(|e| !e.is_empty()),
        display_name: body.display_name.filter(|n| !n.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::salesforce::fixtures::fixture;
    use crate::salesforce::replay::ReplayTransport;
    use http::Method;

    const ID_URL: &str = "https://login.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P";

    #[test]
    fn reads_the_identity_with_the_bearer_token() {
        let replay = ReplayTransport::new().expect(
            Method::GET,
            ID_URL,
            200,
            &fixture("identity_url_response_200.postman.json"),
        );
        let identity = fetch(&replay, ID_URL, &AccessToken::new("tok".into())).unwrap();
        assert_eq!(
            identity,
            Identity {
                user_id: "005...".into(),
                org_id: "00D...".into(),
                username: "<username>".into(),
                email: Some("<email>".into()),
                display_name: Some("<display_name>".into()),
            }
        );
        assert_eq!(
            replay.requests()[0].header("authorization"),
            Some("Bearer tok")
        );
        replay.assert_done();
    }

    #[test]
    fn names_what_is_missing() {
        let replay =
            ReplayTransport::new().expect(Method::GET, ID_URL, 200, br#"{"user_id":"005"}"#);
        let err = fetch(&replay, ID_URL, &AccessToken::new("tok".into())).unwrap_err();
        assert!(
            matches!(&err, IdentityError::Unreadable(p) if p.contains("missing field `organization_id`")),
            "{err:?}"
        );
    }
}
