"""simple-salesforce, unchanged, against `cloudcx-shim emulator`.

Environment: EMULATOR_URL (the emulator's http:// base URL), EMULATOR_CA (its certificate, from
`--tls-cert`), CLIENT_ID, CLIENT_SECRET, CALLBACK (the app's callback URL), SF_USERNAME and
SF_PASSWORD (a seeded User). Exits 0 when every step behaved as on Salesforce.
"""

import base64
import hashlib
import os
import secrets
import sys
from urllib.parse import parse_qs, urlparse

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed

URL = os.environ["EMULATOR_URL"]
CA = os.environ["EMULATOR_CA"]
CLIENT_ID = os.environ["CLIENT_ID"]
CLIENT_SECRET = os.environ["CLIENT_SECRET"]
CALLBACK = os.environ["CALLBACK"]
USERNAME = os.environ["SF_USERNAME"]
PASSWORD = os.environ["SF_PASSWORD"]


def step(name):
    print(f"simple-salesforce: {name}", flush=True)


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def web_server_flow(session):
    """The OAuth 2.0 web server flow with PKCE: the emulator approves at once, so the browser
    step is one request whose redirect carries the code."""
    verifier = secrets.token_urlsafe(64)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    authorize = session.get(
        f"{URL}/services/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": CALLBACK,
            "scope": "api refresh_token",
            "state": "st-1",
            "code_challenge": challenge,
        },
        allow_redirects=False,
    )
    check(authorize.status_code == 302, f"authorize answers 302, got {authorize.status_code}")
    redirect = parse_qs(urlparse(authorize.headers["Location"]).query)
    check(redirect["state"] == ["st-1"], f"state comes back: {redirect}")
    token = session.post(
        f"{URL}/services/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": redirect["code"][0],
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
    )
    check(token.status_code == 200, f"token: {token.status_code} {token.text}")
    return token.json()


def main():
    session = requests.Session()
    # simple-salesforce always speaks https://; the emulator serves TLS on the same port, with
    # a certificate signed by the authority in EMULATOR_CA. Without trust_env=False, requests
    # would prefer a REQUESTS_CA_BUNDLE from the environment (and a proxy) to these settings.
    session.trust_env = False
    session.verify = CA

    step("OAuth web server flow (PKCE), then Salesforce(instance_url=..., session_id=...)")
    tokens = web_server_flow(session)
    check("refresh_token" in tokens, "a refresh token for the refresh_token scope")
    sf = Salesforce(
        instance_url=tokens["instance_url"], session_id=tokens["access_token"], session=session
    )

    step("its own username-password login (grant_type=password)")
    # The library appends ".salesforce.com" to `domain`; a "#" ends the URL before it, so its
    # unchanged login posts to the emulator's token endpoint.
    login_domain = URL.split("://", 1)[1] + "/services/oauth2/token#"
    by_password = Salesforce(
        username=USERNAME,
        password=PASSWORD,
        consumer_key=CLIENT_ID,
        consumer_secret=CLIENT_SECRET,
        domain=login_domain,
        session=session,
    )
    check(by_password.sf_instance == sf.sf_instance, "the same instance")
    try:
        Salesforce(
            username=USERNAME,
            password="wrong",
            consumer_key=CLIENT_ID,
            consumer_secret=CLIENT_SECRET,
            domain=login_domain,
            session=session,
        )
        check(False, "a wrong password is refused")
    except SalesforceAuthenticationFailed as refused:
        check(refused.code == "invalid_grant", f"invalid_grant, got {refused.code}")

    step("create, retrieve, update")
    account = sf.Account.create({"Name": "Compat Python Inc"})
    check(account["success"] and account["id"].startswith("001"), f"Account created: {account}")
    contacts = sf.Contact
    contact = contacts.create(
        {"LastName": "Lovelace", "Email": "ada.py@example.com", "AccountId": account["id"]}
    )
    contact_id = contact["id"]
    check(contacts.update(contact_id, {"Title": "Analyst"}) == 204, "update answers 204")
    fetched = contacts.get(contact_id)
    check(fetched["Title"] == "Analyst", f"the update is kept: {fetched['Title']}")
    check(fetched["attributes"]["type"] == "Contact", "attributes.type")
    usage = contacts.api_usage["api-usage"]
    check(0 < usage.used < usage.total, f"Sforce-Limit-Info parsed: {usage}")

    step("sObject Collections: 250 Leads in two requests")
    for first in (0, 200):
        records = [
            {"attributes": {"type": "Lead"}, "LastName": f"Page {n}", "Company": "Paging Co"}
            for n in range(first, min(first + 200, 250))
        ]
        results = sf.restful(
            "composite/sobjects", method="POST", json={"allOrNone": True, "records": records}
        )
        check(all(r["success"] for r in results), f"collections create: {results[:2]}")
        check(len(results) == len(records), "one result per record")
    lead_ids = [r["id"] for r in results[:2]]
    retrieved = sf.restful(
        "composite/sobjects/Lead", method="POST", json={"ids": lead_ids, "fields": ["Id", "LastName"]}
    )
    check([r["Id"] for r in retrieved] == lead_ids, f"collections retrieve: {retrieved}")

    step("query_all over several pages")
    soql = "SELECT Id, LastName FROM Lead WHERE Company = 'Paging Co' ORDER BY LastName"
    first_page = sf.query(soql, headers={"Sforce-Query-Options": "batchSize=200"})
    check(not first_page["done"] and "nextRecordsUrl" in first_page, "more than one page")
    check(first_page["totalSize"] == 250, f"totalSize over all pages: {first_page['totalSize']}")
    everything = sf.query_all(soql, headers={"Sforce-Query-Options": "batchSize=200"})
    check(len(everything["records"]) == 250, f"all pages fetched: {len(everything['records'])}")
    check(len({r["Id"] for r in everything["records"]}) == 250, "no record twice")

    step("delete, then queryAll (include_deleted) still sees the record")
    check(sf.Contact.delete(contact_id) == 204, "delete answers 204")
    gone = sf.query(f"SELECT Id FROM Contact WHERE Id = '{contact_id}'")
    check(gone["totalSize"] == 0, "query leaves deleted rows out")
    deleted = sf.query_all(
        f"SELECT Id, IsDeleted FROM Contact WHERE Id = '{contact_id}'", include_deleted=True
    )
    check(
        [r["IsDeleted"] for r in deleted["records"]] == [True],
        f"queryAll returns the deleted row: {deleted}",
    )

    step("describe, global describe")
    described = sf.Contact.describe()
    fields = {f["name"]: f for f in described["fields"]}
    check(fields["Email"]["type"] == "email", "Contact.Email is an email field")
    check(fields["LastName"]["nillable"] is False, "LastName is required")
    names = {o["name"] for o in sf.describe()["sobjects"]}
    check({"Lead", "Contact", "Account", "Case", "Task"} <= names, f"global describe: {names}")

    step("composite with a reference")
    version = sf.sf_version
    composite = sf.restful(
        "composite",
        method="POST",
        json={
            "allOrNone": True,
            "compositeRequest": [
                {
                    "method": "POST",
                    "url": f"/services/data/v{version}/sobjects/Account",
                    "referenceId": "newAccount",
                    "body": {"Name": "Composite Python"},
                },
                {
                    "method": "POST",
                    "url": f"/services/data/v{version}/sobjects/Contact",
                    "referenceId": "newContact",
                    "body": {"LastName": "Ref", "AccountId": "@{newAccount.id}"},
                },
                {
                    "method": "GET",
                    "url": f"/services/data/v{version}/query?q=SELECT+AccountId+FROM+Contact+WHERE+Id+=+'@{{newContact.id}}'",
                    "referenceId": "check",
                },
            ],
        },
    )
    answers = composite["compositeResponse"]
    check([a["httpStatusCode"] for a in answers] == [201, 201, 200], f"composite: {answers}")
    check(
        answers[2]["body"]["records"][0]["AccountId"] == answers[0]["body"]["id"],
        "the reference was resolved",
    )

    step("upsert by external ID is refused on a field that is not one")
    try:
        sf.Contact.upsert("Email/nobody@example.com", {"LastName": "X"})
        check(False, "upsert on a non-external-ID field is refused")
    except Exception as refused:  # simple-salesforce raises SalesforceResourceNotFound (404)
        check(getattr(refused, "status", None) == 404, f"404, got {refused!r}")

    print("simple-salesforce: all steps passed", flush=True)


if __name__ == "__main__":
    try:
        main()
    except AssertionError as failure:
        print(f"simple-salesforce: FAILED: {failure}", file=sys.stderr, flush=True)
        sys.exit(1)
