// A kkrpc 0.2.2 server on node (the newest kkrpc npm serves here), for the side-by-side
// RPC comparison: WebSocketServerIO + RPCChannel per connection, exposing echo(x).
// Prints "listening <port>" once ready; runs until killed.
import { WebSocketServer } from "ws";
import { RPCChannel, WebSocketServerIO } from "kkrpc";

const api = { echo: async (x) => x };
const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
wss.on("connection", (ws) => {
  const io = new WebSocketServerIO(ws);
  new RPCChannel(io, { expose: api, serialization: { version: "json" } });
});
wss.on("listening", () => console.log(`listening ${wss.address().port}`));
