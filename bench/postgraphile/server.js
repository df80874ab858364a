'use strict';
// The PostGraphile peer of the load harness (cmd/passerelle-load run
// --peer): PostGraphile v4 over the PostgreSQL database of the run, on
// 127.0.0.1 only, queries only (no default mutations, no GraphiQL, no
// subscriptions, no query log). Started by passerelle-load as a child
// process; by hand:
//
//   npm ci
//   PASSERELLE_PEER_DATABASE_URL='postgres://postgres@127.0.0.1:5432/DB' node server.js \
//       [--port 0] [--variants plain,rls] [--workers 1] [--pool 10]
//
// Variants, each its own PostGraphile instance and pool:
//   plain  /plain/graphql  connects as the URL's user (the tables' owner):
//                          no authentication, no row rules at all;
//   rls    /rls/graphql    applies rls.sql to the database first (BENCH
//                          COPIES ONLY), then runs every request as the role
//                          passerelle_peer with passerelle.token_hash = the
//                          SHA-256 of the bearer token: the session check and
//                          Passerelle's row rules run in PostgreSQL.
// --workers N forks N processes sharing the port (node:cluster), since one
// Node.js process uses one core.
// When every worker serves, one line of JSON is printed on stdout:
//   {"ready":true,"url":"http://127.0.0.1:PORT","variants":{"plain":"/plain/graphql",...},...}

const cluster = require('node:cluster');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

function parseArgs(argv) {
  const opts = { port: 0, variants: ['plain'], workers: 1, pool: 10 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--port': opts.port = Number(next()); break;
      case '--variants': opts.variants = next().split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--workers': opts.workers = Number(next()); break;
      case '--pool': opts.pool = Number(next()); break;
      case '--database-url': opts.databaseUrl = next(); break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  opts.databaseUrl = opts.databaseUrl || process.env.PASSERELLE_PEER_DATABASE_URL;
  if (!opts.databaseUrl || !/^postgres(ql)?:\/\//.test(opts.databaseUrl)) {
    throw new Error('set PASSERELLE_PEER_DATABASE_URL (or --database-url) to a postgres:// URL');
  }
  for (const v of opts.variants) {
    if (v !== 'plain' && v !== 'rls') throw new Error(`unknown variant ${v} (plain, rls)`);
  }
  if (!opts.variants.length) throw new Error('no variant');
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new Error('--port: 0..65535');
  if (!Number.isInteger(opts.workers) || opts.workers < 1 || opts.workers > 16) throw new Error('--workers: 1..16');
  if (!Number.isInteger(opts.pool) || opts.pool < 1 || opts.pool > 100) throw new Error('--pool: 1..100');
  return opts;
}

function version() {
  try {
    return require('postgraphile/package.json').version;
  } catch (e) {
    return 'unknown';
  }
}

// setupRLS applies rls.sql (idempotent) once, before any worker starts.
async function setupRLS(opts) {
  const { Client } = require('pg');
  const c = new Client({ connectionString: opts.databaseUrl });
  await c.connect();
  try {
    await c.query(fs.readFileSync(path.join(__dirname, 'rls.sql'), 'utf8'));
  } finally {
    await c.end();
  }
}

function tokenHash(req) {
  const h = req.headers.authorization || '';
  const m = /^Bearer (.+)$/.exec(h);
  if (!m) return '';
  return crypto.createHash('sha256').update(m[1], 'utf8').digest('hex');
}

// serve builds one PostGraphile middleware per variant and listens.
async function serve(opts) {
  const { Pool } = require('pg');
  const { postgraphile } = require('postgraphile');
  const routes = {};
  const pools = [];
  for (const v of opts.variants) {
    // idleTimeoutMillis 0: keep connections, as Passerelle's pool does.
    const pool = new Pool({ connectionString: opts.databaseUrl, max: opts.pool, idleTimeoutMillis: 0,
      application_name: `passerelle-peer-${v}` });
    pools.push(pool);
    const route = `/${v}/graphql`;
    const options = {
      graphqlRoute: route,
      graphiql: false,
      disableDefaultMutations: true,
      disableQueryLog: true,
      enableQueryBatching: false,
      watchPg: false,
      retryOnInitFail: false,
      bodySizeLimit: '1MB',
      setofFunctionsContainNulls: false,
      showErrorStack: false,
    };
    if (v === 'rls') {
      options.pgSettings = (req) => ({ role: 'passerelle_peer', 'passerelle.token_hash': tokenHash(req) });
    }
    const mw = postgraphile(pool, 'public', options);
    await mw.getGraphQLSchema(); // introspection done: ready to serve
    routes[route] = mw;
  }
  const server = http.createServer((req, res) => {
    const p = (req.url || '').split('?')[0];
    const mw = routes[p];
    if (!mw) {
      res.statusCode = 404;
      res.end('not found\n');
      return;
    }
    mw(req, res);
  });
  server.keepAliveTimeout = 90000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', resolve);
  });
  const stop = () => {
    server.close();
    Promise.all(pools.map((p) => p.end().catch(() => {}))).finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return server.address().port;
}

function readyLine(opts, port) {
  const variants = {};
  for (const v of opts.variants) variants[v] = `/${v}/graphql`;
  return JSON.stringify({ ready: true, url: `http://127.0.0.1:${port}`, variants, workers: opts.workers,
    pool: opts.pool, postgraphile: version(), node: process.version });
}

async function main() {
  if (cluster.isWorker) {
    const opts = JSON.parse(process.env.PASSERELLE_PEER_OPTS);
    const port = await serve(opts);
    process.send({ ready: true, port });
    return;
  }
  const opts = parseArgs(process.argv.slice(2));
  if (opts.variants.includes('rls')) await setupRLS(opts);
  if (opts.workers === 1) {
    const port = await serve(opts);
    process.stdout.write(readyLine(opts, port) + '\n');
    return;
  }
  // Workers listening on port 0 in a cluster share one port.
  let ready = 0;
  let port = 0;
  let stopping = false;
  const workers = [];
  const stop = (code) => {
    stopping = true;
    for (const w of workers) w.process.kill('SIGTERM');
    setTimeout(() => process.exit(code), 500).unref();
  };
  for (let i = 0; i < opts.workers; i++) {
    const w = cluster.fork({ PASSERELLE_PEER_OPTS: JSON.stringify(opts) });
    workers.push(w);
    w.on('message', (m) => {
      if (m && m.ready) {
        port = m.port;
        if (++ready === opts.workers) process.stdout.write(readyLine(opts, port) + '\n');
      }
    });
    w.on('exit', (code) => {
      if (!stopping) {
        process.stderr.write(`worker exited (${code}); stopping\n`);
        stop(1);
      }
    });
  }
  process.once('SIGTERM', () => stop(0));
  process.once('SIGINT', () => stop(0));
}

main().catch((e) => {
  process.stderr.write(`${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
