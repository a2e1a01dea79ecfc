// Headless-Chromium check of the demo page's live room, with its connection
// cut mid-stream. No npm package: Chromium is driven over the DevTools
// protocol with Node's WebSocket (run with `node --experimental-websocket`
// on Node 20; built in from Node 22).
//
//   node --experimental-websocket room-check.mjs <base-url>
//
// The page is loaded through a TCP proxy run here, so the check can cut the
// tabs' connections. Steps:
//   1. four tabs of the page are open (a browser has six HTTP/1.1
//      connections to one server for all its tabs: the page shares one room
//      stream between them, so each tab is live and a post still goes
//      through); m0..m4 are posted through the first tab's own form function
//      (`ssekitDemo.postRoom`) and arrive in every tab;
//   2. every proxied connection is cut and new ones are refused while
//      m5..m9 are posted straight to the server;
//   3. the proxy lets connections through again: the room's EventSource
//      reconnects (retry: 1 s) with Last-Event-ID, and every tab must show
//      m0..m9, each once, in order, with no `reset`;
//   4. the tab holding the room's connection is closed, m10..m14 are posted:
//      another tab takes over, resuming after the last id it saw, and the
//      three left show m0..m14, each once, in order.
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
let profile = null;
let devtools = null; // http://127.0.0.1:<port>
const tabs = [];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One page target, over its own DevTools socket.
class Tab {
  constructor(target) {
    this.id = target.id;
    this.nextId = 1;
    this.pending = new Map();
    this.ws = new WebSocket(target.webSocketDebuggerUrl);
    this.ws.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error) p.reject(new Error(msg.error.message)); else p.resolve(msg.result);
    };
  }

  opened() {
    return new Promise((resolve, reject) => {
      this.ws.onopen = resolve;
      this.ws.onerror = () => reject(new Error('DevTools socket'));
    });
  }

  send(method, params = {}) {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  async evaluate(expression) {
    const r = await this.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true });
    if (r.exceptionDetails) throw new Error(`page: ${JSON.stringify(r.exceptionDetails).slice(0, 300)}`);
    return r.result.value;
  }

  async waitFor(what, expression, ms = 20_000) {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      try { if (await this.evaluate(expression)) return; } catch { /* page not ready yet */ }
      await sleep(50);
    }
    throw new Error(`timed out: ${what}`);
  }

  async close() {
    try { this.ws.close(); } catch { /* closing anyway */ }
    await fetch(`${devtools}/json/close/${this.id}`);
  }
}

async function openTab(url) {
  const target = await (await fetch(`${devtools}/json/new?${url}`, { method: 'PUT' })).json();
  const tab = new Tab(target);
  await tab.opened();
  tabs.push(tab);
  return tab;
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
  devtools = `http://127.0.0.1:${port}`;
  let page = null;
  while (!page) {
    if (Date.now() > until) throw new Error('no page target');
    const list = await (await fetch(`${devtools}/json/list`)).json();
    page = list.find((t) => t.type === 'page' && t.url.startsWith('http'));
    if (!page) await sleep(50);
  }
  const tab = new Tab(page);
  await tab.opened();
  tabs.push(tab);
}

function finish(report) {
  clearTimeout(hardStop);
  for (const tab of tabs) { try { tab.ws.close(); } catch { /* closing anyway */ } }
  if (chrome) chrome.kill('SIGKILL');
  proxy.close();
  cutAll();
  try { if (profile) fs.rmSync(profile, { recursive: true, force: true }); } catch { /* best effort */ }
  console.log(JSON.stringify({ ...report, ...state }));
  process.exit(report.ok ? 0 : 1);
}

const TABS = 4;
const room = 'ssekitDemo.received.room';
const shown = `${room}.map(function (e) { return [e.type, e.data, e.lastEventId]; })`;

// Each tab must show exactly m0..m(n-1), in order, as messages with
// consecutive ids.
async function checkShown(list, n) {
  const expected = Array.from({ length: n }, (_, i) => `m${i}`);
  for (const [i, tab] of list.entries()) {
    const got = await tab.evaluate(shown);
    const data = got.map((e) => e[1]);
    if (JSON.stringify(data) !== JSON.stringify(expected)) {
      throw new Error(`tab ${i}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(got)}`);
    }
    if (!got.every((e) => e[0] === 'message')) throw new Error(`tab ${i}: not only messages: ${JSON.stringify(got)}`);
    const offsets = got.map((e) => Number(e[2].split('-')[1]));
    if (!offsets.every((o, j) => j === 0 || o === offsets[j - 1] + 1)) {
      throw new Error(`tab ${i}: ids not consecutive: ${JSON.stringify(got)}`);
    }
  }
}

async function postDirect(from, to) {
  for (let i = from; i < to; i++) {
    const res = await fetch(`${base}/rooms/lobby`, { method: 'POST', body: `m${i}` });
    if (res.status !== 200) throw new Error(`POST m${i}: ${res.status}`);
  }
}

async function run() {
  await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${proxy.address().port}`;
  await launch(`${origin}/`);
  const open = 'window.ssekitDemo && ssekitDemo.sources.room && ssekitDemo.sources.room.readyState === 1';
  await tabs[0].waitFor('the room stream is open in the first tab', open);
  for (let i = 1; i < TABS; i++) await openTab(`${origin}/`);
  for (const [i, tab] of tabs.entries()) await tab.waitFor(`the room is open in tab ${i}`, open);
  // 1. Posted by the first tab itself, with every tab open.
  for (let i = 0; i < 5; i++) {
    const id = await tabs[0].evaluate(`ssekitDemo.postRoom("m${i}")`);
    if (!id) throw new Error(`the page could not post m${i} with ${TABS} tabs open`);
  }
  for (const [i, tab] of tabs.entries()) await tab.waitFor(`m0..m4 shown in tab ${i}`, `${room}.length >= 5`);
  // 2. Cut mid-stream; the messages in between go straight to the server.
  refusing = true;
  cutAll();
  await postDirect(5, 10);
  await sleep(300);
  const duringCut = [];
  for (const tab of tabs) duringCut.push(await tab.evaluate(`${room}.length`));
  // 3. Let the browser reconnect.
  refusing = false;
  for (const [i, tab] of tabs.entries()) {
    await tab.waitFor(`m0..m9 shown in tab ${i} after the reconnect`, `${room}.length >= 10`);
  }
  await sleep(500); // a duplicate would arrive now
  await checkShown(tabs, 10);
  if (!duringCut.every((n) => n === 5)) throw new Error(`the cut did not hold: ${JSON.stringify(duringCut)} messages during it`);
  const ids = (await tabs[0].evaluate(shown)).map((e) => e[2]);
  // 4. The tab holding the room's connection goes; another takes over.
  const roles = [];
  for (const tab of tabs) roles.push(await tab.evaluate('ssekitDemo.roomRole()'));
  if (roles.filter((r) => r === 'leader').length !== 1) throw new Error(`not one tab holds the room: ${JSON.stringify(roles)}`);
  const leader = roles.indexOf('leader');
  await tabs[leader].close();
  const left = tabs.filter((_, i) => i !== leader);
  await postDirect(10, 15);
  for (const [i, tab] of left.entries()) {
    await tab.waitFor(`m0..m14 shown in remaining tab ${i}`, `${room}.length >= 15`);
  }
  await sleep(500);
  await checkShown(left, 15);
  const after = [];
  for (const tab of left) after.push(await tab.evaluate('ssekitDemo.roomRole()'));
  if (after.filter((r) => r === 'leader').length !== 1) throw new Error(`not one tab took over: ${JSON.stringify(after)}`);
  const messages = (await left[0].evaluate(shown)).map((e) => e[1]);
  finish({ ok: true, tabs: TABS, messages: messages.slice(0, 10), handedOver: messages.slice(10), ids });
}

run().catch((e) => finish({ ok: false, error: String(e.message || e) }));
