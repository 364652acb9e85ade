import { execFileSync } from "child_process";
import * as path from "path";
import { decodeInferResponse, encodeInferRequest } from "../lib/run/verify/binary";
import { fromHalf, toHalf } from "../lib/core/tensor";
import { python } from "./peers/python";

// Vectors made by tritonclient 2.73 itself (test/peers/triton_vectors.py, in the KServe venv that
// scripts/setup-tools.sh installs): our encoder must produce the same bytes, our decoder the same
// values.
const vectors = JSON.parse(
  execFileSync(python("kserve"), [path.join(__dirname, "peers", "triton_vectors.py")], {
    encoding: "utf8",
    maxBuffer: 64 << 20,
  }),
);

describe("Triton binary tensor data extension, against tritonclient's own bytes", () => {
  test.each<[string, any]>(
    vectors.requests.map((v: any) => [
      `${v.datatype} ${v.outputs ? "with requested binary outputs" : "with binary_data_output"}`,
      v,
    ]),
  )("request body for %s is byte-identical", (_name: string, v: any) => {
    const encoded = encodeInferRequest({
      id: "vec-1",
      inputs: [{ name: "INPUT0", datatype: v.datatype, shape: v.shape, data: v.data }],
      outputs: v.outputs ?? undefined,
      binaryInputs: true,
      binaryOutputs: true,
    });
    expect(encoded.body.toString("hex")).toBe(Buffer.from(v.body, "base64").toString("hex"));
    expect(encoded.headers["inference-header-content-length"]).toBe(String(v.jsonSize));
  });

  test("a response with every datatype decodes to tritonclient's values", () => {
    const { body, headerLength, outputs } = vectors.response;
    const decoded = decodeInferResponse(Buffer.from(body, "base64"), headerLength);
    expect(decoded.modelName).toBe("vectors");
    expect(decoded.outputs.map((o) => ({ ...o, shape: [...o.shape] }))).toEqual(outputs);
  });

  test("FP16 conversion rounds to nearest even and round-trips", () => {
    expect(toHalf(1)).toBe(0x3c00);
    expect(toHalf(65504)).toBe(0x7bff);
    expect(toHalf(70000)).toBe(0x7c00);
    expect(toHalf(-0)).toBe(0x8000);
    expect(Number.isNaN(fromHalf(toHalf(NaN)))).toBe(true);
    // 1 + 2^-11 is halfway between 1 and the next half; ties go to even (1)
    expect(toHalf(1 + 2 ** -11)).toBe(0x3c00);
    expect(toHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
    for (let h = 0; h < 0x7c00; h += 97) expect(toHalf(fromHalf(h))).toBe(h);
  });

  test.each([
    ["a header length past the body", () => decodeInferResponse(Buffer.from("{}"), 10), /does not fit/],
    ["truncated JSON", () => decodeInferResponse(Buffer.from('{"outputs":[{"name":"a"')), /not valid JSON/],
    [
      "a binary size past the end",
      () =>
        decodeInferResponse(
          Buffer.from('{"outputs":[{"name":"a","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":8}}]}'),
        ),
      /runs past the end/,
    ],
    [
      "bytes left over",
      () => decodeInferResponse(Buffer.concat([Buffer.from('{"outputs":[]}'), Buffer.alloc(3)]), 14),
      /3 bytes after/,
    ],
    [
      "an element count that does not fit the shape",
      () => decodeInferResponse(Buffer.from('{"outputs":[{"name":"a","datatype":"FP32","shape":[3],"data":[1,2]}]}')),
      /2 elements where shape \[3\] needs 3/,
    ],
    [
      "a wrong JSON element type",
      () => decodeInferResponse(Buffer.from('{"outputs":[{"name":"a","datatype":"FP32","shape":[1],"data":["x"]}]}')),
      /do not match datatype FP32/,
    ],
    [
      "an unknown datatype",
      () => decodeInferResponse(Buffer.from('{"outputs":[{"name":"a","datatype":"FP8","shape":[1],"data":[1]}]}')),
      /unknown datatype "FP8"/,
    ],
  ])("refuses %s", (_name, run, message) => {
    expect(run).toThrow(message as RegExp);
  });
});
