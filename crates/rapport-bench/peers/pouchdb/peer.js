// The sync bench's baseline (run by rapport-bench, never by hand): PouchDB replication with a
// pouchdb-server the bench started on 127.0.0.1. Prints one JSON line per phase:
//   seed   — N lead-like documents written to the server with bulkDocs (setup, not a figure)
//   pull   — a fresh client replicates all N from the server (batch_size 1000): bootstrap
//   live   — W writes by one client, each timed until a second client's live pull has it
'use strict';
const PouchDB = require('pouchdb');
PouchDB.plugin(require('pouchdb-adapter-memory'));

const N = parseInt(process.env.N || '10000', 10);
const W = parseInt(process.env.W || '200', 10);
const REMOTE = process.env.REMOTE;
const ms = () => Number(process.hrtime.bigint()) / 1e6;
const out = (o) => console.log(JSON.stringify(o));

function doc(i) {
  return {
    _id: 'r' + String(i).padStart(9, '0'), type: 'lead', name: 'Lead ' + i,
    company: 'Company ' + (i % 5000), email: 'lead' + i + '@example.com',
    phone: '+1415555' + String(i % 10000).padStart(4, '0'),
    status: ['Potential', 'Qualified', 'Customer', 'Cold'][i % 4],
    updated_at: new Date(1700000000000 + i * 1000).toISOString(),
  };
}

function replicate(src, dst, opts) {
  return new Promise((resolve, reject) => {
    const r = PouchDB.replicate(src, dst, opts);
    r.on('complete', resolve);
    r.on('error', reject);
  });
}

async function main() {
  const remote = new PouchDB(REMOTE + '/bench');
  let t = ms();
  for (let i = 0; i < N; i += 1000) {
    const batch = [];
    for (let j = i; j < Math.min(N, i + 1000); j++) batch.push(doc(j));
    const res = await remote.bulkDocs(batch);
    if (res.some((r) => r.error)) throw new Error('seed failed');
  }
  out({ phase: 'seed', docs: N, ms: ms() - t });

  const fresh = new PouchDB('fresh', { adapter: 'memory' });
  t = ms();
  const r = await replicate(remote, fresh, { batch_size: 1000 });
  out({ phase: 'pull', docs: r.docs_written, ms: ms() - t });

  const writer = new PouchDB(REMOTE + '/bench');
  const reader = new PouchDB('reader', { adapter: 'memory' });
  await replicate(remote, reader, { batch_size: 1000 });
  const seen = new Map();
  const live = PouchDB.replicate(remote, reader, { live: true, retry: true, batch_size: 100 });
  live.on('change', (info) => {
    for (const d of info.docs) if (!seen.has(d._id)) seen.set(d._id, ms());
  });
  await new Promise((res) => setTimeout(res, 1000));
  const lat = [];
  for (let i = 0; i < W; i++) {
    const id = 'live' + i;
    const start = ms();
    await writer.put({ _id: id, type: 'note', body: 'hello ' + i });
    const deadline = start + 5000;
    while (!seen.has(id) && ms() < deadline) await new Promise((res) => setTimeout(res, 1));
    if (seen.has(id)) lat.push(seen.get(id) - start);
  }
  live.cancel();
  out({ phase: 'live', writes: W, latencies_ms: lat });
}

main().catch((e) => { console.error('peer failed:', e); process.exit(1); });
