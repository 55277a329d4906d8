import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * The one error type routes throw. Pipecat's clients read `detail` (and `info`) from error bodies, so every error
 * response is JSON `{"detail": "..."}` with a 4xx status that says whose fault it was.
 */
export class HttpError extends Error {
  override name = "HttpError";
  constructor(
    readonly status: ContentfulStatusCode,
    readonly detail: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

export function errorResponse(error: HttpError): Response {
  return Response.json({ detail: error.detail }, { status: error.status, headers: error.headers });
}
