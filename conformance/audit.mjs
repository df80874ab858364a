// GraphQL-over-HTTP conformance audit (graphql-http's serverAudits) against
// a running Passerelle server.
//
//   node audit.mjs [http://127.0.0.1:8080/graphql]     (or PASSERELLE_URL)
//
// Prints every audit with its result, then the SHOULD/MAY warnings, and
// exits 1 when a MUST audit fails (or the server cannot be reached).
//
// The audits send `{ __typename }` documents, which Passerelle answers
// without a bearer token (only fields that read data need one); the script
// checks that first. The fetch wrapper adds only an X-Request-Id per audit,
// so that each audit can be found in the server's access log. It must not
// add a Content-Type: several audits test what the server does without one.
import { serverAudits } from 'graphql-http';

const url = process.argv[2] || process.env.PASSERELLE_URL || 'http://127.0.0.1:8080/graphql';

let current = 'probe';
let counter = 0;
/** fetch with an X-Request-Id naming the audit, merged into the audit's own headers. */
function fetchFn(input, init = {}) {
  const headers = new Headers(init.headers || {});
  headers.set('x-request-id', `conformance-${current}-${++counter}`);
  return fetch(input, { ...init, headers });
}

async function probe() {
  const res = await fetchFn(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ query: '{ __typename }' }),
  });
  const body = await res.text();
  if (res.status !== 200) {
    throw new Error(`{ __typename } without a token answered HTTP ${res.status}: ${body}`);
  }
  const json = JSON.parse(body);
  if (json.errors || json.data?.__typename !== 'Query') {
    throw new Error(`{ __typename } without a token answered ${body}`);
  }
  console.log(`probe: POST { __typename } without a token -> 200 ${body.trim()}`);
}

function level(name) {
  return name.split(' ', 1)[0]; // MUST | SHOULD | MAY
}

async function main() {
  console.log(`graphql-http server audit of ${url}`);
  await probe();

  const results = [];
  for (const audit of serverAudits({ url, fetchFn })) {
    current = audit.id;
    let result;
    try {
      result = await audit.fn();
    } catch (err) {
      // A fatal error of the audit itself (e.g. connection refused).
      result = { id: audit.id, name: audit.name, status: 'error', reason: `audit crashed: ${err?.message || err}` };
    }
    let detail = '';
    if (result.status !== 'ok') {
      detail = result.reason;
      if (result.response) {
        try {
          const text = (await result.response.text()).replace(/\s+/g, ' ').trim();
          detail += ` | HTTP ${result.response.status} ${result.response.headers.get('content-type') || ''} ${text.slice(0, 300)}`;
        } catch {
          // body already read by the audit
          detail += ` | HTTP ${result.response.status}`;
        }
      }
    }
    results.push({ ...result, detail });
    const mark = { ok: 'ok   ', notice: 'note ', warn: 'WARN ', error: 'FAIL ' }[result.status] || result.status;
    console.log(`${mark} ${result.id}  ${result.name}${detail ? `\n        -> ${detail}` : ''}`);
  }

  // A failing MUST audit is reported as "error"; SHOULD/MAY audits as "warn"
  // or "notice". Count by the level in the name, to be safe.
  const mustFailures = results.filter((r) => r.status !== 'ok' && level(r.name) === 'MUST');
  const warnings = results.filter((r) => r.status !== 'ok' && level(r.name) !== 'MUST');
  const ok = results.filter((r) => r.status === 'ok').length;

  console.log('');
  console.log(`audits: ${results.length}, ok: ${ok}, MUST failures: ${mustFailures.length}, SHOULD/MAY warnings: ${warnings.length}`);
  if (warnings.length) {
    console.log('SHOULD/MAY warnings (see docs/conformance.md for the reason of each):');
    for (const w of warnings) console.log(`  - ${w.id} ${w.name}`);
  }
  if (mustFailures.length) {
    console.log('MUST failures:');
    for (const f of mustFailures) console.log(`  - ${f.id} ${f.name}: ${f.detail}`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(`audit: ${err?.stack || err}`);
  process.exitCode = 1;
});
