"""Task 'panel': one global probabilistic forecaster over many series (DeepAR-style)."""
