# BYTES in, BYTES and INT32 out: the upper-cased text and its UTF-8 length in bytes.
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            texts = pb_utils.get_input_tensor_by_name(request, "TEXT").as_numpy().reshape(-1)
            upper = np.array([t.decode("utf-8").upper().encode("utf-8") for t in texts], dtype=np.object_)
            length = np.array([len(t) for t in texts], dtype=np.int32)
            responses.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("UPPER", upper), pb_utils.Tensor("LENGTH", length)]))
        return responses
