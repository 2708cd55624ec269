//! Real Salesforce response bodies (see `testdata/README.md`), compiled into the tests.

macro_rules! fixtures {
    ($($name:literal),* $(,)?) => {
        /// The body of the named fixture; panics on an unknown name (a test bug).
        pub fn fixture(name: &str) -> Vec<u8> {
            match name {
                $($name => include_bytes!(concat!("testdata/", $name)).to_vec(),)*
                other => panic!("no fixture named {other}"),
            }
        }
    };
}

fixtures!(
    "oauth_token_response.restforce.json",
    "oauth_refresh_token_response_no_refresh_token.restforce.json",
    "oauth_error_invalid_grant_expired_refresh_token.restforce.json",
    "oauth_error_invalid_grant_authentication_failure.restforce.json",
    "identity_url_response_200.postman.json",
    "error_401_invalid_session_id.restforce.json",
    "error_400_invalid_field_on_write.restforce.json",
    "error_404_not_found_resource.restforce.json",
    "upsert_300_multiple_choices_body.restforce.json",
);
