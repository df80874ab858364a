// The whole story of an admission request followed live by two dashboards
// with the real graphql-ws client: the prescriber's (RequestEvents) and the
// Sainte-Périne unit's (UnitEvents). A third client disconnects mid-story and
// resumes with its last cursor: it ends with the same sequence as the
// prescriber's dashboard that never disconnected.
//
//   PASSERELLE_URL=http://127.0.0.1:8080/graphql node --test story.test.mjs
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const httpURL = process.env.PASSERELLE_URL || 'http://127.0.0.1:8080/graphql';
const wsURL = httpURL.replace(/^http/, 'ws');
const PASSWORD = 'demo-passerelle-2026';
const OPS = readFileSync(new URL('../e2e/testdata/operations.graphql', import.meta.url), 'utf8');

async function op(name, variables, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(httpURL, { method: 'POST', headers, body: JSON.stringify({ query: OPS, operationName: name, variables }) });
  const body = await res.json();
  assert.equal(body.errors, undefined, `${name}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

const tokens = {};
async function as(email) {
  tokens[email] ??= (await op('Login', { email, password: PASSWORD })).login.token;
  return tokens[email];
}

const clients = [];
function client(token) {
  const c = createClient({ url: wsURL, webSocketImpl: WebSocket, connectionParams: { Authorization: `Bearer ${token}` }, retryAttempts: 0 });
  clients.push(c);
  return c;
}

/** Subscribes to a contract subscription; events accumulate in `events`. */
function follow(c, operationName, field, variables) {
  const events = [];
  const stop = c.subscribe({ query: OPS, operationName, variables }, {
    next: (r) => {
      assert.equal(r.errors, undefined, JSON.stringify(r.errors));
      events.push(r.data[field]);
    },
    error: (e) => events.push({ error: e }),
    complete: () => {},
  });
  return { events, stop };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(cond, what, ms = 8000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('the whole story, live', () => {
  after(async () => { for (const c of clients) await c.dispose(); });

  test('two dashboards see exactly the expected events; a resumed client ends with the same sequence', async () => {
    const prescriber = await as('prescripteur@diaconesses.demo');
    const care = await as('soignant@diaconesses.demo');
    const perineDoc = await as('medecin@sainte-perine.demo');
    const perineStaff = await as('secretariat@sainte-perine.demo');
    const garnierDoc = await as('medecin@jeanne-garnier.demo');
    const forcillesDoc = await as('medecin@forcilles.demo');

    const units = (await op('UspUnits', {}, prescriber)).uspUnits;
    const unit = (name) => units.find((u) => u.name === name).id;
    const perine = unit('USP Sainte-Périne'), garnier = unit('Maison médicale Jeanne Garnier'), forcilles = unit('USP Forcilles');
    const structure = (await op('Viewer', {}, prescriber)).viewer.habilitations[0].structure.id;

    const created = await op('CreateRequest', { input: { originStructureId: structure, urgency: 'WITHIN_48H',
      patient: { birthName: 'Story', firstName: 'Node', birthDate: '1944-04-04', sex: 'FEMALE' } } }, care);
    const id = created.createAdmissionRequest.request.id;

    const board = follow(client(prescriber), 'RequestEvents', 'requestEvents', { requestId: id });
    const unitBoard = follow(client(perineDoc), 'UnitEvents', 'unitEvents', { unitId: perine });
    const flaky = follow(client(prescriber), 'RequestEvents', 'requestEvents', { requestId: id });
    await sleep(400); // graphql-transport-ws does not acknowledge a subscription

    await op('SaveMedical', { requestId: id, input: { diagnosis: 'Cancer', ppsScore: 30, prognosis: 'WEEKS',
      patientInformedOfDiagnosis: 'YES', patientAgreesToUsp: true } }, care);
    await op('SaveCareProject', { requestId: id, input: { stayGoal: 'END_OF_LIFE' } }, care);
    await op('SaveAdminSocial', { requestId: id, input: { address: '1 rue A', postalCode: '75001', city: 'Paris' } }, care);
    await op('ValidateMedical', { requestId: id }, prescriber);
    const sent = await op('Send', { requestId: id, unitIds: [perine, garnier, forcilles] }, prescriber);
    const d = Object.fromEntries(sent.sendAdmissionRequest.dispatches.map((x) => [x.unit.id, x.id]));

    // The flaky client drops out mid-story and keeps its last cursor.
    await until(() => flaky.events.length >= 7, 'the flaky client to get 7 events');
    flaky.stop();
    const lastCursor = flaky.events.at(-1).cursor;

    await op('OpenDispatch', { dispatchId: d[forcilles] }, forcillesDoc);
    await op('Answer', { dispatchId: d[forcilles], input: { decision: 'REFUSE', refusalReason: 'NO_BED_IN_TIME' } }, forcillesDoc);
    await op('OpenDispatch', { dispatchId: d[perine] }, perineStaff);
    await op('AskInformation', { dispatchId: d[perine], question: 'PCA en place ?' }, perineStaff);
    await op('PostMessage', { dispatchId: d[perine], body: 'Oui.' }, prescriber);
    await op('Answer', { dispatchId: d[perine], input: { decision: 'ACCEPT' } }, perineDoc);
    await op('OpenDispatch', { dispatchId: d[garnier] }, garnierDoc);
    await op('Answer', { dispatchId: d[garnier], input: { decision: 'ACCEPT_WITH_RESERVATION', comment: 'Lit jeudi' } }, garnierDoc);
    await op('Confirm', { dispatchId: d[perine] }, prescriber);
    await op('RecordAdmission', { dispatchId: d[perine], admittedAt: new Date().toISOString() }, perineDoc);

    const resumed = follow(client(prescriber), 'RequestEvents', 'requestEvents', { requestId: id, after: lastCursor });

    const wantRequest = ['SECTION_UPDATED', 'SECTION_UPDATED', 'SECTION_UPDATED', 'MEDICAL_VALIDATED',
      'REQUEST_SENT', 'REQUEST_SENT', 'REQUEST_SENT', 'DISPATCH_READ', 'DISPATCH_REFUSED', 'DISPATCH_READ',
      'INFORMATION_REQUESTED', 'MESSAGE_POSTED', 'DISPATCH_ACCEPTED', 'DISPATCH_READ', 'DISPATCH_ACCEPTED',
      'DISPATCH_CONFIRMED', 'DISPATCH_WITHDRAWN', 'PATIENT_ADMITTED'];
    const wantUnit = ['REQUEST_SENT', 'DISPATCH_READ', 'INFORMATION_REQUESTED', 'MESSAGE_POSTED',
      'DISPATCH_ACCEPTED', 'DISPATCH_CONFIRMED', 'PATIENT_ADMITTED'];

    await until(() => board.events.length >= wantRequest.length, 'the prescriber dashboard');
    await until(() => unitBoard.events.length >= wantUnit.length, 'the unit dashboard');
    await until(() => flaky.events.length + resumed.events.length >= wantRequest.length, 'the resumed client');
    await sleep(300); // nothing more may arrive

    assert.deepEqual(board.events.map((e) => e.type), wantRequest, 'prescriber dashboard');
    const mine = unitBoard.events.filter((e) => e.dispatch?.request?.id === id);
    assert.deepEqual(mine.map((e) => e.type), wantUnit, 'Sainte-Périne dashboard');
    assert.ok(mine.every((e) => e.dispatch.id === d[perine]), 'the unit sees only its own dispatch');
    const joined = [...flaky.events, ...resumed.events].map((e) => e.cursor);
    assert.deepEqual(joined, board.events.map((e) => e.cursor), 'resumed = never disconnected (no gap, no duplicate)');
  });
});
