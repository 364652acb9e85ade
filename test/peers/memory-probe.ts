// Runs one verification against a Triton whose answers are large, and prints the verdict and this
// process's peak RSS, for test/verifier-memory.test.ts. Usage: memory-probe.ts <url> <concurrency> <elements>
import { verify } from "../../lib/run";

const [url, concurrency, elements] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const zeros = new Array(elements).fill(0);
verify(
  {
    deadlineSeconds: 300,
    waitForReadySeconds: 10,
    models: [
      {
        name: "tensors",
        golden: [
          {
            name: "large",
            binary: true,
            inputs: [{ name: "F32", datatype: "FP32", shape: [elements], data: zeros }],
            outputs: [{ name: "F32_OUT", data: zeros }],
          },
        ],
      },
    ],
    probe: { model: "tensors", case: "large", requests: 48, concurrency, budgets: { maxErrorRate: 0 } },
  },
  { url, client: { connections: concurrency, maxResponseBytes: 16 * 1024 * 1024 } },
).then((report) => {
  console.log(
    JSON.stringify({
      verdict: report.verdict,
      errors: report.probe?.errorSamples,
      maxRssMiB: process.resourceUsage().maxRSS / 1024,
    }),
  );
});
