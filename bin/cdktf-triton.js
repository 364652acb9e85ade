#!/usr/bin/env node
// The CLI: compiled JavaScript when the package is built (dist/), else the TypeScript sources
// through ts-node (a checkout of this repository).
const fs = require("fs");
const path = require("path");
const compiled = path.join(__dirname, "..", "dist", "lib", "verify", "cli.js");
let cli;
if (fs.existsSync(compiled)) {
  cli = require(compiled);
} else {
  require("ts-node").register({ transpileOnly: true, project: path.join(__dirname, "..", "tsconfig.json") });
  cli = require(path.join(__dirname, "..", "lib", "verify", "cli.ts"));
}
cli.main(process.argv).then((code) => {
  process.exitCode = code;
});
