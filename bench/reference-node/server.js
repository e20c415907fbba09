// The reference design's chat (../../../shared/seed/global-chat-architecture.md)
// in plain Node.js: the NestJS gateway's flows without the framework, on
// socket.io 4 with the Redis adapter (pub/sub between instances), ioredis
// for the Redis keys and mysql2 for the messages. It speaks the same
// events and auth as globalchat so that cmd/chatbench drives both
// unchanged. It exists only to be measured next to globalchat.
//
// Env: PORT (3000), HOST (127.0.0.1), REDIS_URL (redis://127.0.0.1:6379/0),
// MYSQL_HOST (127.0.0.1), MYSQL_PORT (3306), MYSQL_USER (root),
// MYSQL_PASSWORD (empty), MYSQL_DATABASE (reference),
// RATE_LIMIT_PER_MINUTE (20).
import http from "node:http";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";
import mysql from "mysql2/promise";

const env = process.env;
const ROOM = "global-chat-room";
const HISTORY = 50;
const RATE_LIMIT = Number(env.RATE_LIMIT_PER_MINUTE || 20);
const key = {
  online: "global-chat:online-users",
  userOnline: (userId) => `global-chat:user-online:${userId}`,
  userSocket: (socketId) => `global-chat:user-socket:${socketId}`,
  message: (id) => `global-chat:message:${id}`,
  rateLimit: (userId) => `global-chat:rate-limit:${userId}`,
};

let closing = false; // set on SIGTERM: errors of the flows in flight are expected

const redisURL = env.REDIS_URL || "redis://127.0.0.1:6379/0";
const redis = new Redis(redisURL);
const pub = new Redis(redisURL);
const sub = pub.duplicate();
for (const [name, client] of Object.entries({ redis, pub, sub })) {
  client.on("error", (err) => closing || console.error(`redis ${name}:`, err.message));
}
const db = mysql.createPool({
  host: env.MYSQL_HOST || "127.0.0.1",
  port: Number(env.MYSQL_PORT || 3306),
  user: env.MYSQL_USER || "root",
  password: env.MYSQL_PASSWORD || "",
  database: env.MYSQL_DATABASE || "reference",
  connectionLimit: 10, // TypeORM's default pool, as a NestJS app would have
  charset: "utf8mb4",
});

await db.query(`CREATE TABLE IF NOT EXISTS messages (
  id BIGINT AUTO_INCREMENT PRIMARY KEY,
  user_id VARCHAR(128) NOT NULL,
  username VARCHAR(64) NOT NULL,
  content TEXT NOT NULL,
  created_at DATETIME(3) NOT NULL,
  KEY messages_created_at (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);

// Subscribe only once connected: a SUBSCRIBE sent while ioredis is still
// selecting the database puts the connection in subscriber mode and the
// SELECT fails, leaving the adapter deaf (NestJS apps await connect() too).
await Promise.all([redis, pub, sub].map((c) =>
  c.status === "ready" ? null : new Promise((resolve) => c.once("ready", resolve))));

const server = http.createServer((req, res) => {
  if (req.url === "/healthz") {
    res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
    return;
  }
  res.writeHead(404).end();
});
const io = new Server(server, { adapter: createAdapter(pub, sub) });

// Guest auth, the same shape as globalchat's: {username, guestId}.
io.use((socket, next) => {
  const { username, guestId } = socket.handshake.auth || {};
  const name = typeof username === "string" ? username.trim() : "";
  if (name.length < 1 || name.length > 32) return next(new Error("username must be 1-32 characters"));
  if (typeof guestId !== "string" || !/^[A-Za-z0-9_-]{8,64}$/.test(guestId)) {
    return next(new Error("guestId must be 8-64 letters, digits, _ or -"));
  }
  socket.data.user = { userId: `guest:${guestId}`, username: name };
  next();
});

io.on("connection", (socket) => {
  socket.on("chat:message", (payload, ack) => onMessage(socket, payload, ack));
  socket.on("disconnect", () => onDisconnect(socket).catch((err) => closing || console.error("disconnect:", err.message)));
  onConnect(socket).catch((err) => closing || console.error("connect:", err.message));
});

// Connection flow: store in Redis, join the room, history, user:joined.
async function onConnect(socket) {
  const { userId, username } = socket.data.user;
  await redis
    .multi()
    .set(key.userOnline(userId), JSON.stringify({ socketId: socket.id, timestamp: Date.now(), online: true }))
    .set(key.userSocket(socket.id), userId)
    .sadd(key.online, userId)
    .exec();
  socket.join(ROOM);
  const [rows] = await db.query(
    "SELECT id, user_id, username, content, created_at FROM messages ORDER BY id DESC LIMIT ?", [HISTORY]);
  socket.emit("chat:history", { messages: rows.reverse().map(toMessage) });
  const onlineCount = await redis.scard(key.online);
  io.to(ROOM).emit("user:joined", { userId, username, onlineCount });
}

// Message flow: rate limit (Redis), save (MySQL), cache (Redis), broadcast
// to the room (Redis adapter), ack.
async function onMessage(socket, payload, ack) {
  const reply = typeof ack === "function" ? ack : () => {};
  const { userId, username } = socket.data.user;
  const content = typeof payload?.content === "string" ? payload.content.trim() : "";
  if (content.length < 1 || content.length > 2000) {
    return reply({ ok: false, error: { code: "invalid_message", message: "content must be 1-2000 characters" } });
  }
  try {
    const rl = key.rateLimit(userId);
    const count = await redis.incr(rl);
    if (count === 1) await redis.expire(rl, 60);
    if (count > RATE_LIMIT) {
      return reply({ ok: false, error: { code: "rate_limited", message: `at most ${RATE_LIMIT} messages a minute` } });
    }
    const createdAt = new Date();
    const [result] = await db.execute(
      "INSERT INTO messages (user_id, username, content, created_at) VALUES (?, ?, ?, ?)",
      [userId, username, content, createdAt]);
    const message = { id: String(result.insertId), userId, username, content, createdAt: createdAt.toISOString() };
    await redis.set(key.message(message.id), JSON.stringify(message), "EX", 3600);
    io.to(ROOM).emit("chat:message", message);
    reply({ ok: true, message });
  } catch (err) {
    console.error("message:", err.message);
    reply({ ok: false, error: { code: "unavailable", message: "try again" } });
  }
}

// Disconnect flow: remove from Redis, user:left.
async function onDisconnect(socket) {
  if (closing) return; // shutting down: the keys go with the run's Redis
  const { userId, username } = socket.data.user;
  await redis.multi().srem(key.online, userId).del(key.userOnline(userId)).del(key.userSocket(socket.id)).exec();
  const onlineCount = await redis.scard(key.online);
  io.to(ROOM).emit("user:left", { userId, username, onlineCount });
}

function toMessage(r) {
  return {
    id: String(r.id), userId: r.user_id, username: r.username, content: r.content,
    createdAt: new Date(r.created_at).toISOString(),
  };
}

const port = Number(env.PORT || 3000);
server.listen(port, env.HOST || "127.0.0.1", () => console.log(`reference listening on ${port}`));

for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    closing = true;
    io.close();
    Promise.allSettled([redis.quit(), pub.quit(), sub.quit(), db.end()]).then(() => process.exit(0));
    setTimeout(() => process.exit(0), 3000).unref();
  });
}
