"""lnn-edge: liquid neural networks (LTC, CfC, NCP) on Cortex-M microcontrollers, verified bit for bit."""

__version__ = "0.1.0"
