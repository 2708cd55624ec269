// jsforce, unchanged, against `cloudcx-shim emulator`.
//
// Environment: EMULATOR_URL (the emulator's http:// base URL), CLIENT_ID, CLIENT_SECRET, CALLBACK
// (the app's callback URL), SF_USERNAME and SF_PASSWORD (a seeded User). Exits 0 when every
// step behaved as on Salesforce.
'use strict';

const assert = require('node:assert/strict');
const jsforce = require('jsforce');

const URL_ = process.env.EMULATOR_URL;
const app = {
  loginUrl: URL_,
  clientId: process.env.CLIENT_ID,
  clientSecret: process.env.CLIENT_SECRET,
  redirectUri: process.env.CALLBACK,
};
const USERNAME = process.env.SF_USERNAME;
const PASSWORD = process.env.SF_PASSWORD;

function step(name) {
  console.log(`jsforce: ${name}`);
}

// The emulator's test hook: not a Salesforce endpoint, so plain fetch.
async function fault(body) {
  const r = await fetch(`${URL_}/__emulator/faults`, { method: 'POST', body: JSON.stringify(body) });
  assert.equal(r.status, 200, 'fault accepted');
}

// The web server flow with PKCE (useVerifier): the emulator approves at once, so the browser
// step is one request whose redirect carries the code.
async function webServerFlow() {
  const oauth2 = new jsforce.OAuth2({ ...app, useVerifier: true });
  const url = oauth2.getAuthorizationUrl({ scope: 'api refresh_token id', state: 'st-js' });
  const approved = await fetch(url, { redirect: 'manual' });
  assert.equal(approved.status, 302, 'authorize redirects');
  const back = new URL(approved.headers.get('location'));
  assert.equal(back.searchParams.get('state'), 'st-js');
  const conn = new jsforce.Connection({ oauth2 });
  const userInfo = await conn.authorize(back.searchParams.get('code'));
  return { conn, userInfo };
}

async function main() {
  step('OAuth2 web server flow (PKCE): getAuthorizationUrl, authorize(code)');
  const { conn, userInfo } = await webServerFlow();
  // The instance is another host than the login URL, on the same emulator (salesforce-api.md
  // §1.1): everything below reaches the data API only through jsforce's instanceUrl.
  assert.notEqual(new URL(conn.instanceUrl).hostname, new URL(URL_).hostname, 'instance host');
  assert.equal(new URL(conn.instanceUrl).port, new URL(URL_).port, 'instance_url is the emulator');
  assert.ok(conn.refreshToken, 'a refresh token for the refresh_token scope');
  assert.match(userInfo.id, /^005/, 'user id from the identity URL');
  assert.match(userInfo.organizationId, /^00D/, 'org id from the identity URL');
  const identity = await conn.identity();
  assert.equal(identity.username, USERNAME, 'identity of the seeded login user');

  step('an expired session is refreshed by the library');
  let refreshed = false;
  conn.on('refresh', () => {
    refreshed = true;
  });
  await fault({ expireAccessTokens: true });
  const counted = await conn.query('SELECT COUNT() FROM Account');
  assert.ok(refreshed, 'jsforce refreshed on 401 INVALID_SESSION_ID');
  assert.equal(counted.totalSize, 1, 'the seeded Account');

  step('conn.login: the username-password grant');
  const byPassword = new jsforce.Connection({ oauth2: app });
  const loggedIn = await byPassword.login(USERNAME, PASSWORD);
  assert.equal(loggedIn.id, userInfo.id, 'the same user');
  assert.equal(byPassword.refreshToken, undefined, 'no refresh token from this grant');
  await assert.rejects(
    new jsforce.Connection({ oauth2: app }).login(USERNAME, 'wrong'),
    (e) => e.name === 'invalid_grant' && e.message === 'authentication failure',
  );

  step('create, retrieve, update, upsert');
  const account = await conn.sobject('Account').create({ Name: 'Compat JS Inc' });
  assert.ok(account.success && account.id.startsWith('001'), 'Account created');
  const contact = await conn
    .sobject('Contact')
    .create({ LastName: 'Hopper', Email: 'grace.js@example.com', AccountId: account.id });
  const updated = await conn.sobject('Contact').update({ Id: contact.id, Title: 'Admiral' });
  assert.ok(updated.success, 'update');
  const fetched = await conn.sobject('Contact').retrieve(contact.id);
  assert.equal(fetched.Title, 'Admiral', 'the update is kept');
  assert.ok(conn.limitInfo.apiUsage.used > 0, 'Sforce-Limit-Info parsed');
  const created = await conn.sobject('Lead').upsert(
    { Compat_Key__c: 'k-1', LastName: 'Up', Company: 'Sert' },
    'Compat_Key__c',
  );
  assert.equal(created.created, true, 'upsert creates on no match');
  const matched = await conn.sobject('Lead').upsert(
    { Compat_Key__c: 'k-1', Title: 'Again' },
    'Compat_Key__c',
  );
  assert.deepEqual([matched.created, matched.id], [false, created.id], 'then updates');

  step('sObject Collections: create 250 Leads (two requests), update, delete');
  const leads = Array.from({ length: 250 }, (_, n) => ({
    LastName: `Page ${String(n).padStart(3, '0')}`,
    Company: 'Paging JS',
  }));
  const saved = await conn.sobject('Lead').create(leads, { allowRecursive: true });
  assert.equal(saved.length, 250, 'one result per record');
  assert.ok(saved.every((r) => r.success), 'all created');
  const renamed = await conn
    .sobject('Lead')
    .update(saved.slice(0, 3).map((r) => ({ Id: r.id, Title: 'Renamed' })));
  assert.ok(renamed.every((r) => r.success), 'collections update');
  const failed = await conn.sobject('Lead').create([{ LastName: 'No company' }]);
  assert.equal(failed[0].success, false, 'a refused record is reported');
  assert.equal(failed[0].errors[0].statusCode, 'REQUIRED_FIELD_MISSING', 'its statusCode');

  step('query with autoFetch over several pages');
  const soql = "SELECT Id, LastName FROM Lead WHERE Company = 'Paging JS' ORDER BY LastName";
  const pages = await conn.query(soql, {
    autoFetch: true,
    maxFetch: 1000,
    headers: { 'Sforce-Query-Options': 'batchSize=200' },
  });
  assert.equal(pages.totalSize, 250, 'totalSize over all pages');
  assert.equal(pages.records.length, 250, 'every page fetched');
  assert.equal(new Set(pages.records.map((r) => r.Id)).size, 250, 'no record twice');
  assert.equal(pages.records[249].LastName, 'Page 249', 'in order');

  step('delete, then a scanAll query (queryAll) sees the deleted record');
  const gone = await conn.sobject('Lead').destroy(saved.slice(0, 2).map((r) => r.id));
  assert.ok(gone.every((r) => r.success), 'collections delete');
  await conn.sobject('Contact').destroy(contact.id);
  const live = await conn.query(`SELECT Id FROM Contact WHERE Id = '${contact.id}'`);
  assert.equal(live.totalSize, 0, 'query leaves deleted rows out');
  const all = await conn.query(`SELECT Id, IsDeleted FROM Contact WHERE Id = '${contact.id}'`, {
    scanAll: true,
  });
  assert.deepEqual(
    all.records.map((r) => r.IsDeleted),
    [true],
    'queryAll returns the deleted row',
  );

  step('describe, describeGlobal');
  const described = await conn.describe('Contact');
  const email = described.fields.find((f) => f.name === 'Email');
  assert.equal(email.type, 'email', 'Contact.Email');
  const key = described.fields.find((f) => f.name === 'LastName');
  assert.equal(key.nillable, false, 'LastName is required');
  const global = await conn.describeGlobal();
  const names = new Set(global.sobjects.map((o) => o.name));
  for (const name of ['Lead', 'Contact', 'Account', 'Case', 'Task']) {
    assert.ok(names.has(name), `describeGlobal lists ${name}`);
  }

  step('composite with references');
  const v = `/services/data/v${conn.version}`;
  const composite = await conn.requestPost(`${v}/composite`, {
    allOrNone: true,
    compositeRequest: [
      { method: 'POST', url: `${v}/sobjects/Account`, referenceId: 'acc', body: { Name: 'Composite JS' } },
      {
        method: 'POST',
        url: `${v}/sobjects/Case`,
        referenceId: 'case',
        body: { Subject: 'From jsforce', AccountId: '@{acc.id}' },
      },
      { method: 'GET', url: `${v}/sobjects/Case/@{case.id}?fields=AccountId,Status`, referenceId: 'read' },
    ],
  });
  const answers = composite.compositeResponse;
  assert.deepEqual(answers.map((a) => a.httpStatusCode), [201, 201, 200], 'composite statuses');
  assert.equal(answers[2].body.AccountId, answers[0].body.id, 'the reference was resolved');
  assert.equal(answers[2].body.Status, 'New', "Salesforce's default Case Status");

  step('limits, then logout revokes the access token');
  const limits = await conn.limits();
  assert.ok(limits.DailyApiRequests.Remaining < limits.DailyApiRequests.Max, 'calls counted');
  const revoked = byPassword.accessToken;
  await byPassword.logout();
  const after = await fetch(`${conn.instanceUrl}/services/data/v${conn.version}/limits`, {
    headers: { Authorization: `Bearer ${revoked}` },
  });
  assert.equal(after.status, 401, 'the revoked token no longer works');

  console.log('jsforce: all steps passed');
}

main().catch((e) => {
  console.error(`jsforce: FAILED: ${e.stack || e}`);
  process.exit(1);
});
