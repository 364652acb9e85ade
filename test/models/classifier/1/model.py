# classifier version 1
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402


class TritonPythonModel:
    def execute(self, requests):
        return common.execute(requests)
