import { App, DefaultTokenResolver, StringConcat, TerraformStack, Tokenization } from "cdktf";
import { TritonBlueGreen } from "./bluegreen/triton-bluegreen";
import { TritonRelease } from "./release/triton-release";

/**
 * A short human summary of what an app declares: per stack, each blue/green pair with its active
 * color and standby mode, and each release with version, image and replicas.
 */
export function summarizeApp(app: App): string {
  const lines: string[] = [];
  const stacks = app.node.findAll().filter((c): c is TerraformStack => TerraformStack.isStack(c));
  for (const stack of stacks) {
    const all = stack.node.findAll();
    const pairs = all.filter((c): c is TritonBlueGreen => c instanceof TritonBlueGreen);
    const releases = all.filter((c): c is TritonRelease => c instanceof TritonRelease);
    lines.push(`stack ${stack.node.id}: ${pairs.length} blue/green, ${releases.length} Triton releases`);
    // Tokens (variables, conditionals) print as the Terraform expression they stand for.
    const show = (v: string | number): string =>
      String(
        Tokenization.resolve(typeof v === "number" ? Tokenization.stringifyNumber(v) : v, {
          scope: stack,
          resolver: new DefaultTokenResolver(new StringConcat()),
        }),
      );
    for (const bg of pairs) {
      const active = bg.activeVariable
        ? `var.${bg.activeVariable.friendlyUniqueId} (default ${JSON.stringify(bg.activeVariable.default)})`
        : show(bg.active);
      const standby = bg.standbyVariable
        ? `var.${bg.standbyVariable.friendlyUniqueId} (default ${JSON.stringify(bg.standbyVariable.default)})`
        : show(bg.standby);
      lines.push(`  ${bg.appName} in ${show(bg.namespace)}: active ${active}, standby ${standby}`);
      lines.push(`    services: ${bg.appName} -> active color, ${bg.appName}-preview -> standby color`);
      if (bg.gate) {
        const where = bg.gate.job ? `a Job in ${bg.namespace}` : "local-exec";
        lines.push(
          `    gate: the switch waits for cdktf-triton verify (${where}) against the color to serve (${bg.gate.resource.friendlyUniqueId}); a fingerprint that passed before is not verified again`,
        );
      }
      if (bg.afterSwitchGate)
        lines.push(
          `    after the switch: cdktf-triton verify through ${bg.appName}; if it does not pass, both Services go back to the color that served (${bg.afterSwitchGate.resource.friendlyUniqueId})`,
        );
      const glass = bg.allowServingChangeExpression;
      lines.push(
        `    guard: a plan that changes the release of the color serving now (read from the cluster) is refused; break glass: ${glass.startsWith("var.") ? `-var ${glass.slice(4)}=true` : `allowServingChange is ${glass}`}`,
      );
    }
    for (const r of releases) {
      const p = r.props;
      lines.push(
        `  release ${p.releaseName}: color ${p.color}, version ${p.version}, ${p.image}, ` +
          `replicas ${show(p.replicas)}, models ${p.modelRepository} (${p.modelControl.mode}), gpus ${p.gpus}` +
          (p.restrictedApi
            ? `, ${p.restrictedApi.apis.join("/")} APIs need header ${p.restrictedApi.header} (Secret ${p.restrictedApi.secretName || `${p.releaseName}-restricted-api`})`
            : ""),
      );
    }
  }
  return lines.join("\n");
}
