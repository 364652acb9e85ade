# classifier version 3: deliberately wrong, every class shifted by one (for failing gates)
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402


class TritonPythonModel:
    def execute(self, requests):
        return common.execute(requests, shift=1)
