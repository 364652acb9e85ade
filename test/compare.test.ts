import { contractMismatch, outputMismatch, outputsAgree } from "../lib/run/verify/compare";
import { percentile } from "../lib/run/verify/probe";
import { SpecError, validateSpec } from "../lib/core/verify-spec";

describe("golden output comparison", () => {
  const t = (data: (number | string | boolean)[], shape = [data.length], datatype: any = "FP32") => ({
    name: "y",
    datatype,
    shape,
    data,
  });

  test("numbers within atol + rtol * |expected| match; outside do not", () => {
    expect(outputMismatch({ name: "y", data: [1, 100] }, t([1.0000005, 100.0005]))).toBeUndefined();
    expect(outputMismatch({ name: "y", data: [1, 100], atol: 0, rtol: 0 }, t([1, 100.0005]))).toBe(
      "y[1] = 100.0005, expected 100 ± 0",
    );
  });

  test("NaN never matches, whatever the tolerance", () => {
    expect(outputMismatch({ name: "y", data: [1], atol: 1e9 }, t([NaN]))).toBe("y[0] = NaN, expected 1 ± 1000000000");
    expect(outputMismatch({ name: "y", argmax: true, data: [0] }, t([NaN, 1], [1, 2]))).toBe("y row 0 holds NaN");
  });

  test("BYTES and BOOL compare exactly", () => {
    expect(outputMismatch({ name: "y", data: ["cat"] }, t(["cat"], [1], "BYTES"))).toBeUndefined();
    expect(outputMismatch({ name: "y", data: ["cat"] }, t(["Cat"], [1], "BYTES"))).toBe('y[0] = "Cat", expected "cat"');
    expect(outputMismatch({ name: "y", data: [true] }, t([false], [1], "BOOL"))).toBe("y[0] = false, expected true");
  });

  test("argmax and top-k compare class indices per row", () => {
    const scores = t([0.1, 0.7, 0.2, 0.5, 0.1, 0.4], [2, 3]);
    expect(outputMismatch({ name: "y", argmax: true, data: [1, 0] }, scores)).toBeUndefined();
    expect(outputMismatch({ name: "y", argmax: true, data: [1, 2] }, scores)).toBe(
      "y row 1: top 1 classes [0], expected [2]",
    );
    expect(outputMismatch({ name: "y", topK: 2, data: [2, 1, 2, 0] }, scores)).toBeUndefined();
    expect(outputMismatch({ name: "y", topK: 2, data: [0, 1, 2, 0] }, scores)).toBe(
      "y row 0: top 2 classes [1,2], expected [0,1]",
    );
  });

  test("datatype, shape (with -1 wildcards) and presence are part of the answer", () => {
    expect(outputMismatch({ name: "z", data: [1] }, undefined)).toBe("no output named z");
    expect(outputMismatch({ name: "y", datatype: "FP64", data: [1] }, t([1]))).toBe("y is FP32, expected FP64");
    expect(outputMismatch({ name: "y", shape: [-1, 3], data: [1, 2, 3] }, t([1, 2, 3], [1, 3]))).toBeUndefined();
    expect(outputMismatch({ name: "y", shape: [-1, 3], data: [1, 2, 3] }, t([1, 2, 3], [3]))).toBe(
      "y has shape [3], expected [-1,3]",
    );
  });

  test("the metadata contract names every difference", () => {
    const expected = [{ name: "x", datatype: "FP32" as const, shape: [-1, 4] }];
    expect(contractMismatch("input", expected, [{ name: "x", datatype: "FP32", shape: [8, 4] }])).toBeUndefined();
    expect(
      contractMismatch("input", expected, [
        { name: "x", datatype: "FP16", shape: [-1, 5] },
        { name: "w", datatype: "FP32", shape: [1] },
      ]),
    ).toBe("input x is FP16, expected FP32; input x has shape [-1,5], expected [-1,4]; unexpected input w");
  });

  test("candidate and baseline agree within the case's tolerance", () => {
    expect(outputsAgree(t([1.0, 2.0]), t([1.0000001, 2.0]), { name: "y", data: [] })).toBeUndefined();
    expect(outputsAgree(t([1.0, 2.5]), t([1.0, 2.0]), { name: "y", data: [] })).toMatch(/^y\[1\] = 2.5, expected 2/);
  });

  test("nearest-rank percentiles", () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(xs, 50), percentile(xs, 95), percentile(xs, 99), percentile([], 50)]).toEqual([50, 95, 99, NaN]);
  });
});

describe("spec validation", () => {
  test("names every bad field with its value and what is valid", () => {
    let error: SpecError | undefined;
    try {
      validateSpec({
        deadlineSeconds: 0,
        models: [
          {
            name: "m",
            golden: [
              {
                name: "g",
                inputs: [{ name: "x", datatype: "FP32", shape: [2], data: [1] }],
                outputs: [{ name: "y", data: [1], argmax: true, topK: 2 }],
              },
            ],
          },
        ],
      });
    } catch (e) {
      error = e as SpecError;
    }
    expect(error?.problems).toEqual([
      { field: "deadlineSeconds", value: 0, expected: "a number from 1 to 86400" },
      {
        field: "models[0].golden[0].inputs[0].data",
        value: "1 elements",
        expected: "as many elements as shape [2] holds",
      },
      { field: "models[0].golden[0].outputs[0].topK", value: 2, expected: "either argmax or topK, not both" },
    ]);
  });
});

describe("verify() itself", () => {
  test("refuses a spec that does not fit before sending anything", async () => {
    const { verify } = await import("../lib/run");
    await expect(
      verify(
        { models: [{ name: "m" }], probe: { model: "m", case: "missing", requests: 1, concurrency: 1, budgets: {} } },
        { url: "http://127.0.0.1:1" },
      ),
    ).rejects.toThrow(/probe.case = "missing": expected the name of a golden case of model "m"/);
  });
});
