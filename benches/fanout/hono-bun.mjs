// The Hono-on-Bun anchors of benches/fanout.rs: Hono's `upgradeWebSocket` from `hono/bun`.
//   bun hono-bun.mjs loop      the room loop of a chat: a Set of the room's sockets, and a
//                              message is sent to each of them
//   bun hono-bun.mjs publish   Bun's native pub/sub: members subscribe to a topic and a
//                              message goes out with one `server.publish(topic, data)`
// `/member` joins the room; a text message on `/send` goes to the room as it came.
// Prints `listening PORT` once it accepts connections.
import { Hono } from "hono";
import { upgradeWebSocket, websocket } from "hono/bun";

const publish = process.argv[2] === "publish";
const room = new Set();
const app = new Hono();

app.get(
  "/member",
  upgradeWebSocket(() => {
    let me;
    return {
      onOpen(_event, ws) {
        me = ws;
        if (publish) ws.raw.subscribe("bench");
        else room.add(ws);
      },
      onClose() {
        room.delete(me);
      },
    };
  }),
);

app.get(
  "/send",
  upgradeWebSocket(() => ({
    onMessage(event) {
      if (publish) {
        server.publish("bench", event.data);
      } else {
        for (const ws of room) ws.send(event.data);
      }
    },
  })),
);

const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch, websocket });
console.log(`listening ${server.port}`);
