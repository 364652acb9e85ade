// Preloaded (NODE_OPTIONS=--require) into the verifier that the Job stand-in runs on this machine
// (test/peers/job-kubelet.ts): resolves the names in CDKTF_TRITON_TEST_HOSTS (a Service's cluster
// DNS name -> the address where the real server behind that Service listens), as the cluster's DNS
// would for a pod; every other name resolves as usual.
const dns = require("dns");
const hosts = JSON.parse(process.env.CDKTF_TRITON_TEST_HOSTS || "{}");
const lookup = dns.lookup;
dns.lookup = function (hostname, options, callback) {
  if (typeof options === "function") {
    callback = options;
    options = {};
  }
  const address = hosts[hostname];
  if (address === undefined) return lookup.call(dns, hostname, options, callback);
  const all = typeof options === "object" && options !== null && options.all;
  process.nextTick(() => (all ? callback(null, [{ address, family: 4 }]) : callback(null, address, 4)));
};
