"""Byte-level vectors of Triton's binary tensor data extension, made by tritonclient itself.

Requests: tritonclient's InferenceServerClient.generate_request_body for inputs of every datatype.
Responses: a binary response body, and what tritonclient's parse_response_body decodes from it.
Prints one JSON document; test/binary.test.ts compares our encoder and decoder against it.
"""
import base64
import json

import ml_dtypes
import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import serialize_byte_tensor

CASES = [
    ("BOOL", [2, 2], [True, False, False, True]),
    ("UINT8", [3], [0, 7, 255]),
    ("INT8", [3], [-128, 0, 127]),
    ("UINT16", [2], [0, 65535]),
    ("INT16", [2], [-32768, 32767]),
    ("UINT32", [2], [0, 4294967295]),
    ("INT32", [1, 3], [-2147483648, 0, 2147483647]),
    ("UINT64", [2], [0, 2**53]),
    ("INT64", [2], [-(2**40), 2**40 + 1]),
    ("FP16", [6], [0.1, -2.5, 65504.0, 1e-05, 3.14159, 0.00006103515625]),
    ("FP32", [2, 2], [0.1, -1.5e-7, 3.4e38, 123.456]),
    ("FP64", [3], [0.1, -1e-300, 1.7976931348623157e308]),
    ("BF16", [5], [0.1, 3.14159, -1e10, 1.00390625, 65280.0]),
    ("BYTES", [3], ["hello", "\u00fcn\u00efc\u00f6d\u00e9", ""]),
]


def numpy_of(datatype, data, shape):
    if datatype == "BYTES":
        return np.array([s.encode("utf-8") for s in data], dtype=np.object_).reshape(shape)
    if datatype == "BF16":
        return np.array(data, dtype=ml_dtypes.bfloat16).reshape(shape)
    return np.array(data, dtype=httpclient.triton_to_np_dtype(datatype)).reshape(shape)


def plain(values, datatype):
    flat = values.flatten().tolist() if datatype != "BF16" else [float(v) for v in values.astype(np.float32).flatten()]
    if datatype == "BYTES":
        return [v.decode("utf-8") for v in flat]
    return [float(v) if datatype.startswith(("FP", "BF")) else v for v in flat]


requests = []
for datatype, shape, data in CASES:
    tensor = httpclient.InferInput("INPUT0", shape, datatype)
    tensor.set_data_from_numpy(numpy_of(datatype, data, shape), binary_data=True)
    for outputs in (None, [httpclient.InferRequestedOutput("OUTPUT0", binary_data=True)]):
        body, json_size = httpclient.InferenceServerClient.generate_request_body([tensor], outputs=outputs, request_id="vec-1")
        requests.append({
            "datatype": datatype, "shape": shape, "data": data,
            "outputs": None if outputs is None else ["OUTPUT0"],
            "body": base64.b64encode(body).decode(), "jsonSize": json_size,
        })

# One response carrying every datatype as binary, plus one JSON output, decoded by tritonclient.
outputs, blobs, expected = [], [], []
for i, (datatype, shape, data) in enumerate(CASES):
    arr = numpy_of(datatype, data, shape)
    raw = serialize_byte_tensor(arr).item() if datatype == "BYTES" else arr.tobytes()
    outputs.append({"name": f"OUT_{datatype}", "datatype": datatype, "shape": shape, "parameters": {"binary_data_size": len(raw)}})
    blobs.append(raw)
outputs.insert(3, {"name": "OUT_JSON", "datatype": "FP32", "shape": [2], "data": [0.5, 0.25]})
header = json.dumps({"model_name": "vectors", "model_version": "1", "outputs": outputs}).encode()
body = header + b"".join(blobs)
result = httpclient.InferenceServerClient.parse_response_body(body, header_length=len(header))
for out in outputs:
    datatype = out["datatype"]
    expected.append({"name": out["name"], "datatype": datatype, "shape": out["shape"], "data": plain(result.as_numpy(out["name"]), datatype)})

print(json.dumps({"requests": requests, "response": {"body": base64.b64encode(body).decode(), "headerLength": len(header), "outputs": expected}}))
