/**
 * A client in its own process, for liveness tests: connects to the server at argv[2], then keeps the session up,
 * sending `ping` keep-alives every second when `--ping` is given (as the JS client does) and nothing at all otherwise
 * (only ICE consent answers keep it visible). It prints "connected <pc_id>" and waits to be killed.
 */
import { TestClient } from "../../scripts/support/weriftClient.ts";

const [url, mode] = process.argv.slice(2);
const client = new TestClient({ media: [{ kind: "audio", direction: "sendrecv" }] });
const response = await fetch(`${url}/api/offer`, {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify(await client.offer()),
});
const answer = await response.json();
await client.accept(answer);
await client.channelOpen();
if (mode === "--ping") setInterval(() => client.send(`ping: ${Date.now()}`), 1000);
console.log(`connected ${answer.pc_id}`);
setInterval(() => {}, 1 << 30);
