"""rdsla: offline root-cause analyzer for Remote Desktop Services licensing failures."""
__version__ = "0.1.0"
