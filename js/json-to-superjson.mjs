// Reads a JSON array of strings on stdin; for each string s prints
// {"ok": superjson.stringify(JSON.parse(s))} or {"error": "<name>: <message>"}, as one JSON
// array: what a JS app sends when it parses JSON text and hands the value to superjson.
import superjson from "superjson";

let input = "";
for await (const chunk of process.stdin.setEncoding("utf8")) input += chunk;

const results = JSON.parse(input).map((s) => {
  try {
    return { ok: superjson.stringify(JSON.parse(s)) };
  } catch (err) {
    return { error: `${err?.name}: ${err?.message}` };
  }
});
process.stdout.write(JSON.stringify(results) + "\n");
