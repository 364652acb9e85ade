// A program that verifies a candidate itself, from the package's run-side entry: it type-checks
// against the published types and loads no cdktf.
import { loadSpec, OipClient, verify, VerifySpec } from "cdktf-triton/run";

const spec: VerifySpec = { models: [{ name: "fraud" }] };
const client: typeof OipClient = OipClient;
const loaded = Object.keys(require.cache);
console.log(
  JSON.stringify({
    verify: typeof verify,
    loadSpec: typeof loadSpec,
    client: typeof client,
    models: spec.models.length,
    cdktf: loaded.some((m) => /[\\/]node_modules[\\/](cdktf|@cdktf|constructs)[\\/]/.test(m)),
  }),
);
