// Headless-Chromium check of the demo page's live room, with its connection
// cut mid-stream. No npm package: Chromium is driven over the DevTools
// protocol with Node's WebSocket (run with `node --experimental-websocket`
// on Node 20; built in from Node 22).
//
//   node --experimental-websocket room-check.mjs <base-url>
//
// The page is loaded through a TCP proxy run here, so the check can cut the
// tab's connections. Steps:
//   1. the room's EventSource is open; m0..m4 are posted through the page's
//      own form function (`ssekitDemo.postRoom`) and arrive;
//   2. every proxied connection is cut and new ones are refused while
//      m5..m9 are posted straight to the server;
//   3. the proxy lets connections through again: the EventSource reconnects
//      (retry: 1 s) with Last-Event-ID, and the page must show m0..m9, each
//      once, in order, with no `reset`.
// Prints one JSON line {"ok":true,...} or {"ok":false,"error":...} (exit 1).
// Only 127.0.0.1 is contacted.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const OVERALL_MS = 60_000;
const base = (process.argv[2] || '').replace(/\/+$/, '');
if (!base) {
  console.error('usage: node --experimental-websocket room-check.mjs <base-url>');
  process.exit(2);
}
const target = new URL(base);
const state = { proxied: 0, cut: 0 };
const hardStop = setTimeout(() => finish({ ok: false, error: 'hard timeout' }), OVERALL_MS);

// ---- the proxy -------------------------------------------------------------
const sockets = new Set();
let refusing = false;
const proxy = net.createServer((client) => {
  if (refusing) { client.destroy(); return; }
  state.proxied++;
  const upstream = net.connect(Number(target.port), target.hostname);
  for (const s of [client, upstream]) {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  }
  client.pipe(upstream);
  upstream.pipe(client);
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
});
function cutAll() {
  state.cut += sockets.size;
  for (const s of sockets) s.destroy();
}

// ---- Chromium over the DevTools protocol -------------------------------------
let chrome = null;
let ws = null;
let profile = null;
let nextId = 1;
const pending = new Map();

function send(method, params = {}) {
  const id = nextId++;
  ws.send(JSON.stringify({ id, method, params }));
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
}

async function evaluate(expression) {
  const r = await send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true });
  if (r.exceptionDetails) throw new Error(`page: ${JSON.stringify(r.exceptionDetails).slice(0, 300)}`);
  return r.result.value;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(what, expression, ms = 20_000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try { if (await evaluate(expression)) return; } catch { /* page not ready yet */ }
    await sleep(50);
  }
  throw new Error(`timed out: ${what}`);
}

async function launch(url) {
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ssekit-room-'));
  chrome = spawn(CHROMIUM, [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--remote-debugging-port=0', `--user-data-dir=${profile}`, url,
  ], { stdio: 'ignore' });
  const portFile = path.join(profile, 'DevToolsActivePort');
  const until = Date.now() + 20_000;
  while (!fs.existsSync(portFile) || fs.readFileSync(portFile, 'utf8').split('\n').length < 2) {
    if (Date.now() > until) throw new Error('Chromium did not open its DevTools port');
    await sleep(50);
  }
  const port = fs.readFileSync(portFile, 'utf8').split('\n')[0].trim();
  let page = null;
  while (!page) {
    if (Date.now() > until) throw new Error('no page target');
    const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
    page = list.find((t) => t.type === 'page' && t.url.startsWith('http'));
    if (!page) await sleep(50);
  }
  ws = new WebSocket(page.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error('DevTools socket')); });
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.error) p.reject(new Error(msg.error.message)); else p.resolve(msg.result);
  };
}

function finish(report) {
  clearTimeout(hardStop);
  try { if (ws) ws.close(); } catch { /* closing anyway */ }
  if (chrome) chrome.kill('SIGKILL');
  proxy.close();
  cutAll();
  try { if (profile) fs.rmSync(profile, { recursive: true, force: true }); } catch { /* best effort */ }
  console.log(JSON.stringify({ ...report, ...state }));
  process.exit(report.ok ? 0 : 1);
}

async function run() {
  await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${proxy.address().port}`;
  await launch(`${origin}/`);
  await waitFor('the room stream is open',
    'window.ssekitDemo && ssekitDemo.sources.room && ssekitDemo.sources.room.readyState === 1');
  const room = 'ssekitDemo.received.room';
  // 1. Posted by the page itself.
  for (let i = 0; i < 5; i++) {
    const id = await evaluate(`ssekitDemo.postRoom("m${i}")`);
    if (!id) throw new Error(`the page could not post m${i}`);
  }
  await waitFor('m0..m4 shown', `${room}.length >= 5`);
  // 2. Cut mid-stream; the messages in between go straight to the server.
  refusing = true;
  cutAll();
  for (let i = 5; i < 10; i++) {
    const res = await fetch(`${base}/rooms/lobby`, { method: 'POST', body: `m${i}` });
    if (res.status !== 200) throw new Error(`POST m${i}: ${res.status}`);
  }
  await sleep(300);
  const duringCut = await evaluate(`${room}.length`);
  // 3. Let the browser reconnect.
  refusing = false;
  await waitFor('m0..m9 shown after the reconnect', `${room}.length >= 10`);
  await sleep(500); // a duplicate would arrive now
  const got = await evaluate(`${room}.map(function (e) { return [e.type, e.data, e.lastEventId]; })`);
  const data = got.map((e) => e[1]);
  const expected = Array.from({ length: 10 }, (_, i) => `m${i}`);
  if (JSON.stringify(data) !== JSON.stringify(expected)) {
    throw new Error(`expected ${JSON.stringify(expected)}, got ${JSON.stringify(got)}`);
  }
  if (!got.every((e) => e[0] === 'message')) throw new Error(`not only messages: ${JSON.stringify(got)}`);
  const offsets = got.map((e) => Number(e[2].split('-')[1]));
  if (!offsets.every((o, i) => i === 0 || o === offsets[i - 1] + 1)) {
    throw new Error(`ids not consecutive: ${JSON.stringify(got)}`);
  }
  if (duringCut !== 5) throw new Error(`the cut did not hold: ${duringCut} messages during it`);
  finish({ ok: true, messages: data, ids: got.map((e) => e[2]) });
}

run().catch((e) => finish({ ok: false, error: String(e.message || e) }));
