// Triton's queue time per request, defined once for the dashboard, the HorizontalPodAutoscaler's
// adapter rule and the promotion's analysis:
//
//   Δ nv_inference_queue_duration_us / Δ nv_inference_request_success
//
// over a window, both summed over the selected series. Why successes alone: Triton adds to its
// queue-time counter for the requests it completes (its summary's `_count` equals
// nv_inference_request_success, Triton's metrics guide), and a request that fails is mostly one
// refused before it queued (bad input, an unknown model). Dividing by successes plus failures, as
// the analysis did before 0.2.0, reported less queue time than the dashboard whenever requests
// failed: a candidate failing requests looked less loaded.

/** How a consumer wants a window without a completed request: 0 (a graph, an idle pod) or no value at all (an analysis must not pass on no data). */
export type IdleWindow = "zero" | "no-data";

/**
 * The PromQL of the mean queue time per request, in microseconds (Triton's unit). `rate` turns a
 * counter's name into the consumer's summed rate, e.g. `sum(rate(<name>{...}[1m]))`.
 */
export function queueTimePerRequestUs(rate: (counter: string) => string, idle: IdleWindow): string {
  const requests = rate("nv_inference_request_success");
  return `${rate("nv_inference_queue_duration_us")} / ${idle === "zero" ? `clamp_min(${requests}, 1e-9)` : requests}`;
}

/** The same in seconds, the unit of every duration and threshold in props and specs. */
export function queueTimePerRequestSeconds(rate: (counter: string) => string, idle: IdleWindow): string {
  return `(${queueTimePerRequestUs(rate, idle)}) / 1e6`;
}
