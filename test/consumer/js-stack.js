// A stack written in JavaScript, as a platform team without TypeScript writes one, with props a
// 0.1 stack had (`healthCheck.intervalMs`, a route's `timeoutMs`) and a typo (`replica`): nothing
// type-checks them, so the package itself must refuse them at synth, naming each.
const { App, TerraformStack } = require("cdktf");
const { Backend, WeightedService } = require("cdktf-triton");

const app = new App({ outdir: "cdktf.out.js" });
const stack = new TerraformStack(app, "js");
new WeightedService(stack, "split", {
  routes: [{ backends: [{ backend: Backend.address("a", "10.0.0.1", 8000), weightPercent: 100 }], timeoutMs: 30000 }],
  healthCheck: { intervalMs: 1000 },
  replica: 2,
});
app.synth();
