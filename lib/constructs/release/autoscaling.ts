// The custom metric behind a color's HorizontalPodAutoscaler: Triton's average queue time per
// request, per pod. Served by a metrics adapter; this is prometheus-adapter's rule for it.
import { queueTimePerRequestUs } from "../../core/queue-time";

/**
 * prometheus-adapter's rule (its `rules.custom` list) that serves `metricName` per pod, in
 * microseconds: the queue time per request of core/queue-time (every model on the pod summed,
 * divided by the requests they completed; an idle pod reports 0). Triton's own
 * k8s-onprem chart averages per-model ratios and adds 1 to the count
 * (triton-inference-server/server#8979), so a pod with idle models, or few requests, reports less
 * than its real wait and scales late; this one does not.
 */
export function queueTimeAdapterRule(metricName = "triton_queue_time_us"): Record<string, unknown> {
  return {
    seriesQuery: 'nv_inference_queue_duration_us{namespace!="",pod!=""}',
    resources: { overrides: { namespace: { resource: "namespace" }, pod: { resource: "pod" } } },
    name: { matches: "^nv_inference_queue_duration_us$", as: metricName },
    metricsQuery: queueTimePerRequestUs(
      (counter) => `sum(rate(${counter}{<<.LabelMatchers>>}[1m])) by (<<.GroupBy>>)`,
      "zero",
    ),
  };
}
