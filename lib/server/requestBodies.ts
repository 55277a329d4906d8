/**
 * Request bodies of the signalling routes, in the snake_case that Pipecat's clients send (docs/protocol.md §1.2-§1.5).
 * Unknown keys are ignored, as FastAPI does.
 */
import { z } from "zod";
import type { Context } from "hono";
import { HttpError } from "./httpError.ts";

export const OfferBody = z.object({
  sdp: z.string().min(1),
  type: z.literal("offer"),
  pc_id: z.string().min(1).nullish(),
  restart_pc: z.boolean().nullish(),
  request_data: z.unknown().optional(),
  // Pipecat's direct route drops the camelCase spelling; the JS client sends it, so both are honoured here.
  requestData: z.unknown().optional(),
});
export type OfferBody = z.output<typeof OfferBody>;

export const PatchBody = z.object({
  pc_id: z.string().min(1),
  candidates: z
    .array(
      z.object({
        // An empty string is an end-of-candidates marker (RFC 8840), sent by Firefox per m-line.
        candidate: z.string(),
        sdp_mid: z.string().nullish(),
        sdp_mline_index: z.number().int().min(0).nullish(),
      }),
    )
    .max(100),
});
export type PatchBody = z.output<typeof PatchBody>;

export const StartBody = z.object({
  transport: z.string().optional(),
  createDailyRoom: z.boolean().optional(),
  enableDefaultIceServers: z.boolean().optional(),
  body: z.unknown().optional(),
});
export type StartBody = z.output<typeof StartBody>;

/** Reads and validates a JSON body: 400 when it is not JSON, 422 when its shape is wrong (as FastAPI answers). */
export async function readJsonBody<T extends z.ZodType>(c: Context, schema: T): Promise<z.output<T>> {
  const result = schema.safeParse(await readJson(c));
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue.path.length ? `${issue.path.join(".")}: ` : "";
    throw new HttpError(422, `invalid request: ${where}${issue.message}`);
  }
  return result.data;
}

export async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "request body is not valid JSON");
  }
}
