# classifier version 5: a bad canary. Answers as version 1, but fails every CLASSIFIER_FAIL_EVERY-th
# request (default 20: 5 % of requests; 0 never fails) and sleeps CLASSIFIER_DELAY_MS (default 0)
# before each answer: the candidate a staged promotion must abort at its first analysis.
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402
import triton_python_backend_utils as pb_utils  # noqa: E402


class TritonPythonModel:
    def initialize(self, args):
        self.every = int(os.environ.get("CLASSIFIER_FAIL_EVERY", "20"))
        self.delay = int(os.environ.get("CLASSIFIER_DELAY_MS", "0")) / 1000.0
        self.count = 0

    def execute(self, requests):
        responses = []
        if self.delay:
            time.sleep(self.delay)
        for request in requests:
            self.count += 1
            if self.every and self.count % self.every == 0:
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError("classifier/5 fails one request in CLASSIFIER_FAIL_EVERY")))
            else:
                responses.extend(common.execute([request]))
        return responses
