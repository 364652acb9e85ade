#!/usr/bin/env node
// The CLI. In a checkout of this repository (lib/ holds the TypeScript sources) it runs them through
// ts-node, so what runs is what was just edited; an installed package ships only the compiled
// dist/ (built by `prepare` on pack and on install from git).
const fs = require("fs");
const path = require("path");
const root = path.join(__dirname, "..");
const source = path.join(root, "lib", "cli", "main.ts");
const compiled = path.join(root, "dist", "lib", "cli", "main.js");
let cli;
if (fs.existsSync(source)) {
  require("ts-node").register({ transpileOnly: true, project: path.join(root, "tsconfig.json") });
  cli = require(source);
} else if (fs.existsSync(compiled)) {
  cli = require(compiled);
} else {
  process.stderr.write(`cdktf-triton: ${compiled} is missing: the package was not built (npm run build)\n`);
  process.exit(2);
}
cli.main(process.argv).then((code) => {
  process.exitCode = code;
});
