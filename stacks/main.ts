import { App } from "cdktf";
import { summarizeApp } from "../lib";
import { ExampleStack } from "./example-stack";

// `npm start`: synthesize the example into cdktf.out (no cluster, credentials or terraform binary
// needed) and print what was declared.
const app = new App({ outdir: process.env.CDKTF_OUTDIR ?? "cdktf.out" });
new ExampleStack(app, "triton-example");
app.synth();
console.log(`Synthesized into ${app.outdir}/`);
console.log(summarizeApp(app));
