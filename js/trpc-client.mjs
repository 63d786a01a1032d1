// Live checks of a tRPC v11 server with the real @trpc/client 11.25.2 + superjson 2.2.6
// (ws and eventsource@4.1.1 for node 20), through every link: httpLink, httpBatchLink,
// httpBatchStreamLink, httpSubscriptionLink and wsLink. The server must implement the
// contract router (see src/rpc/demo_trpc.rs or js/trpc-reference-server.mjs).
//
// Usage: node js/trpc-client.mjs <http-url> <ws-url> [<method-override-http-url>]
//   e.g. node js/trpc-client.mjs http://127.0.0.1:3000/trpc ws://127.0.0.1:3000/trpc
// With a third URL (a server with allowMethodOverride), the HTTP links also run every
// query check with `methodOverride: 'POST'` (queries sent as POST) against it, and a query
// POSTed to the first server must be 405 METHOD_NOT_SUPPORTED.
//
// Output: one JSON line on stdout, {"passed":[name...],"failed":[{name,error}...]}; exit 0
// when every check passed. Progress goes to stderr.

import {
  createTRPCClient,
  createWSClient,
  httpBatchLink,
  httpBatchStreamLink,
  httpLink,
  httpSubscriptionLink,
  wsLink,
} from "@trpc/client";
import superjson from "superjson";
import WebSocket from "ws";
import { EventSource } from "eventsource";

const [httpUrl, wsUrl, overrideUrl] = process.argv.slice(2);
if (!httpUrl || !wsUrl) {
  console.error("usage: node js/trpc-client.mjs <http-url> <ws-url>");
  process.exit(2);
}
const TIMEOUT_MS = Number(process.env.TRPC_CHECK_TIMEOUT_MS ?? 5000);

const passed = [];
const failed = [];
let uncaught = null;
process.on("uncaughtException", (e) => {
  uncaught = e;
  console.error("UNCAUGHT", e);
});

function within(p, what) {
  let t;
  const timer = new Promise((_, reject) => {
    t = setTimeout(() => reject(new Error(`timeout: ${what}`)), TIMEOUT_MS);
  });
  return Promise.race([p, timer]).finally(() => clearTimeout(t));
}

async function check(name, fn) {
  try {
    await within(Promise.resolve().then(fn), name);
    passed.push(name);
  } catch (e) {
    console.error(`FAIL ${name}: ${e?.stack ?? e}`);
    failed.push({ name, error: String(e?.message ?? e) });
  }
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

// Equal as superjson sees it: kinds (Date, Map, Set, bigint, undefined, -0, NaN) included.
function same(a, b, what) {
  const x = superjson.stringify(a);
  const y = superjson.stringify(b);
  assert(x === y, `${what}: got ${x}, want ${y}`);
}

async function rejects(p, code, status, message) {
  try {
    await p;
  } catch (e) {
    assert(e.name === "TRPCClientError", `not a TRPCClientError: ${e}`);
    assert(e.data?.code === code, `code ${e.data?.code}, want ${code}`);
    if (status !== undefined) assert(e.data?.httpStatus === status, `httpStatus ${e.data?.httpStatus}`);
    if (message !== undefined) assert(e.message === message, `message ${JSON.stringify(e.message)}`);
    return e;
  }
  throw new Error(`resolved, want ${code}`);
}

// HTTP statuses seen, by the last request.
let lastStatus = null;
const fetchSpy = async (url, init) => {
  const res = await fetch(url, init);
  lastStatus = res.status;
  return res;
};

const richValues = {
  undefined: undefined,
  null: null,
  date: new Date(86400000),
  invalidDate: new Date(NaN),
  map: new Map([[1, "one"], ["k", new Set([2n])]]),
  set: new Set(["a", new Date(0)]),
  bigint: 12345678901234567890n,
  regexp: /a+b/gi,
  url: new URL("https://example.com/x?y=1"),
  nan: NaN,
  inf: -Infinity,
  negZero: -0,
  undefProps: { a: undefined, b: [undefined, 1n] },
  nested: { list: [new Date(1), { m: new Map([[new Date(2), null]]) }], s: "é\u2028" },
};
const kinds = {
  undefined: undefined, null: null, boolean: true, number: 1.5, string: "s", bigint: 1n,
  array: [1], Date: new Date(0), Map: new Map(), Set: new Set(), RegExp: /x/, URL: new URL("http://a/"),
  object: { a: 1 },
};

function queryChecks(label, client, http) {
  const t = (name, fn) => check(`${label}: ${name}`, fn);
  return [
    t("greet", async () => same(await client.greet.query("world"), "Hello, world!", "greet")),
    t("math.add", async () => same(await client.math.add.query({ a: 1.5, b: 2 }), 3.5, "add")),
    t("math.add with a string is BAD_REQUEST", async () => {
      await rejects(client.math.add.query({ a: "x", b: 2 }), "BAD_REQUEST", 400);
      if (http === "single") assert(lastStatus === 400, `status ${lastStatus}`);
    }),
    ...Object.entries(richValues).map(([k, v]) =>
      t(`echo ${k}`, async () => same(await client.echo.query(v), v, k)),
    ),
    t("echo with no input is undefined", async () => same(await client.echo.query(), undefined, "none")),
    ...Object.entries(richValues).map(([k, v]) =>
      t(`echoMutation ${k}`, async () => same(await client.echoMutation.mutate(v), v, k)),
    ),
    ...Object.entries(kinds).map(([k, v]) =>
      t(`typeOf ${k}`, async () => same(await client.typeOf.query(v), k, k)),
    ),
    t("sample", async () => {
      const s = await client.sample.query();
      assert(s.date instanceof Date && s.date.toISOString() === "2020-01-01T00:00:00.000Z", "date");
      assert(s.big === 9007199254740993n, "big");
      assert(s.map instanceof Map && s.map.get("one") === 1 && s.map.get("two").has(2n), "map");
      assert(s.set instanceof Set && s.set.has("s"), "set");
      assert("undef" in s && s.undef === undefined, "undef");
      const l = s.nested.list;
      assert(l[0] instanceof Date && Object.is(l[1], -0) && Number.isNaN(l[2]) && l[3] === Infinity && l[4] === undefined, "list");
      assert(s.nested.re instanceof RegExp && s.nested.re.source === "^x$" && s.nested.re.flags === "m", "re");
    }),
    t("counter.inc counts up", async () => {
      const a = await client.counter.inc.mutate();
      const b = await client.counter.inc.mutate({ by: 2 });
      assert(typeof a === "number" && b === a + 2, `${a} then ${b}`);
      await rejects(client.counter.inc.mutate({ by: "x" }), "BAD_REQUEST", 400);
    }),
    t("fail is NOT_FOUND", async () => {
      const e = await rejects(client.fail.query(), "NOT_FOUND", 404, "Nothing to see here");
      assert(e.shape.code === -32004 && e.data.path === "fail", "shape");
      if (http === "single") assert(lastStatus === 404, `status ${lastStatus}`);
    }),
    t("crash is INTERNAL_SERVER_ERROR", async () => {
      const e = await rejects(client.crash.query(), "INTERNAL_SERVER_ERROR", 500, "boom");
      assert(e.shape.code === -32603 && e.data.stack === undefined, "shape");
    }),
    t("an unknown path is NOT_FOUND", async () => {
      await rejects(client.no.such.path.query(), "NOT_FOUND", 404);
    }),
    t("whoami without params is null", async () => same(await client.whoami.query(), null, "whoami")),
  ];
}

function subscribe(client, path, input) {
  const events = [];
  return new Promise((resolve, reject) => {
    let proc = client;
    for (const p of path.split(".")) proc = proc[p];
    proc.subscribe(input, {
      onStarted: () => events.push("started"),
      onData: (d) => events.push(d),
      onError: (e) => resolve({ events, error: e }),
      onComplete: () => resolve({ events }),
    });
  });
}

function subscriptionChecks(label, client, after = client) {
  const t = (name, fn) => check(`${label}: ${name}`, fn);
  return [
    t("ticks", async () => {
      const { events, error } = await subscribe(client, "ticks", { n: 3, delayMs: 1 });
      assert(!error, `error ${error}`);
      same(events, ["started", 0, 1, 2], "events");
    }),
    t("tracked", async () => {
      const { events } = await subscribe(client, "tracked", { n: 3, delayMs: 1 });
      assert(events[0] === "started" && events.length === 4, `events ${events.length}`);
      events.slice(1).forEach((e, i) => {
        assert(e.id === String(i), `id ${e.id}`);
        assert(e.data.i === i && e.data.at instanceof Date && e.data.at.getTime() === i * 1000, "data");
        assert(e.data.big === BigInt(i) * 10n ** 20n, "big");
      });
    }),
    t("tracked resumes after lastEventId", async () => {
      const { events } = await subscribe(client, "tracked", { n: 4, delayMs: 0, lastEventId: "1" });
      same(events.slice(1).map((e) => e.id), ["2", "3"], "ids");
    }),
    t("ticks with n < 0 is BAD_REQUEST", async () => {
      const { error } = await subscribe(client, "ticks", { n: -1 });
      assert(error?.data?.code === "BAD_REQUEST", `error ${error?.data?.code}`);
    }),
    t("unsubscribe stops it", async () => {
      const seen = [];
      await new Promise((resolve) => {
        const sub = client.ticks.subscribe({ n: 100000, delayMs: 2 }, {
          onData: (d) => {
            seen.push(d);
            if (seen.length === 3) {
              sub.unsubscribe();
              setTimeout(resolve, 50);
            }
          },
        });
      });
      assert(seen.length === 3, `seen ${seen.length} after unsubscribe`);
      same(await after.greet.query("after"), "Hello, after!", "after");
    }),
  ];
}

async function main() {
  const transformer = superjson;
  const http = (link) => createTRPCClient({ links: [link({ url: httpUrl, transformer, fetch: fetchSpy })] });
  for (const [label, client, kind] of [
    ["httpLink", http(httpLink), "single"],
    ["httpBatchLink", http(httpBatchLink), "batch"],
    ["httpBatchStreamLink", http(httpBatchStreamLink), "stream"],
  ]) {
    await Promise.all(queryChecks(label, client, kind));
  }

  if (overrideUrl) {
    const posting = (link, url) =>
      createTRPCClient({ links: [link({ url, transformer, fetch: fetchSpy, methodOverride: "POST" })] });
    for (const [label, link, kind] of [
      ["httpLink (methodOverride POST)", httpLink, "single"],
      ["httpBatchLink (methodOverride POST)", httpBatchLink, "batch"],
      ["httpBatchStreamLink (methodOverride POST)", httpBatchStreamLink, "stream"],
    ]) {
      await Promise.all(queryChecks(label, posting(link, overrideUrl), kind));
    }
    await check("httpLink (methodOverride POST): without allowMethodOverride a query is 405", async () => {
      await rejects(posting(httpLink, httpUrl).greet.query("x"), "METHOD_NOT_SUPPORTED", 405);
      assert(lastStatus === 405, `status ${lastStatus}`);
    });
  }

  // Batches: statuses.
  const batched = http(httpBatchLink);
  await check("httpBatchLink: a mixed batch is 207", async () => {
    const [a, b] = await Promise.allSettled([batched.greet.query("x"), batched.fail.query()]);
    assert(a.status === "fulfilled" && b.status === "rejected", "results");
    assert(lastStatus === 207, `status ${lastStatus}`);
  });
  await check("httpBatchLink: a batch that fails alike takes the shared status", async () => {
    await Promise.allSettled([batched.fail.query(), batched.fail.query()]);
    assert(lastStatus === 404, `status ${lastStatus}`);
  });
  await check("httpBatchLink: a batch of successes is 200", async () => {
    await Promise.all([batched.greet.query("a"), batched.math.add.query({ a: 1, b: 1 })]);
    assert(lastStatus === 200, `status ${lastStatus}`);
  });

  const sse = createTRPCClient({ links: [httpSubscriptionLink({ url: httpUrl, transformer, EventSource })] });
  await Promise.all(subscriptionChecks("httpSubscriptionLink", sse, http(httpLink)));
  const sseParams = createTRPCClient({
    links: [httpSubscriptionLink({ url: httpUrl, transformer, EventSource, connectionParams: { token: "sse" } })],
  });
  await check("httpSubscriptionLink: connection params reach the context", async () => {
    const { events, error } = await subscribe(sseParams, "ticks", { n: 1, delayMs: 0 });
    assert(!error && events.length === 2, "events");
  });

  const wsClient = createWSClient({ url: wsUrl, WebSocket });
  const ws = createTRPCClient({ links: [wsLink({ client: wsClient, transformer })] });
  await Promise.all(queryChecks("wsLink", ws, false));
  await Promise.all(subscriptionChecks("wsLink", ws));
  await check("wsLink: a batch of calls in one tick", async () => {
    const r = await Promise.all([ws.greet.query("a"), ws.math.add.query({ a: 2, b: 3 }), ws.fail.query().catch((e) => e.data.code)]);
    same(r, ["Hello, a!", 5, "NOT_FOUND"], "batch");
  });

  const wsParamsClient = createWSClient({ url: wsUrl, WebSocket, connectionParams: { token: "abc", lang: "en" } });
  const wsParams = createTRPCClient({ links: [wsLink({ client: wsParamsClient, transformer })] });
  await check("wsLink: connection params reach the context", async () => {
    same(await wsParams.whoami.query(), { token: "abc", lang: "en" }, "whoami");
  });

  await check("no uncaught exception in the client", async () => assert(!uncaught, String(uncaught)));
  await within(Promise.all([wsClient.close(), wsParamsClient.close()]), "close").catch(() => {});
  console.log(JSON.stringify({ passed, failed }));
  process.exit(failed.length ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  console.log(JSON.stringify({ passed, failed: [...failed, { name: "main", error: String(e) }] }));
  process.exit(1);
});
