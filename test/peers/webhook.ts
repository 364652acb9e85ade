// A TEST DOUBLE: a webhook receiver (where Slack or a chat bridge would be) that records every JSON
// message it is sent, and can be told to answer 500 or not at all. No real receiver can exist here.
import * as http from "http";
import { AddressInfo } from "net";

export interface WebhookReceiver {
  readonly url: string;
  readonly messages: any[];
  /** "ok" (204), "fail" (500) or "hang" (never answers). */
  mode: "ok" | "fail" | "hang";
  stop(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const messages: any[] = [];
  const hanging: http.ServerResponse[] = [];
  const receiver: WebhookReceiver = {
    url: "",
    messages,
    mode: "ok",
    stop: async () => {
      hanging.forEach((r) => r.destroy());
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      try {
        messages.push(JSON.parse(body));
      } catch {
        messages.push({ unparsable: body });
      }
      if (receiver.mode === "hang") hanging.push(res);
      else res.writeHead(receiver.mode === "ok" ? 204 : 500).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  (receiver as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return receiver;
}
