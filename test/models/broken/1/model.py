# A model that never loads: initialize fails, as a model with a missing file or a bad weight would.
class TritonPythonModel:
    def initialize(self, args):
        raise RuntimeError("broken on purpose: this model never loads")

    def execute(self, requests):
        raise RuntimeError("unreachable")
