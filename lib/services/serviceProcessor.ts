/**
 * What the OpenAI-compatible services share as pipeline processors: a checked config, requests made with it, time to
 * first byte reported as a MetricsFrame, and failures reported the same way everywhere: one warning line naming the
 * service and its status, and a non-fatal ErrorFrame upstream, after which the next turn simply tries again. Work
 * cut short by an interruption is not a failure and reports nothing.
 */
import { MetricsFrame } from "../pipeline/frames.ts";
import { FrameProcessor } from "../pipeline/frameProcessor.ts";
import { type ServiceConfig, validateServiceConfig } from "./serviceConfig.ts";
import { oneLine, redact, ServiceError } from "./serviceError.ts";
import { ServiceRequest } from "./serviceRequest.ts";

export abstract class ServiceProcessor extends FrameProcessor {
  readonly #config: ServiceConfig;

  constructor(config: ServiceConfig & { name?: string }, defaultName: string) {
    super({ name: config.name ?? defaultName });
    validateServiceConfig(this.name, config);
    this.#config = { ...config };
  }

  protected get model(): string {
    return this.#config.model;
  }

  /** A request to this service that `signal` aborts. */
  protected request(signal: AbortSignal): ServiceRequest {
    return new ServiceRequest(this.name, this.#config, signal);
  }

  /** Reports a failed request, unless `signal` says the work was interrupted (then there is nothing to report). */
  protected async reportFailure(error: unknown, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const failure = error instanceof ServiceError ? error : new ServiceError(
      this.name,
      oneLine(redact(error instanceof Error ? error.message : String(error), this.#config.apiKey)),
    );
    this.logger.warn("service request failed", { service: this.name, status: failure.status, reason: failure.reason });
    await this.pushError(failure.message);
  }

  /** Time to first byte, measured from `startedAt` (a `performance.now()` time) to now, when metrics are enabled. */
  protected async pushTtfb(startedAt: number, at = performance.now()): Promise<void> {
    if (!this.metricsEnabled) return;
    await this.pushFrame(
      new MetricsFrame([{ processor: this.name, kind: "ttfb", valueSecs: (at - startedAt) / 1000 }]),
    );
  }
}
