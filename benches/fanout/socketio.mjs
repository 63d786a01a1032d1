// The Socket.IO 4.8.4 anchor of benches/fanout.rs, on node, WebSocket transport only.
//   node socketio.mjs                      one node
//   node socketio.mjs /path/redis.sock     one of several nodes on @socket.io/redis-adapter
// A connection with `?member=1` joins the room `bench`; a `say` event from any connection
// is broadcast to the room with `io.to("bench").emit("m", payload)` (the room broadcast
// from the server instance: every member, the sender included if it were one).
// Prints `listening PORT` once it accepts connections.
import { createServer } from "node:http";
import { Server } from "socket.io";

const redisSocket = process.argv[2];
const httpServer = createServer();
const io = new Server(httpServer, { transports: ["websocket"], serveClient: false });

if (redisSocket) {
  // The setup of the adapter's README: one client to publish, a duplicate to subscribe.
  const { createClient } = await import("redis");
  const { createAdapter } = await import("@socket.io/redis-adapter");
  const pubClient = createClient({ socket: { path: redisSocket } });
  const subClient = pubClient.duplicate();
  await Promise.all([pubClient.connect(), subClient.connect()]);
  io.adapter(createAdapter(pubClient, subClient));
}

io.on("connection", (socket) => {
  if (socket.handshake.query.member) socket.join("bench");
  socket.on("say", (payload) => io.to("bench").emit("m", payload));
});

httpServer.listen(0, "127.0.0.1", () => {
  console.log(`listening ${httpServer.address().port}`);
});
