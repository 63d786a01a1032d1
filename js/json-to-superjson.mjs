// Reads a JSON array of strings on stdin; for each string s prints
// {"ok": superjson.stringify(JSON.parse(s)), "plain": JSON.stringify(JSON.parse(s))} or
// {"error": "<name>: <message>"}, as one JSON array: what a JS app sends when it parses JSON
// text and hands the value to superjson (or back to JSON). A value superjson refuses has
// "plain" only.
import superjson from "superjson";

let input = "";
for await (const chunk of process.stdin.setEncoding("utf8")) input += chunk;

const results = JSON.parse(input).map((s) => {
  let value;
  try {
    value = JSON.parse(s);
  } catch (err) {
    return { error: `${err?.name}: ${err?.message}` };
  }
  const plain = JSON.stringify(value);
  try {
    return { ok: superjson.stringify(value), plain };
  } catch (err) {
    return { error: `${err?.name}: ${err?.message}`, plain };
  }
});
process.stdout.write(JSON.stringify(results) + "\n");
