# Sleeps DELAY_MS, then answers it: an inference that is in flight for as long as a test needs.
import time

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            delay = pb_utils.get_input_tensor_by_name(request, "DELAY_MS").as_numpy().astype(np.int32)
            # Tests wait for this line in Triton's log: the request is in flight.
            pb_utils.Logger.log_info(f"slow: executing, sleeping {int(delay[0])} ms")
            time.sleep(int(delay[0]) / 1000)
            responses.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("SLEPT_MS", delay)]))
        return responses
