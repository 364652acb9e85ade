// Names, file names and hashes that the synth side writes and the run side reads: each defined once
// here and imported (test/names-once.test.ts refuses a copy anywhere else in lib/).
import { createHash } from "crypto";

/** The pair's promotion history ConfigMap, in the pair's namespace. */
export const historyConfigMap = (app: string): string => `${app}-promotions`;

/** The pair's promotion Lease (coordination.k8s.io), in the pair's namespace. */
export const promotionLease = (app: string): string => `${app}-promotion`;

/** The promotion spec's file name in the synth output (a file asset of the stack). */
export const PROMOTION_SPEC_FILE = "promotion.json";

/** The temp folder the promotion specs are written to before cdktf copies them beside the stack. */
export const PROMOTION_SPEC_FOLDER = "cdktf-triton-promotions";

/** The hash a spec (or any rendered text) is known by: its sha256, 16 hex digits. */
export function contentHash(text: string | Buffer): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 16);
}
