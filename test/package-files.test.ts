import { execFileSync } from "child_process";
import * as path from "path";

// What `npm pack` puts in the package for the runtime half's data files: the verification spec's
// JSON Schema (for editors and the verifier) and the Open Inference Protocol's gRPC proto.
test("the package ships the spec's JSON Schema and the gRPC proto the verifier loads", () => {
  const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: path.resolve(__dirname, ".."), encoding: "utf8" });
  const files = (JSON.parse(out)[0].files as { path: string }[]).map((f) => f.path);
  expect(files).toEqual(expect.arrayContaining(["schemas/verify-spec.schema.json", "protos/grpc_predict_v2.proto"]));
});
