import { startEnvoy } from "../test/peers/envoy";
import { freePort } from "../test/peers/servers";
import { weightedRoutesModel } from "../lib/traffic/weighted-routes";
import { renderEnvoy } from "../lib/traffic/envoy-config";
import { PropValidator } from "../lib/validation";
import { Backend } from "../lib/traffic/backend";
(async () => {
  const port = await freePort(); const ops = await freePort();
  const model = weightedRoutesModel("t", { httpPort: port, routes: [{ name: "canary", backends: [{ backend: Backend.address("a", "127.0.0.1", 1), weightPercent: 75 }, { backend: Backend.address("b", "127.0.0.1", 2), weightPercent: 25 }] }] }, new PropValidator("x"));
  const envoy = await startEnvoy((dir, admin) => renderEnvoy(model, { configDir: dir, adminPort: admin, opsPort: ops }));
  const t = await (await fetch(`http://127.0.0.1:${ops}/stats/prometheus?text_readouts`)).text();
  console.log(t.split("\n").filter(l=>l.includes("version_text")).join("\n"));
  await envoy.stop();
})();
