"""Dialogs the canvas and the window open: gRPC node, new skill, skill settings.

Each module is imported on demand (``designer.ui.dialogs.grpc`` etc.), so
opening the window never pays for the gRPC client or the model library.
"""
