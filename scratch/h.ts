import parse from "parse-prometheus-text-format";
const t = `# TYPE envoy_cluster_upstream_rq_time histogram
envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="a-http",le="0.5"} 0
envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="a-http",le="1"} 3
envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="a-http",le="+Inf"} 5
envoy_cluster_upstream_rq_time_sum{envoy_cluster_name="a-http"} 10
envoy_cluster_upstream_rq_time_count{envoy_cluster_name="a-http"} 5
`;
console.log(JSON.stringify(parse(t)));
