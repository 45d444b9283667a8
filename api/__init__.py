"""The bundled StreamFlow churn predictor: a FastAPI app instrumented with prometheus-client."""
