"""Model builders: ``zoo.MODELS`` is the table (MobileNetV1 + the published chest X-ray CNNs)."""
