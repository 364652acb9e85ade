// What a blue/green pair writes into the cluster for the run side to read back: the annotations on
// its active Service and the label on the Envoys in front of it.

/** Annotations a blue/green pair keeps on its active Service. */
export const PAIR_ANNOTATIONS = {
  /** The release fingerprint of the color the Service selects, written with the selector. */
  servingFingerprint: "cdktf-triton.io/serving-fingerprint",
  /** `<fingerprint> <spec hash> <time>` of the last verification a color passed as the candidate. */
  verified: (color: string) => `cdktf-triton.io/verified-${color}`,
} as const;

/** The label on an Envoy's Deployment and ConfigMap naming the pair it fronts (a TritonCanary's). */
export const PAIR_LABEL = "cdktf-triton/pair";
