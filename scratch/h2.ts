import { parseSamples } from "../lib/promote/analysis";
console.log(parseSamples(`envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="a-http",le="+Inf"} 5\nenvoy_listener_manager_lds_version_text{text_value="weights canary: a=1, b=\\"2"} 0`));
