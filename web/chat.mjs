// @ts-check
// polycodec chat: browser client.
//
// Checked by `tsc` against the generated types of the server (web/api.ts, written by
// `polycodec types`): calls go through `ChatApi`, the exposed API is a `ChatClientApi`.
//
// Talks to `polycodec serve` over one WebSocket per room:
//
//   ws(s)://<host>/chat/<room>?username=<name>[&token=<secret>]
//
// offering the subprotocols "polycodec.superjson" and "polycodec.json". Every
// frame is one text frame holding one kkrpc *compact* protocol message
// (kkrpc >= 1.0, see shared/specs/kkrpc-protocol.md §2), encoded according to the
// negotiated subprotocol:
//
//   polycodec.superjson  superjson.stringify(message)   (the WHOLE message, §2.12)
//   polycodec.json       JSON.stringify(message)
//
// We call the server's send(text), history() and members(); the server calls our
// exposed message(msg) for every chat message and join/leave notice, and we answer
// each such call with {t:"r", id} (no value).
//
// The small RPC peer below is written from the protocol description, not taken
// from kkrpc. superjson is the real package, served from /vendor through the
// import map in index.html.

import superjson from "superjson";

/** @typedef {import("./api").ChatApi} ChatApi */
/** @typedef {import("./api").ChatClientApi} ChatClientApi */

// ---------------------------------------------------------------------------
// Codecs: one per subprotocol the server may pick.
// ---------------------------------------------------------------------------

const CODECS = {
  "polycodec.superjson": {
    encode: (message) => superjson.stringify(message),
    decode: (text) => superjson.parse(text),
  },
  "polycodec.json": {
    encode: (message) => JSON.stringify(message),
    decode: (text) => JSON.parse(text),
  },
};

// ---------------------------------------------------------------------------
// A minimal kkrpc compact-protocol peer.
//
// Messages handled (spec §2.1):
//   {t:"q", id, op:"call", p:[...path], a:[...envelopes]}   request (both directions)
//   {t:"r", id, v?}  /  {t:"r", id, e:{n, m, ...}}           response
//   {t:"cb", ...}, {t:"cbr", ...}                            callbacks: we never pass
//                                                            functions, so we ignore them
// Every top-level argument travels in an envelope (§2.4):
//   {"__kkrpc_next_arg__":"value","v":<value>}  (no "v" when the value is undefined)
// ---------------------------------------------------------------------------

const ENVELOPE_KEY = "__kkrpc_next_arg__";

// Request ids only have to be unique among our own in-flight calls. Prefer a UUID
// (what kkrpc uses); crypto.randomUUID only exists in secure contexts, so fall back
// to time-counter-random on plain-http LAN addresses.
let idCounter = 0;
function newRequestId() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  idCounter += 1;
  return `${Date.now().toString(36)}-${idCounter.toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

function wrapArg(value) {
  // Leave "v" out for undefined so the wire form matches kkrpc's exactly.
  return value === undefined ? { [ENVELOPE_KEY]: "value" } : { [ENVELOPE_KEY]: "value", v: value };
}

function unwrapArg(arg) {
  // Only the top level is unwrapped; raw (unwrapped) values are accepted as they are.
  if (arg !== null && typeof arg === "object" && arg[ENVELOPE_KEY] === "value") return arg.v;
  if (arg !== null && typeof arg === "object" && arg[ENVELOPE_KEY] === "callback") {
    // We expose no method that takes a callback; refuse rather than guess.
    throw new Error("callback arguments are not supported by this client");
  }
  return arg;
}

// Wire error {n, m, ...extra} -> Error with that name, message and extra keys (§2.6).
function errorFromWire(e) {
  const err = new Error(typeof e?.m === "string" ? e.m : String(e?.m ?? "remote error"));
  if (e && typeof e === "object") {
    for (const [key, value] of Object.entries(e)) {
      if (key === "n") err.name = String(value);
      else if (key === "s") Object.assign(err, { remoteStack: value });
      else if (key !== "m") err[key] = value;
    }
  }
  return err;
}

// Error -> wire error object. Always an object: kkrpc clients misread a string.
function errorToWire(err) {
  if (err instanceof Error) return { n: err.name || "Error", m: err.message };
  return { n: "Error", m: String(err) };
}

/** @template {object} Remote  the API the other side serves (its methods return promises) */
export class CompactRpcPeer {
  /**
   * @param {object} options
   * @param {(text: string) => void} options.send  writes one text frame
   * @param {{encode: Function, decode: Function}} options.codec
   * @param {object} options.expose  methods the other side may call (own properties only)
   * @param {number} [options.timeoutMs]  per-call timeout; 0 disables it
   */
  constructor({ send, codec, expose, timeoutMs = 10_000 }) {
    this.sendText = send;
    this.codec = codec;
    this.expose = expose;
    this.timeoutMs = timeoutMs;
    this.pending = new Map(); // id -> {resolve, reject, timer, method}
    this.closedError = null;
  }

  /**
   * Calls a remote method, e.g. call("send", "hi"). Resolves with the result.
   * @template {keyof Remote & string} M
   * @param {M} method
   * @param {Remote[M] extends (...args: infer A) => any ? A : never} args
   * @returns {Remote[M] extends (...args: any[]) => infer R ? R : never}
   */
  call(method, ...args) {
    if (this.closedError) return /** @type {any} */ (Promise.reject(this.closedError));
    const id = newRequestId();
    const message = { t: "q", id, op: "call", p: method.split("."), a: args.map(wrapArg) };
    return /** @type {any} */ (new Promise((resolve, reject) => {
      const entry = { resolve, reject, timer: null, method };
      if (this.timeoutMs > 0) {
        entry.timer = setTimeout(() => {
          // Like kkrpc: nothing is sent to the callee; a late reply is ignored.
          this.pending.delete(id);
          const err = new Error(`RPC request ${id} (${method}) timed out after ${this.timeoutMs}ms`);
          err.name = "RPCTimeoutError";
          reject(err);
        }, this.timeoutMs);
      }
      this.pending.set(id, entry);
      try {
        this.write(message);
      } catch (err) {
        clearTimeout(entry.timer);
        this.pending.delete(id);
        reject(err);
      }
    }));
  }

  /** Feeds one received text frame into the peer. Bad input is dropped, as kkrpc does. */
  receive(text) {
    let message;
    try {
      message = this.codec.decode(text);
    } catch (err) {
      console.warn("kkrpc: dropping undecodable frame", err, text);
      return;
    }
    if (message === null || typeof message !== "object") return;
    if (message.t === "r") this.handleResponse(message);
    else if (message.t === "q") this.handleRequest(message);
    // "cb"/"cbr"/"sq"/"sr" and anything unknown: we never created callbacks or
    // streams, so there is nothing to route them to.
  }

  /** Rejects every pending call; later calls fail at once. */
  close(reason = "connection closed") {
    if (!this.closedError) {
      this.closedError = new Error(reason);
      this.closedError.name = "RPCTransportClosedError";
    }
    for (const [id, entry] of this.pending) {
      clearTimeout(entry.timer);
      entry.reject(this.closedError);
      this.pending.delete(id);
    }
  }

  write(message) {
    this.sendText(this.codec.encode(message));
  }

  handleResponse(message) {
    const entry = this.pending.get(message.id);
    if (!entry) return; // unknown or already timed out: ignore (§2.11)
    this.pending.delete(message.id);
    clearTimeout(entry.timer);
    // If "e" is present it wins, even when "v" is there too (§2.1).
    if (message.e !== undefined && message.e !== null) entry.reject(errorFromWire(message.e));
    else entry.resolve(message.v);
  }

  async handleRequest(message) {
    const { id } = message;
    if (typeof id !== "string") return; // kkrpc drops these silently (§2.2)
    const reply = (fields) => {
      if (this.closedError) return;
      try {
        this.write({ t: "r", id, ...fields });
      } catch (err) {
        console.warn("kkrpc: could not send a response", err);
      }
    };
    try {
      if (message.op !== "call") throw new Error(`unsupported op ${JSON.stringify(message.op)}`);
      const path = message.p;
      if (!Array.isArray(path) || path.length === 0 || !path.every((s) => typeof s === "string")) {
        throw new Error("invalid path");
      }
      // Walk the exposed object through own properties only, never the prototype chain.
      let target = this.expose;
      let fn = this.expose;
      for (const segment of path) {
        if (fn === null || typeof fn !== "object" || !Object.hasOwn(fn, segment)) {
          throw new Error(`${path.join(".")} is not a function`);
        }
        target = fn;
        fn = fn[segment];
      }
      if (typeof fn !== "function") throw new Error(`${path.join(".")} is not a function`);
      const args = Array.isArray(message.a) ? message.a.map(unwrapArg) : [];
      const result = await fn.apply(target, args);
      // Leave "v" out entirely for undefined: superjson would otherwise turn a present
      // undefined key into null plus an annotation.
      reply(result === undefined ? {} : { v: result });
    } catch (err) {
      reply({ e: errorToWire(err) });
    }
  }
}

// ---------------------------------------------------------------------------
// The chat page.
// ---------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);
const input = (id) => /** @type {HTMLInputElement} */ ($(id));
const button = (id) => /** @type {HTMLButtonElement} */ ($(id));
const ui = {
  joinForm: $("join-form"),
  room: input("room-input"),
  name: input("name-input"),
  join: button("join-button"),
  leave: button("leave-button"),
  status: $("status"),
  notice: $("notice"),
  members: $("members"),
  messages: $("messages"),
  sendForm: $("send-form"),
  input: input("message-input"),
  send: button("send-button"),
};

const params = new URLSearchParams(location.search);
// Optional: ?codec=json offers only polycodec.json (handy for testing the server).
const OFFERED_PROTOCOLS =
  params.get("codec") === "json" ? ["polycodec.json"] :
  params.get("codec") === "superjson" ? ["polycodec.superjson"] :
  ["polycodec.superjson", "polycodec.json"];

const BACKOFF_START_MS = 250;
const BACKOFF_MAX_MS = 5_000;

const CLOSE_REASONS = {
  1000: "closed",
  1001: "server going away",
  1006: "connection lost",
  1008: "rejected by server",
  1011: "server error",
  1012: "server restarting",
};

const state = {
  room: "",
  name: "",
  token: params.get("token") || "",
  wantConnected: false, // false once the user pressed Leave
  ws: /** @type {WebSocket | null} */ (null),
  peer: /** @type {CompactRpcPeer<ChatApi> | null} */ (null),
  codec: "",
  phase: "idle", // idle | connecting | connected | reconnecting
  backoffMs: BACKOFF_START_MS,
  attempt: 0, // connection attempts since the last successful open
  everOpened: false, // has this join ever been connected? (then we are "reconnecting")
  reconnectTimer: null,
  loadingHistory: false,
  bufferedLive: [], // messages pushed while history() is in flight
  seen: new Set(), // dedupe keys of rendered messages
  membersTimer: null,
};

function setStatus(phase, text) {
  state.phase = phase;
  ui.status.dataset.state = phase;
  ui.status.textContent = text;
}

function setNotice(text) {
  ui.notice.textContent = text;
}

function setChatEnabled(enabled) {
  ui.input.disabled = !enabled;
  ui.send.disabled = !enabled;
}

// ----- messages -------------------------------------------------------------

// Messages carry no id, so identify them by content; the same message can arrive
// through history(), a live message() push and the result of our own send().
function messageKey(m) {
  return `${m.at.getTime()}|${m.system ? 1 : 0}|${m.user}|${m.text}`;
}

function normalizeMessage(raw) {
  // With polycodec.superjson "at" is a real Date; with polycodec.json it is an ISO string.
  const at = raw?.at instanceof Date ? raw.at : new Date(raw?.at);
  return {
    room: String(raw?.room ?? state.room),
    user: String(raw?.user ?? "?"),
    text: String(raw?.text ?? ""),
    at,
    system: raw?.system === true,
  };
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

function renderMessage(raw) {
  const m = normalizeMessage(raw);
  const key = messageKey(m);
  if (state.seen.has(key)) return;
  state.seen.add(key);

  const li = document.createElement("li");
  li.dataset.testid = "message";
  li.dataset.user = m.user;
  li.dataset.system = String(m.system);
  if (m.system) li.classList.add("system");
  if (!m.system && m.user === state.name) li.classList.add("self");

  const user = document.createElement("span");
  user.className = "msg-user";
  user.dataset.testid = "message-user";
  user.textContent = m.user;

  const text = document.createElement("span");
  text.className = "msg-text";
  text.dataset.testid = "message-text";
  text.textContent = m.text;

  const time = document.createElement("time");
  time.className = "msg-time";
  time.dataset.testid = "message-time";
  if (Number.isNaN(m.at.getTime())) {
    time.textContent = "–";
  } else {
    time.dateTime = m.at.toISOString();
    time.title = fullFormat.format(m.at);
    time.textContent = timeFormat.format(m.at);
  }

  li.append(user, text, time);

  // Keep the view pinned to the bottom unless the reader scrolled up.
  const list = ui.messages;
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(li);
  if (atBottom) list.scrollTop = list.scrollHeight;

  if (m.system) scheduleMembersRefresh();
}

function clearMessages() {
  ui.messages.replaceChildren();
  state.seen.clear();
}

// The API the server may call on us.
/** @type {ChatClientApi} */
const clientApi = {
  message(msg) {
    if (state.loadingHistory) state.bufferedLive.push(msg);
    else renderMessage(msg);
    // Returning undefined makes the reply {t:"r", id} with no value.
  },
};

// ----- calls to the server --------------------------------------------------

/** @param {CompactRpcPeer<ChatApi>} peer */
async function loadHistory(peer) {
  state.loadingHistory = true;
  state.bufferedLive = [];
  try {
    const history = await peer.call("history");
    if (peer !== state.peer) return;
    clearMessages();
    for (const m of Array.isArray(history) ? history : []) renderMessage(m);
  } catch (err) {
    if (peer === state.peer) setNotice(`could not load history: ${err.message}`);
  } finally {
    if (peer === state.peer) {
      state.loadingHistory = false;
      for (const m of state.bufferedLive) renderMessage(m); // duplicates are skipped
      state.bufferedLive = [];
    }
  }
}

async function refreshMembers() {
  const peer = state.peer;
  if (!peer || state.phase !== "connected") return;
  try {
    const members = await peer.call("members");
    if (peer !== state.peer) return;
    const names = Array.isArray(members) ? members.map(String) : [];
    ui.members.dataset.members = JSON.stringify(names);
    ui.members.textContent = names.length ? `In ${state.room}: ${names.join(", ")}` : "";
  } catch (err) {
    console.warn("members() failed", err);
  }
}

function scheduleMembersRefresh() {
  clearTimeout(state.membersTimer);
  state.membersTimer = setTimeout(refreshMembers, 100);
}

// ----- connection lifecycle ---------------------------------------------------

function chatUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = new URLSearchParams({ username: state.name });
  if (state.token) query.set("token", state.token);
  return `${scheme}//${location.host}/chat/${encodeURIComponent(state.room)}?${query}`;
}

function connect() {
  clearTimeout(state.reconnectTimer);
  state.attempt += 1;
  if (!state.everOpened && state.attempt === 1) setStatus("connecting", `connecting to ${state.room} as ${state.name}…`);
  else setStatus("reconnecting", `reconnecting… (attempt ${state.attempt})`);

  let ws;
  try {
    ws = new WebSocket(chatUrl(), OFFERED_PROTOCOLS);
  } catch (err) {
    setStatus("error", `cannot connect: ${err.message}`);
    return;
  }
  state.ws = ws;

  ws.addEventListener("open", () => {
    if (ws !== state.ws) return;
    const codec = CODECS[ws.protocol];
    if (!codec) {
      // The server must pick one of the offered subprotocols.
      ws.close(4000, "unsupported subprotocol");
      setNotice(`server chose unsupported subprotocol "${ws.protocol}"`);
      return;
    }
    state.codec = ws.protocol;
    /** @type {CompactRpcPeer<ChatApi>} */
    const peer = new CompactRpcPeer({ send: (text) => ws.send(text), codec, expose: clientApi });
    state.peer = peer;
    state.backoffMs = BACKOFF_START_MS;
    state.attempt = 0;
    state.everOpened = true;
    setNotice("");
    setStatus("connected", `connected · ${ws.protocol}`);
    ui.status.dataset.codec = ws.protocol;
    setChatEnabled(true);
    loadHistory(peer).then(refreshMembers);
  });

  ws.addEventListener("message", (event) => {
    if (ws !== state.ws || !state.peer) return;
    if (typeof event.data !== "string") return; // kkrpc only uses text frames
    state.peer.receive(event.data);
  });

  ws.addEventListener("close", (event) => {
    if (ws !== state.ws) return;
    const why = `${CLOSE_REASONS[event.code] ?? "closed"} (${event.code}${event.reason ? `: ${event.reason}` : ""})`;
    state.peer?.close(`connection closed: ${why}`);
    state.peer = null;
    state.ws = null;
    state.codec = "";
    delete ui.status.dataset.codec;
    setChatEnabled(false);
    state.loadingHistory = false;
    if (state.wantConnected) scheduleReconnect(why);
    else setStatus("idle", "not connected");
  });
  // "error" is always followed by "close", which does the work.
}

function scheduleReconnect(why) {
  const delay = state.backoffMs;
  state.backoffMs = Math.min(state.backoffMs * 2, BACKOFF_MAX_MS);
  setStatus("reconnecting", `disconnected: ${why} · reconnecting in ${(delay / 1000).toFixed(delay < 1000 ? 2 : 1)} s`);
  state.reconnectTimer = setTimeout(connect, delay);
}

function join(room, name) {
  leave(false);
  state.room = room;
  state.name = name;
  state.wantConnected = true;
  state.attempt = 0;
  state.everOpened = false;
  state.backoffMs = BACKOFF_START_MS;
  clearMessages();
  ui.members.textContent = "";
  ui.leave.disabled = false;
  // Keep the address shareable/reloadable: ?room=&name= (other parameters kept).
  const url = new URL(location.href);
  url.searchParams.set("room", room);
  url.searchParams.set("name", name);
  history.replaceState(null, "", url);
  connect();
}

function leave(updateStatus = true) {
  state.wantConnected = false;
  clearTimeout(state.reconnectTimer);
  const ws = state.ws;
  state.ws = null;
  state.peer?.close("left the room");
  state.peer = null;
  if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, "leaving");
  setChatEnabled(false);
  ui.leave.disabled = true;
  if (updateStatus) setStatus("idle", "not connected");
}

// ----- UI wiring --------------------------------------------------------------

ui.joinForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const room = ui.room.value.trim();
  const name = ui.name.value.trim();
  if (!room || !name) return;
  join(room, name);
  ui.input.focus();
});

ui.leave.addEventListener("click", () => {
  leave();
  ui.members.textContent = "";
});

ui.sendForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = ui.input.value.trim();
  const peer = state.peer;
  if (!text || !peer) return;
  ui.input.value = "";
  try {
    const stored = await peer.call("send", text);
    if (stored && peer === state.peer) renderMessage(stored); // skipped if the push came first
    setNotice("");
  } catch (err) {
    setNotice(`not sent: ${err.message}`);
    if (!ui.input.value) ui.input.value = text; // give the text back
  }
});

// Prefill from ?room=&name= and join straight away when both are present.
ui.room.value = params.get("room") ?? "";
ui.name.value = params.get("name") ?? "";
if (ui.room.value.trim() && ui.name.value.trim()) {
  join(ui.room.value.trim(), ui.name.value.trim());
} else {
  (ui.room.value ? ui.name : ui.room).focus();
}

// Small read-only hook for automated tests and debugging.
/** @type {any} */ (window).polycodecChat = {
  get phase() { return state.phase; },
  get codec() { return state.codec; },
  get room() { return state.room; },
  get name() { return state.name; },
  /** Drops the socket as if the network failed, to exercise the reconnect path. */
  dropConnection() { state.ws?.close(4001, "dropped by test hook"); },
};
