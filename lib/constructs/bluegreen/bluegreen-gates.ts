// A TritonBlueGreen's verification gates: the one before the switch (the color `active` names,
// re-run when that color or its release changes) and the one after it (through the active Service;
// on failure the selectors go back).
import { Construct } from "constructs";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import { dependable } from "cdktf/lib/tfExpression";
import { Color } from "../../core/colors";
import { GateRole } from "../../core/closed-sets";
import { historyConfigMap } from "../../core/names";
import { PAIR_ANNOTATIONS } from "../../core/pair";
import { TritonRelease } from "../release/triton-release";
import { TRITON_PORTS } from "../release/values";
import { ClusterRunner } from "../verify/gate-job";
import { GateTarget, VerificationGate, VerificationGateProps } from "../verify/verification-gate";
import { BlueGreenVerification } from "./bluegreen-props";
import { byActive, Choice, previewColor } from "./standby";

/** What the gates read of their pair. */
export interface GatedPair extends Construct {
  readonly appName: string;
  readonly namespace: string;
  readonly active: string;
  readonly blue: TritonRelease;
  readonly green: TritonRelease;
  readonly activeService: ServiceV1;
  readonly previewService: ServiceV1;
  readonly servingColorExpression: string;
  readonly allowServingChangeExpression: string;
  /** An annotation of the active Service as the cluster has it at plan time ("" when absent). */
  annotationNow(key: string): string;
}

/** Verification through the active Service once the selectors moved; on failure, the selectors go back. */
export function afterSwitchVerification(
  pair: GatedPair,
  options: BlueGreenVerification,
  activeFingerprint: string,
  servingFingerprintNow: string,
): VerificationGate {
  const a = options.afterSwitch!;
  const target = a.url ? GateTarget.url(a.url) : serviceTarget(pair, options, pair.appName);
  const gate = new VerificationGate(pair, "after-switch", {
    spec: a.spec,
    target,
    triggers: { color: pair.active, release: `\${${activeFingerprint}}` },
    headersFromEnv: options.headersFromEnv,
    command: options.command,
    reportDir: options.reportDir,
    protocol: options.protocol,
    fingerprint: `\${${activeFingerprint}}`,
    allowServingChange: `\${${pair.allowServingChangeExpression}}`,
    ...gateJob(pair, options, "after-switch"),
    switchBack: {
      activeService: pair.appName,
      previewService: `${pair.appName}-preview`,
      from: pair.active,
      to: `\${${pair.servingColorExpression}}`,
      toFingerprint: `\${${servingFingerprintNow}}`,
    },
  });
  gate.resource.dependsOn = [dependable(pair.activeService), dependable(pair.previewService)];
  return gate;
}

/** A Service of the pair as the gate reaches it: a port-forward from where apply runs, or its DNS name from a Job in the cluster. */
function serviceTarget(pair: GatedPair, options: BlueGreenVerification, service: string): GateTarget {
  const port = options.protocol === "grpc" ? TRITON_PORTS.grpc : TRITON_PORTS.http;
  if (options.runIn instanceof ClusterRunner)
    return GateTarget.url(`http://${service}.${pair.namespace}.svc.cluster.local:${port}`);
  return GateTarget.portForward({
    service,
    port,
    namespace: pair.namespace,
    kubeconfig: options.kubeconfig,
    context: options.kubeContext,
  });
}

/** The gate's runner and, in the cluster, where its Job's objects go: `<app>-<gate>` in the pair's namespace. */
function gateJob(
  pair: GatedPair,
  options: BlueGreenVerification,
  gate: string,
): Pick<VerificationGateProps, "runIn" | "job"> {
  return {
    runIn: options.runIn,
    job: { namespace: pair.namespace, name: `${pair.appName}-${gate}`, labels: { app: pair.appName } },
  };
}

/**
 * A gate that verifies the color `active` names, re-run when that color or its release changes.
 * A fingerprint that passed before (the active Service's record of it) is not verified again.
 */
export function verificationGate(
  pair: GatedPair,
  options: BlueGreenVerification,
  active: Choice<Color>,
  activeFingerprint: string,
): VerificationGate {
  const access = options.access ?? "port-forward";
  /** The candidate (the color `active` names) or the baseline (the other one), as a gate target. */
  const targetOf = (which: GateRole): GateTarget => {
    if (access === "port-forward")
      return serviceTarget(
        pair,
        options,
        `${pair.appName}-${which === "candidate" ? pair.active : previewColor(active)}`,
      );
    const [ifBlue, ifGreen] = which === "candidate" ? [access.blue, access.green] : [access.green, access.blue];
    if ("literal" in active) return GateTarget.url(active.literal === "blue" ? ifBlue : ifGreen);
    return GateTarget.url(
      `\${${active.expression} == "blue" ? ${JSON.stringify(ifBlue)} : ${JSON.stringify(ifGreen)}}`,
    );
  };
  const passedRecord = byActive(active, (c) => pair.annotationNow(PAIR_ANNOTATIONS.verified(c)));
  const gate = new VerificationGate(pair, "verify", {
    spec: options.spec,
    target: targetOf("candidate"),
    baseline: options.compareWithBaseline ? targetOf("baseline") : undefined,
    triggers: { color: pair.active, release: `\${${activeFingerprint}}` },
    headersFromEnv: options.headersFromEnv,
    command: options.command,
    reportDir: options.reportDir,
    protocol: options.protocol,
    fingerprint: `\${${activeFingerprint}}`,
    passedRecord: `\${${passedRecord}}`,
    allowServingChange: `\${${pair.allowServingChangeExpression}}`,
    history: {
      namespace: pair.namespace,
      configMap: historyConfigMap(pair.appName),
      app: pair.appName,
      color: pair.active,
    },
    ...gateJob(pair, options, "verify"),
  });
  gate.resource.dependsOn = [dependable(pair.blue.helmRelease), dependable(pair.green.helmRelease)];
  return gate;
}
