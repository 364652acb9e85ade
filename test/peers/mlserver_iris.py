"""Trains a small scikit-learn classifier on iris (bundled with scikit-learn) and lays out an
MLServer model repository serving it as model "iris". Usage: mlserver_iris.py DIR HTTP GRPC METRICS [VERSION]
VERSION (default v1) is the model_version every answer carries: the data-plane tests tell backends apart by it."""
import json
import os
import sys

import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

root, http_port, grpc_port, metrics_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
version = sys.argv[5] if len(sys.argv) > 5 else "v1"
os.makedirs(os.path.join(root, "iris"), exist_ok=True)
X, y = load_iris(return_X_y=True)
model = LogisticRegression(max_iter=1000, random_state=0).fit(X, y)
joblib.dump(model, os.path.join(root, "iris", "model.joblib"))
with open(os.path.join(root, "iris", "model-settings.json"), "w") as f:
    json.dump({"name": "iris", "implementation": "mlserver_sklearn.SKLearnModel",
               "inputs": [{"name": "x", "datatype": "FP64", "shape": [-1, 4]}],
               "outputs": [{"name": "predict", "datatype": "INT64", "shape": [-1, 1]},
                           {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 3]}],
               "parameters": {"uri": "./model.joblib", "version": version}}, f)
with open(os.path.join(root, "settings.json"), "w") as f:
    json.dump({"http_port": http_port, "grpc_port": grpc_port, "metrics_port": metrics_port,
               "host": "127.0.0.1", "parallel_workers": 0, "debug": False}, f)
