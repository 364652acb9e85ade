"""Sends N Open Inference Protocol gRPC ModelInfer calls (iris, one setosa row) to HOST:PORT with
MLServer's own gRPC stubs, and prints how many answers came from each model_version as JSON.
Usage: grpc_infer.py HOST:PORT N"""
import json
import sys

import grpc
import mlserver.grpc.dataplane_pb2 as pb
import mlserver.grpc.dataplane_pb2_grpc as stubs

target, n = sys.argv[1], int(sys.argv[2])
stub = stubs.GRPCInferenceServiceStub(grpc.insecure_channel(target))
assert stub.ServerLive(pb.ServerLiveRequest(), timeout=5).live
request = pb.ModelInferRequest(
    model_name="iris",
    inputs=[pb.ModelInferRequest.InferInputTensor(
        name="x", datatype="FP64", shape=[1, 4], contents=pb.InferTensorContents(fp64_contents=[5.1, 3.5, 1.4, 0.2]))],
)
counts = {}
for _ in range(n):
    response = stub.ModelInfer(request, timeout=5)
    counts[response.model_version] = counts.get(response.model_version, 0) + 1
print(json.dumps(counts))
