// End-to-end browser test of the polycodec chat page (web/index.html + web/chat.mjs).
//
// Usage: node js/browser-chat-test.mjs <http-base-url> <screenshot-path>
//   e.g. node js/browser-chat-test.mjs http://127.0.0.1:9000 target/chat-bob.png
//
// Drives Debian's Chromium (/usr/bin/chromium; install with `apt-get install -y
// chromium`) through playwright-core. It opens the page twice in the same, freshly
// named room, as "alice" and then as "bob", each in its own browser context:
//
//   * both pages reach "connected" with the polycodec.superjson codec,
//   * every script (chat.mjs, superjson and its dependency via /vendor) loads from
//     the server itself, with no page errors,
//   * alice sees the live "bob joined" system message; bob sees "alice joined"
//     (from history(), since alice was there first),
//   * alice sends "hello from alice"; bob's page shows it with sender "alice" and a
//     valid time; members() lists both users,
//   * after bob's socket is dropped the page reconnects, reloads history() and
//     shows alice's message exactly once,
// then writes a screenshot of bob's page to <screenshot-path>.
//
// Output: exactly one JSON line on stdout, {"passed":[...],"failed":[{"name","error"}]};
// exit code 0 only when every check passed (1 otherwise, 2 on a usage error).
// Progress goes to stderr. Every wait is bounded and a watchdog ends the whole run
// after RUN_TIMEOUT_MS, so this never hangs.

import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

const RUN_TIMEOUT_MS = 55_000; // hard ceiling for the whole run
const STEP_TIMEOUT_MS = 10_000; // any single wait in the page
const CHECKS_BUDGET_MS = 45_000; // after this, waits shrink so the screenshot still gets taken
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const [baseArg, screenshotPath] = process.argv.slice(2);
if (!baseArg || !screenshotPath) {
  console.error("usage: node js/browser-chat-test.mjs <http-base-url> <screenshot-path>");
  process.exit(2);
}
const base = baseArg.replace(/\/+$/, "");
const origin = new URL(base).origin;

const passed = [];
const failed = [];
let finished = false;
let browser = null;
let debugPage = null; // the page to screenshot if the run is aborted early
const startedAt = Date.now();

// Timeout for the next wait: STEP_TIMEOUT_MS, less once the checks' budget runs out,
// so a server that never answers costs ~45 s in total, not 10 s per check.
function stepTimeout() {
  return Math.max(500, Math.min(STEP_TIMEOUT_MS, startedAt + CHECKS_BUDGET_MS - Date.now()));
}

function finish(code) {
  if (finished) return;
  finished = true;
  process.stdout.write(JSON.stringify({ passed, failed }) + "\n");
  console.error(`done in ${((Date.now() - startedAt) / 1000).toFixed(1)} s: ${passed.length} passed, ${failed.length} failed`);
  process.exitCode = code ?? (failed.length === 0 && passed.length > 0 ? 0 : 1);
}

// Watchdog: report whatever we have and exit, even if the browser is stuck.
const watchdog = setTimeout(() => {
  failed.push({ name: "watchdog", error: `run exceeded ${RUN_TIMEOUT_MS} ms` });
  skipRemaining(ALL_CHECKS, "stopped by the watchdog");
  finish(1);
  process.exit(1); // playwright kills the browsers it launched on exit
}, RUN_TIMEOUT_MS);
watchdog.unref();

// Runs one named check; a failed check is recorded and the run goes on, unless
// `essential` is set, in which case the remaining checks are skipped.
class Abort extends Error {}
async function check(name, fn, { essential = false } = {}) {
  try {
    await fn();
    passed.push(name);
    console.error(`ok   ${name}`);
  } catch (err) {
    // Playwright messages carry ANSI colour codes and a long call log: trim them.
    const error = (err?.message ?? String(err)).replace(/\u001b\[[0-9;]*m/g, "").split("\n").slice(0, 6).join("\n").trim();
    failed.push({ name, error });
    console.error(`FAIL ${name}: ${error}`);
    if (essential) throw new Abort(name);
  }
}

function skipRemaining(names, why) {
  for (const name of names) {
    if (!passed.includes(name) && !failed.some((f) => f.name === name)) failed.push({ name, error: `not run: ${why}` });
  }
}

// Everything a page did that should not happen: uncaught errors, console errors,
// failed requests and requests to anywhere but the server under test.
function watchPage(page, label) {
  const problems = [];
  page.on("pageerror", (err) => problems.push(`${label}: page error: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`${label}: console error: ${msg.text()}`);
  });
  page.on("requestfailed", (req) => {
    // A WebSocket we closed ourselves is not a failure; only HTTP(S) loads count.
    if (req.url().startsWith("http")) problems.push(`${label}: request failed: ${req.url()} (${req.failure()?.errorText})`);
  });
  page.on("response", (res) => {
    if (res.status() >= 400) problems.push(`${label}: HTTP ${res.status()} for ${res.url()}`);
  });
  page.on("request", (req) => {
    const url = req.url();
    if (/^(https?|wss?):/.test(url) && new URL(url).host !== new URL(origin).host) {
      problems.push(`${label}: off-origin request ${url}`);
    }
  });
  return problems;
}

// Waits for the status line to say connected with the expected codec.
async function waitConnected(page, codec) {
  const status = page.getByTestId("status");
  try {
    await page.waitForFunction(
      (codec) => {
        const el = document.getElementById("status");
        return el?.dataset.state === "connected" && el.textContent.includes(codec);
      },
      codec,
      { timeout: stepTimeout() },
    );
  } catch {
    const text = await status.textContent({ timeout: 1000 }).catch(() => "?");
    throw new Error(`status never showed "connected · ${codec}"; last status: ${JSON.stringify(text)}`);
  }
  const text = (await status.textContent()).trim();
  if (!text.includes(`connected · ${codec}`)) throw new Error(`unexpected status text ${JSON.stringify(text)}`);
}

// Waits until the page has a message matching the filter; returns its details.
async function waitForMessage(page, { user, text, system }, what) {
  const timeout = stepTimeout();
  try {
    const handle = await page.waitForFunction(
      ({ user, text, system }) => {
        for (const li of document.querySelectorAll('#messages [data-testid="message"]')) {
          const u = li.querySelector('[data-testid="message-user"]')?.textContent;
          const t = li.querySelector('[data-testid="message-text"]')?.textContent;
          const time = li.querySelector('[data-testid="message-time"]');
          if (user !== undefined && u !== user) continue;
          if (text !== undefined && t !== text) continue;
          if (system !== undefined && li.dataset.system !== String(system)) continue;
          return {
            user: u,
            text: t,
            system: li.dataset.system,
            dataUser: li.dataset.user,
            datetime: time?.getAttribute("datetime") ?? null,
            timeText: time?.textContent ?? null,
            visible: li.getBoundingClientRect().height > 0,
          };
        }
        return null;
      },
      { user, text, system },
      { timeout },
    );
    return await handle.jsonValue();
  } catch {
    const shown = await page
      .$$eval('#messages [data-testid="message"]', (lis) => lis.map((li) => `[${li.dataset.system === "true" ? "system" : li.dataset.user}] ${li.querySelector('[data-testid="message-text"]')?.textContent}`))
      .catch(() => []);
    throw new Error(`${what} did not appear within ${timeout} ms; page shows: ${JSON.stringify(shown)}`);
  }
}

function assertValidTime(found, what) {
  if (!found.datetime || Number.isNaN(Date.parse(found.datetime))) {
    throw new Error(`${what}: <time datetime> is not a valid date: ${JSON.stringify(found.datetime)}`);
  }
  const age = Math.abs(Date.now() - Date.parse(found.datetime));
  if (age > 10 * 60_000) throw new Error(`${what}: timestamp ${found.datetime} is ${Math.round(age / 1000)} s away from now`);
  if (!found.timeText || found.timeText === "–") throw new Error(`${what}: no visible time text`);
}

const ALL_CHECKS = [
  "launch chromium",
  "alice: page loads and connects with polycodec.superjson",
  "bob: page loads and connects with polycodec.superjson",
  "alice sees live system message \"bob joined\"",
  "bob sees system message \"alice joined\" (history)",
  "system messages are styled differently",
  "alice sends \"hello from alice\"",
  "bob receives \"hello from alice\" from alice with a time",
  "bob: members() lists alice and bob",
  "bob reconnects after a dropped socket and reloads history once",
  "no page errors, failed loads or off-origin requests",
  "screenshot of bob's page",
];

async function main() {
  const room = `e2e-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  const pageUrl = (name) => `${base}/?room=${encodeURIComponent(room)}&name=${encodeURIComponent(name)}`;
  console.error(`room ${room} on ${base}`);

  await check("launch chromium", async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found (apt-get install -y chromium)`);
    // launch() gives the browser a fresh temporary profile and deletes it on close.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 20_000 });
  }, { essential: true });

  // One context per user: separate storage, like two different people.
  const aliceContext = await browser.newContext({ viewport: { width: 900, height: 700 } });
  const bobContext = await browser.newContext({ viewport: { width: 900, height: 700 } });
  aliceContext.setDefaultTimeout(STEP_TIMEOUT_MS);
  bobContext.setDefaultTimeout(STEP_TIMEOUT_MS);
  const alice = await aliceContext.newPage();
  const bob = await bobContext.newPage();
  debugPage = alice;
  const problems = [];
  const aliceProblems = watchPage(alice, "alice");
  const bobProblems = watchPage(bob, "bob");

  await check("alice: page loads and connects with polycodec.superjson", async () => {
    await alice.goto(pageUrl("alice"), { timeout: stepTimeout(), waitUntil: "load" });
    await waitConnected(alice, "polycodec.superjson");
  }, { essential: true });

  await check("bob: page loads and connects with polycodec.superjson", async () => {
    debugPage = bob;
    await bob.goto(pageUrl("bob"), { timeout: stepTimeout(), waitUntil: "load" });
    await waitConnected(bob, "polycodec.superjson");
  }, { essential: true });

  await check("alice sees live system message \"bob joined\"", async () => {
    const found = await waitForMessage(alice, { text: "bob joined", system: true }, "\"bob joined\" on alice's page");
    assertValidTime(found, "bob joined");
  });

  await check("bob sees system message \"alice joined\" (history)", async () => {
    const found = await waitForMessage(bob, { text: "alice joined", system: true }, "\"alice joined\" on bob's page");
    if (found.dataUser !== "alice") throw new Error(`system message user is ${JSON.stringify(found.dataUser)}, expected "alice"`);
    assertValidTime(found, "alice joined");
  });

  await check("system messages are styled differently", async () => {
    const styles = await bob.evaluate(() => {
      const pick = (sel) => {
        const li = document.querySelector(sel);
        if (!li) return null;
        const cs = getComputedStyle(li);
        return `${cs.backgroundColor}|${cs.fontStyle}|${cs.color}`;
      };
      return {
        system: pick('#messages [data-testid="message"][data-system="true"]'),
        normal: pick('#messages [data-testid="message"][data-system="false"]'),
        systemClass: document.querySelector('#messages [data-system="true"]')?.classList.contains("system") ?? false,
      };
    });
    if (!styles.system) throw new Error("no system message on bob's page");
    if (!styles.systemClass) throw new Error("system message lacks the .system class");
    // Compare against a normal message if one exists; otherwise against the list background.
    if (styles.normal && styles.normal === styles.system) throw new Error(`system and normal messages look the same (${styles.system})`);
  });

  await check("alice sends \"hello from alice\"", async () => {
    const input = alice.getByTestId("message-input");
    await input.fill("hello from alice");
    await input.press("Enter");
    const found = await waitForMessage(alice, { user: "alice", text: "hello from alice", system: false }, "alice's own message on alice's page");
    assertValidTime(found, "alice's own message");
    const left = await input.inputValue();
    if (left !== "") throw new Error(`message input not cleared after sending (still ${JSON.stringify(left)})`);
  });

  await check("bob receives \"hello from alice\" from alice with a time", async () => {
    const found = await waitForMessage(bob, { text: "hello from alice", system: false }, "\"hello from alice\" on bob's page");
    if (found.user !== "alice") throw new Error(`sender shown as ${JSON.stringify(found.user)}, expected "alice"`);
    if (!found.visible) throw new Error("message element has no visible size");
    assertValidTime(found, "hello from alice");
  });

  await check("bob: members() lists alice and bob", async () => {
    try {
      await bob.waitForFunction(
        () => {
          const names = JSON.parse(document.getElementById("members")?.dataset.members ?? "[]");
          return names.includes("alice") && names.includes("bob");
        },
        null,
        { timeout: stepTimeout() },
      );
    } catch {
      const text = await bob.getByTestId("members").textContent().catch(() => "?");
      throw new Error(`members line never listed alice and bob; shows ${JSON.stringify(text)}`);
    }
  });

  await check("bob reconnects after a dropped socket and reloads history once", async () => {
    await bob.evaluate(() => window.polycodecChat.dropConnection());
    // The status must leave "connected" (shows the reconnect state), then come back.
    await bob.waitForFunction(() => document.getElementById("status")?.dataset.state !== "connected", null, { timeout: stepTimeout() });
    await waitConnected(bob, "polycodec.superjson");
    await waitForMessage(bob, { text: "hello from alice", user: "alice" }, "\"hello from alice\" after reconnect");
    const count = await bob.$$eval('#messages [data-testid="message-text"]', (els) => els.filter((e) => e.textContent === "hello from alice").length);
    if (count !== 1) throw new Error(`"hello from alice" shown ${count} times after reconnect`);
  });

  await check("no page errors, failed loads or off-origin requests", async () => {
    problems.push(...aliceProblems, ...bobProblems);
    if (problems.length) throw new Error(problems.slice(0, 5).join("; "));
  });

  await check("screenshot of bob's page", async () => {
    fs.mkdirSync(path.dirname(path.resolve(screenshotPath)), { recursive: true });
    await bob.screenshot({ path: screenshotPath, fullPage: true, timeout: STEP_TIMEOUT_MS });
    const size = fs.statSync(screenshotPath).size;
    if (size < 1000) throw new Error(`screenshot is suspiciously small (${size} bytes)`);
  });
}

async function cleanup() {
  if (browser) {
    const closing = browser.close().catch(() => {});
    const timeout = new Promise((resolve) => setTimeout(resolve, 5000).unref());
    await Promise.race([closing, timeout]);
  }
}

try {
  await main();
} catch (err) {
  if (!(err instanceof Abort)) failed.push({ name: "test harness", error: err?.stack ?? String(err) });
  skipRemaining(ALL_CHECKS, err instanceof Abort ? `essential check "${err.message}" failed` : "harness error");
  // Still leave a picture behind for debugging (not counted as a check).
  if (debugPage) {
    await debugPage
      .screenshot({ path: screenshotPath, fullPage: true, timeout: 5000 })
      .then(() => console.error(`debug screenshot written to ${screenshotPath}`))
      .catch(() => {});
  }
} finally {
  await cleanup().catch(() => {});
  clearTimeout(watchdog);
  finish();
}
