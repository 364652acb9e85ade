"""A KServe 0.21 ModelServer (a second real Open Inference Protocol server, with Triton's binary
tensor extension) serving "doubler": OUTPUT0 = 2 * INPUT0, in INPUT0's datatype and shape.
Usage: kserve_doubler.py --http_port N [--ssl_certfile F --ssl_keyfile F [--ssl_client_ca F]]"""
import argparse

from kserve import InferOutput, InferRequest, InferResponse, ModelServer

from kserve_common import ReadyModel


class Doubler(ReadyModel):
    async def predict(self, payload: InferRequest, headers=None, response_headers=None) -> InferResponse:
        tensor = payload.inputs[0]
        x = tensor.as_numpy()
        out = InferOutput(name="OUTPUT0", shape=list(x.shape), datatype=tensor.datatype)
        out.set_data_from_numpy((x * 2).astype(x.dtype), binary_data=False)
        return self.respond(payload, [out])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--http_port", type=int, required=True)
    parser.add_argument("--ssl_certfile")
    parser.add_argument("--ssl_keyfile")
    parser.add_argument("--ssl_client_ca", help="require client certificates signed by this CA (mTLS)")
    args, _ = parser.parse_known_args()
    if args.ssl_client_ca:
        # KServe has no flag for client certificates; its REST server is uvicorn, which does.
        import ssl

        import uvicorn

        plain_init = uvicorn.Config.__init__

        def mtls_init(self, *a, **kw):
            plain_init(self, *a, ssl_ca_certs=args.ssl_client_ca, ssl_cert_reqs=ssl.CERT_REQUIRED, **kw)

        uvicorn.Config.__init__ = mtls_init
    ModelServer(http_port=args.http_port, enable_grpc=False, workers=1,
                ssl_certfile=args.ssl_certfile, ssl_keyfile=args.ssl_keyfile).start([Doubler("doubler")])
