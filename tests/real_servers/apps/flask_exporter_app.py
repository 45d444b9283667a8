"""prometheus-flask-exporter's defaults on a Flask app: /predict (?fail=1 answers 500) and /health."""

import sys

from flask import Flask, jsonify, request
from prometheus_flask_exporter import PrometheusMetrics

app = Flask(__name__)
PrometheusMetrics(app)


@app.route("/predict", methods=["GET", "POST"])
def predict():
    fail = bool(request.args.get("fail"))
    return jsonify(ok=not fail), 500 if fail else 200


@app.route("/health")
def health():
    return jsonify(status="ok")


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]), threaded=True)
