"""ONNX models: inspection (inspect.py), pre-processing, output decoders, execution providers
and the runtime session (session.py); the model library lives in library.py."""
