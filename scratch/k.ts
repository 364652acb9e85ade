import { envoyFromConfigMap } from "../test/peers/kubelet";
import { freePort } from "../test/peers/servers";
import * as fs from "fs";
(async () => {
  const ops = await freePort();
  const e = await envoyFromConfigMap("e2e-promote", "fraud-canary", ops);
  await new Promise((r) => setTimeout(r, 3000));
  const t = await (await fetch(`${e.opsUrl}/stats/prometheus?text_readouts`)).text();
  console.log(t.split("\n").filter((l) => /version_text|rds_update|lds_update/.test(l)).join("\n"));
  console.log(fs.readdirSync(e.configDir), fs.readFileSync(e.configDir + "/lds.yaml", "utf8").match(/path: .*/g));
  const a = await (await fetch(`http://127.0.0.1:${e.adminPort}/config_dump?resource=dynamic_route_configs`)).text();
  console.log(a.slice(0, 500));
  await e.stop();
})();
