import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PropValidator } from "../lib/constructs/validation";
import { Backend } from "../lib/constructs/traffic/backend";
import { ListenerTls } from "../lib/constructs/traffic/envoy-model";
import { renderEnvoy } from "../lib/constructs/traffic/envoy-config";
import { weightedRoutesModel } from "../lib/constructs/traffic/weighted-routes";
import { OipClient } from "../lib/run/verify/client";
import { GrpcOipClient } from "../lib/run/verify/grpc-client";
import { RunningEnvoy, startEnvoy, untilHealthy, writeAtomically } from "./peers/envoy";
import { freePort, issueServerCertificate, makeCertificates, servedFingerprint } from "./peers/servers";
import { RunningTriton, startTriton } from "./peers/triton";
import { until } from "./peers/wait";

// Inbound TLS on a real Envoy 1.40 in front of a real Triton: the listeners as our renderer writes
// them, the certificate and the client CA in folders laid out as a kubelet mounts a Secret.

const request = { inputs: [{ name: "INPUT", shape: [1, 4], datatype: "FP32" as const, data: [1, 2, 3, 4] }] };

describe("inbound TLS on a real Envoy", () => {
  let triton: RunningTriton;
  let envoy: RunningEnvoy | undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "envoy-tls-"));
  const certs = makeCertificates(dir);
  const ca = fs.readFileSync(certs.caFile);
  const secretDir = path.join(dir, "secret");
  const caDir = path.join(dir, "client-ca");
  let ports: { http: number; grpc: number; ops: number };

  beforeAll(async () => {
    triton = await startTriton({ models: { classifier: [1] } });
    fs.mkdirSync(secretDir);
    fs.mkdirSync(caDir);
    writeAtomically(secretDir, {
      "tls.crt": fs.readFileSync(certs.certFile, "utf8"),
      "tls.key": fs.readFileSync(certs.keyFile, "utf8"),
    });
    writeAtomically(caDir, { "ca.crt": ca.toString("utf8") });
  }, 180_000);
  afterAll(async () => {
    await envoy?.stop();
    await triton?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const start = async (listenerTls: ListenerTls) => {
    await envoy?.stop();
    ports = { http: await freePort(), grpc: await freePort(), ops: await freePort() };
    const backend = Backend.address("blue", "127.0.0.1", triton.ports.http, triton.ports.grpc);
    const model = weightedRoutesModel(
      "triton",
      { routes: [{ backends: [{ backend, weightPercent: 100 }] }] },
      new PropValidator("test"),
    );
    envoy = await startEnvoy((configDir, adminPort) =>
      renderEnvoy(model, {
        configDir,
        adminPort,
        opsPort: ports.ops,
        listenAddress: "127.0.0.1",
        portOverrides: { "triton-http": ports.http, "triton-grpc": ports.grpc },
        tls: listenerTls,
      }),
    );
    // The ops port's readiness chain walks both TLS listeners.
    await untilHealthy(envoy, ports.ops);
  };

  test("HTTPS and gRPC over TLS reach Triton; the readiness chain walks the TLS listeners; plain text is refused", async () => {
    await start({ certificateDir: secretDir });
    const https = new OipClient({ url: `https://localhost:${ports.http}`, tls: { ca } });
    expect((await https.infer("classifier", undefined, request)).outputs[0].name).toBe("PROBABILITIES");
    await https.close();
    const grpc = new GrpcOipClient({ url: `https://localhost:${ports.grpc}`, tls: { ca } });
    expect((await grpc.infer("classifier", undefined, request)).outputs[0].name).toBe("PROBABILITIES");
    await grpc.close();
    // A plain-text request to a TLS listener gets no HTTP answer.
    await expect(fetch(`http://127.0.0.1:${ports.http}/v2/health/ready`)).rejects.toThrow();
    expect((await fetch(`http://127.0.0.1:${ports.ops}/ready`)).status).toBe(200);
  }, 120_000);

  test("mutual TLS: a client without a certificate is refused, one with a certificate the CA signed is served, the readiness chain still passes", async () => {
    await start({ certificateDir: secretDir, clientCaDir: caDir });
    expect((await fetch(`http://127.0.0.1:${ports.ops}/ready`)).status).toBe(200);
    const anonymous = new OipClient({ url: `https://localhost:${ports.http}`, tls: { ca }, connectTimeoutSeconds: 2 });
    await expect(anonymous.infer("classifier", undefined, request)).rejects.toThrow();
    await anonymous.close();
    const grpcAnonymous = new GrpcOipClient({
      url: `https://localhost:${ports.grpc}`,
      tls: { ca },
      connectTimeoutSeconds: 2,
      headersTimeoutSeconds: 2,
    });
    await expect(grpcAnonymous.infer("classifier", undefined, request)).rejects.toThrow();
    await grpcAnonymous.close();
    const client = { ca, cert: fs.readFileSync(certs.clientCertFile), key: fs.readFileSync(certs.clientKeyFile) };
    const https = new OipClient({ url: `https://localhost:${ports.http}`, tls: client });
    expect((await https.infer("classifier", undefined, request)).outputs[0].name).toBe("PROBABILITIES");
    await https.close();
    const grpc = new GrpcOipClient({ url: `https://localhost:${ports.grpc}`, tls: client });
    expect((await grpc.infer("classifier", undefined, request)).outputs[0].name).toBe("PROBABILITIES");
    await grpc.close();
  }, 120_000);

  test("a rotated certificate, written into the Secret's folder as a kubelet does, is served without a restart", async () => {
    await start({ certificateDir: secretDir });
    const before = await servedFingerprint(ports.http, { ca });
    // A new key and certificate from the same CA.
    const next = issueServerCertificate(dir, "next");
    expect(next.fingerprint).not.toBe(before);
    writeAtomically(secretDir, {
      "tls.crt": fs.readFileSync(next.certFile, "utf8"),
      "tls.key": fs.readFileSync(next.keyFile, "utf8"),
    });
    // Envoy watches the folder: the next handshake after its reload presents the new certificate (10 s is slack for a loaded machine).
    await until(
      "the rotated certificate served",
      10_000,
      async () => (await servedFingerprint(ports.http, { ca })) === next.fingerprint,
      100,
    );
    const https = new OipClient({ url: `https://localhost:${ports.http}`, tls: { ca } });
    expect((await https.infer("classifier", undefined, request)).outputs[0].name).toBe("PROBABILITIES");
    await https.close();
    expect((await fetch(`http://127.0.0.1:${ports.ops}/ready`)).status).toBe(200);
  }, 120_000);
});
