"""Training: ncps models on the built-in tasks or user data, saved as model files."""
