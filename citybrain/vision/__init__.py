"""Frames to detections: decode, batch, detect, and place detections in camera zones."""
