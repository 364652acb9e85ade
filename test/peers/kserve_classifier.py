"""A KServe 0.21 ModelServer standing in for the example's Triton in the cluster e2e test
(test/e2e/example.test.ts): "resnet50" with the example's contract, input "input" FP32
[-1, 3, 224, 224] and output "probabilities" FP32 [-1, 1000]. It is not a classifier: the
probabilities are a softmax of fixed per-class scores shifted by the image's mean, so an all-zero
image ranks class 0 then class 1, the example spec's golden case. The server, its protocol and its
binary tensors are KServe's own, with one change: KServe 0.21 turns every binary input into a
Python list (InferInput.set_data_from_numpy(..., binary_data=False) while decoding the request), 110
ms for 150528 floats on this machine, which alone breaks a latency budget written for Triton. Here
numeric inputs decoded from binary stay bytes, which as_numpy() reads directly.
Usage: kserve_classifier.py --http_port N"""
import argparse

import numpy as np
from kserve import InferInput, InferOutput, InferRequest, InferResponse, ModelServer

from kserve_common import ReadyModel

SCORES = -np.arange(1000, dtype=np.float32) / 100.0  # class 0 highest, then 1, 2, ...


class Classifier(ReadyModel):
    def get_input_types(self):
        return [{"name": "input", "datatype": "FP32", "shape": [-1, 3, 224, 224]}]

    def get_output_types(self):
        return [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 1000]}]

    async def predict(self, payload: InferRequest, headers=None, response_headers=None) -> InferResponse:
        x = payload.inputs[0].as_numpy().astype(np.float32)
        batch = x.reshape(x.shape[0], -1)
        logits = SCORES[None, :] + batch.mean(axis=1, keepdims=True) * np.linspace(0, 1, 1000, dtype=np.float32)[None, :]
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
        out = InferOutput(name="probabilities", shape=list(probabilities.shape), datatype="FP32")
        out.set_data_from_numpy(probabilities, binary_data=False)
        return self.respond(payload, [out])


def keep_binary_inputs():
    plain = InferInput.set_data_from_numpy

    def set_data_from_numpy(self, tensor, binary_data=True):
        if not binary_data and self._raw_data is not None and self.datatype != "BYTES":
            self._data = None  # as_numpy() decodes _raw_data by datatype and shape
            return
        plain(self, tensor, binary_data)

    InferInput.set_data_from_numpy = set_data_from_numpy


if __name__ == "__main__":
    keep_binary_inputs()
    parser = argparse.ArgumentParser()
    parser.add_argument("--http_port", type=int, required=True)
    args, _ = parser.parse_known_args()
    ModelServer(http_port=args.http_port, enable_grpc=False, workers=1).start([Classifier("resnet50")])
