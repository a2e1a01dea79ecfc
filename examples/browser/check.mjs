// Headless-Chromium check of the ssekit demo page against a running demo server.
//
//   node check.mjs <base-url> <screenshot.png> [framework-name]
//
// Opens <base-url>/?interval_ms=50&framework=<name>, connects the `events` and
// `ping` panels, sends a chat prompt, and waits until:
//   - events received exactly "0".."4" (type "message") and the page closed it;
//   - ping received >= 3 events of type "ping" whose data is unix seconds and
//     whose lastEventIds are consecutive numbers (they count the events);
//   - the chat bubble is done, non-empty, equals the concatenated deltas, from
//     >= 3 delta events.
// Then disconnects ping, takes a full-page screenshot and prints one JSON line:
//   {"ok":true,"framework":...,"events":[...],"pings":N,"chat":"...","ms":N}
// or {"ok":false,"error":"...","received":{...},...} with exit code 1.
//
// Chromium is /usr/bin/chromium (Debian's package), in a fresh temporary
// profile that is removed at the end. Only the base URL's host is contacted.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const OVERALL_MS = 60_000;
const WAIT_MS = 20_000;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const PROMPT = 'what is server-sent events';

const [baseArg, shotArg, framework = null] = process.argv.slice(2);
if (!baseArg || !shotArg) {
  console.error('usage: node check.mjs <base-url> <screenshot.png> [framework-name]');
  process.exit(2);
}
const base = baseArg.replace(/\/+$/, '');
const shotPath = path.resolve(shotArg);
const started = Date.now();

// Last resort: whatever hangs, the process ends a little after the overall bound.
const hardStop = setTimeout(() => {
  console.log(JSON.stringify({ ok: false, framework, error: 'hard timeout: the check did not finish or clean up in time' }));
  process.exit(1);
}, OVERALL_MS + 15_000);

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

const remaining = () => Math.max(1, OVERALL_MS - (Date.now() - started));
const waitBudget = () => Math.min(WAIT_MS, remaining());

async function received(page) {
  if (!page) return null;
  try {
    return await withTimeout(page.evaluate(() => window.ssekitDemo && window.ssekitDemo.received), 3_000, 'reading state');
  } catch (e) {
    return { unavailable: String(e.message || e) };
  }
}

async function waitFor(page, what, fn, arg) {
  try {
    await page.waitForFunction(fn, arg, { timeout: waitBudget(), polling: 50 });
  } catch (e) {
    throw new Error(`${what} (${String(e.message || e).split('\n')[0]})`);
  }
}

async function screenshot(page) {
  fs.mkdirSync(path.dirname(shotPath), { recursive: true });
  await withTimeout(page.screenshot({ path: shotPath, fullPage: true, timeout: 10_000 }), 12_000, 'screenshot');
}

async function run(state) {
  const origin = new URL(base).origin;
  state.userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ssekit-chromium-'));
  state.context = await withTimeout(
    chromium.launchPersistentContext(state.userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: { width: 1280, height: 900 },
      timeout: 20_000,
    }),
    25_000,
    'launching Chromium',
  );
  const context = state.context;
  context.setDefaultTimeout(WAIT_MS);
  context.on('request', (req) => {
    const url = req.url();
    if (/^(about|data|blob):/.test(url)) return;
    try {
      if (new URL(url).origin !== origin) state.foreign.push(url);
    } catch {
      state.foreign.push(url);
    }
  });

  const page = context.pages()[0] || (await context.newPage());
  state.page = page;
  page.on('pageerror', (err) => state.pageErrors.push(String(err.message || err)));
  page.on('console', (msg) => { if (msg.type() === 'error') state.consoleErrors.push(msg.text()); });

  const q = new URLSearchParams({ interval_ms: '50' });
  if (framework) q.set('framework', framework);
  const resp = await page.goto(`${base}/?${q}`, { waitUntil: 'load', timeout: waitBudget() });
  if (!resp || !resp.ok()) throw new Error(`GET / answered ${resp ? resp.status() : 'nothing'}`);
  await waitFor(page, 'the page did not set up window.ssekitDemo', () => !!(window.ssekitDemo && window.ssekitDemo.received));

  await page.click('section[data-stream="events"] button[data-action="connect"]');
  await page.click('section[data-stream="ping"] button[data-action="connect"]');
  await page.fill('section[data-stream="chat"] input[data-role="prompt"]', PROMPT);
  await page.click('section[data-stream="chat"] button[data-action="send"]');

  // events: five messages, then the server ends the stream and the page closes it.
  await waitFor(page, 'events: did not receive 5 events and end (state 2)', () => {
    const sec = document.querySelector('section[data-stream="events"]');
    return window.ssekitDemo.received.events.length >= 5
      && sec.querySelector('[data-role="state"]').textContent.trim() === '2';
  });
  const events = await page.evaluate(() => window.ssekitDemo.received.events);
  const eventData = events.map((e) => e.data);
  if (JSON.stringify(eventData) !== JSON.stringify(['0', '1', '2', '3', '4'])) {
    throw new Error(`events: expected data 0..4 exactly, got ${JSON.stringify(eventData)}`);
  }
  if (!events.every((e) => e.type === 'message')) throw new Error(`events: expected type "message" only, got ${JSON.stringify(events)}`);
  const logged = await page.$$eval('section[data-stream="events"] ol[data-role="log"] > li',
    (lis) => lis.map((li) => [li.getAttribute('data-type'), li.getAttribute('data-data'), li.getAttribute('data-last-event-id')]));
  if (JSON.stringify(logged) !== JSON.stringify(eventData.map((d) => ['message', d, '']))) {
    throw new Error(`events: the log list does not match: ${JSON.stringify(logged)}`);
  }

  // ping: at least three named events, data = unix seconds.
  await waitFor(page, 'ping: fewer than 3 "ping" events', () =>
    window.ssekitDemo.received.ping.filter((e) => e.type === 'ping').length >= 3);
  const pings = await page.evaluate(() => window.ssekitDemo.received.ping);
  const nowS = Date.now() / 1000;
  for (const p of pings) {
    if (p.type !== 'ping') throw new Error(`ping: unexpected event ${JSON.stringify(p)}`);
    if (!/^\d+$/.test(p.data) || Math.abs(Number(p.data) - nowS) > 3600) {
      throw new Error(`ping: data is not the current unix seconds: ${JSON.stringify(p)}`);
    }
  }
  // ids count the events: consecutive, none repeated.
  pings.forEach((p, i) => {
    if (p.lastEventId !== String(Number(pings[0].lastEventId) + i)) {
      throw new Error(`ping: ids are not consecutive: ${JSON.stringify(pings.map((q) => q.lastEventId))}`);
    }
  });

  // chat: the bubble is done and equals the concatenated deltas.
  await waitFor(page, 'chat: the answer bubble was not marked done', () =>
    document.querySelector('section[data-stream="chat"] [data-role="bubble"]').getAttribute('data-done') === 'true');
  const chat = await page.evaluate(() => ({
    bubble: document.querySelector('section[data-stream="chat"] [data-role="bubble"]').textContent,
    received: window.ssekitDemo.received.chat,
  }));
  const deltas = chat.received.filter((e) => e.type === 'message').map((e) => {
    try {
      const d = JSON.parse(e.data).delta;
      if (typeof d === 'string') return d;
    } catch { /* reported below */ }
    throw new Error(`chat: a message is not {"delta": string}: ${JSON.stringify(e)}`);
  });
  if (deltas.length < 3) throw new Error(`chat: only ${deltas.length} delta events`);
  const dones = chat.received.filter((e) => e.type === 'done');
  if (dones.length !== 1) throw new Error(`chat: expected one "done" event, got ${dones.length}`);
  let finish;
  try { finish = JSON.parse(dones[0].data).finish_reason; } catch { finish = undefined; }
  if (finish !== 'stop') throw new Error(`chat: done data is not {"finish_reason":"stop"}: ${dones[0].data}`);
  const answer = deltas.join('');
  if (!answer.trim()) throw new Error('chat: the answer is empty');
  if (chat.bubble !== answer) {
    throw new Error(`chat: bubble ${JSON.stringify(chat.bubble)} differs from the deltas ${JSON.stringify(answer)}`);
  }

  // Stop the endless stream, then screenshot.
  await page.click('section[data-stream="ping"] button[data-action="disconnect"]');
  await waitFor(page, 'ping: not closed after Disconnect', () =>
    document.querySelector('section[data-stream="ping"] [data-role="state"]').textContent.trim() === '2');
  const pingCount = await page.evaluate(() => window.ssekitDemo.received.ping.length);

  if (state.foreign.length) throw new Error(`requests left the base URL's origin: ${state.foreign.join(', ')}`);
  if (state.pageErrors.length) throw new Error(`page errors: ${state.pageErrors.join(' | ')}`);

  await screenshot(page);
  state.shot = true;
  return { ok: true, framework, events: eventData, pings: pingCount, chat: answer, ms: Date.now() - started };
}

const state = { context: null, page: null, userDataDir: null, foreign: [], pageErrors: [], consoleErrors: [], shot: false };
let exitCode = 1;
try {
  const summary = await withTimeout(run(state), OVERALL_MS, 'the whole check');
  console.log(JSON.stringify(summary));
  exitCode = 0;
} catch (err) {
  const out = { ok: false, framework, error: String((err && err.message) || err) };
  out.received = await received(state.page);
  if (state.pageErrors.length) out.pageErrors = state.pageErrors;
  if (state.consoleErrors.length) out.consoleErrors = state.consoleErrors;
  if (state.foreign.length) out.foreignRequests = state.foreign;
  if (state.page && !state.shot) {
    try { await screenshot(state.page); out.screenshot = shotPath; } catch (e) { out.screenshotError = String(e.message || e); }
  }
  out.ms = Date.now() - started;
  console.log(JSON.stringify(out));
} finally {
  if (state.context) {
    try { await withTimeout(state.context.close(), 10_000, 'closing Chromium'); } catch (e) { console.error(String(e.message || e)); }
  }
  if (state.userDataDir) {
    try { fs.rmSync(state.userDataDir, { recursive: true, force: true }); } catch (e) { console.error(String(e.message || e)); }
  }
  clearTimeout(hardStop);
}
process.exit(exitCode);
