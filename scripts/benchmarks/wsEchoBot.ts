/**
 * The bridge benchmark's bot: a WebSocket server on 127.0.0.1 that sends every binary message straight back. Client
 * audio is an AudioRawFrame and so is bot audio, so this is an echo bot that costs next to nothing. It runs as a
 * process of its own, so that the load client's work never holds its echo up. Prints "listening on <url>".
 */
import type { ServerWebSocket } from "bun";

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch: (request, server) =>
    server.upgrade(request, { data: undefined }) ? undefined : new Response(null, { status: 400 }),
  websocket: {
    message(ws: ServerWebSocket<undefined>, message) {
      if (typeof message !== "string") ws.send(message);
    },
  },
});
console.log(`listening on ws://127.0.0.1:${server.port}/ws`);
