// Prints a JSON array of random object graphs with shared nodes and cycles (objects, arrays,
// Maps, Sets), each as {"text": superjson.stringify(graph), "again": stringify(parse(text))}:
// a reader must make of `text` what JS does, and a writer write that back as `again`.
// Reads `[count, seed, containers]` as JSON on stdin; `containers` says which kinds the
// nodes are: "oa" (objects and arrays) or "oams" (also Maps and Sets).
import superjson from "superjson";

let input = "";
for await (const chunk of process.stdin.setEncoding("utf8")) input += chunk;
const [count, seed, containers = "oams"] = JSON.parse(input);
let state = seed >>> 0 || 1;
const next = () => {
  state ^= state << 13;
  state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5;
  state >>>= 0;
  return state;
};
const pick = (xs) => xs[next() % xs.length];
const KEYS = ["a", "b", "p", "o", "1", "x.y", "10"];

function graph() {
  const nodes = [];
  const n = 1 + (next() % 6);
  const makers = [() => ({}), () => [], () => new Map(), () => new Set()].slice(0, containers.length);
  for (let i = 0; i < n; i++) nodes.push(pick(makers)());
  const leaf = () => pick([1, "s", null, undefined, NaN, -0, 7n, new Date(0)]);
  const child = () => (next() % 3 === 0 ? leaf() : pick(nodes));
  for (const node of nodes) {
    const m = next() % 4;
    for (let j = 0; j < m; j++) {
      if (node instanceof Map) node.set(next() % 2 ? pick(KEYS) : child(), child());
      else if (node instanceof Set) node.add(child());
      else if (Array.isArray(node)) node.push(child());
      else node[pick(KEYS)] = child();
    }
  }
  return { a: nodes[0], b: { c: pick(nodes) }, d: pick(nodes) };
}

const out = [];
for (let i = 0; i < count; i++) {
  const text = superjson.stringify(graph());
  let again;
  try {
    again = superjson.stringify(superjson.parse(text));
  } catch (err) {
    again = `error: ${err?.name}: ${err?.message}`;
  }
  out.push({ text, again });
}
process.stdout.write(JSON.stringify(out) + "\n");
