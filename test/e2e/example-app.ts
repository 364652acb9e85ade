import { App } from "cdktf";
import { ExampleStack } from "../../stacks/example-stack";
import { pinMirroredProviders } from "./engine";

// The cdktf app that test/e2e/example.test.ts deploys with the cdktf CLI: the example stack as
// `npm start` synthesizes it, with its providers pinned to the versions in the test mirror.
const app = new App();
pinMirroredProviders(new ExampleStack(app, "triton-example"));
app.synth();
