// What our Triton test models (test/models/) declare and should answer, computed here
// independently of the models' Python code, for the tests and the benchmark.
import { ModelSpec, VerifySpec } from "../../lib/run";

export const setosa = [5.1, 3.5, 1.4, 0.2];
export const versicolor = [5.9, 3.0, 4.2, 1.5];
export const virginica = [6.3, 3.3, 6.0, 2.5];

/** The classifier's probabilities for one row, as its version 1 (temperature 1) or 2 (0.5) computes them. */
export function classifierProbabilities(row: readonly number[], temperature = 1): number[] {
  const p = row[2];
  const logits = [2.5 - p, 1.5 - Math.abs(p - 4), p - 5].map((l) => l / temperature);
  const max = Math.max(...logits);
  const e = logits.map((l) => Math.exp(l - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

/** The classifier's metadata contract (config.pbtxt: max_batch_size 8, dims [4] and [3]). */
export const classifierMetadata: NonNullable<ModelSpec["metadata"]> = {
  inputs: [{ name: "INPUT", datatype: "FP32", shape: [-1, 4] }],
  outputs: [{ name: "PROBABILITIES", datatype: "FP32", shape: [-1, 3] }],
};

/**
 * A spec for the classifier: its contract, the three classes by argmax (versions 1 and 2 pass,
 * the deliberately wrong version 3 fails), and a probe on one row.
 */
export function classifierSpec(options: { version?: string; binary?: boolean } = {}): VerifySpec {
  return {
    deadlineSeconds: 120,
    waitForReadySeconds: 30,
    models: [
      {
        name: "classifier",
        version: options.version,
        metadata: classifierMetadata,
        golden: [
          {
            name: "three classes",
            binary: options.binary,
            inputs: [
              { name: "INPUT", datatype: "FP32", shape: [3, 4], data: [...setosa, ...versicolor, ...virginica] },
            ],
            outputs: [{ name: "PROBABILITIES", datatype: "FP32", shape: [3, 3], argmax: true, data: [0, 1, 2] }],
          },
        ],
      },
    ],
    probe: {
      model: "classifier",
      version: options.version,
      case: "three classes",
      requests: 200,
      concurrency: 4,
      budgets: { p99Seconds: 5, maxErrorRate: 0 },
    },
  };
}
