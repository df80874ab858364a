// graphql-transport-ws smoke test against a running Passerelle server in demo
// mode, with the graphql-ws client (what browser dashboards use).
//
//   PASSERELLE_URL=http://127.0.0.1:8080/graphql node --test ws.test.mjs
//
// HTTP operations are the client contract's documents, read unchanged from
// the project's copy (../e2e/testdata/operations.graphql). The story: sign in
// as the demo prescriber, subscribe to dashboardEvents over a websocket,
// create a request over HTTP and see REQUEST_CREATED arrive live with a
// cursor, change a section (SECTION_UPDATED), unsubscribe, resubscribe with
// `after` = the first cursor and get the later event replayed (no duplicate),
// then live again. A connection without a valid token is closed with 4403.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const httpURL = process.env.PASSERELLE_URL || 'http://127.0.0.1:8080/graphql';
const wsURL = httpURL.replace(/^http/, 'ws');
const EMAIL = 'prescripteur@diaconesses.demo';
const PASSWORD = 'demo-passerelle-2026';
const OPERATIONS = readFileSync(new URL('../e2e/testdata/operations.graphql', import.meta.url), 'utf8');

const DASHBOARD = 'subscription Dashboard($after: Cursor) { dashboardEvents(after: $after) { cursor type request { id status } } }';

/** Runs one operation of the contract document over HTTP POST. */
async function contract(operationName, variables, token) {
  const headers = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(httpURL, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query: OPERATIONS, operationName, variables }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, `${operationName}: HTTP ${res.status} ${JSON.stringify(body)}`);
  assert.equal(body.errors, undefined, `${operationName}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** A graphql-ws client that does not retry, so that close codes reach the test. */
function wsClient(connectionParams) {
  const closed = [];
  const client = createClient({
    url: wsURL,
    webSocketImpl: WebSocket,
    connectionParams,
    lazy: true,
    retryAttempts: 0,
    on: { closed: (event) => closed.push(event) },
  });
  return { client, closed };
}

/**
 * Subscribes and returns a queue of received events: next() waits for the
 * next one (or fails after a timeout); stop() unsubscribes.
 */
function subscribe(client, variables = {}) {
  const received = [];
  const waiters = [];
  let failure = null;
  let completed = false;
  const wake = () => {
    while (waiters.length && (received.length || failure || completed)) waiters.shift()();
  };
  const stop = client.subscribe(
    { query: DASHBOARD, variables },
    {
      next: (result) => {
        if (result.errors) failure = new Error(`subscription errors: ${JSON.stringify(result.errors)}`);
        else received.push(result.data.dashboardEvents);
        wake();
      },
      error: (err) => {
        failure = err instanceof Error ? err : new Error(`subscription closed: ${describeClose(err)}`);
        wake();
      },
      complete: () => {
        completed = true;
        wake();
      },
    },
  );
  async function next(what, timeoutMs = 5000) {
    if (!received.length && !failure && !completed) {
      let timer;
      await Promise.race([
        new Promise((resolve) => waiters.push(resolve)),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
    }
    if (received.length) return received.shift();
    if (failure) throw failure;
    throw new Error(`subscription completed while waiting for ${what}`);
  }
  return { next, stop, pending: () => received.length };
}

function describeClose(e) {
  return e && typeof e === 'object' && 'code' in e ? `close ${e.code} ${e.reason || ''}`.trim() : String(e);
}

/** Waits until the client's socket is open and acknowledged. */
function connected(client, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no connection_ack')), timeoutMs);
    const offConnected = client.on('connected', () => {
      clearTimeout(timer);
      offConnected();
      resolve();
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

describe('graphql-transport-ws (graphql-ws client)', () => {
  let token;
  let structureId;
  const clients = [];

  before(async () => {
    const data = await contract('Login', { email: EMAIL, password: PASSWORD });
    token = data.login.token;
    assert.ok(token, 'Login returns a token');
    const v = await contract('Viewer', {}, token);
    const hab = v.viewer.habilitations.find((h) => h.profile === 'PRESCRIBER_PHYSICIAN');
    assert.ok(hab, `the demo prescriber holds PRESCRIBER_PHYSICIAN: ${JSON.stringify(v.viewer.habilitations)}`);
    structureId = hab.structure.id;
  });

  after(async () => {
    for (const c of clients) await c.dispose();
  });

  test('a connection without a token is closed with 4403', async () => {
    const { client, closed } = wsClient(undefined);
    clients.push(client);
    const sub = subscribe(client);
    await assert.rejects(sub.next('the refusal'), /close 4403/);
    assert.equal(closed.at(-1)?.code, 4403, `close event: ${describeClose(closed.at(-1))}`);
  });

  test('a connection with an unknown token is closed with 4403', async () => {
    const { client, closed } = wsClient({ Authorization: 'Bearer not-a-real-token' });
    clients.push(client);
    const sub = subscribe(client);
    await assert.rejects(sub.next('the refusal'), /close 4403/);
    assert.equal(closed.at(-1)?.code, 4403, `close event: ${describeClose(closed.at(-1))}`);
  });

  test('live events, then replay after a cursor with no gap and no duplicate', async () => {
    const { client } = wsClient({ Authorization: `Bearer ${token}` });
    clients.push(client);
    const isOpen = connected(client);
    const live = subscribe(client);
    await isOpen;
    // graphql-transport-ws does not acknowledge a subscribe message: give the
    // server a moment to register the subscription before the mutation.
    await sleep(300);

    const created = await contract(
      'CreateRequest',
      {
        input: {
          originStructureId: structureId,
          urgency: 'WITHIN_WEEK',
          patient: { birthName: 'CONFORMITE', firstName: 'Camille', birthDate: '1950-03-04', sex: 'FEMALE' },
        },
      },
      token,
    );
    const requestId = created.createAdmissionRequest.request.id;
    assert.equal(created.createAdmissionRequest.request.status, 'DRAFT');

    const first = await live.next('REQUEST_CREATED');
    assert.equal(first.type, 'REQUEST_CREATED');
    assert.equal(first.request?.id, requestId);
    assert.equal(first.request?.status, 'DRAFT');
    assert.equal(typeof first.cursor, 'string');
    assert.ok(first.cursor.length > 0, 'the event carries a cursor');

    await contract('SaveCareProject', { requestId, input: { stayGoal: 'SYMPTOM_CONTROL' } }, token);
    const second = await live.next('SECTION_UPDATED');
    assert.equal(second.type, 'SECTION_UPDATED');
    assert.equal(second.request?.id, requestId);
    assert.notEqual(second.cursor, first.cursor);

    live.stop();
    await sleep(100);
    assert.equal(live.pending(), 0, 'no event after the two expected ones');

    // Resume after the first event: the second is replayed, the first is not.
    const resumed = subscribe(client, { after: first.cursor });
    const replayed = await resumed.next('the replayed SECTION_UPDATED');
    assert.equal(replayed.type, 'SECTION_UPDATED');
    assert.equal(replayed.cursor, second.cursor, 'the replay starts right after the given cursor');
    assert.equal(replayed.request?.id, requestId);

    // Then live again, with the change made after the resubscription.
    await contract('SaveAdminSocial', { requestId, input: { address: '1 rue de la Paix', postalCode: '75002', city: 'Paris' } }, token);
    const third = await resumed.next('the live SECTION_UPDATED after the replay');
    assert.equal(third.type, 'SECTION_UPDATED');
    assert.equal(third.request?.id, requestId);
    assert.ok(![first.cursor, second.cursor].includes(third.cursor), 'no duplicate');
    resumed.stop();
  });
});
