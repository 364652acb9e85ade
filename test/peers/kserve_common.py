"""What our KServe 0.21 test models share: a model that is ready once constructed, and a response
that answers in the form the request asked for (binary outputs when it asks for them)."""
from kserve import InferOutput, InferRequest, InferResponse, Model
from kserve.utils.utils import generate_uuid


class ReadyModel(Model):
    def __init__(self, name: str):
        super().__init__(name)
        self.load()

    def load(self) -> bool:
        self.ready = True
        return self.ready

    def respond(self, payload: InferRequest, outputs: list[InferOutput]) -> InferResponse:
        return InferResponse(
            model_name=self.name,
            infer_outputs=outputs,
            response_id=payload.id or generate_uuid(),
            use_binary_outputs=payload.use_binary_outputs,
            requested_outputs=payload.request_outputs,
        )
