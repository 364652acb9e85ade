// What the MLServer iris model (test/peers/mlserver_iris.py) declares and answers, shared by the
// tests and the benchmark.
import { ModelSpec, VerifySpec } from "../../lib/run";

export const setosa = [5.1, 3.5, 1.4, 0.2];
export const virginica = [6.7, 3.0, 5.2, 2.3];

/** The metadata contract mlserver_iris.py declares. */
export const irisMetadata: NonNullable<ModelSpec["metadata"]> = {
  inputs: [{ name: "x", datatype: "FP64", shape: [-1, 4] }],
  outputs: [
    { name: "predict", datatype: "INT64", shape: [-1, 1] },
    { name: "predict_proba", datatype: "FP64", shape: [-1, 3] },
  ],
};

/** A spec whose golden case expects `expectedClass` for setosa: 0 passes, anything else fails. */
export function setosaSpec(expectedClass: number): VerifySpec {
  return {
    deadlineSeconds: 60,
    waitForReadySeconds: 10,
    models: [
      {
        name: "iris",
        golden: [
          {
            name: "setosa",
            inputs: [{ name: "x", datatype: "FP64", shape: [1, 4], data: setosa }],
            outputs: [{ name: "predict", data: [expectedClass] }],
          },
        ],
      },
    ],
  };
}
