"""Export: the split graphs to FP32 ONNX, and the ONNX graph utility the compile and
calibration steps share."""
