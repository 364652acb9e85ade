# classifier version 4: answers as version 2 for its first CLASSIFIER_FAIL_AFTER requests (default
# 51), then fails every request: a candidate that passes its checks before the switch and fails once
# real traffic arrives (for post-switch verification).
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402
import triton_python_backend_utils as pb_utils  # noqa: E402


class TritonPythonModel:
    def initialize(self, args):
        self.left = int(os.environ.get("CLASSIFIER_FAIL_AFTER", "51"))

    def execute(self, requests):
        responses = []
        for request in requests:
            if self.left > 0:
                self.left -= 1
                responses.extend(common.execute([request], temperature=0.5))
            else:
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError("classifier/4 fails once traffic arrives")))
        return responses
