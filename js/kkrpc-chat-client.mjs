// Chat conformance check for `polycodec serve` with the real kkrpc 0.2.2 client
// (the LEGACY protocol: no WebSocket subprotocol, newline-framed superjson messages).
//
// Usage: node js/kkrpc-chat-client.mjs <ws-base-url> <room> [<ws-base-url for k2>]
//   e.g. node js/kkrpc-chat-client.mjs ws://127.0.0.1:9000 lobby
//   (with a second URL, k2 connects to another node of the same cluster)
//
// Two clients, "k1" and "k2", connect to <ws-base-url>/chat/<room>?username=k1|k2
// using kkrpc's WebSocketClientIO + RPCChannel with superjson serialization, and
// each exposes { message(msg) } so the server can push chat messages to it. Checks:
//
//   * both connect; k1 is told "k2 joined" (system message),
//   * k1.send("hi from kkrpc") returns the stored message (user k1, `at` a Date),
//   * k2 receives it through message() with user "k1", the text and a Date `at`,
//   * history() contains it (with a Date `at`), members() lists k1 and k2,
//   * when k2 disconnects, k1 is told "k2 left".
//
// Output: exactly one JSON line on stdout, {"passed":[...],"failed":[{"name","error"}]};
// exit code 0 only when every check passed (1 otherwise, 2 on a usage error).
// Progress goes to stderr. Every check is bounded by CHECK_TIMEOUT_MS (kkrpc 0.2.2
// has no timeouts of its own) and a watchdog ends the run after RUN_TIMEOUT_MS.

import { inspect } from "node:util";
import WebSocket from "ws";
import { RPCChannel, WebSocketClientIO } from "kkrpc";

// kkrpc logs unparseable lines with console.log; keep stdout for the result line.
console.log = (...args) => console.error(...args);

const CHECK_TIMEOUT_MS = Number(process.env.KKRPC_CHECK_TIMEOUT_MS ?? 5000);
const RUN_TIMEOUT_MS = 30_000;

const [baseArg, room, base2Arg] = process.argv.slice(2);
if (!baseArg || !room) {
  console.error("usage: node js/kkrpc-chat-client.mjs <ws-base-url e.g. ws://127.0.0.1:PORT> <room>");
  process.exit(2);
}
const base = baseArg.replace(/\/+$/, "");
const base2 = (base2Arg ?? baseArg).replace(/\/+$/, "");
const TEXT = "hi from kkrpc";

const passed = [];
const failed = [];
let finished = false;

function finish() {
  if (finished) return;
  finished = true;
  process.stdout.write(JSON.stringify({ passed, failed }) + "\n");
  process.exit(failed.length === 0 && passed.length > 0 ? 0 : 1);
}

const watchdog = setTimeout(() => {
  failed.push({ name: "watchdog", error: `run exceeded ${RUN_TIMEOUT_MS} ms` });
  finish();
}, RUN_TIMEOUT_MS);
watchdog.unref();

const show = (v) => inspect(v, { depth: 6, breakLength: Infinity, compact: Infinity });

// ---------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------

// kkrpc's WebSocketClientIO does `new WebSocket(url)` on the global; Node 20 has
// none, so install `ws`, through a subclass that hands us each socket it creates
// (to watch open/close without reaching into kkrpc internals).
let lastSocket = null;
globalThis.WebSocket = class RecordingWebSocket extends WebSocket {
  constructor(...args) {
    super(...args);
    lastSocket = this;
  }
};

function makeClient(username, at = base) {
  const url = `${at}/chat/${encodeURIComponent(room)}?username=${encodeURIComponent(username)}`;
  const inbox = []; // every msg the server pushed through message()
  const waiters = new Set();
  const client = {
    username,
    inbox,
    // Resolves with the first pushed message matching `pred` (past or future).
    waitFor(pred) {
      const hit = inbox.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve) => waiters.add({ pred, resolve }));
    },
  };

  const io = new WebSocketClientIO({ url }); // no subprotocol: the legacy path
  const socket = lastSocket;
  client.socket = socket;
  client.channel = new RPCChannel(io, {
    expose: {
      message(msg) {
        inbox.push(msg);
        console.error(`     ${username} <- message(${show(msg)})`);
        for (const w of [...waiters]) {
          if (w.pred(msg)) {
            waiters.delete(w);
            w.resolve(msg);
          }
        }
        // undefined: kkrpc replies {args:{result:undefined}}
      },
    },
    serialization: { version: "superjson" },
  });
  client.api = client.channel.getAPI();

  client.opened = new Promise((resolve, reject) => {
    socket.addEventListener("open", () => resolve());
    socket.addEventListener("error", (ev) => reject(new Error(`${username}: connection error: ${ev.message ?? ev.error ?? "unknown"}`)));
    socket.addEventListener("close", (ev) => reject(new Error(`${username}: closed before open (code ${ev.code})`)));
  });
  client.opened.catch(() => {});
  // Rejects when the socket closes, so a check fails fast instead of timing out.
  client.closed = new Promise((_, reject) => {
    socket.addEventListener("close", (ev) => reject(new Error(`${username}: connection closed by server (code ${ev.code}${ev.reason ? `: ${ev.reason}` : ""})`)));
  });
  client.closed.catch(() => {});
  return client;
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

let essentialFailed = false;

async function check(name, fn, { essential = false, racers = [] } = {}) {
  if (essentialFailed) {
    failed.push({ name, error: "not run: an earlier essential check failed" });
    return;
  }
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([Promise.resolve().then(fn), timeout, ...racers]);
    passed.push(name);
    console.error(`ok   ${name}`);
  } catch (err) {
    failed.push({ name, error: err instanceof Error ? err.message : show(err) });
    console.error(`FAIL ${name}: ${err instanceof Error ? err.message : show(err)}`);
    if (essential) essentialFailed = true;
  } finally {
    clearTimeout(timer);
  }
}

function assertChatMessage(msg, { user, text, system }, what) {
  if (msg === null || typeof msg !== "object") throw new Error(`${what}: expected an object, got ${show(msg)}`);
  if (msg.user !== user) throw new Error(`${what}: user is ${show(msg.user)}, expected ${show(user)}`);
  if (msg.text !== text) throw new Error(`${what}: text is ${show(msg.text)}, expected ${show(text)}`);
  if (msg.system !== system) throw new Error(`${what}: system is ${show(msg.system)}, expected ${system}`);
  if (msg.room !== room) throw new Error(`${what}: room is ${show(msg.room)}, expected ${show(room)}`);
  if (!(msg.at instanceof Date)) {
    throw new Error(`${what}: at is ${show(msg.at)} (${typeof msg.at}), expected a Date (superjson reply needed)`);
  }
  if (Number.isNaN(msg.at.getTime())) throw new Error(`${what}: at is an invalid Date`);
  if (Math.abs(Date.now() - msg.at.getTime()) > 10 * 60_000) throw new Error(`${what}: at ${msg.at.toISOString()} is far from now`);
}

const k1 = makeClient("k1");
const both = () => [k1.closed, k2?.closed].filter(Boolean);
let k2 = null;

await check("k1 connects", () => k1.opened, { essential: true });

await check("k2 connects", async () => {
  k2 = makeClient("k2", base2);
  await k2.opened;
}, { essential: true });

await check("k1 receives system message \"k2 joined\"", async () => {
  const msg = await k1.waitFor((m) => m?.system === true && m?.text === "k2 joined");
  assertChatMessage(msg, { user: "k2", text: "k2 joined", system: true }, "join notice");
}, { racers: both() });

let stored;
await check(`k1 send("${TEXT}") returns the stored message`, async () => {
  stored = await k1.api.send(TEXT);
  assertChatMessage(stored, { user: "k1", text: TEXT, system: false }, "send() result");
}, { racers: both() });

await check(`k2 receives "${TEXT}" via message() with a Date`, async () => {
  const msg = await k2.waitFor((m) => m?.system === false && m?.text === TEXT);
  assertChatMessage(msg, { user: "k1", text: TEXT, system: false }, "pushed message");
  if (stored?.at instanceof Date && msg.at.getTime() !== stored.at.getTime()) {
    throw new Error(`pushed at ${msg.at.toISOString()} differs from stored at ${stored.at.toISOString()}`);
  }
}, { racers: both() });

await check(`history() contains "${TEXT}"`, async () => {
  const history = await k2.api.history();
  if (!Array.isArray(history)) throw new Error(`history() returned ${show(history)}, expected an array`);
  if (history.length > 50) throw new Error(`history() returned ${history.length} messages, expected at most 50`);
  const hit = history.findLast((m) => m?.system === false && m?.text === TEXT && m?.user === "k1");
  if (!hit) throw new Error(`not found in ${show(history)}`);
  assertChatMessage(hit, { user: "k1", text: TEXT, system: false }, "history entry");
  const times = history.map((m) => (m?.at instanceof Date ? m.at.getTime() : NaN));
  if (times.some((t, i) => i > 0 && t < times[i - 1])) throw new Error("history() is not oldest-first");
}, { racers: both() });

await check("members() lists k1 and k2", async () => {
  const members = await k1.api.members();
  if (!Array.isArray(members)) throw new Error(`members() returned ${show(members)}, expected an array`);
  for (const name of ["k1", "k2"]) {
    if (!members.includes(name)) throw new Error(`${name} missing from members() = ${show(members)}`);
  }
}, { racers: both() });

await check("k1 receives system message \"k2 left\" after k2 disconnects", async () => {
  k2.socket.close(1000, "done");
  const msg = await k1.waitFor((m) => m?.system === true && m?.text === "k2 left");
  assertChatMessage(msg, { user: "k2", text: "k2 left", system: true }, "leave notice");
}, { racers: [k1.closed] });

try { k1.socket.close(1000, "done"); } catch {}
clearTimeout(watchdog);
finish();
