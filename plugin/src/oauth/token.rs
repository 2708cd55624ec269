//! The token endpoint through the `oauth2` crate, over the [`Transport`] seam (never oauth2's
//! own `ureq` feature: it is ureq 2 and turns a 400 `invalid_grant` into a network error).
//! Also the revoke endpoint, a plain form POST.

use std::cell::Cell;

use http::header::CONTENT_TYPE;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::url::form_urlencoded;
use oauth2::{
    AccessToken, AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EndpointNotSet, EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, StandardRevocableToken, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};

use super::settings::ServerUrl;
use crate::salesforce::{self, ApiError, SalesforceError, Transport, TransportError};

const AUTHORIZE_PATH: &str = "/services/oauth2/authorize";
const TOKEN_PATH: &str = "/services/oauth2/token";
const REVOKE_PATH: &str = "/services/oauth2/revoke";
/// `api` for the REST API, `refresh_token` to stay connected past the session timeout.
const SCOPES: [&str; 2] = ["api", "refresh_token"];
/// 32 random bytes: well past guessing.
const STATE_BYTES: u32 = 32;

/// A connected app as the token endpoint needs it.
#[derive(Debug, Clone)]
pub struct App {
    pub client_id: String,
    pub client_secret: ClientSecret,
    pub login_url: ServerUrl,
}

/// Salesforce's token response: `instance_url`, `id`, `issued_at` (milliseconds, as a
/// string) and `signature` besides the standard fields, and no `expires_in` (a session lasts
/// the org's timeout and ends in a 401). `token_type` is always Bearer and some responses omit
/// it, so it is not read.
#[derive(Debug, Serialize, Deserialize)]
pub struct SalesforceToken {
    access_token: AccessToken,
    #[serde(skip, default = "bearer")]
    token_type: BasicTokenType,
    #[serde(default)]
    refresh_token: Option<RefreshToken>,
    pub instance_url: String,
    /// The identity URL.
    pub id: String,
    #[serde(default)]
    pub issued_at: Option<String>,
    #[serde(default)]
    pub signature: Option<String>,
}

fn bearer() -> BasicTokenType {
    BasicTokenType::Bearer
}

impl TokenResponse for SalesforceToken {
    type TokenType = BasicTokenType;

    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }
    fn token_type(&self) -> &BasicTokenType {
        &self.token_type
    }
    fn expires_in(&self) -> Option<std::time::Duration> {
        None
    }
    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }
    fn scopes(&self) -> Option<&Vec<Scope>> {
        None
    }
}

type Client = oauth2::Client<
    BasicErrorResponse,
    SalesforceToken,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// Why the token endpoint gave no token.
#[derive(Debug)]
pub enum TokenError {
    Api(ApiError),
    /// A 200 that is not a token response (what is wrong, never the body).
    Unreadable(String),
    /// An endpoint URL could not be built from the login URL.
    Endpoint(String),
}

fn client(app: &App, redirect_url: &RedirectUrl) -> Result<Client, TokenError> {
    let url = |path| app.login_url.join(path);
    let bad = |e: oauth2::url::ParseError| TokenError::Endpoint(e.to_string());
    Ok(oauth2::Client::new(ClientId::new(app.client_id.clone()))
        .set_client_secret(app.client_secret.clone())
        // Salesforce documents credentials in the body; oauth2 defaults to Basic.
        .set_auth_type(AuthType::RequestBody)
        .set_auth_uri(AuthUrl::new(url(AUTHORIZE_PATH)).map_err(bad)?)
        .set_token_uri(TokenUrl::new(url(TOKEN_PATH)).map_err(bad)?)
        .set_redirect_uri(redirect_url.clone()))
}

/// The authorize URL, its one-time `state`, and the PKCE verifier when `pkce` is on.
pub fn authorize_url(
    app: &App,
    redirect_url: &RedirectUrl,
    pkce: bool,
) -> Result<(String, CsrfToken, Option<PkceCodeVerifier>), TokenError> {
    let client = client(app, redirect_url)?;
    let mut request = client
        .authorize_url(|| CsrfToken::new_random_len(STATE_BYTES))
        .add_scopes(SCOPES.map(|s| Scope::new(s.to_string())));
    let mut verifier = None;
    if pkce {
        let (challenge, secret) = PkceCodeChallenge::new_random_sha256();
        request = request.set_pkce_challenge(challenge);
        verifier = Some(secret);
    }
    let (url, state) = request.url();
    Ok((url.into(), state, verifier))
}

pub fn exchange_code(
    transport: &dyn Transport,
    app: &App,
    redirect_url: &RedirectUrl,
    code: AuthorizationCode,
    verifier: Option<PkceCodeVerifier>,
) -> Result<SalesforceToken, TokenError> {
    let client = client(app, redirect_url)?;
    let mut request = client.exchange_code(code);
    if let Some(verifier) = verifier {
        request = request.set_pkce_verifier(verifier);
    }
    token_request(transport, |http| request.request(http))
}

pub fn refresh(
    transport: &dyn Transport,
    app: &App,
    redirect_url: &RedirectUrl,
    refresh_token: &RefreshToken,
) -> Result<SalesforceToken, TokenError> {
    let client = client(app, redirect_url)?;
    token_request(transport, |http| {
        client.exchange_refresh_token(refresh_token).request(http)
    })
}

/// Revokes `token` (and every access token issued with it).
pub fn revoke(
    transport: &dyn Transport,
    login_url: &ServerUrl,
    token: &RefreshToken,
) -> Result<(), ApiError> {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("token", token.secret())
        .finish();
    let request = http::Request::post(login_url.join(REVOKE_PATH))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body.into_bytes())
        .map_err(|e| {
            ApiError::Transport(TransportError::new(
                salesforce::TransportErrorKind::InvalidRequest,
                e.to_string(),
            ))
        })?;
    salesforce::send(transport, request).map(|_| ())
}

/// oauth2's HTTP client over our transport. It remembers the status, which oauth2 drops when
/// it cannot parse an error page (a proxy's 503, say).
struct RecordingClient<'a> {
    transport: &'a dyn Transport,
    status: Cell<http::StatusCode>,
}

impl oauth2::SyncHttpClient for RecordingClient<'_> {
    type Error = TransportError;

    fn call(&self, request: oauth2::HttpRequest) -> Result<oauth2::HttpResponse, TransportError> {
        let response = self.transport.send(request)?;
        self.status.set(response.status());
        Ok(response)
    }
}

type TokenResult = Result<SalesforceToken, RequestTokenError<TransportError, BasicErrorResponse>>;

fn token_request(
    transport: &dyn Transport,
    run: impl FnOnce(&RecordingClient) -> TokenResult,
) -> Result<SalesforceToken, TokenError> {
    let http = RecordingClient {
        transport,
        status: Cell::new(http::StatusCode::OK),
    };
    run(&http).map_err(|error| {
        let status = http.status.get();
        match error {
            RequestTokenError::Request(e) => TokenError::Api(ApiError::Transport(e)),
            RequestTokenError::ServerResponse(e) => {
                TokenError::Api(ApiError::Salesforce(SalesforceError {
                    status: status.as_u16(),
                    code: Some(e.error().as_ref().to_string()),
                    message: e
                        .error_description()
                        .cloned()
                        .unwrap_or_else(|| e.error().as_ref().to_string()),
                    fields: Vec::new(),
                }))
            }
            // The body of a 200 holds the tokens: say where it went wrong, never what.
            RequestTokenError::Parse(e, _) if status.is_success() => TokenError::Unreadable(
                format!("the token response is not readable at {}", e.path()),
            ),
            RequestTokenError::Parse(_, body) => TokenError::Api(ApiError::Salesforce(
                SalesforceError::from_response(status, &body),
            )),
            RequestTokenError::Other(message) if status.is_success() => {
                TokenError::Unreadable(message)
            }
            RequestTokenError::Other(_) => TokenError::Api(ApiError::Salesforce(
                SalesforceError::from_response(status, b""),
            )),
        }
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::salesforce::fixtures::fixture;
    use crate::salesforce::loopback::{response, OneShot};
    use crate::salesforce::{Disposition, TransportConfig, UreqTransport};

    const JSON: (&str, &str) = ("Content-Type", "application/json;charset=UTF-8");

    fn app(server: &OneShot) -> App {
        App {
            client_id: "3MVG9client".into(),
            client_secret: ClientSecret::new("client-secret".into()),
            login_url: ServerUrl::parse(&server.base_url).unwrap(),
        }
    }

    fn ureq() -> UreqTransport {
        UreqTransport::new(TransportConfig {
            overall_timeout: Duration::from_secs(5),
            ..TransportConfig::default()
        })
    }

    /// The production path: oauth2 over the ureq transport, against a real socket.
    #[test]
    fn exchanges_a_code_over_ureq() {
        let server = OneShot::start(
            Some(response(
                "200 OK",
                &[JSON],
                &fixture("oauth_token_response.restforce.json"),
            )),
            Duration::ZERO,
        );
        let token = exchange_code(
            &ureq(),
            &app(&server),
            &RedirectUrl::new("https://cx.example.com/cb".into()).unwrap(),
            AuthorizationCode::new("the-code".into()),
            None,
        )
        .unwrap();
        assert_eq!(token.instance_url, "https://na1.salesforce.com");
        assert_eq!(token.issued_at.as_deref(), Some("1278448832702"));
        assert!(token
            .access_token()
            .secret()
            .starts_with("00Dx0000000BV7z!"));
        assert_eq!(token.expires_in(), None);
        let request = server.request();
        assert!(
            request.starts_with("POST /services/oauth2/token HTTP/1.1"),
            "{request}"
        );
        assert!(request
            .to_ascii_lowercase()
            .contains("content-type: application/x-www-form-urlencoded"));
        assert!(
            request.contains("grant_type=authorization_code"),
            "{request}"
        );
        assert!(request.contains("client_secret=client-secret"), "{request}");
    }

    /// What oauth2's own ureq 2 adapter gets wrong: a 400 `invalid_grant` must stay a
    /// Salesforce answer, not become a network error.
    #[test]
    fn invalid_grant_over_ureq_is_salesforce_s_answer() {
        let server = OneShot::start(
            Some(response(
                "400 Bad Request",
                &[JSON],
                &fixture("oauth_error_invalid_grant_expired_refresh_token.restforce.json"),
            )),
            Duration::ZERO,
        );
        let err = refresh(
            &ureq(),
            &app(&server),
            &RedirectUrl::new("https://cx.example.com/cb".into()).unwrap(),
            &RefreshToken::new("rt".into()),
        )
        .unwrap_err();
        server.request();
        match err {
            TokenError::Api(ApiError::Salesforce(e)) => {
                assert_eq!((e.status, e.code.as_deref()), (400, Some("invalid_grant")));
                assert_eq!(e.message, "expired access/refresh token");
                assert_eq!(e.disposition(), Disposition::Permanent);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn revokes_with_a_form_post_over_ureq() {
        let server = OneShot::start(Some(response("200 OK", &[], b"")), Duration::ZERO);
        revoke(
            &ureq(),
            &ServerUrl::parse(&server.base_url).unwrap(),
            &RefreshToken::new("5Aep+/=".into()),
        )
        .unwrap();
        let request = server.request();
        assert!(
            request.starts_with("POST /services/oauth2/revoke HTTP/1.1"),
            "{request}"
        );
        assert!(
            request.ends_with("\r\n\r\ntoken=5Aep%2B%2F%3D"),
            "{request}"
        );
    }
}
