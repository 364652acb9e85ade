// A JSON spec shipped into the synth output as a file asset (not on a command line or in the
// environment: golden tensors easily pass the kernel's 128 KiB limit for one argument or variable).
// Written once per content hash under the temp folder, from where cdktf copies it beside the stack.
import { contentHash } from "../core/names";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { AssetType, TerraformAsset } from "cdktf";
import { Construct } from "constructs";

/** `text` as `<fileName>` in the stack's assets; its sha256 (16 hex) with it. */
export function specAsset(
  scope: Construct,
  id: string,
  folder: string,
  fileName: string,
  text: string,
): { asset: TerraformAsset; hash: string } {
  const hash = contentHash(text);
  const file = path.join(os.tmpdir(), folder, hash, fileName);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return { asset: new TerraformAsset(scope, id, { path: file, type: AssetType.FILE }), hash };
}
