/**
 * The built-in echo bot. It completes the RTVI handshake (client-ready -> bot-ready), answers RTVI requests it does
 * not know with error-response, and sends every other application message straight back.
 */
import { botReady, errorResponse, negotiateVersion, parseRTVIMessage } from "../rtvi/messages.ts";
import type { RunnerArguments } from "../runner/runnerArguments.ts";

export function echoBot({ webrtcConnection: connection }: RunnerArguments): Promise<void> {
  connection.on("appMessage", (message) => {
    const rtvi = parseRTVIMessage(message);
    if (!rtvi) {
      connection.sendAppMessage(message);
    } else if (rtvi.type === "client-ready") {
      const { version, warning } = negotiateVersion(rtvi.data);
      if (warning) connection.sendAppMessage(errorResponse(rtvi.id, warning));
      connection.sendAppMessage(botReady(rtvi.id, version));
    } else {
      connection.sendAppMessage(errorResponse(rtvi.id, `Unsupported type ${rtvi.type}`));
    }
  });
  connection.connect();
  return connection.next("closed").then(() => {});
}
