/**
 * Sends a request on to the instance that owns its session, and hands its answer back as it came (status, body,
 * content type). The client's token goes along for the owner to judge; its Origin does not, since this instance
 * already checked it against the public URL, which the owner's internal URL does not share. The forwarded request is
 * marked with this instance's peer key, and a marked request is never forwarded again: one hop at most.
 */
export const FORWARDED_BY_HEADER = "X-SmallWebRTC-Forwarded-By";
/** Asks the instance to answer only if it holds the request's session, and 404 at once otherwise. */
export const IF_HELD_HEADER = "X-SmallWebRTC-If-Held";

/** Request headers the owner needs: what the body is, who the client is (its token, its address). */
const KEPT_HEADERS = ["authorization", "content-type", "user-agent"];
/** Answer headers a client may act on. */
const ANSWER_HEADERS = ["content-type", "retry-after", "www-authenticate"];

export type ForwardResult = "answered" | "timeout" | "unreachable";

export interface ForwardOptions {
  /** The owner's advertiseUrl. */
  baseUrl: string;
  /** The owner's id, for error messages. */
  ownerId: string;
  /** This instance's peer key, carried in the marking header. */
  peerKey: string;
  /** Only if the instance holds the session (see IF_HELD_HEADER): a search, which must not create one. */
  ifHeld?: boolean;
  clientIp?: string;
  timeoutMs: number;
}

/**
 * The owner's answer, or a JSON 504 (no answer in time) or 502 (not reachable); `result` says which, for the
 * metrics. Never throws for the owner's failures.
 */
export async function forwardRequest(
  request: Request,
  body: string | undefined,
  options: ForwardOptions,
): Promise<{ response: Response; result: ForwardResult }> {
  const url = new URL(request.url);
  const headers = new Headers();
  for (const name of KEPT_HEADERS) {
    const value = request.headers.get(name);
    if (value !== null) headers.set(name, value);
  }
  const forwardedFor = [request.headers.get("x-forwarded-for"), options.clientIp].filter(Boolean).join(", ");
  if (forwardedFor) headers.set("x-forwarded-for", forwardedFor);
  headers.set(FORWARDED_BY_HEADER, options.peerKey);
  if (options.ifHeld) headers.set(IF_HELD_HEADER, "1");
  const secs = options.timeoutMs / 1000;
  try {
    const answer = await fetch(`${options.baseUrl}${url.pathname}${url.search}`, {
      method: request.method,
      headers,
      body: request.method === "GET" || request.method === "HEAD" ? undefined : body,
      redirect: "manual",
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    const kept = new Headers();
    for (const name of ANSWER_HEADERS) {
      const value = answer.headers.get(name);
      if (value !== null) kept.set(name, value);
    }
    const bytes = await answer.arrayBuffer();
    return { response: new Response(bytes, { status: answer.status, headers: kept }), result: "answered" };
  } catch (error) {
    const timedOut = (error as Error).name === "TimeoutError";
    const reason = timedOut
      ? `instance ${options.ownerId}, which holds this session, did not answer within ${secs} s`
      : `instance ${options.ownerId}, which holds this session, is unreachable: ${(error as Error).message}`;
    // The shape of every error answer (httpError.ts): Pipecat's clients read `detail`.
    return {
      response: Response.json({ detail: reason }, { status: timedOut ? 504 : 502 }),
      result: timedOut ? "timeout" : "unreachable",
    };
  }
}
