# One output per input sent, so a golden case can exercise one datatype on the wire at a time.
# BF16 has no numpy type: it passes through unchanged by DLPack.
import numpy as np
import triton_python_backend_utils as pb_utils

NUMPY = {
    "F32": lambda x: (x * 2).astype(np.float32),
    "F16": lambda x: (x * 2).astype(np.float16),
    "FLAG": lambda x: np.logical_not(x),
    "I64": lambda x: (x + 1).astype(np.int64),
    "STR": lambda x: np.array([s.decode("utf-8")[::-1].encode("utf-8") for s in x.reshape(-1)], dtype=np.object_),
}


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            outputs = []
            for name, fn in NUMPY.items():
                t = pb_utils.get_input_tensor_by_name(request, name)
                if t is not None:
                    outputs.append(pb_utils.Tensor(f"{name}_OUT", fn(t.as_numpy())))
            b16 = pb_utils.get_input_tensor_by_name(request, "B16")
            if b16 is not None:
                outputs.append(pb_utils.Tensor.from_dlpack("B16_OUT", b16.to_dlpack()))
            responses.append(pb_utils.InferenceResponse(output_tensors=outputs))
        return responses
