// A fixed-response Open Inference Protocol infer endpoint for the request-rate benchmark only (a
// double: it measures client overhead, since a real Python server saturates first). Answers every
// POST with the same small v2 response. Prints its port.
const http = require("http");
const body = JSON.stringify({
  model_name: "m",
  model_version: "1",
  outputs: [{ name: "y", datatype: "FP32", shape: [1, 3], data: [0.1, 0.2, 0.7] }],
});
const server = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
process.on("SIGTERM", () => process.exit(0));
