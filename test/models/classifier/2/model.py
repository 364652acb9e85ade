# classifier version 2: sharper probabilities (temperature 0.5), the same classes
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402


class TritonPythonModel:
    def execute(self, requests):
        return common.execute(requests, temperature=0.5)
