# Not ResNet-50: a model with the example stack's contract (an image in, 1000 class probabilities
# out), so the example's gate verifies a real Triton. Logits fall with the class index, scaled by
# one plus the image's mean brightness: a dark image is class 0, then 1, then 2, ...
import numpy as np
import triton_python_backend_utils as pb_utils

CLASSES = np.arange(1000, dtype=np.float64)


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "input").as_numpy()
            brightness = x.reshape(x.shape[0], -1).mean(axis=1, dtype=np.float64)
            logits = -CLASSES[None, :] * (1.0 + np.abs(brightness[:, None])) / 100.0
            e = np.exp(logits - logits.max(axis=1, keepdims=True))
            probabilities = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
            responses.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("probabilities", probabilities)]))
        return responses
